// udp_association.cpp — see udp_association.h.
#include "udp_association.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "socks/log.h"
#include "worker.h"

namespace socksd {
namespace {

using socks::Address;

// Datagrams one socket may take per turn before yielding to other clients.
constexpr int kBatch = 64;
// Socket buffers: a burst of thousands of small datagrams, or dozens of
// 64 KiB, must fit while the loop serves others (the kernel caps these at
// net.core.rmem_max / wmem_max, and charges only what is queued).
constexpr int kReceiveBuffer = 4 * 1024 * 1024;
constexpr int kSendBuffer = 1024 * 1024;
// The longest header a datagram to the client gets: RSV FRAG ATYP + IPv6 +
// port (sources are always IP addresses).
constexpr std::size_t kMaxHeaderToClient = 4 + 16 + 2;
// Drops logged per association at debug level (the counters count them all).
constexpr unsigned kMaxDropLogs = 8;
constexpr std::uint32_t kEdgeEvents = EPOLLIN | EPOLLOUT | EPOLLET;
constexpr char kFromClient[] = "from the client";
constexpr char kFromOutside[] = "to the client";

bool wouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

// Errors that say "not this address" (another of a name's addresses may do).
bool unusable(int err) {
  return err == ENETUNREACH || err == EHOSTUNREACH || err == EAFNOSUPPORT || err == EADDRNOTAVAIL;
}

// ::ffff:a.b.c.d as a.b.c.d, so the IPv4 rules and the IPv4 socket apply.
Address normalized(const Address& a) {
  sockaddr_storage ss;
  const socklen_t len = a.toSockaddr(ss);
  Address out = Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&ss), len).value_or(a);
  out.port = a.port;
  return out;
}

void setBuffers(int fd) {
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof(kReceiveBuffer));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSendBuffer, sizeof(kSendBuffer));
}

}  // namespace

UdpAssociation::UdpAssociation(Worker& worker, std::uint64_t owner_id, const char* client_name,
                               const socks::UdpClientFilter& filter)
    : worker_(worker),
      owner_id_(owner_id),
      client_name_(client_name),
      filter_(filter),
      relay_(*this),
      out4_(*this),
      out6_(*this),
      last_activity_(worker.loop().now()) {}

UdpAssociation::~UdpAssociation() { shutdown(); }

int UdpAssociation::open(const Address& local) {
  Address bind_to = local;
  bind_to.port = 0;
  sockaddr_storage ss;
  const socklen_t len = bind_to.toSockaddr(ss);
  if (len == 0) {
    return EAFNOSUPPORT;
  }
  relay_family_ = ss.ss_family;
  const int fd = ::socket(relay_family_, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return errno;
  }
  relay_.fd = fd;
  setBuffers(fd);
  sockaddr_storage bound;
  socklen_t bound_len = sizeof(bound);
  std::optional<Address> actual;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0 ||
      !(actual = Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&bound), bound_len)) ||
      !worker_.loop().add(fd, kEdgeEvents, &relay_)) {
    const int err = errno != 0 ? errno : EADDRNOTAVAIL;
    closeSocket(relay_);
    return err;
  }
  relay_addr_ = *actual;
  relay_.writable = true;
  last_activity_ = worker_.loop().now();
  return 0;
}

void UdpAssociation::Socket::onEvents(std::uint32_t events) {
  if (owner.dead_ || fd < 0) {
    return;  // shut down earlier in this round
  }
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
    readable = true;  // an error is read (and cleared) by the next recvfrom
  }
  if ((events & EPOLLOUT) != 0) {
    writable = true;
  }
  owner.run();
}

void UdpAssociation::resume() {
  resume_scheduled_ = false;
  run();
}

void UdpAssociation::run() {
  // Every step checks its own readiness flags, so running all of them on
  // any event costs a few comparisons and never loses one.
  if (dead_) {
    return;
  }
  retry(up_, counters_.to_outside, counters_.up_dropped);
  retry(down_, counters_.to_client, counters_.down_dropped);
  readClient();
  readOutside(out4_);
  readOutside(out6_);
}

void UdpAssociation::scheduleResume() {
  if (!resume_scheduled_) {
    resume_scheduled_ = true;
    worker_.scheduleResume(owner_id_);
  }
}

// ---- client -> destination ----------------------------------------------------------------

