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

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <span>
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

// Why a destination goes direct, for the -v trace.
const char* directReason(const ProcessState& state, const socks::Decision& d, char* buf,
                         std::size_t size) {
  switch (d.rule) {
    case socks::Decision::Rule::kProxyItself:
      return "a configured proxy";
    case socks::Decision::Rule::kLoopback:
      return "local destination";
    case socks::Decision::Rule::kDefaultDirect:
      return "no route, no proxy";
    case socks::Decision::Rule::kRoute:
      snprintf(buf, size, "%s:%u", state.config.file.c_str(),
               static_cast<unsigned>(state.config.routes[d.route].pos.line));
      return buf;
    case socks::Decision::Rule::kDefaultProxy:
      break;
  }
  return "route";
}

// Names resolved here, never by libc: c-ares with real sockets. family is
// AF_INET (SOCKS4, or an AF_INET socket) or AF_UNSPEC.
bool resolveHere(const ProcessState& state, socks::Address& target, int family) {
  socks::ResolveOptions options;
  options.timeout_ms = static_cast<int>(state.config.connect_timeout.count());
  options.family = family;
  auto resolved = socks::resolveName(realSocketOps(), target.domainView(), options);
  if (!resolved.ok() || resolved->addresses.empty()) {
    return false;
  }
  const std::uint16_t port = target.port;
  target = resolved->addresses.front();
  target.port = port;
  return true;
}

// One `direct` alternative. The last alternative to an address is the
// program's own connect(), unchanged (a non-blocking caller gets
// EINPROGRESS); an earlier one is bounded by the connect timeout so that the
// next can be tried. A name (the program connected to a fake address) is
// resolved here first. Returns 0, or -1 with *err set.
int directConnect(const ProcessState& state, int fd, const sockaddr* addr, socklen_t len,
                  socks::Address target, bool last, int* err) {
  sockaddr_storage resolved{};
  if (target.type == socks::Address::Type::kDomain) {
    if (!resolveHere(state, target, addr->sa_family == AF_INET ? AF_INET : AF_UNSPEC)) {
      *err = EHOSTUNREACH;
      return -1;
    }
    len = target.toSockaddr(resolved, addr->sa_family);
    if (len == 0) {
      *err = EAFNOSUPPORT;
      return -1;
    }
    addr = reinterpret_cast<const sockaddr*>(&resolved);
  }
  fdtable::clear(fd);
  if (last) {
    const int rc = real::connect(fd, addr, len);
    *err = errno;
    return rc;
  }
  const socks::net::Deadline deadline(state.config.connect_timeout);
  const socks::Status status = socks::net::connectWithDeadline(realSocketOps(), fd, addr, len,
                                                               deadline);
  if (!status.ok()) {
    *err = socks::toErrno(status);
    disconnect(fd);
    return -1;
  }
  return 0;
}

