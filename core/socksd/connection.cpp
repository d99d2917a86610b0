// connection.cpp — see connection.h.
#include "connection.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>

#include "socks/log.h"
#include "worker.h"

namespace socksd {
namespace {

using socks::Address;
using socks::ServerSession;
namespace v5 = socks::v5;

constexpr std::size_t kRelayBufferSize = 32 * 1024;
// Bytes one pump() call may move before yielding to other connections.
constexpr std::uint64_t kPumpBudget = 1024 * 1024;
// After a failure reply: how long to wait for the client to close before we
// do (RFC 1928 §6 asks for at most 10 seconds).
constexpr auto kLinger = std::chrono::seconds(2);
constexpr std::uint32_t kEdgeEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24  // Linux 4.2
#endif

// BIND waits for one connection: a backlog of one is enough.
constexpr int kBindBacklog = 1;
// A port for the routing-table probe of a destination given with port 0
// (connect() on a UDP socket sends nothing, so any port does).
constexpr std::uint16_t kProbePort = 9;

bool wouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

// The host part of a, as an Address of port 0: what the BIND peer check compares.
Address hostOf(Address a) {
  a.port = 0;
  return a;
}

// "1.2 s" for a log line.
void formatSeconds(std::chrono::milliseconds t, char* buf, std::size_t len) {
  std::snprintf(buf, len, "%g s", static_cast<double>(t.count()) / 1000.0);
}

void setNoDelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

const char* commandName(socks::Command cmd) {
  switch (cmd) {
    case socks::Command::kConnect:
      return "CONNECT";
    case socks::Command::kBind:
      return "BIND";
    case socks::Command::kUdpAssociate:
      return "UDP-ASSOCIATE";
  }
  return "?";
}

// Printable ASCII only, so a hostile user name cannot forge log lines.
void sanitize(std::string_view in, char* out, std::size_t len) {
  std::size_t n = 0;
  for (char c : in) {
    if (n + 1 >= len) {
      break;
    }
    out[n++] = (c > ' ' && c < 0x7f) ? c : '?';
  }
  out[n] = '\0';
}

}  // namespace

// ---- RelayBuffer ------------------------------------------------------------------

socks::MutableBytes RelayBuffer::writable() {
  if (head_ == tail_) {
    head_ = tail_ = 0;
  } else if (tail_ == capacity_ && head_ > 0) {
    std::memmove(data_.get(), data_.get() + head_, tail_ - head_);
    tail_ -= head_;
    head_ = 0;
  }
  return {data_.get() + tail_, capacity_ - tail_};
}

void RelayBuffer::consume(std::size_t n) {
  head_ += std::min(n, tail_ - head_);
  if (head_ == tail_) {
    head_ = tail_ = 0;
  }
}

std::size_t RelayBuffer::append(socks::Bytes bytes) {
  const socks::MutableBytes room = writable();
  const std::size_t n = std::min(room.size(), bytes.size());
  std::memcpy(room.data(), bytes.data(), n);
  commit(n);
  return n;
}

// ---- Connection -------------------------------------------------------------------

Connection::Connection(Worker& worker, std::uint64_t id, int client_fd, const Address& client)
    : worker_(worker),
      id_(id),
      client_addr_(client),
      client_(*this, true),
      upstream_(*this, false),
      listener_(*this),
      session_(worker.sessionOptions()),
      up_(kRelayBufferSize),
      down_(kRelayBufferSize),
      timer_(worker.loop(), [this] { onTimer(); }) {
  client_.fd = client_fd;
  client_addr_.format(client_name_, sizeof(client_name_));
}

Connection::~Connection() {
  // close() normally did this; a worker shutting down destroys us directly.
  if (association_ && phase_ != Phase::kClosed) {
    association_->shutdown();
    logAssociation("server shutting down");
  }
  if (client_.fd >= 0) {
    closeSide(client_);
  }
  if (upstream_.fd >= 0) {
    closeSide(upstream_);
  }
  closeListener();
}

bool Connection::start() {
  started_ = worker_.loop().now();
  last_activity_ = started_;
  setNoDelay(client_.fd);
  if (!worker_.loop().add(client_.fd, kEdgeEvents, &client_)) {
    return false;
  }
  timer_.armAfter(worker_.config().handshake_timeout);
  return true;
}

void Connection::Side::onEvents(std::uint32_t events) {
  if (conn.phase_ == Phase::kClosed) {
    return;  // closed earlier in this round
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    readable = true;
  }
  if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) {
    writable = true;
  }
  if (client) {
    conn.onClientEvents(events);
  } else {
    conn.onUpstreamEvents(events);
  }
}

