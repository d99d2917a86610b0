// Datagrams through the proxy: SOCKS5 UDP ASSOCIATE (RFC 1928 §7).
//
// A UDP socket becomes an association on its first send toward a proxied
// destination (or a connect() to one): a control connection of ours (close-
// on-exec) runs UDP ASSOCIATE through the chain, and from then on every
// datagram for a proxied destination leaves the program's own socket toward
// the relay with the SOCKS5 UDP header in front, and every datagram from the
// relay has it stripped, its true source reported. Datagrams from anyone else
// are dropped — except from direct (local) destinations this socket sent to
// itself. The association lives as long as the socket's last descriptor.
//
// Sending costs no copy: sendmsg() with the header as one more iovec.
// Receiving copies once, from a per-thread buffer allocated on first use.
// Descriptors that are not associations pay one load in every hook here:
// read(), write() and friends are called for everything.
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

#include "export.h"
#include "fd_table.h"
#include "real.h"
#include "sockets.h"
#include "socks/codec.h"
#include "socks/log.h"
#include "socks/net.h"
#include "state.h"
#include "udp.h"

namespace socksify {

struct UdpAssociation {
  std::mutex mu;  // guards everything below but `control`, `relay`, `family`
  int control = -1;             // the TCP control connection: the association's life
  int family = AF_INET;         // the program's socket
  sockaddr_storage relay{};     // the proxy's relay, in the socket's family
  socklen_t relay_len = 0;
  socks::Address relay_addr;
  const Chain* chain = nullptr;  // the chain the association went through

  // connect() to a proxied destination: send()/write() go there.
  bool connected = false;
  sockaddr_storage peer{};  // as the program gave it (getpeername, and reply sources)
  socklen_t peer_len = 0;
  socks::Address peer_dst;  // what the header carries (a name for fake addresses)

  // Destinations the program addressed by a fake address: replies from that
  // port are reported as coming from the fake address (programs such as dig
  // check a reply's source against where they sent).
  struct Fake {
    std::uint16_t port = 0;
    sockaddr_storage addr{};
    socklen_t len = 0;
  };
  std::array<Fake, 8> fakes{};
  std::size_t nfakes = 0;
  // Direct destinations this socket sent to: their datagrams pass unchanged.
  std::array<socks::Address, 8> direct{};
  std::size_t ndirect = 0;

