// connect() and getpeername(): outgoing TCP through the proxy chain.
//
// The program's own descriptor becomes the connection to the first proxy and
// the whole handshake runs over it inside connect(), bounded by the connect
// timeout, without touching the descriptor's flags. A non-blocking caller
// therefore gets 0 (connected and handshaken) or -1 with a real errno: it can
// never see the socket writable, or SO_ERROR 0, before the handshake is done,
// and never reads handshake bytes as data.
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

#include "export.h"
#include "fd_table.h"
#include "bind.h"
#include "real.h"
#include "sockets.h"
#include "udp.h"
#include "socks/log.h"
#include "socks/net.h"
#include "socks/resolver.h"
#include "state.h"

namespace socksify {
namespace {

bool isProxy(const ProcessState& state, const socks::Address& dst) {
  for (const socks::Hop& hop : state.chain) {
    if (hop.addr == dst) {
      return true;
    }
  }
  return false;
}

std::string chainLabel(const ProcessState& state) {
  std::string label;
  for (const socks::Hop& hop : state.chain) {
    if (!label.empty()) {
      label += " > ";
    }
    label += hop.label;
  }
  return label;
}

// Leaves the socket unconnected again after a failed attempt, as a failed
// direct connect would (Linux: connect(AF_UNSPEC) disconnects a TCP socket).
void disconnect(int fd) {
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  const int saved = errno;
  (void)real::connect(fd, &unspec, sizeof unspec);
  errno = saved;
}

int failWith(int err) {
  errno = err;
  return -1;
}

// Names that must go out as addresses (the last hop is SOCKS4 or SOCKS5
// without remote resolution) are resolved here, never by libc.
bool resolveForHop(const ProcessState& state, socks::Address& target) {
  socks::ResolveOptions options;
  options.timeout_ms = static_cast<int>(state.connect_timeout.count());
  options.family = state.chain.back().kind == socks::ProxyKind::kSocks4 ? AF_INET : AF_UNSPEC;
  auto resolved = socks::resolveName(realSocketOps(), target.domainView(), options);
  if (!resolved.ok() || resolved->addresses.empty()) {
    return false;
  }
  const std::uint16_t port = target.port;
  target = resolved->addresses.front();
  target.port = port;
  return true;
}

int proxiedConnect(const ProcessState& state, int fd, const sockaddr* addr, socklen_t len,
                   socks::Address target) {
  char dst_text[300];
  target.format(dst_text, sizeof dst_text);
  if (state.chain.empty()) {
    SOCKS_LOG(kWarn, "connect %s: blocked (the proxy configuration is invalid)", dst_text);
    return failWith(EACCES);
  }
  if (target.type == socks::Address::Type::kDomain &&
      !socks::resolvesRemotely(state.chain.back().kind) && !resolveForHop(state, target)) {
    SOCKS_LOG(kInfo, "connect %s: cannot resolve the name locally", dst_text);
    return failWith(EHOSTUNREACH);
  }

  fdtable::clear(fd);  // whatever was recorded for this number is stale now
  const socks::net::Deadline deadline(state.connect_timeout);
  const socks::net::ChainOutcome outcome = socks::net::connectThroughChain(
      realSocketOps(), fd, state.chain, target, socks::Command::kConnect, deadline);
  if (!outcome.status.ok()) {
    const int err = socks::toErrno(outcome.status);
    if (socks::log::enabled(socks::log::Level::kInfo)) {
      char why[200];
      SOCKS_LOG(kInfo, "connect %s via %s: failed at hop %zu: %s", dst_text,
                chainLabel(state).c_str(), outcome.failed_hop + 1,
                socks::describe(outcome.status, why, sizeof why));
    }
    disconnect(fd);
    return failWith(err);
  }

  auto* entry = new FdState;
  std::memcpy(&entry->peer, addr, len < sizeof entry->peer ? len : sizeof entry->peer);
  entry->peer_len = len < sizeof entry->peer ? len : sizeof entry->peer;
  entry->first_hop = state.chain.front().addr;
  entry->dst = target;
  // getsockname() answers what the destination sees: the address the proxy
  // connected from (the reply's BND), when the proxy says — the address an
  // active-FTP client publishes, and where BIND makes it reachable. Without
  // BIND the true local address stays more useful.
  const socks::Address& bnd = outcome.bound;
  if (state.bind_mode != BindMode::kOff && bnd.isIp() && !bnd.isUnspecified() &&
      !(addr->sa_family == AF_INET && bnd.type == socks::Address::Type::kIPv6)) {
    entry->local_len = bnd.toSockaddr(entry->local, addr->sa_family);
  }
  noteProxiedConnection(fd, target, entry->local_len > 0 ? bnd : socks::Address());
  if (!fdtable::set(fd, entry)) {
    SOCKS_LOG(kDebug, "fd %d is beyond the descriptor table; getpeername shows the proxy", fd);
  }
  if (socks::log::enabled(socks::log::Level::kInfo)) {
    char bound[300];
    outcome.bound.format(bound, sizeof bound);
    SOCKS_LOG(kInfo, "connect %s via %s: ok (proxy bound %s)", dst_text, chainLabel(state).c_str(),
              bound);
  }
  return 0;
}

int hookConnect(int fd, const sockaddr* addr, socklen_t len) {
  if (addr == nullptr || len < sizeof(sa_family_t)) {
    return real::connect(fd, addr, len);
  }
  const bool udp_association = fdtable::trackedAs(fd, FdKind::kUdpAssociation);
  if (addr->sa_family == AF_UNSPEC && udp_association) {
    if (const ProcessState* state = processState()) {
      return udpConnect(fd, addr, len, *state);  // a UDP "disconnect"
    }
  }
  if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) {
    return real::connect(fd, addr, len);
  }
  const ProcessState* state = processState();
  auto dst = state != nullptr ? socks::Address::fromSockaddr(addr, len) : std::nullopt;
  if (!dst) {
    return real::connect(fd, addr, len);
  }
  if (udp_association) {
    return udpConnect(fd, addr, len, *state);
  }
  // Direct destinations are decided before asking the kernel what the socket
  // is: a loopback connect costs no extra system call.
  const bool fake = socks::FakeDns::inFakeRange(*dst);
  if (!fake && (dst->isLoopback() || dst->isUnspecified() || isProxy(*state, *dst))) {
    if (socks::log::enabled(socks::log::Level::kInfo)) {
      char text[64];
      dst->format(text, sizeof text);
      SOCKS_LOG(kInfo, "connect %s: direct (%s)", text,
                isProxy(*state, *dst) ? "a configured proxy" : "local destination");
    }
    fdtable::clear(fd);
    return real::connect(fd, addr, len);
  }
  if (!isTcpSocket(fd)) {
    return isDatagramSocket(fd) ? udpConnect(fd, addr, len, *state) : real::connect(fd, addr, len);
  }
  socks::Address target = *dst;
  if (fake) {
    auto name = state->fake_dns->lookup(*dst);
    if (!name) {
      char text[64];
      dst->format(text, sizeof text);
      SOCKS_LOG(kWarn, "connect %s: a fake address this process never handed out", text);
      return failWith(EHOSTUNREACH);
    }
    target = *name;
  }
  return proxiedConnect(*state, fd, addr, len, target);
}

bool sameHost(const sockaddr_storage& ss, socklen_t len, const socks::Address& hop) {
  auto actual = socks::Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
  return actual && *actual == hop;
}

int hookGetpeername(int fd, sockaddr* addr, socklen_t* len) {
  if (!fdtable::tracked(fd)) {
    return real::getpeername(fd, addr, len);
  }
  if (int result = 0; fdtable::trackedAs(fd, FdKind::kUdpAssociation) &&
                      udpGetpeername(fd, addr, len, result)) {
    return result;
  }
  FdRef ref = fdtable::get(fd);
  if (!ref || addr == nullptr || len == nullptr) {
    return real::getpeername(fd, addr, len);
  }
  sockaddr_storage actual{};
  socklen_t actual_len = sizeof actual;
  if (real::getpeername(fd, reinterpret_cast<sockaddr*>(&actual), &actual_len) != 0) {
    return -1;  // ENOTCONN and friends: the kernel's answer is the true one
  }
  if (!sameHost(actual, actual_len, ref->first_hop)) {
    fdtable::clear(fd);  // stale: the number was closed behind our back and reused
    return real::getpeername(fd, addr, len);
  }
  if (ref->peer_len == 0) {
    return real::getpeername(fd, addr, len);  // the proxy did not say who it is
  }
  // Truncating copy, full length reported: getpeername(2) semantics.
  const socklen_t n = *len < ref->peer_len ? *len : ref->peer_len;
  std::memcpy(addr, &ref->peer, n);
  *len = ref->peer_len;
  return 0;
}

}  // namespace

constexpr int kIpprotoMptcp = 262;
bool isTcpSocket(int fd) {
  const socks::SocketOps& ops = realSocketOps();
  int type = 0;
  int protocol = 0;
  socklen_t len = sizeof type;
  socklen_t plen = sizeof protocol;
  return ops.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM &&
         ops.getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &plen) == 0 &&
         (protocol == IPPROTO_TCP || protocol == kIpprotoMptcp);
}

}  // namespace socksify

SOCKSIFY_EXPORT int connect(int fd, const sockaddr* addr, socklen_t len) {
  return socksify::guard(-1, [&] { return socksify::hookConnect(fd, addr, len); });
}

SOCKSIFY_EXPORT int getpeername(int fd, sockaddr* addr, socklen_t* len) {
  return socksify::guard(-1, [&] { return socksify::hookGetpeername(fd, addr, len); });
}