void Connection::BindListener::onEvents(std::uint32_t /*events*/) {
  if (fd >= 0 && conn.phase_ == Phase::kAwaitingPeer) {
    conn.onPeerAcceptable();
  }
}

void Connection::onClientEvents(std::uint32_t events) {
  switch (phase_) {
    case Phase::kHandshake:
      readHandshake();
      break;
    case Phase::kResolving:
    case Phase::kConnecting:
      // Not read now (what the client pipelines waits in the socket), but a
      // reset or full hang-up ends the attempt early. A FIN alone does not:
      // the request stands, and the FIN is passed on after it.
      if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
        close("client went away before the reply");
      }
      break;
    case Phase::kAwaitingPeer:
      // The client waits for the second reply and has nothing to send: its
      // FIN (or a reset) abandons the BIND, and the listener goes with it.
      // (Bytes it sent ahead stay in the socket for the relay.)
      if ((events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0) {
        char detail[128];
        char l[64];
        listening_.format(l, sizeof(l));
        std::snprintf(detail, sizeof(detail), "listened on %s, client closed while waiting", l);
        logRequest("abandoned", detail);
        close("client went away while BIND waited");
      } else if (!flushToClient()) {
        close("write error");
      }
      break;
    case Phase::kAssociated:
      readControl();
      break;
    case Phase::kRelaying:
      relay();
      break;
    case Phase::kDraining:
      drain();
      break;
    case Phase::kClosed:
      break;
  }
}

void Connection::onUpstreamEvents(std::uint32_t events) {
  if (phase_ == Phase::kConnecting) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) {
      return;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(upstream_.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
      err = errno;
    }
    if (err == 0 && (events & (EPOLLERR | EPOLLHUP)) != 0) {
      err = ECONNREFUSED;  // hung up before connecting, without saying why
    }
    if (err != 0) {
      attemptFailed(err);
    } else {
      onConnected();
    }
    return;
  }
  if (phase_ == Phase::kRelaying) {
    relay();
  }
}

void Connection::onTimer() {
  const Clock::time_point now = worker_.loop().now();
  switch (phase_) {
    case Phase::kHandshake:
      SOCKS_LOG(kInfo, "%s: handshake timeout", client_name_);
      close("handshake timeout");
      break;
    case Phase::kResolving:
      worker_.resolver().cancel(resolve_id_);
      resolve_id_ = 0;
      refuse(v5::Reply::kTtlExpired, "timeout resolving the name");
      break;
    case Phase::kAwaitingPeer: {
      char why[160];
      char l[64];
      char t[32];
      listening_.format(l, sizeof(l));
      formatSeconds(worker_.config().bind_timeout, t, sizeof(t));
      std::snprintf(why, sizeof(why), "no connection within %s; listened on %s", t, l);
      closeListener();
      refuse(v5::Reply::kTtlExpired, why);
      break;
    }
    case Phase::kConnecting:
      if (now >= connect_deadline_) {
        last_errno_ = ETIMEDOUT;
        closeSide(upstream_);
        refuse(v5::Reply::kTtlExpired, "connect timeout");
      } else {
        attemptFailed(ETIMEDOUT);  // this address took its share; try the next
      }
      break;
    case Phase::kAssociated: {
      const auto idle = worker_.config().udp_idle_timeout;
      if (idle.count() > 0 && now - association_->lastActivity() >= idle) {
        close("idle timeout");
      } else {
        armUdpIdleTimer();
      }
      break;
    }
    case Phase::kRelaying: {
      const auto idle = worker_.config().idle_timeout;
      if (idle.count() > 0 && now - last_activity_ >= idle) {
        close("idle timeout");
      } else {
        armIdleTimer();
      }
      break;
    }
    case Phase::kDraining:
      close("linger time over");
      break;
    case Phase::kClosed:
      break;
  }
}

// ---- handshake ----------------------------------------------------------------------