  ~UdpAssociation() {
    if (control >= 0) {
      fdtable::disown(control);
      real::close(control);  // the proxy ends the association with it
    }
  }
};

namespace {

constexpr std::size_t kMaxDatagram = 65535;
constexpr std::size_t kMaxHeader = 4 + 1 + 255 + 2;
constexpr std::size_t kBufferSize = kMaxDatagram + kMaxHeader;

// The receive buffer: 8 bytes of TLS per thread until a thread receives
// through an association (a big thread_local array would cost every thread
// of every process the library is loaded into).
std::uint8_t* receiveBuffer() {
  thread_local std::unique_ptr<std::uint8_t[]> buffer;
  if (!buffer) {
    buffer.reset(new std::uint8_t[kBufferSize]);
  }
  return buffer.get();
}

bool isUdpSocket(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  return realSocketOps().getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM;
}

// Where a datagram toward `dst` goes: direct, refused, or through `chain` as
// `target`. UDP has no failover (a datagram cannot tell whether it arrived):
// the route's first alternative decides.
enum class Route : std::uint8_t { kDirect, kProxy, kRefused, kUnknownFake };

Route classify(const ProcessState& state, const socks::Address& dst, socks::Address& target,
               const Chain*& chain, int& err) {
  target = dst;
  chain = nullptr;
  if (socks::FakeDns::inFakeRange(dst)) {
    auto name = state.fake_dns->lookup(dst);
    if (!name) {
      err = EHOSTUNREACH;
      return Route::kUnknownFake;
    }
    target = *name;
  } else if (dst.isUnspecified()) {
    return Route::kDirect;
  }
  const socks::Decision d = state.decide(target);
  const socks::Target& first = d.alternatives.front();
  char text[300];
  switch (first.kind) {
    case socks::Target::Kind::kDirect:
      if (target.type == socks::Address::Type::kDomain) {
        target.format(text, sizeof text);
        SOCKS_LOG(kInfo, "udp to %s: the route is direct, but the program has a fake address; "
                         "give that route `dns local` or `dns system`", text);
        err = EHOSTUNREACH;
        return Route::kRefused;
      }
      return Route::kDirect;
    case socks::Target::Kind::kBlock:
      err = EACCES;
      return Route::kRefused;
    case socks::Target::Kind::kChain:
      break;
  }
  if (!state.config.udp) {
    target.format(text, sizeof text);
    SOCKS_LOG(kInfo, "udp to %s: refused (udp off); route it direct to let it out", text);
    err = ENETUNREACH;
    return Route::kRefused;
  }
  chain = state.chainFor(first);
  if (chain == nullptr || !chain->usable) {
    err = EHOSTUNREACH;
    return Route::kRefused;
  }
  return Route::kProxy;
}

// Opens the association for fd. Returns it, or nullptr with errno set.
std::shared_ptr<UdpAssociation> associate(int fd, int family, const ProcessState& state,
                                          const Chain& chain) {
  const socks::Hop& last = chain.hops.back();
  if (!socks::isSocks5(last.kind)) {
    SOCKS_LOG(kWarn, "UDP needs SOCKS5, and %s is SOCKS4: datagrams to proxied destinations fail",
              last.label.c_str());
    errno = ENETUNREACH;
    return nullptr;
  }
  // The request names the port the datagrams come from: make sure there is one.
  sockaddr_storage local{};
  socklen_t local_len = sizeof local;
  if (real::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
    return nullptr;
  }
  auto local_addr = socks::Address::fromSockaddr(reinterpret_cast<sockaddr*>(&local), local_len);
  if (local_addr && local_addr->port == 0) {
    sockaddr_storage any{};
    any.ss_family = static_cast<sa_family_t>(family);
    const socklen_t any_len = family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (real::bind(fd, reinterpret_cast<sockaddr*>(&any), any_len) != 0) {
      return nullptr;
    }
    local_len = sizeof local;
    real::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len);
    local_addr = socks::Address::fromSockaddr(reinterpret_cast<sockaddr*>(&local), local_len);
  }
  // RFC 1928 §7: DST is where the client will send from; the address part is
  // left zero (it may be translated on the way), the port is known.
  const std::uint8_t zero[4] = {0, 0, 0, 0};
  const socks::Address from = socks::Address::ipv4(zero, local_addr ? local_addr->port : 0);