void UdpAssociation::readClient() {
  for (int budget = kBatch; relay_.readable && !up_.active && !dead_; --budget) {
    if (budget == 0) {
      scheduleResume();
      return;
    }
    const socks::MutableBytes buf = worker_.datagramBuffer();
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    // MSG_TRUNC: the datagram's real length, even when it did not fit.
    const ssize_t n = ::recvfrom(relay_.fd, buf.data(), buf.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) {
      if (wouldBlock(errno)) {
        relay_.readable = false;
      } else if (errno != EINTR) {
        SOCKS_LOG(kDebug, "%s: UDP relay: recvfrom: %s", client_name_, strerror(errno));
      }
      continue;
    }
    const auto from = Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
    if (!from || !filter_.admits(*from)) {
      ++counters_.foreign;
      if (from && drop_logs_ < kMaxDropLogs && socks::log::enabled(socks::log::Level::kDebug)) {
        char a[64];
        from->format(a, sizeof(a));
        char f[80];
        std::snprintf(f, sizeof(f), "from %s", a);
        dropped(f, "not the client's address");
      }
      continue;
    }
    ++counters_.from_client;
    if (static_cast<std::size_t>(n) > buf.size()) {
      ++counters_.up_dropped;
      dropped(kFromClient, "datagram larger than the buffer");
      continue;
    }
    socks::UdpHeader header;
    const socks::Bytes datagram(buf.data(), static_cast<std::size_t>(n));
    if (const char* why = socks::checkClientDatagram(datagram, header); why != nullptr) {
      ++counters_.up_dropped;
      dropped(kFromClient, why);
      continue;
    }
    // The first well-formed datagram fixes the client's port (see
    // socks::UdpClientFilter for why one port only).
    filter_.fixPort(from->port);
    last_activity_ = worker_.loop().now();
    const socks::Bytes payload = datagram.subspan(header.header_len);
    if (header.addr.type == Address::Type::kDomain) {
      toName(header.addr, payload);
    } else {
      toAny(std::span<const Address>(&header.addr, 1), header.addr.port, payload);
    }
  }
}

void UdpAssociation::toName(const Address& dst, socks::Bytes payload) {
  const std::string_view name = dst.domainView();
  if (const auto* found = names_.find(name, worker_.loop().now()); found != nullptr) {
    if (found->empty()) {
      ++counters_.up_dropped;
      dropped(kFromClient, "destination name does not resolve");
    } else {
      toAny(*found, dst.port, payload);
    }
    return;
  }
  switch (names_.enqueue(name, dst.port, payload)) {
    case socks::UdpNameCache::Queued::kFull:
      ++counters_.up_dropped;
      dropped(kFromClient, "too many datagrams wait for names");
      return;
    case socks::UdpNameCache::Queued::kWaiting:
      return;
    case socks::UdpNameCache::Queued::kStartResolving:
      break;
  }
  // The callback needs the id resolve() returns: it is read from a shared slot.
  auto id = std::make_shared<std::uint64_t>(0);
  *id = worker_.resolver().resolve(name, [this, id, key = std::string(name)](const Resolution& r) {
    onResolved(*id, key, r);
  });
  resolving_.push_back(*id);
}

void UdpAssociation::onResolved(std::uint64_t id, const std::string& name, const Resolution& resolution) {
  resolving_.erase(std::remove(resolving_.begin(), resolving_.end(), id), resolving_.end());
  if (dead_) {
    return;
  }
  std::vector<Address> addresses;
  if (resolution.outcome == Resolution::Outcome::kOk) {
    addresses = resolution.addresses;
  } else {
    if (socks::log::enabled(socks::log::Level::kDebug)) {
      // Printable ASCII only: the name comes from the client.
      char clean[Address::kMaxDomain + 1];
      std::size_t n = 0;
      for (const char ch : name) {
        if (n + 1 < sizeof(clean)) {
          clean[n++] = (ch > ' ' && ch < 0x7f) ? ch : '?';
        }
      }
      clean[n] = '\0';
      SOCKS_LOG(kDebug, "%s: UDP: cannot resolve %s: %s", client_name_, clean, resolution.reason);
    }
  }
  const auto waiting = names_.complete(name, addresses, worker_.loop().now());
  for (const auto& w : waiting) {
    if (addresses.empty()) {
      ++counters_.up_dropped;
      dropped(kFromClient, "destination name does not resolve");
    } else {
      toAny(addresses, w.port, socks::Bytes(w.payload.data(), w.payload.size()));
    }
  }
}