void Connection::readHandshake() {
  // While the session reads, it takes every byte it is given, so up_ is empty
  // before each recv; after the request, what is left in up_ was pipelined
  // by the client and goes to the destination first.
  while (client_.readable && session_.state() == ServerSession::State::kReading) {
    const socks::MutableBytes room = up_.writable();
    if (room.empty()) {
      break;  // cannot happen (see above); a 0-byte recv() would look like EOF
    }
    const ssize_t n = ::recv(client_.fd, room.data(), room.size(), 0);
    if (n > 0) {
      up_.commit(static_cast<std::size_t>(n));
      up_.consume(session_.feed(up_.readable()));
      queueSessionOutput();
    } else if (n == 0) {
      close("client closed during the handshake");
      return;
    } else if (wouldBlock(errno)) {
      client_.readable = false;
    } else if (errno != EINTR) {
      SOCKS_LOG(kDebug, "%s: read: %s", client_name_, strerror(errno));
      close("read error during the handshake");
      return;
    }
  }
  if (!flushToClient()) {
    close("write error during the handshake");
    return;
  }
  switch (session_.state()) {
    case ServerSession::State::kReading:
      break;
    case ServerSession::State::kAwaitingDecision:
      onRequest();
      break;
    case ServerSession::State::kFailed: {
      const socks::Status& st = session_.status();
      if (st.code() == socks::Errc::kRejected || st.code() == socks::Errc::kUnsupported) {
        logRequest("refused", st.reason());
      } else if (!session_.request().user.empty()) {
        char user[260];
        sanitize(session_.request().user, user, sizeof(user));
        SOCKS_LOG(kInfo, "%s: handshake failed for user %s: %s", client_name_, user, st.reason());
      } else {
        SOCKS_LOG(kInfo, "%s: handshake failed: %s", client_name_, st.reason());
      }
      startDraining();
      break;
    }
    case ServerSession::State::kAwaitingSecond:
    case ServerSession::State::kEstablished:
      break;  // not reachable before a decision
  }
}

void Connection::queueSessionOutput() {
  // Replies are tiny and down_ is empty until the relay starts, so they
  // always fit; they leave through the same buffer as relayed data, which
  // keeps the reply ahead of the destination's first byte.
  const socks::Bytes out = session_.pendingOutput();
  session_.markSent(down_.append(out));
}

bool Connection::flushToClient() {
  while (!down_.empty() && client_.writable) {
    const socks::Bytes data = down_.readable();
    const ssize_t n = ::send(client_.fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      down_.consume(static_cast<std::size_t>(n));
    } else if (wouldBlock(errno)) {
      client_.writable = false;
    } else if (errno != EINTR) {
      return false;
    }
  }
  return true;
}

void Connection::onRequest() {
  const socks::ServerRequest& req = session_.request();
  const Config& config = worker_.config();
  if (req.cmd == socks::Command::kUdpAssociate) {
    // DST is the client's own address, not a destination: nothing to
    // resolve, and --deny-dest does not apply to it.
    startAssociation();
    return;
  }
  // Covers name resolution and every connect attempt (SOCKS4: "two minutes");
  // for BIND, the resolution only (the wait has --bind-timeout).
  connect_deadline_ = worker_.loop().now() + config.connect_timeout;
  timer_.armAt(connect_deadline_);
  if (req.dst.type == Address::Type::kDomain) {
    phase_ = Phase::kResolving;
    resolve_id_ = worker_.resolver().resolve(
        req.dst.domainView(), [this](const Resolution& r) { onResolved(r); });
    return;
  }
  Address dst = req.dst;
  dst.port = 0;
  onDestinations({dst});
}

void Connection::onResolved(const Resolution& resolution) {
  resolve_id_ = 0;
  if (resolution.outcome != Resolution::Outcome::kOk) {
    // Both "no such name" and a failed lookup: the host cannot be reached.
    refuse(v5::Reply::kHostUnreachable, resolution.reason);
    return;
  }
  onDestinations(resolution.addresses);
}