  const socks::Address& first = chain.hops.front().addr;
  const int ctl = real::socket(first.type == socks::Address::Type::kIPv6 ? AF_INET6 : AF_INET,
                               SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ctl < 0) {
    return nullptr;
  }
  fdtable::own(ctl);
  const socks::net::Deadline deadline(state.config.connect_timeout);
  const socks::net::ChainOutcome outcome = socks::net::connectThroughChain(
      realSocketOps(), ctl, chain.hops, from, socks::Command::kUdpAssociate, deadline);
  if (!outcome.status.ok()) {
    char why[200];
    SOCKS_LOG(kInfo, "udp via %s: association failed: %s", last.label.c_str(),
              socks::describe(outcome.status, why, sizeof why));
    fdtable::disown(ctl);
    real::close(ctl);
    errno = socks::toErrno(outcome.status);
    return nullptr;
  }
  socks::Address relay = outcome.bound;
  if (relay.type == socks::Address::Type::kNone || relay.isUnspecified()) {
    const std::uint16_t port = relay.port;
    relay = last.addr;  // "the proxy's own address"
    relay.port = port;
  }
  auto a = std::make_shared<UdpAssociation>();
  a->control = ctl;
  a->family = family;
  a->relay_addr = relay;
  a->chain = &chain;
  a->relay_len = relay.isIp() && !(family == AF_INET && relay.type == socks::Address::Type::kIPv6)
                     ? relay.toSockaddr(a->relay, family)
                     : 0;
  if (a->relay_len == 0) {
    SOCKS_LOG(kWarn, "udp via %s: the relay's address cannot be reached from this socket",
              last.label.c_str());
    errno = EAFNOSUPPORT;
    return nullptr;  // the destructor closes the control connection
  }
  auto* entry = new FdState;
  entry->kind = FdKind::kUdpAssociation;
  entry->udp = a;
  if (!fdtable::set(fd, entry)) {
    errno = EMFILE;
    return nullptr;
  }
  if (socks::log::enabled(socks::log::Level::kInfo)) {
    char at[64];
    relay.format(at, sizeof at);
    SOCKS_LOG(kInfo, "udp fd %d via %s: relay %s", fd, last.label.c_str(), at);
  }
  return a;
}

// One socket has one association, through one chain: a destination routed
// through another chain cannot share it (ENETUNREACH, and why, once per call).
bool sameChain(const UdpAssociation& a, const Chain& chain) {
  if (a.chain == &chain) {
    return true;
  }
  SOCKS_LOG(kInfo, "udp: this socket's association goes via %s; a destination routed via %s "
                   "needs a socket of its own", a.chain != nullptr ? a.chain->label.c_str() : "?",
            chain.label.c_str());
  errno = ENETUNREACH;
  return false;
}

std::shared_ptr<UdpAssociation> associationOf(int fd) {
  FdRef ref = fdtable::get(fd);
  if (!ref || ref->kind != FdKind::kUdpAssociation) {
    return nullptr;
  }
  return ref->udp;
}

void rememberFake(UdpAssociation& a, const sockaddr* addr, socklen_t len, std::uint16_t port) {
  std::lock_guard<std::mutex> lock(a.mu);
  for (std::size_t i = 0; i < a.nfakes; ++i) {
    if (a.fakes[i].len == len && std::memcmp(&a.fakes[i].addr, addr, len) == 0) {
      return;
    }
  }
  UdpAssociation::Fake& f = a.fakes[a.nfakes < a.fakes.size() ? a.nfakes++ : (a.nfakes++ % a.fakes.size())];
  a.nfakes = std::min(a.nfakes, a.fakes.size());
  f.port = port;
  f.len = len < sizeof f.addr ? len : sizeof f.addr;
  std::memcpy(&f.addr, addr, f.len);
}

void rememberDirect(UdpAssociation& a, const socks::Address& dst) {
  std::lock_guard<std::mutex> lock(a.mu);
  for (std::size_t i = 0; i < a.ndirect; ++i) {
    if (a.direct[i] == dst) {
      return;
    }
  }
  a.direct[a.ndirect < a.direct.size() ? a.ndirect : a.ndirect % a.direct.size()] = dst;
  a.ndirect = std::min(a.ndirect + 1, a.direct.size());
}

bool isDirectPeer(UdpAssociation& a, const socks::Address& src) {
  std::lock_guard<std::mutex> lock(a.mu);
  for (std::size_t i = 0; i < a.ndirect; ++i) {
    if (a.direct[i] == src) {
      return true;
    }
  }
  return false;
}

// Sends iov (the payload) to `target` through the relay: header first.
ssize_t sendWrapped(int fd, UdpAssociation& a, const socks::Address& target, const iovec* iov,
                    std::size_t iovlen, int flags, bool to_relay_explicitly) {
  std::uint8_t header[kMaxHeader];
  auto hlen = socks::encodeUdpHeader(socks::MutableBytes(header, sizeof header), target);
  if (!hlen.ok()) {
    errno = EINVAL;
    return -1;
  }
  constexpr std::size_t kMaxIov = 64;
  if (iovlen + 1 > kMaxIov) {
    errno = EMSGSIZE;
    return -1;
  }
  iovec parts[kMaxIov];
  parts[0] = iovec{header, *hlen};
  std::size_t payload = 0;
  for (std::size_t i = 0; i < iovlen; ++i) {
    parts[i + 1] = iov[i];
    payload += iov[i].iov_len;
  }
  msghdr msg{};
  if (to_relay_explicitly) {
    msg.msg_name = &a.relay;
    msg.msg_namelen = a.relay_len;
  }
  msg.msg_iov = parts;
  msg.msg_iovlen = iovlen + 1;
  const ssize_t n = real::sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
  if (n < 0) {
    return -1;
  }
  return static_cast<ssize_t>(payload);
}

// Turns the source a relayed datagram carries into the address the program
// sees: the fake address it used for that destination where there is one.
socklen_t programSource(const ProcessState* state, UdpAssociation& a, const socks::Address& src,
                        sockaddr_storage& out) {
  {
    std::lock_guard<std::mutex> lock(a.mu);
    if (a.connected) {
      std::memcpy(&out, &a.peer, a.peer_len);
      return a.peer_len;
    }
    for (std::size_t i = a.nfakes; i > 0; --i) {
      if (a.fakes[i - 1].port == src.port) {
        std::memcpy(&out, &a.fakes[i - 1].addr, a.fakes[i - 1].len);
        return a.fakes[i - 1].len;
      }
    }
  }
  if (src.type == socks::Address::Type::kDomain && state != nullptr) {
    if (auto index = state->fake_dns->intern(src.domainView())) {
      const socks::Address fake = a.family == AF_INET6 ? socks::FakeDns::ipv6For(*index, src.port)
                                                       : socks::FakeDns::ipv4For(*index, src.port);
      return fake.toSockaddr(out, a.family);
    }
    return 0;
  }
  if (a.family == AF_INET && src.type == socks::Address::Type::kIPv6) {
    return 0;
  }
  return src.toSockaddr(out, a.family);
}

// Drops the datagram at the head of the queue (after a MSG_PEEK saw it).
void dropOne(int fd) {
  std::uint8_t b;
  (void)real::recv(fd, &b, 1, MSG_DONTWAIT);
}

std::size_t scatter(const std::uint8_t* data, std::size_t len, const iovec* iov, std::size_t iovlen) {
  std::size_t done = 0;
  for (std::size_t i = 0; i < iovlen && done < len; ++i) {
    const std::size_t n = std::min(iov[i].iov_len, len - done);
    std::memcpy(iov[i].iov_base, data + done, n);
    done += n;
  }
  return done;
}

std::size_t totalLength(const iovec* iov, std::size_t iovlen) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < iovlen; ++i) {
    total += iov[i].iov_len;
  }
  return total;
}