// A chain that could not be connected at its first proxy is tried last for
// this long: with `tor | corp` and Tor down, each connection would otherwise
// wait out a timeout before failing over.
constexpr std::int64_t kDownMs = 30000;

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One chain alternative: the program's descriptor becomes the connection to
// the first hop, and the handshake runs over it. Returns 0, or -1 with *err.
int chainConnect(const ProcessState& state, const Chain& chain, int fd, const sockaddr* addr,
                 socklen_t len, socks::Address target, int* err) {
  char dst_text[300];
  target.format(dst_text, sizeof dst_text);
  if (!chain.usable) {
    SOCKS_LOG(kInfo, "connect %s via %s: a proxy's host name did not resolve", dst_text,
              chain.label.c_str());
    *err = EHOSTUNREACH;
    return -1;
  }
  if (target.type == socks::Address::Type::kDomain && !chain.remoteNames() &&
      !resolveHere(state, target,
                   chain.hops.back().kind == socks::ProxyKind::kSocks4 ? AF_INET : AF_UNSPEC)) {
    SOCKS_LOG(kInfo, "connect %s: cannot resolve the name locally", dst_text);
    *err = EHOSTUNREACH;
    return -1;
  }

  fdtable::clear(fd);  // whatever was recorded for this number is stale now
  const socks::net::Deadline deadline(state.config.connect_timeout);
  const socks::net::ChainOutcome outcome = socks::net::connectThroughChain(
      realSocketOps(), fd, chain.hops, target, socks::Command::kConnect, deadline);
  if (!outcome.status.ok()) {
    *err = socks::toErrno(outcome.status);
    if (outcome.failed_hop == 0) {  // the first proxy itself: not this destination's fault
      chain.down_until_ms.store(nowMs() + kDownMs, std::memory_order_relaxed);
    }
    if (socks::log::enabled(socks::log::Level::kInfo)) {
      char why[200];
      SOCKS_LOG(kInfo, "connect %s via %s: failed at hop %zu: %s", dst_text, chain.label.c_str(),
                outcome.failed_hop + 1, socks::describe(outcome.status, why, sizeof why));
    }
    disconnect(fd);
    return -1;
  }

  chain.down_until_ms.store(0, std::memory_order_relaxed);
  auto* entry = new FdState;
  std::memcpy(&entry->peer, addr, len < sizeof entry->peer ? len : sizeof entry->peer);
  entry->peer_len = len < sizeof entry->peer ? len : sizeof entry->peer;
  entry->first_hop = chain.hops.front().addr;
  entry->dst = target;
  // getsockname() answers what the destination sees: the address the proxy
  // connected from (the reply's BND), when the proxy says — the address an
  // active-FTP client publishes, and where BIND makes it reachable. Without
  // BIND the true local address stays more useful.
  const socks::Address& bnd = outcome.bound;
  if (state.config.bind != socks::BindMode::kOff && bnd.isIp() && !bnd.isUnspecified() &&
      !(addr->sa_family == AF_INET && bnd.type == socks::Address::Type::kIPv6)) {
    entry->local_len = bnd.toSockaddr(entry->local, addr->sa_family);
  }
  noteProxiedConnection(fd, target, entry->local_len > 0 ? bnd : socks::Address(), &chain);
  if (!fdtable::set(fd, entry)) {
    SOCKS_LOG(kDebug, "fd %d is beyond the descriptor table; getpeername shows the proxy", fd);
  }
  if (socks::log::enabled(socks::log::Level::kInfo)) {
    char bound[300];
    outcome.bound.format(bound, sizeof bound);
    SOCKS_LOG(kInfo, "connect %s via %s: ok (proxy bound %s)", dst_text, chain.label.c_str(),
              bound);
  }
  return 0;
}

// The order to try the alternatives in: the route's, except that chains
// whose first proxy failed within kDownMs move behind the others — but
// never behind a `block`, and they are still tried (only later).
std::size_t tryOrder(const ProcessState& state, std::span<const socks::Target> alternatives,
                     const socks::Target** order, std::size_t capacity) {
  std::size_t n = 0;
  std::size_t ndeferred = 0;
  const socks::Target* deferred[16];
  const std::int64_t now = nowMs();
  const auto flush = [&] {
    for (std::size_t i = 0; i < ndeferred && n < capacity; ++i) {
      order[n++] = deferred[i];
    }
    ndeferred = 0;
  };
  for (const socks::Target& alt : alternatives) {
    if (alt.kind == socks::Target::Kind::kBlock) {
      flush();
    } else if (alt.kind == socks::Target::Kind::kChain && alternatives.size() > 1 &&
               ndeferred < std::size(deferred)) {
      // Only a chain that has been tried can be down: never resolve here (a
      // later alternative may never be needed).
      const Chain* chain = state.resolvedChainFor(alt);
      if (chain != nullptr && chain->down_until_ms.load(std::memory_order_relaxed) > now) {
        deferred[ndeferred++] = &alt;
        continue;
      }
    }
    if (n < capacity) {
      order[n++] = &alt;
    }
  }
  flush();
  return n;
}