void Connection::onDestinations(std::vector<Address> candidates) {
  const std::uint16_t port = session_.request().dst.port;
  const auto& deny = worker_.config().deny_dest;
  candidates_.clear();
  bool denied = false;
  for (const Address& given : candidates) {
    // ::ffff:a.b.c.d is a.b.c.d: the IPv4 rules must see it as such.
    sockaddr_storage ss;
    const socklen_t len = given.toSockaddr(ss);
    Address a = Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&ss), len).value_or(given);
    a.port = port;
    // 0.0.0.0 and :: would reach this host (Linux connects them to loopback).
    if (a.isUnspecified() || socks::AddressRange::anyContains(deny, a)) {
      denied = true;
    } else {
      candidates_.push_back(a);
    }
  }
  if (candidates_.empty()) {
    refuse(denied ? v5::Reply::kNotAllowed : v5::Reply::kHostUnreachable,
           denied ? "destination denied" : "no address");
    return;
  }
  if (session_.request().cmd == socks::Command::kBind) {
    startBinding();
    return;
  }
  next_candidate_ = 0;
  phase_ = Phase::kConnecting;
  connectNext();
}

void Connection::connectNext() {
  const Clock::time_point now = worker_.loop().now();
  while (next_candidate_ < candidates_.size()) {
    target_ = candidates_[next_candidate_++];
    sockaddr_storage ss;
    const socklen_t len = target_.toSockaddr(ss);
    const int family = ss.ss_family;
    const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_errno_ = errno;
      continue;
    }
    upstream_.reset(fd);
    if (const Address* ext = worker_.config().externalFor(family); ext != nullptr) {
      // Pick the port at connect time, not at bind: many outgoing
      // connections may then share one source port (Linux 4.2).
      const int one = 1;
      ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
      sockaddr_storage src;
      const socklen_t src_len = ext->toSockaddr(src);
      if (::bind(fd, reinterpret_cast<const sockaddr*>(&src), src_len) != 0) {
        last_errno_ = errno;
        SOCKS_LOG(kWarn, "bind to the external address: %s", strerror(errno));
        closeSide(upstream_);
        continue;
      }
    }
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
      last_errno_ = errno;
      closeSide(upstream_);
      continue;
    }
    if (!worker_.loop().add(fd, kEdgeEvents, &upstream_)) {
      last_errno_ = errno;
      closeSide(upstream_);
      continue;
    }
    // Share the time left among the addresses left, so a black hole at the
    // first address leaves time to try the others.
    const std::size_t left = candidates_.size() - next_candidate_ + 1;
    const auto share = (connect_deadline_ - now) / static_cast<long>(left);
    timer_.armAt(std::min(connect_deadline_, now + share));
    return;  // completion (or a connect that already succeeded) comes as EPOLLOUT
  }
  refuse(socks::replyForErrno(last_errno_), strerror(last_errno_));
}

void Connection::attemptFailed(int err) {
  last_errno_ = err;
  char addr[64];
  target_.format(addr, sizeof(addr));
  SOCKS_LOG(kDebug, "%s: connect to %s: %s", client_name_, addr, strerror(err));
  closeSide(upstream_);
  if (worker_.loop().now() >= connect_deadline_) {
    refuse(v5::Reply::kTtlExpired, "connect timeout");
    return;
  }
  connectNext();
}

void Connection::onConnected() {
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  Address bound;
  if (::getsockname(upstream_.fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    bound = Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&ss), len).value_or(Address());
  }
  char detail[80];
  char b[64];
  bound.format(b, sizeof(b));
  std::snprintf(detail, sizeof(detail), "bound %s", b);
  // RFC 1928 §6: BND.ADDR/BND.PORT of a CONNECT reply are the address the
  // server used toward the destination.
  startRelay(bound, detail);
}

void Connection::startRelay(const Address& bound, const char* detail) {
  setNoDelay(upstream_.fd);
  session_.grant(bound);
  queueSessionOutput();
  bytes_up_ += up_.readable().size();  // what the client pipelined after its request
  phase_ = Phase::kRelaying;
  upstream_.writable = true;
  upstream_.readable = true;  // at worst one recv() that says EAGAIN
  logRequest("granted", detail);
  last_activity_ = worker_.loop().now();
  armIdleTimer();
  relay();
}

// ---- BIND -----------------------------------------------------------------------------