// The receive path shared by recvfrom, recvmsg, recv, read, readv: one
// datagram for the program, header stripped, or -1. msg's iov receive the
// payload, msg_name the source; msg_control is filled by the kernel.
ssize_t receiveUnwrapped(int fd, UdpAssociation& a, msghdr* msg, int flags) {
  const ProcessState* state = loadedState();
  std::uint8_t* buf = receiveBuffer();
  // Bounded only by what arrives: every round consumes one datagram.
  for (;;) {
    sockaddr_storage src{};
    iovec one{buf, kBufferSize};
    msghdr m{};
    m.msg_name = &src;
    m.msg_namelen = sizeof src;
    m.msg_iov = &one;
    m.msg_iovlen = 1;
    m.msg_control = msg->msg_control;
    m.msg_controllen = msg->msg_controllen;
    const ssize_t n = real::recvmsg(fd, &m, flags & ~MSG_TRUNC);
    if (n < 0) {
      return -1;
    }
    const bool peek = (flags & MSG_PEEK) != 0;
    auto from = socks::Address::fromSockaddr(reinterpret_cast<sockaddr*>(&src), m.msg_namelen);
    const socks::Address relay = a.relay_addr;
    const bool from_relay = from && from->isIp() && from->ip == relay.ip && from->port == relay.port;
    const std::uint8_t* payload = buf;
    std::size_t payload_len = static_cast<std::size_t>(n);
    sockaddr_storage shown{};
    socklen_t shown_len = 0;
    if (from_relay) {
      socks::UdpHeader header;
      const socks::Parse p = socks::parseUdpHeader(socks::Bytes(buf, static_cast<std::size_t>(n)), header);
      if (!p.isDone() || header.frag != 0) {
        // Malformed, or a fragment (RFC 1928 §7: dropped without reassembly).
        if (peek) {
          dropOne(fd);
        }
        continue;
      }
      payload = buf + header.header_len;
      payload_len = static_cast<std::size_t>(n) - header.header_len;
      shown_len = programSource(state, a, header.addr, shown);
    } else if (from && isDirectPeer(a, *from)) {
      std::memcpy(&shown, &src, m.msg_namelen);
      shown_len = m.msg_namelen;
    } else {
      if (peek) {
        dropOne(fd);
      }
      continue;  // not from the relay, nor from a direct peer of ours
    }
    const std::size_t room = totalLength(msg->msg_iov, msg->msg_iovlen);
    const std::size_t copied = scatter(payload, payload_len, msg->msg_iov, msg->msg_iovlen);
    msg->msg_flags = m.msg_flags & ~MSG_TRUNC;
    if (payload_len > room) {
      msg->msg_flags |= MSG_TRUNC;
    }
    msg->msg_controllen = m.msg_controllen;
    if (msg->msg_name != nullptr) {
      const socklen_t k = std::min<socklen_t>(msg->msg_namelen, shown_len);
      std::memcpy(msg->msg_name, &shown, k);
      msg->msg_namelen = shown_len;
    }
    return (flags & MSG_TRUNC) != 0 ? static_cast<ssize_t>(payload_len) : static_cast<ssize_t>(copied);
  }
}