void UdpAssociation::toAny(std::span<const Address> candidates, std::uint16_t port, socks::Bytes payload) {
  bool any_allowed = false;
  int err = 0;
  for (const Address& candidate : candidates) {
    Address dst = normalized(candidate);
    dst.port = port;
    if (denied(dst)) {
      continue;
    }
    any_allowed = true;
    switch (sendOut(dst, payload, err)) {
      case Send::kSent:
        ++counters_.to_outside;
        return;
      case Send::kBlocked:
        return;  // kept in up_; counted when it leaves
      case Send::kUnusable:
        continue;  // another address of the name may do
      case Send::kFailed:
        break;
    }
    break;
  }
  ++counters_.up_dropped;
  if (!any_allowed) {
    dropped(kFromClient, port == 0 ? "destination port 0" : "destination denied");
  } else {
    dropped(kFromClient, strerror(err));
  }
}

bool UdpAssociation::denied(const Address& a) const {
  // Port 0 cannot be sent to; 0.0.0.0 and :: would reach this host.
  return a.port == 0 || a.isUnspecified() || socks::AddressRange::anyContains(worker_.config().deny_dest, a);
}

UdpAssociation::Send UdpAssociation::sendOut(const Address& dst, socks::Bytes payload, int& err) {
  sockaddr_storage ss;
  const socklen_t len = dst.toSockaddr(ss);
  Socket* s = outsideFor(ss.ss_family);
  if (s == nullptr) {
    err = errno;
    return unusable(err) ? Send::kUnusable : Send::kFailed;
  }
  while (true) {
    const ssize_t n = ::sendto(s->fd, payload.data(), payload.size(), 0, reinterpret_cast<const sockaddr*>(&ss), len);
    if (n >= 0) {
      return Send::kSent;
    }
    err = errno;
    if (err == EINTR) {
      continue;
    }
    if (wouldBlock(err) && !up_.active) {
      s->writable = false;
      keep(up_, *s, ss, len, payload);
      return Send::kBlocked;
    }
    return unusable(err) ? Send::kUnusable : Send::kFailed;
  }
}

UdpAssociation::Socket* UdpAssociation::outsideFor(int family) {
  Socket& s = family == AF_INET6 ? out6_ : out4_;
  if (s.fd >= 0) {
    return &s;
  }
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return nullptr;
  }
  s.fd = fd;
  s.readable = false;
  s.writable = true;
  setBuffers(fd);
  Address local = family == AF_INET6 ? Address::ipv6({}, 0) : Address::ipv4(std::uint32_t{0}, 0);
  if (const Address* ext = worker_.config().externalFor(family); ext != nullptr) {
    local = *ext;
    local.port = 0;
  }
  if (family == AF_INET6) {
    // IPv6 only: IPv4 destinations have their own socket.
    const int one = 1;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  sockaddr_storage ss;
  const socklen_t len = local.toSockaddr(ss, family);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0 || !worker_.loop().add(fd, kEdgeEvents, &s)) {
    const int err = errno;
    SOCKS_LOG(kDebug, "%s: UDP: cannot open an outgoing socket: %s", client_name_, strerror(err));
    closeSocket(s);
    errno = err;
    return nullptr;
  }
  return &s;
}

// ---- destination -> client ----------------------------------------------------------------

void UdpAssociation::readOutside(Socket& s) {
  for (int budget = kBatch; s.fd >= 0 && s.readable && !down_.active && !dead_; --budget) {
    if (budget == 0) {
      scheduleResume();
      return;
    }
    // Received behind room for the header, which is then written in front
    // of the payload: the datagram to the client is built without a copy.
    const socks::MutableBytes buf = worker_.datagramBuffer();
    std::uint8_t* const payload = buf.data() + kMaxHeaderToClient;
    const std::size_t room = buf.size() - kMaxHeaderToClient;
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    const ssize_t n = ::recvfrom(s.fd, payload, room, MSG_TRUNC, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) {
      if (wouldBlock(errno)) {
        s.readable = false;
      } else if (errno != EINTR) {
        // An ICMP error for an earlier datagram, say; it is cleared by now.
        SOCKS_LOG(kDebug, "%s: UDP: recvfrom: %s", client_name_, strerror(errno));
      }
      continue;
    }
    ++counters_.from_outside;
    const auto source = Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
    if (static_cast<std::size_t>(n) > room) {
      ++counters_.down_dropped;
      dropped(kFromOutside, "datagram larger than the buffer");
      continue;
    }
    if (!source || socks::AddressRange::anyContains(worker_.config().deny_dest, *source)) {
      // A network the client may not send to does not get to send to it.
      ++counters_.down_dropped;
      dropped(kFromOutside, "source denied");
      continue;
    }
    if (!filter_.portKnown()) {
      ++counters_.down_dropped;  // not reachable: nothing went out before the client spoke
      dropped(kFromOutside, "the client's port is not known yet");
      continue;
    }
    // RFC 1928 §7: toward the client, DST.ADDR/DST.PORT are the datagram's true source.
    std::uint8_t header[kMaxHeaderToClient];
    const auto hl = socks::encodeUdpHeader(header, *source);
    if (!hl.ok()) {
      ++counters_.down_dropped;
      continue;
    }
    std::memcpy(payload - *hl, header, *hl);
    sendToClient(socks::Bytes(payload - *hl, *hl + static_cast<std::size_t>(n)));
  }
}