namespace {

// The local address this host would use to reach dst (port 0): the
// --external address of its family when one is set, else the routing
// table's choice, learnt from a UDP socket connect()ed to dst (which sends
// nothing) and getsockname. 0, or an errno (ENETUNREACH, ...).
int localAddressToward(const Config& config, const Address& dst, Address& local) {
  sockaddr_storage ss;
  Address probe = dst;
  if (probe.port == 0) {
    probe.port = kProbePort;
  }
  const socklen_t len = probe.toSockaddr(ss);
  if (const Address* ext = config.externalFor(ss.ss_family); ext != nullptr && !ext->isUnspecified()) {
    local = hostOf(*ext);
    return 0;
  }
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return errno;
  }
  int err = 0;
  sockaddr_storage me;
  socklen_t me_len = sizeof(me);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&me), &me_len) != 0) {
    err = errno;
  }
  ::close(fd);
  if (err != 0) {
    return err;
  }
  const auto found = Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&me), me_len);
  if (!found || found->isUnspecified()) {
    return EADDRNOTAVAIL;
  }
  local = hostOf(*found);
  return 0;
}

}  // namespace

void Connection::startBinding() {
  // The listener gets the family of the first address that the reply can
  // carry: SOCKS4's DSTIP is IPv4 only, so a SOCKS4a name must have one.
  const bool v4_only = session_.request().version == socks::v4::kVersion;
  const auto it = std::find_if(candidates_.begin(), candidates_.end(), [&](const Address& a) {
    return !v4_only || a.type == Address::Type::kIPv4;
  });
  if (it == candidates_.end()) {
    refuse(v5::Reply::kAddressTypeNotSupported, "SOCKS4 cannot carry an IPv6 address");
    return;
  }
  target_ = *it;
  Address local;
  if (const int err = localAddressToward(worker_.config(), target_, local); err != 0) {
    refuse(socks::replyForErrno(err), strerror(err));
    return;
  }
  sockaddr_storage ss;
  const socklen_t len = local.toSockaddr(ss);
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const int err = errno;
    refuse(socks::replyForErrno(err), strerror(err));
    return;
  }
  listener_.fd = fd;
  sockaddr_storage bound;
  socklen_t bound_len = sizeof(bound);
  std::optional<Address> actual;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0 || ::listen(fd, kBindBacklog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0 ||
      !(actual = Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&bound), bound_len)) ||
      !worker_.loop().add(fd, EPOLLIN, &listener_)) {
    const int err = errno;
    char l[64];
    local.format(l, sizeof(l));
    char why[192];
    std::snprintf(why, sizeof(why), "cannot listen on %s: %s", l, strerror(err));
    closeListener();
    refuse(socks::replyForErrno(err), why);
    return;
  }
  listening_ = *actual;
  phase_ = Phase::kAwaitingPeer;
  timer_.armAfter(worker_.config().bind_timeout);
  // The first reply: where the server listens (RFC 1928 §6; SOCKS4: DSTIP and DSTPORT).
  session_.grant(listening_);
  queueSessionOutput();
  if (!flushToClient()) {
    close("write error");
    return;
  }
  if (socks::log::enabled(socks::log::Level::kDebug)) {
    char l[64];
    listening_.format(l, sizeof(l));
    SOCKS_LOG(kDebug, "%s: BIND listening on %s", client_name_, l);
  }
  // A FIN that came while the name was resolved has had its (edge-triggered)
  // event already: look for it now, or the wait would run to its timeout.
  std::uint8_t byte;
  if (client_.readable && ::recv(client_.fd, &byte, 1, MSG_PEEK) == 0) {
    onClientEvents(EPOLLRDHUP);
  }
}

bool Connection::isDestination(const Address& peer) const {
  const Address host = hostOf(peer);
  return std::any_of(candidates_.begin(), candidates_.end(),
                     [&](const Address& a) { return hostOf(a) == host; });
}