// A send with an explicit destination on a UDP socket. Returns -2 when the
// call is not ours (forward it unchanged).
ssize_t sendToDestination(int fd, const iovec* iov, std::size_t iovlen, int flags,
                          const sockaddr* addr, socklen_t addr_len) {
  if (addr == nullptr || addr_len < sizeof(sa_family_t) ||
      (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)) {
    return -2;
  }
  const ProcessState* state = processState();
  if (state == nullptr) {
    return -2;
  }
  // TCP Fast Open: the send is a connect() with data. Route it as connect()
  // does; through a proxy, the handshake comes first and the data after it.
  if ((flags & MSG_FASTOPEN) != 0 && !associationOf(fd) && isTcpSocket(fd)) {
    const int rc = fastOpenConnect(fd, addr, addr_len);
    if (rc != 0) {
      return rc == 1 ? -2 : -1;  // direct: the real call, Fast Open as asked
    }
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = iovlen;
    return real::sendmsg(fd, &msg, flags & ~MSG_FASTOPEN);
  }
  auto dst = socks::Address::fromSockaddr(addr, addr_len);
  if (!dst) {
    return -2;
  }
  socks::Address target;
  const Chain* chain = nullptr;
  int err = 0;
  const Route route = classify(*state, *dst, target, chain, err);
  std::shared_ptr<UdpAssociation> a = associationOf(fd);
  if (route == Route::kDirect) {
    if (a) {
      rememberDirect(*a, *dst);  // its replies must come through
    }
    return -2;
  }
  if (!a && !isUdpSocket(fd)) {
    return -2;  // not a datagram socket
  }
  if (route != Route::kProxy) {
    errno = err;
    return -1;
  }
  if (!a) {
    a = associate(fd, addr->sa_family, *state, *chain);
    if (!a) {
      return -1;
    }
  } else if (!sameChain(*a, *chain)) {
    return -1;
  }
  if (target.type == socks::Address::Type::kDomain) {
    rememberFake(*a, addr, addr_len, dst->port);
  }
  return sendWrapped(fd, *a, target, iov, iovlen, flags, true);
}

}  // namespace