// Tries the decision's alternatives (failover) until one connects; `block`
// ends the search. The errno is the last attempt's.
int routedConnect(const ProcessState& state, int fd, const sockaddr* addr, socklen_t len,
                  const socks::Address& target, const socks::Decision& d) {
  char dst_text[300];
  target.format(dst_text, sizeof dst_text);
  int err = EACCES;
  constexpr std::size_t kMaxTried = 64;
  const socks::Target* order[kMaxTried];
  const std::size_t n = tryOrder(state, d.alternatives, order, kMaxTried);
  for (std::size_t i = 0; i < n; ++i) {
    const socks::Target& alt = *order[i];
    const bool last = i + 1 == n;
    if (i > 0) {
      SOCKS_LOG(kInfo, "connect %s: trying the next alternative (%zu of %zu)", dst_text, i + 1, n);
    }
    switch (alt.kind) {
      case socks::Target::Kind::kBlock:
        SOCKS_LOG(kInfo, "connect %s: blocked by %s", dst_text, state.config.file.c_str());
        fdtable::clear(fd);
        return failWith(EACCES);
      case socks::Target::Kind::kDirect: {
        if (socks::log::enabled(socks::log::Level::kInfo)) {
          char why[320];
          SOCKS_LOG(kInfo, "connect %s: direct (%s)", dst_text,
                    directReason(state, d, why, sizeof why));
        }
        if (directConnect(state, fd, addr, len, target, last, &err) == 0) {
          return 0;
        }
        if (last) {
          return failWith(err);
        }
        break;
      }
      case socks::Target::Kind::kChain: {
        const Chain* chain = state.chainFor(alt);
        if (chain == nullptr) {
          err = EACCES;  // cannot happen: every chain a route names is built
          break;
        }
        if (chain->down_until_ms.load(std::memory_order_relaxed) > nowMs()) {
          SOCKS_LOG(kInfo, "connect %s: %s failed at its first proxy less than %lld s ago; "
                           "tried after the other alternatives", dst_text, chain->label.c_str(),
                    static_cast<long long>(kDownMs / 1000));
        }
        if (chainConnect(state, *chain, fd, addr, len, target, &err) == 0) {
          return 0;
        }
        break;
      }
    }
  }
  return failWith(err);
}

// The routing half of connect() for an AF_INET/AF_INET6 destination: direct
// destinations are decided before asking the kernel what the socket is (a
// loopback connect costs no extra system call), then the socket's type, then
// the route. kNotOurs: the caller makes the real call (direct, or a socket
// that is neither TCP nor UDP).
constexpr int kNotOurs = -2;

int routeTcpConnect(const ProcessState& state, int fd, const sockaddr* addr, socklen_t len,
                    const socks::Address& dst, bool known_tcp) {
  const bool fake = socks::FakeDns::inFakeRange(dst);
  socks::Decision decision;
  if (!fake) {
    decision = dst.isUnspecified() ? socks::Decision{} : state.decide(dst);
    if (dst.isUnspecified() || (decision.alternatives.size() == 1 &&
                                decision.alternatives[0].kind == socks::Target::Kind::kDirect)) {
      if (socks::log::enabled(socks::log::Level::kInfo)) {
        char text[64];
        char why[320];
        dst.format(text, sizeof text);
        SOCKS_LOG(kInfo, "connect %s: direct (%s)", text,
                  dst.isUnspecified() ? "local destination"
                                      : directReason(state, decision, why, sizeof why));
      }
      fdtable::clear(fd);
      return kNotOurs;
    }
  }
  if (!known_tcp && !isTcpSocket(fd)) {
    return isDatagramSocket(fd) ? udpConnect(fd, addr, len, state) : kNotOurs;
  }
  socks::Address target = dst;
  if (fake) {
    auto name = state.fake_dns->lookup(dst);
    if (!name) {
      char text[64];
      dst.format(text, sizeof text);
      SOCKS_LOG(kWarn, "connect %s: a fake address this process never handed out", text);
      return failWith(EHOSTUNREACH);
    }
    target = *name;
    decision = state.decide(target);
  }
  return routedConnect(state, fd, addr, len, target, decision);
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
  const int rc = routeTcpConnect(*state, fd, addr, len, *dst, /*known_tcp=*/false);
  return rc == kNotOurs ? real::connect(fd, addr, len) : rc;
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

int fastOpenConnect(int fd, const sockaddr* addr, socklen_t len) {
  const ProcessState* state = processState();
  auto dst = state != nullptr ? socks::Address::fromSockaddr(addr, len) : std::nullopt;
  if (!dst || fdtable::trackedAs(fd, FdKind::kUdpAssociation)) {
    return 1;
  }
  const int rc = routeTcpConnect(*state, fd, addr, len, *dst, /*known_tcp=*/true);
  return rc == kNotOurs ? 1 : rc;
}

}  // namespace socksify

SOCKSIFY_EXPORT int connect(int fd, const sockaddr* addr, socklen_t len) {
  return socksify::guard(-1, [&] { return socksify::hookConnect(fd, addr, len); });
}

SOCKSIFY_EXPORT int getpeername(int fd, sockaddr* addr, socklen_t* len) {
  return socksify::guard(-1, [&] { return socksify::hookGetpeername(fd, addr, len); });
}