void Connection::onPeerAcceptable() {
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  const int fd = ::accept4(listener_.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (wouldBlock(err) || err == EINTR || err == ECONNABORTED || err == EPROTO) {
      return;  // that attempt is gone; the listener is level-triggered, so wait on
    }
    closeListener();
    refuse(socks::replyForErrno(err), strerror(err));
    return;
  }
  // One BIND, one connection: nobody else may connect from now on.
  closeListener();
  // Address::fromSockaddr turns ::ffff:a.b.c.d into a.b.c.d, as the
  // candidates were (see onDestinations).
  const auto peer = Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
  char p[64] = "?";
  if (peer) {
    peer->format(p, sizeof(p));
  }
  char l[64];
  listening_.format(l, sizeof(l));
  if (!peer || !isDestination(*peer)) {
    // SOCKS4 document: on a mismatch the second reply is 91 and both
    // connections are closed (the client's once the reply is out).
    ::close(fd);
    char why[192];
    std::snprintf(why, sizeof(why), "connection from %s, not the destination; listened on %s", p, l);
    refuse(v5::Reply::kNotAllowed, why);
    return;
  }
  upstream_.reset(fd);
  if (!worker_.loop().add(fd, kEdgeEvents, &upstream_)) {
    const int err = errno;
    closeSide(upstream_);
    refuse(socks::replyForErrno(err), strerror(err));
    return;
  }
  char detail[192];
  std::snprintf(detail, sizeof(detail), "listened on %s, peer %s", l, p);
  // The second reply: BND is the connecting host's address and port.
  startRelay(*peer, detail);
}

// ---- UDP ASSOCIATE -------------------------------------------------------------------------

void Connection::startAssociation() {
  // RFC 1928 §4: DST.ADDR/DST.PORT say where the client will send from.
  auto filter = socks::UdpClientFilter::make(client_addr_, session_.request().dst);
  if (!filter.ok()) {
    refuse(static_cast<v5::Reply>(filter.status().reply()), filter.status().reason());
    return;
  }
  // The relay listens where the client reached us: an address it can reach
  // (never the wildcard), of the family it speaks.
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  std::optional<Address> local;
  if (::getsockname(client_.fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0 ||
      !(local = Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&ss), len)) || local->isUnspecified()) {
    const int err = errno;
    refuse(socks::replyForErrno(err), "cannot tell the control connection's local address");
    return;
  }
  association_ = std::make_unique<UdpAssociation>(worker_, id_, client_name_, *filter);
  if (const int err = association_->open(*local); err != 0) {
    char l[64];
    local->format(l, sizeof(l));
    char why[160];
    std::snprintf(why, sizeof(why), "cannot open a UDP relay on %s: %s", l, strerror(err));
    association_.reset();  // not registered anywhere: safe to destroy now
    refuse(socks::replyForErrno(err), why);
    return;
  }
  phase_ = Phase::kAssociated;
  // RFC 1928 §6: BND.ADDR/BND.PORT of the reply are the relay's.
  session_.grant(association_->relayAddress());
  queueSessionOutput();
  // Bytes the client pipelined after its request have no meaning here.
  up_.consume(up_.readable().size());
  if (socks::log::enabled(socks::log::Level::kDebug)) {
    char r[64];
    association_->relayAddress().format(r, sizeof(r));
    SOCKS_LOG(kDebug, "%s: UDP ASSOCIATE: relay on %s", client_name_, r);
  }
  armUdpIdleTimer();
  // Sends the reply; and a FIN that came with the request has had its
  // (edge-triggered) event already: look for it now.
  readControl();
}

void Connection::readControl() {
  if (!flushToClient()) {
    close("control connection write error");
    return;
  }
  // RFC 1928 defines nothing the client sends after UDP ASSOCIATE: dropped.
  std::uint8_t sink[512];
  for (std::size_t budget = kPumpBudget; client_.readable;) {
    if (budget == 0) {
      if (!resume_scheduled_) {
        resume_scheduled_ = true;
        worker_.scheduleResume(id_);
      }
      return;
    }
    const ssize_t n = ::recv(client_.fd, sink, sizeof(sink), 0);
    if (n > 0) {
      budget -= std::min(budget, static_cast<std::size_t>(n));
    } else if (n == 0) {
      // RFC 1928 §7: the association ends with its TCP connection.
      close("client closed the control connection");
      return;
    } else if (wouldBlock(errno)) {
      client_.readable = false;
    } else if (errno != EINTR) {
      SOCKS_LOG(kDebug, "%s: control connection: %s", client_name_, strerror(errno));
      close("control connection error");
      return;
    }
  }
}