int udpConnect(int fd, const sockaddr* addr, socklen_t len, const ProcessState& state) {
  std::shared_ptr<UdpAssociation> a = associationOf(fd);
  if (addr->sa_family == AF_UNSPEC) {
    if (a) {
      std::lock_guard<std::mutex> lock(a->mu);
      a->connected = false;
    }
    return real::connect(fd, addr, len);
  }
  auto dst = socks::Address::fromSockaddr(addr, len);
  socks::Address target;
  const Chain* chain = nullptr;
  int err = 0;
  const Route route = dst ? classify(state, *dst, target, chain, err) : Route::kDirect;
  if (route == Route::kDirect) {
    if (a) {
      std::lock_guard<std::mutex> lock(a->mu);
      a->connected = false;
    }
    return real::connect(fd, addr, len);
  }
  if (route != Route::kProxy) {
    errno = err;
    return -1;
  }
  if (!a) {
    a = associate(fd, addr->sa_family, state, *chain);
    if (!a) {
      return -1;
    }
  } else if (!sameChain(*a, *chain)) {
    return -1;
  }
  // The kernel now accepts datagrams from the relay only, and send() without
  // an address goes there; the hooks put the header for `target` in front.
  if (real::connect(fd, reinterpret_cast<const sockaddr*>(&a->relay), a->relay_len) != 0) {
    return -1;
  }
  std::lock_guard<std::mutex> lock(a->mu);
  a->connected = true;
  a->peer_len = len < sizeof a->peer ? len : sizeof a->peer;
  std::memcpy(&a->peer, addr, a->peer_len);
  a->peer_dst = target;
  return 0;
}

bool udpGetpeername(int fd, sockaddr* addr, socklen_t* len, int& result) {
  std::shared_ptr<UdpAssociation> a = associationOf(fd);
  if (!a || addr == nullptr || len == nullptr) {
    return false;
  }
  std::lock_guard<std::mutex> lock(a->mu);
  if (!a->connected) {
    errno = ENOTCONN;
    result = -1;
    return true;
  }
  const socklen_t n = *len < a->peer_len ? *len : a->peer_len;
  std::memcpy(addr, &a->peer, n);
  *len = a->peer_len;
  result = 0;
  return true;
}

bool isDatagramSocket(int fd) { return isUdpSocket(fd); }

namespace {

// send()/write()/writev()/sendmsg() without an address on an association:
// the connected destination, wrapped. -2: not ours.
ssize_t sendConnected(int fd, const iovec* iov, std::size_t iovlen, int flags) {
  std::shared_ptr<UdpAssociation> a = associationOf(fd);
  if (!a) {
    return -2;
  }
  socks::Address target;
  {
    std::lock_guard<std::mutex> lock(a->mu);
    if (!a->connected) {
      return -2;  // connected to a direct peer (or not at all): the kernel's business
    }
    target = a->peer_dst;
  }
  return sendWrapped(fd, *a, target, iov, iovlen, flags, false);
}

ssize_t receive(int fd, msghdr* msg, int flags) {
  std::shared_ptr<UdpAssociation> a = associationOf(fd);
  if (!a) {
    return -2;
  }
  return receiveUnwrapped(fd, *a, msg, flags);
}

}  // namespace
}  // namespace socksify

using socksify::FdKind;
using socksify::fdtable::trackedAs;
namespace real = socksify::real;

namespace {
constexpr FdKind kUdp = FdKind::kUdpAssociation;

template <class Fallback>
ssize_t orForward(ssize_t rc, Fallback&& fallback) {
  return rc == -2 ? fallback() : rc;
}
}  // namespace

// Each exported data-path hook is a fast path — one load, then a tail call
// into libc — and an out-of-line slow path for associations.
#define SOCKSIFY_COLD [[gnu::noinline, gnu::cold]]