void UdpAssociation::sendToClient(socks::Bytes datagram) {
  sockaddr_storage ss;
  const socklen_t len = filter_.client().toSockaddr(ss, relay_family_);
  while (true) {
    const ssize_t n =
        ::sendto(relay_.fd, datagram.data(), datagram.size(), 0, reinterpret_cast<const sockaddr*>(&ss), len);
    if (n >= 0) {
      ++counters_.to_client;
      last_activity_ = worker_.loop().now();
      return;
    }
    const int err = errno;
    if (err == EINTR) {
      continue;
    }
    if (wouldBlock(err) && !down_.active) {
      relay_.writable = false;
      keep(down_, relay_, ss, len, datagram);
      return;
    }
    ++counters_.down_dropped;
    // EMSGSIZE: the payload and its header do not fit in one datagram.
    dropped(kFromOutside, strerror(err));
    return;
  }
}

// ---- blocked sends ------------------------------------------------------------------------

void UdpAssociation::keep(Pending& pending, Socket& via, const sockaddr_storage& to, socklen_t to_len,
                          socks::Bytes bytes) {
  pending.active = true;
  pending.via = &via;
  pending.to = to;
  pending.to_len = to_len;
  pending.bytes.assign(bytes.begin(), bytes.end());
}

void UdpAssociation::retry(Pending& pending, std::uint64_t& sent, std::uint64_t& dropped_count) {
  while (pending.active && pending.via->fd >= 0 && pending.via->writable) {
    const ssize_t n = ::sendto(pending.via->fd, pending.bytes.data(), pending.bytes.size(), 0,
                               reinterpret_cast<const sockaddr*>(&pending.to), pending.to_len);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && wouldBlock(errno)) {
      pending.via->writable = false;
      return;
    }
    if (n >= 0) {
      ++sent;
      if (&pending == &down_) {
        last_activity_ = worker_.loop().now();
      }
    } else {
      ++dropped_count;
      dropped(&pending == &up_ ? kFromClient : kFromOutside, strerror(errno));
    }
    pending.active = false;
    pending.bytes.clear();
    pending.bytes.shrink_to_fit();  // a rare state: give the 64 KiB back
  }
}

// ---- teardown -----------------------------------------------------------------------------

void UdpAssociation::closeSocket(Socket& s) {
  if (s.fd >= 0) {
    worker_.loop().remove(s.fd);
    ::close(s.fd);
  }
  s.fd = -1;
  s.readable = s.writable = false;
}

void UdpAssociation::shutdown() {
  if (dead_) {
    return;
  }
  dead_ = true;
  for (const std::uint64_t id : resolving_) {
    worker_.resolver().cancel(id);
  }
  resolving_.clear();
  closeSocket(relay_);
  closeSocket(out4_);
  closeSocket(out6_);
  // Datagrams still waiting for a socket or a name never leave.
  counters_.up_dropped += (up_.active ? 1 : 0) + names_.queued();
  counters_.down_dropped += down_.active ? 1 : 0;
  up_.active = down_.active = false;
}

void UdpAssociation::dropped(const char* what, const char* why) {
  if (drop_logs_ < kMaxDropLogs && socks::log::enabled(socks::log::Level::kDebug)) {
    ++drop_logs_;
    SOCKS_LOG(kDebug, "%s: UDP: dropped a datagram %s: %s%s", client_name_, what, why,
              drop_logs_ == kMaxDropLogs ? " (further drops are only counted)" : "");
  }
}

}  // namespace socksd