void Connection::armUdpIdleTimer() {
  const auto idle = worker_.config().udp_idle_timeout;
  if (idle.count() > 0) {
    // Lazy, as armIdleTimer: re-armed when it fires early.
    timer_.armAt(association_->lastActivity() + idle);
  } else {
    timer_.disarm();
  }
}

void Connection::logAssociation(const char* why) {
  if (!socks::log::enabled(socks::log::Level::kInfo)) {
    return;
  }
  const UdpAssociation::Counters& c = association_->counters();
  char r[64];
  association_->relayAddress().format(r, sizeof(r));
  char detail[400];
  std::snprintf(detail, sizeof(detail),
                "relay %s, %s; datagrams from the client %llu (%llu relayed, %llu dropped), "
                "to the client %llu (of %llu received, %llu dropped), from strangers %llu (dropped)",
                r, why, static_cast<unsigned long long>(c.from_client),
                static_cast<unsigned long long>(c.to_outside), static_cast<unsigned long long>(c.up_dropped),
                static_cast<unsigned long long>(c.to_client), static_cast<unsigned long long>(c.from_outside),
                static_cast<unsigned long long>(c.down_dropped), static_cast<unsigned long long>(c.foreign));
  logRequest("ended", detail);
}

void Connection::refuse(v5::Reply reply, const char* why) {
  session_.refuse(reply);
  queueSessionOutput();
  char detail[256];
  std::snprintf(detail, sizeof(detail), "%s (%s)", socks::v5::replyName(reply), why);
  logRequest("refused", detail);
  startDraining();
}

// ---- failure: reply, then close ---------------------------------------------------------

void Connection::startDraining() {
  closeSide(upstream_);
  closeListener();
  phase_ = Phase::kDraining;
  timer_.armAfter(kLinger);
  drain();
}

void Connection::drain() {
  // Send the reply, then FIN, then read and drop what the client still sends
  // until it closes: closing with unread input would send a RST, which may
  // destroy the reply before the client has read it.
  if (!flushToClient()) {
    close("write error");
    return;
  }
  if (!down_.empty()) {
    return;
  }
  if (!client_.shut_wr) {
    ::shutdown(client_.fd, SHUT_WR);
    client_.shut_wr = true;
  }
  std::uint8_t sink[4096];
  for (std::size_t budget = kPumpBudget; client_.readable && budget > 0;) {
    const ssize_t n = ::recv(client_.fd, sink, sizeof(sink), 0);
    if (n > 0) {
      budget -= std::min(budget, static_cast<std::size_t>(n));
    } else if (n < 0 && wouldBlock(errno)) {
      client_.readable = false;
    } else if (n == 0 || errno != EINTR) {
      close("after a failure");
      return;
    }
  }
  if (client_.readable && !resume_scheduled_) {
    resume_scheduled_ = true;
    worker_.scheduleResume(id_);
  }
}

// ---- relay --------------------------------------------------------------------------------

void Connection::resume() {
  resume_scheduled_ = false;
  if (phase_ == Phase::kRelaying) {
    relay();
  } else if (phase_ == Phase::kDraining) {
    drain();
  } else if (phase_ == Phase::kAssociated) {
    readControl();
    if (phase_ == Phase::kAssociated) {
      association_->resume();
    }
  }
}

void Connection::relay() {
  const Pump a = pump(client_, up_, upstream_, bytes_up_);
  if (a == Pump::kError) {
    close("relay error");
    return;
  }
  const Pump b = pump(upstream_, down_, client_, bytes_down_);
  if (b == Pump::kError) {
    close("relay error");
    return;
  }
  if (client_.eof && upstream_.shut_wr && upstream_.eof && client_.shut_wr) {
    close("done");
    return;
  }
  if ((a == Pump::kMore || b == Pump::kMore) && !resume_scheduled_) {
    resume_scheduled_ = true;
    worker_.scheduleResume(id_);
  }
}