namespace {

SOCKSIFY_COLD ssize_t sendtoSlow(int fd, const void* buf, size_t len, int flags, const sockaddr* addr,
                                 socklen_t addr_len) {
  auto forward = [&] { return real::sendto(fd, buf, len, flags, addr, addr_len); };
  return socksify::guard<ssize_t>(-1, [&] {
    iovec iov{const_cast<void*>(buf), len};
    const ssize_t rc = addr != nullptr ? socksify::sendToDestination(fd, &iov, 1, flags, addr, addr_len)
                                       : socksify::sendConnected(fd, &iov, 1, flags);
    return orForward(rc, forward);
  });
}

SOCKSIFY_COLD ssize_t sendSlow(int fd, const void* buf, size_t len, int flags) {
  return socksify::guard<ssize_t>(-1, [&] {
    iovec iov{const_cast<void*>(buf), len};
    return orForward(socksify::sendConnected(fd, &iov, 1, flags),
                     [&] { return real::send(fd, buf, len, flags); });
  });
}

SOCKSIFY_COLD ssize_t writeSlow(int fd, const void* buf, size_t len) {
  return socksify::guard<ssize_t>(-1, [&] {
    iovec iov{const_cast<void*>(buf), len};
    return orForward(socksify::sendConnected(fd, &iov, 1, 0),
                     [&] { return real::write(fd, buf, len); });
  });
}

SOCKSIFY_COLD ssize_t writevSlow(int fd, const iovec* iov, int iovcnt) {
  return socksify::guard<ssize_t>(-1, [&] {
    return orForward(socksify::sendConnected(fd, iov, static_cast<std::size_t>(iovcnt), 0),
                     [&] { return real::writev(fd, iov, iovcnt); });
  });
}

SOCKSIFY_COLD ssize_t sendmsgSlow(int fd, const msghdr* msg, int flags) {
  return socksify::guard<ssize_t>(-1, [&] {
    const ssize_t rc =
        msg->msg_name != nullptr
            ? socksify::sendToDestination(fd, msg->msg_iov, msg->msg_iovlen, flags,
                                          static_cast<const sockaddr*>(msg->msg_name), msg->msg_namelen)
            : socksify::sendConnected(fd, msg->msg_iov, msg->msg_iovlen, flags);
    return orForward(rc, [&] { return real::sendmsg(fd, msg, flags); });
  });
}

SOCKSIFY_COLD ssize_t recvfromSlow(int fd, void* buf, size_t len, int flags, sockaddr* addr,
                                   socklen_t* addr_len) {
  return socksify::guard<ssize_t>(-1, [&] {
    iovec iov{buf, len};
    msghdr msg{};
    msg.msg_name = addr;
    msg.msg_namelen = addr_len != nullptr ? *addr_len : 0;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t rc = socksify::receive(fd, &msg, flags);
    if (rc >= 0 && addr != nullptr && addr_len != nullptr) {
      *addr_len = msg.msg_namelen;
    }
    return orForward(rc, [&] { return real::recvfrom(fd, buf, len, flags, addr, addr_len); });
  });
}

SOCKSIFY_COLD ssize_t readvSlow(int fd, const iovec* iov, int iovcnt) {
  return socksify::guard<ssize_t>(-1, [&] {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = static_cast<std::size_t>(iovcnt);
    return orForward(socksify::receive(fd, &msg, 0), [&] { return real::readv(fd, iov, iovcnt); });
  });
}

SOCKSIFY_COLD ssize_t recvmsgSlow(int fd, msghdr* msg, int flags) {
  return socksify::guard<ssize_t>(-1, [&] {
    return orForward(socksify::receive(fd, msg, flags), [&] { return real::recvmsg(fd, msg, flags); });
  });
}

SOCKSIFY_COLD int sendmmsgSlow(int fd, mmsghdr* vec, unsigned int vlen, int flags);
SOCKSIFY_COLD int recvmmsgSlow(int fd, mmsghdr* vec, unsigned int vlen, int flags);

}  // namespace

SOCKSIFY_EXPORT ssize_t sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* addr,
                               socklen_t addr_len) {
  if (addr == nullptr && !trackedAs(fd, kUdp)) [[likely]] {
    return real::sendto(fd, buf, len, flags, addr, addr_len);
  }
  return sendtoSlow(fd, buf, len, flags, addr, addr_len);
}

SOCKSIFY_EXPORT ssize_t send(int fd, const void* buf, size_t len, int flags) {
  if (!trackedAs(fd, kUdp)) [[likely]] {
    return real::send(fd, buf, len, flags);
  }
  return sendSlow(fd, buf, len, flags);
}

SOCKSIFY_EXPORT ssize_t write(int fd, const void* buf, size_t len) {
  if (!trackedAs(fd, kUdp)) [[likely]] {
    return real::write(fd, buf, len);
  }
  return writeSlow(fd, buf, len);
}

SOCKSIFY_EXPORT ssize_t writev(int fd, const iovec* iov, int iovcnt) {
  if (!trackedAs(fd, kUdp) || iovcnt < 0) [[likely]] {
    return real::writev(fd, iov, iovcnt);
  }
  return writevSlow(fd, iov, iovcnt);
}