Connection::Pump Connection::pump(Side& from, RelayBuffer& buf, Side& to, std::uint64_t& counter) {
  std::uint64_t moved = 0;
  bool progress = true;
  while (progress) {
    progress = false;
    if (moved >= kPumpBudget) {
      return Pump::kMore;
    }
    if (!buf.empty() && to.writable) {
      const socks::Bytes data = buf.readable();
      const ssize_t n = ::send(to.fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        buf.consume(static_cast<std::size_t>(n));
        moved += static_cast<std::uint64_t>(n);
        progress = true;
      } else if (n < 0 && wouldBlock(errno)) {
        to.writable = false;
      } else if (n < 0 && errno == EINTR) {
        progress = true;
      } else {
        SOCKS_LOG(kDebug, "%s: write: %s", client_name_, strerror(errno));
        return Pump::kError;
      }
    }
    if (!from.eof && from.readable && !buf.full()) {
      const socks::MutableBytes room = buf.writable();
      const ssize_t n = ::recv(from.fd, room.data(), room.size(), 0);
      if (n > 0) {
        buf.commit(static_cast<std::size_t>(n));
        counter += static_cast<std::uint64_t>(n);
        progress = true;
      } else if (n == 0) {
        from.eof = true;
      } else if (wouldBlock(errno)) {
        from.readable = false;
      } else if (errno == EINTR) {
        progress = true;
      } else {
        SOCKS_LOG(kDebug, "%s: read: %s", client_name_, strerror(errno));
        return Pump::kError;
      }
    }
  }
  if (moved > 0) {
    last_activity_ = worker_.loop().now();
  }
  // Everything before the FIN has been written: pass the FIN on.
  if (from.eof && buf.empty() && !to.shut_wr) {
    ::shutdown(to.fd, SHUT_WR);
    to.shut_wr = true;
  }
  return Pump::kIdle;
}

void Connection::armIdleTimer() {
  const auto idle = worker_.config().idle_timeout;
  if (idle.count() > 0) {
    // Lazy: the timer is set once per idle period, not per transfer; when it
    // fires early (there was activity since), it is set again.
    timer_.armAt(last_activity_ + idle);
  } else {
    timer_.disarm();
  }
}

// ---- teardown -----------------------------------------------------------------------------

void Connection::closeSide(Side& side) {
  if (side.fd >= 0) {
    worker_.loop().remove(side.fd);
    ::close(side.fd);
  }
  side.fd = -1;
  side.readable = side.writable = false;
}

void Connection::closeListener() {
  if (listener_.fd >= 0) {
    worker_.loop().remove(listener_.fd);
    ::close(listener_.fd);
    listener_.fd = -1;
  }
}

void Connection::close(const char* why) {
  if (phase_ == Phase::kClosed) {
    return;
  }
  if (association_) {
    association_->shutdown();
    logAssociation(why);
  }
  phase_ = Phase::kClosed;
  timer_.disarm();
  if (resolve_id_ != 0) {
    worker_.resolver().cancel(resolve_id_);
    resolve_id_ = 0;
  }
  closeSide(upstream_);
  closeListener();
  closeSide(client_);
  if (socks::log::enabled(socks::log::Level::kDebug)) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(worker_.loop().now() - started_);
    SOCKS_LOG(kDebug, "%s: closed (%s): %llu bytes up, %llu down, %lld ms", client_name_, why,
              static_cast<unsigned long long>(bytes_up_), static_cast<unsigned long long>(bytes_down_),
              static_cast<long long>(ms.count()));
  }
  worker_.release(*this);
}

void Connection::logRequest(const char* outcome, const char* detail) const {
  if (!socks::log::enabled(socks::log::Level::kInfo)) {
    return;
  }
  const socks::ServerRequest& req = session_.request();
  char dst[300];
  req.dst.format(dst, sizeof(dst));
  char user[300] = "";
  if (!req.user.empty()) {
    char clean[260];
    sanitize(req.user, clean, sizeof(clean));
    std::snprintf(user, sizeof(user), " user %s", clean);
  }
  char resolved[80] = "";
  if (req.dst.type == Address::Type::kDomain && target_.isIp()) {
    char t[64];
    target_.format(t, sizeof(t));
    std::snprintf(resolved, sizeof(resolved), " (%s)", t);
  }
  const char* protocol = req.version == socks::v5::kVersion ? "SOCKS5"
                         : req.dst.type == Address::Type::kDomain ? "SOCKS4a"
                                                                   : "SOCKS4";
  SOCKS_LOG(kInfo, "%s %s%s %s %s%s: %s, %s", client_name_, protocol, user, commandName(req.cmd), dst, resolved,
            outcome, detail);
}

}  // namespace socksd