SOCKSIFY_EXPORT ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  if (msg == nullptr || (msg->msg_name == nullptr && !trackedAs(fd, kUdp))) [[likely]] {
    return real::sendmsg(fd, msg, flags);
  }
  return sendmsgSlow(fd, msg, flags);
}

SOCKSIFY_EXPORT int sendmmsg(int fd, mmsghdr* vec, unsigned int vlen, int flags) {
  if (vec == nullptr || vlen == 0) {
    return real::sendmmsg(fd, vec, vlen, flags);
  }
  return sendmmsgSlow(fd, vec, vlen, flags);
}

SOCKSIFY_EXPORT ssize_t recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* addr,
                                 socklen_t* addr_len) {
  if (!trackedAs(fd, kUdp)) [[likely]] {
    return real::recvfrom(fd, buf, len, flags, addr, addr_len);
  }
  return recvfromSlow(fd, buf, len, flags, addr, addr_len);
}

SOCKSIFY_EXPORT ssize_t recv(int fd, void* buf, size_t len, int flags) {
  if (!trackedAs(fd, kUdp)) [[likely]] {
    return real::recv(fd, buf, len, flags);
  }
  return recvfromSlow(fd, buf, len, flags, nullptr, nullptr);
}

SOCKSIFY_EXPORT ssize_t read(int fd, void* buf, size_t len) {
  if (!trackedAs(fd, kUdp)) [[likely]] {
    return real::read(fd, buf, len);
  }
  return recvfromSlow(fd, buf, len, 0, nullptr, nullptr);
}

SOCKSIFY_EXPORT ssize_t readv(int fd, const iovec* iov, int iovcnt) {
  if (!trackedAs(fd, kUdp) || iovcnt < 0) [[likely]] {
    return real::readv(fd, iov, iovcnt);
  }
  return readvSlow(fd, iov, iovcnt);
}

SOCKSIFY_EXPORT ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  if (msg == nullptr || !trackedAs(fd, kUdp)) [[likely]] {
    return real::recvmsg(fd, msg, flags);
  }
  return recvmsgSlow(fd, msg, flags);
}

SOCKSIFY_EXPORT int recvmmsg(int fd, mmsghdr* vec, unsigned int vlen, int flags, timespec* timeout) {
  if (vec == nullptr || vlen == 0 || !trackedAs(fd, kUdp)) [[likely]] {
    return real::recvmmsg(fd, vec, vlen, flags, timeout);
  }
  return recvmmsgSlow(fd, vec, vlen, flags);
}

namespace {

int sendmmsgSlow(int fd, mmsghdr* vec, unsigned int vlen, int flags) {
  bool any_addr = false;
  for (unsigned int i = 0; i < vlen && !any_addr; ++i) {
    any_addr = vec[i].msg_hdr.msg_name != nullptr;
  }
  if (!any_addr && !trackedAs(fd, kUdp)) {
    return real::sendmmsg(fd, vec, vlen, flags);
  }
  // One at a time through sendmsg(): each may need the header (or be direct).
  unsigned int sent = 0;
  for (; sent < vlen; ++sent) {
    const ssize_t n = sendmsg(fd, &vec[sent].msg_hdr, flags);
    if (n < 0) {
      return sent > 0 ? static_cast<int>(sent) : -1;
    }
    vec[sent].msg_len = static_cast<unsigned int>(n);
  }
  return static_cast<int>(sent);
}

// One at a time: the first as asked, the rest only if already there.
int recvmmsgSlow(int fd, mmsghdr* vec, unsigned int vlen, int flags) {
  unsigned int got = 0;
  for (; got < vlen; ++got) {
    const int f = got == 0 ? flags : (flags | MSG_DONTWAIT);
    const ssize_t n = recvmsg(fd, &vec[got].msg_hdr, f & ~MSG_WAITFORONE);
    if (n < 0) {
      if (got > 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      }
      return got > 0 ? static_cast<int>(got) : -1;
    }
    vec[got].msg_len = static_cast<unsigned int>(n);
    if ((flags & MSG_WAITFORONE) != 0) {
      flags |= MSG_DONTWAIT;
    }
  }
  return static_cast<int>(got);
}

}  // namespace
