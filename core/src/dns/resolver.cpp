// resolver.cpp — local name resolution through c-ares 1.18 (socks/resolver.h).
//
// One channel per call (cheap next to a lookup, and nothing to share or lock
// between threads or across fork). Every channel gets kSocketFunctions, a
// table with static storage duration because c-ares 1.18 keeps the pointer;
// its user_data is the caller's SocketOps, so all sockets c-ares opens are
// created, used and closed through that table — in the shim, the real libc
// functions, never our hooks. c-ares does not configure user sockets, so
// aSocket() creates them SOCK_NONBLOCK|SOCK_CLOEXEC itself.
//
// The lookups string decides what c-ares may do: "f" (hosts file only: no
// socket is ever opened) for hosts_only, "fb" (hosts file, then DNS)
// otherwise. ARES_AI_NOSORT keeps c-ares from opening UDP sockets to sort
// the answers by RFC 6724 (ares__sortaddrinfo).
//
// The event loop polls c-ares's sockets through ops.poll, bounded by
// options.timeout_ms; when the deadline passes the channel is destroyed,
// which completes the query with ARES_EDESTRUCTION.
#include "proto/ascii.h"
#include "socks/resolver.h"
#include "socks/dns_message.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace socks {

namespace {

using Clock = std::chrono::steady_clock;

const SocketOps& opsOf(void* user_data) { return *static_cast<const SocketOps*>(user_data); }

ares_socket_t aSocket(int domain, int type, int protocol, void* user_data) {
  const int fd = opsOf(user_data).socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  return fd < 0 ? ARES_SOCKET_BAD : fd;
}

int aClose(ares_socket_t fd, void* user_data) { return opsOf(user_data).close(fd); }

int aConnect(ares_socket_t fd, const sockaddr* addr, ares_socklen_t len, void* user_data) {
  return opsOf(user_data).connect(fd, addr, len);
}

ares_ssize_t aRecvfrom(ares_socket_t fd, void* buf, size_t len, int flags, sockaddr* from,
                       ares_socklen_t* from_len, void* user_data) {
  return opsOf(user_data).recvfrom(fd, buf, len, flags, from, from_len);
}

// SocketOps has no writev: gather into one buffer (a DNS message over TCP is
// the 2-byte length plus at most 64 KiB). c-ares handles short writes.
ares_ssize_t aSendv(ares_socket_t fd, const iovec* iov, int iovcnt, void* user_data) {
  const SocketOps& ops = opsOf(user_data);
  if (iovcnt == 1) {
    return ops.send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
  }
  std::size_t total = 0;
  for (int i = 0; i < iovcnt; ++i) {
    total += iov[i].iov_len;
  }
  std::vector<char> buf;
  try {
    buf.resize(total);
  } catch (...) {
    errno = ENOMEM;
    return -1;
  }
  std::size_t at = 0;
  for (int i = 0; i < iovcnt; ++i) {
    if (iov[i].iov_len != 0) {
      std::memcpy(buf.data() + at, iov[i].iov_base, iov[i].iov_len);
      at += iov[i].iov_len;
    }
  }
  return ops.send(fd, buf.data(), total, MSG_NOSIGNAL);
}

// Static storage duration: c-ares 1.18 keeps this pointer. All five set.
constexpr ares_socket_functions kSocketFunctions = {aSocket, aClose, aConnect, aRecvfrom, aSendv};

std::once_flag g_library_once;
int g_library_status = ARES_SUCCESS;

Status ensureLibrary() {
  std::call_once(g_library_once, [] { g_library_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (g_library_status != ARES_SUCCESS) {
    return Status::system(ENOMEM, "ares_library_init failed");
  }
  return {};
}

// A c-ares channel set up for one lookup; destroyed with the object.
class Channel {
 public:
  Channel() = default;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel() { reset(); }

  Status init(const SocketOps& ops, const ResolveOptions& options) {
    Status lib = ensureLibrary();
    if (!lib.ok()) {
      return lib;
    }
    ares_options opts;
    std::memset(&opts, 0, sizeof(opts));
    char lookups_file[] = "f";
    char lookups_all[] = "fb";
    opts.lookups = options.hosts_only ? lookups_file : lookups_all;
    // c-ares doubles the wait each round: with one server the first two
    // tries (t + 2t) fill the budget and a third is still pending when our
    // deadline ends the lookup, so a silent server reports kTimeout (c-ares
    // itself would turn an exhausted reverse lookup into ENOTFOUND).
    const int total = std::max(options.timeout_ms, 1);
    opts.timeout = std::max(total / 3, 50);
    opts.tries = 3;
    const int mask = ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    const int rc = ares_init_options(&channel_, &opts, mask);
    if (rc != ARES_SUCCESS) {
      channel_ = nullptr;
      return rc == ARES_ENOMEM ? Status::system(ENOMEM, "ares_init_options: out of memory")
                               : Status::system(EIO, "ares_init_options failed");
    }
    ares_set_socket_functions(channel_, &kSocketFunctions, const_cast<SocketOps*>(&ops));
    if (!options.servers.empty() &&
        ares_set_servers_ports_csv(channel_, options.servers.c_str()) != ARES_SUCCESS) {
      return Status(Errc::kInvalidArgument, "bad name server list");
    }
    return {};
  }

  ares_channel get() const { return channel_; }

  // Destroys the channel; pending queries complete with ARES_EDESTRUCTION.
  void reset() {
    if (channel_ != nullptr) {
      ares_destroy(channel_);
      channel_ = nullptr;
    }
  }

 private:
  ares_channel channel_ = nullptr;
};

// Runs the channel until *done or the deadline. kTimeout at the deadline.
Status runUntil(const SocketOps& ops, ares_channel channel, const bool& done,
                Clock::time_point deadline) {
  while (!done) {
    const auto now = Clock::now();
    if (now >= deadline) {
      return Status(Errc::kTimeout, "name lookup timed out");
    }
    const long long remaining_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;

    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    const int bits = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
    pollfd fds[ARES_GETSOCK_MAXNUM];
    nfds_t nfds = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, i)) {
        events |= POLLIN;
      }
      if (ARES_GETSOCK_WRITABLE(bits, i)) {
        events |= POLLOUT;
      }
      if (events != 0) {
        fds[nfds].fd = socks[i];
        fds[nfds].events = events;
        fds[nfds].revents = 0;
        ++nfds;
      }
    }

    timeval max_tv;
    max_tv.tv_sec = static_cast<time_t>(remaining_ms / 1000);
    max_tv.tv_usec = static_cast<suseconds_t>((remaining_ms % 1000) * 1000);
    timeval tv;
    const timeval* wait = ares_timeout(channel, &max_tv, &tv);
    long long wait_ms = static_cast<long long>(wait->tv_sec) * 1000 + (wait->tv_usec + 999) / 1000;
    wait_ms = std::clamp<long long>(wait_ms, 0, remaining_ms);

    const int rc = ops.poll(fds, nfds, static_cast<int>(wait_ms));
    if (rc < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Status::system(errno, "poll failed during name lookup");
    }
    if (rc == 0) {
      ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
      continue;
    }
    for (nfds_t i = 0; i < nfds && !done; ++i) {
      const short re = fds[i].revents;
      if (re == 0) {
        continue;
      }
      const ares_socket_t r = (re & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) ? fds[i].fd : ARES_SOCKET_BAD;
      const ares_socket_t w = (re & (POLLOUT | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD;
      ares_process_fd(channel, r, w);
    }
  }
  return {};
}

// The c-ares status of a finished lookup as a Status.
Status fromAres(int status, bool hosts_only) {
  if (status == ARES_ENOMEM) {
    return Status::system(ENOMEM, "out of memory in c-ares");
  }
  if (hosts_only) {
    // Only the hosts file was asked: whatever went wrong, the name is not there.
    return Status(Errc::kNotFound, "name not in the hosts file");
  }
  switch (status) {
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME:
    case ARES_EBADNAME:
      return Status(Errc::kNotFound, "no such name");
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
      return Status(Errc::kTimeout, "name lookup timed out");
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ECONNREFUSED:
      return Status(Errc::kTimeout, "name servers failed (try again)");
    case ARES_EFORMERR:
    case ARES_EBADRESP:
    case ARES_ENOTIMP:
    case ARES_EBADQUERY:
      return Status(Errc::kMalformed, "unusable DNS answer");
    case ARES_EBADFAMILY:
      return Status(Errc::kInvalidArgument, "address family not supported");
    case ARES_EFILE:
      return Status::system(EIO, "cannot read the hosts file");
    default:
      return Status::system(EIO, "name lookup failed");
  }
}

// Names under RFC 6761 §6.3 ("localhost", "*.localhost"), case-insensitive,
// an optional trailing dot.
bool isLocalhostName(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  constexpr std::string_view kLocalhost = "localhost";
  if (name.size() < kLocalhost.size()) {
    return false;
  }
  if (!ascii::equalsIgnoreCase(name.substr(name.size() - kLocalhost.size()), kLocalhost)) {
    return false;
  }
  return name.size() == kLocalhost.size() || name[name.size() - kLocalhost.size() - 1] == '.';
}

bool familyWanted(int family, Address::Type type) {
  return family == AF_UNSPEC || (family == AF_INET && type == Address::Type::kIPv4) ||
         (family == AF_INET6 && type == Address::Type::kIPv6);
}

void addUnique(std::vector<Address>& out, const Address& a) {
  if (std::find(out.begin(), out.end(), a) == out.end()) {
    out.push_back(a);
  }
}

struct AddrInfoQuery {
  bool done = false;
  int status = ARES_ECANCELLED;
  ares_addrinfo* result = nullptr;
};

void onAddrInfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  auto* q = static_cast<AddrInfoQuery*>(arg);
  q->done = true;
  q->status = status;
  q->result = result;
}

struct HostQuery {
  bool done = false;
  int status = ARES_ECANCELLED;
  std::string name;
};

void onHost(void* arg, int status, int /*timeouts*/, hostent* host) {
  auto* q = static_cast<HostQuery*>(arg);
  q->done = true;
  q->status = status;
  if (status == ARES_SUCCESS && host != nullptr && host->h_name != nullptr) {
    try {
      q->name = host->h_name;
    } catch (...) {
      q->status = ARES_ENOMEM;
    }
  }
}

Clock::time_point deadlineFor(const ResolveOptions& options) {
  return Clock::now() + std::chrono::milliseconds(std::max(options.timeout_ms, 0));
}

// The hosts file, then (unless hosts_only) DNS, through a fresh channel.
Result<Resolved> resolveFromChannel(const SocketOps& ops, std::string_view name,
                                    const ResolveOptions& options);

}  // namespace

Result<Resolved> resolveName(const SocketOps& ops, std::string_view name,
                             const ResolveOptions& options) {
  const int family = options.family;
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) {
    return Status(Errc::kInvalidArgument, "address family not supported");
  }
  if (name.empty()) {
    return Status(Errc::kNotFound, "empty name");
  }
  if (name.size() > Address::kMaxDomain + 1 || name.find('\0') != std::string_view::npos) {
    return Status(Errc::kInvalidArgument, "not a domain name");
  }

  Resolved out;
  if (const std::optional<Address> numeric = Address::parseNumeric(name, 0)) {
    if (!familyWanted(family, numeric->type)) {
      return Status(Errc::kNotFound, "numeric address of another family");
    }
    out.addresses.push_back(*numeric);
    return out;
  }
  if (isLocalhostName(name)) {
    // The hosts file's loopback entries if it has any (so "localhost" gives
    // what libc would), else 127.0.0.1 / ::1. Never DNS.
    ResolveOptions file = options;
    file.hosts_only = true;
    Result<Resolved> listed = resolveFromChannel(ops, name, file);
    if (listed.ok()) {
      std::vector<Address> loopback;
      for (const Address& a : listed->addresses) {
        if (a.isLoopback()) {
          loopback.push_back(a);
        }
      }
      if (!loopback.empty()) {
        listed->addresses = std::move(loopback);
        return listed;
      }
    } else if (listed.status().code() != Errc::kNotFound) {
      return listed.status();
    }
    static constexpr std::uint8_t kV4[4] = {127, 0, 0, 1};
    static constexpr std::uint8_t kV6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (family != AF_INET6) {
      out.addresses.push_back(Address::ipv4(kV4, 0));
    }
    if (family != AF_INET) {
      out.addresses.push_back(Address::ipv6(kV6, 0));
    }
    out.canonical_name.assign(name);
    if (out.canonical_name.back() == '.') {
      out.canonical_name.pop_back();
    }
    return out;
  }

  return resolveFromChannel(ops, name, options);
}

namespace {

Result<Resolved> resolveFromChannel(const SocketOps& ops, std::string_view name,
                                    const ResolveOptions& options) {
  const int family = options.family;
  Resolved out;
  const auto deadline = deadlineFor(options);
  Channel channel;
  if (Status s = channel.init(ops, options); !s.ok()) {
    return s;
  }
  // The hosts file knows no absolute names: "host." is "host" there.
  if (options.hosts_only && name.size() > 1 && name.back() == '.') {
    name.remove_suffix(1);
  }
  const std::string cname(name);
  ares_addrinfo_hints hints;
  std::memset(&hints, 0, sizeof(hints));
  // From the hosts file ask for both families and filter below: it costs no
  // packet, and c-ares 1.18.1 leaks its "localhost" fallback for AF_INET6.
  hints.ai_family = options.hosts_only ? AF_UNSPEC : family;
  hints.ai_flags = ARES_AI_NOSORT | ARES_AI_CANONNAME;
  AddrInfoQuery query;
  ares_getaddrinfo(channel.get(), cname.c_str(), nullptr, &hints, onAddrInfo, &query);
  Status loop = runUntil(ops, channel.get(), query.done, deadline);
  channel.reset();  // completes a pending query (ARES_EDESTRUCTION)

  struct Free {
    ares_addrinfo* p;
    ~Free() {
      if (p != nullptr) {
        ares_freeaddrinfo(p);
      }
    }
  } release{query.result};

  if (!loop.ok()) {
    return loop;
  }
  if (query.status != ARES_SUCCESS) {
    return fromAres(query.status, options.hosts_only);
  }
  std::vector<Address> v4;
  std::vector<Address> v6;
  for (const ares_addrinfo_node* n = query.result ? query.result->nodes : nullptr; n != nullptr;
       n = n->ai_next) {
    const std::optional<Address> a = Address::fromSockaddr(n->ai_addr, n->ai_addrlen);
    if (!a || !familyWanted(family, a->type)) {
      continue;
    }
    Address bare = *a;
    bare.port = 0;
    addUnique(bare.type == Address::Type::kIPv4 ? v4 : v6, bare);
  }
  if (v4.empty() && v6.empty()) {
    return fromAres(ARES_ENODATA, options.hosts_only);
  }
  out.addresses = std::move(v4);
  out.addresses.insert(out.addresses.end(), v6.begin(), v6.end());
  // The canonical name: the target of the last CNAME (or the hosts file's
  // official name), when c-ares reports one.
  for (const ares_addrinfo_cname* c = query.result->cnames; c != nullptr; c = c->next) {
    if (c->name != nullptr) {
      out.canonical_name = c->name;
    }
  }
  return out;
}

}  // namespace

Result<std::string> resolveAddress(const SocketOps& ops, const Address& addr,
                                   const ResolveOptions& options) {
  if (!addr.isIp()) {
    return Status(Errc::kInvalidArgument, "not an IP address");
  }
  const auto deadline = deadlineFor(options);
  Channel channel;
  if (Status s = channel.init(ops, options); !s.ok()) {
    return s;
  }
  const bool v4 = addr.type == Address::Type::kIPv4;
  HostQuery query;
  ares_gethostbyaddr(channel.get(), addr.ip.data(), v4 ? 4 : 16, v4 ? AF_INET : AF_INET6, onHost,
                     &query);
  Status loop = runUntil(ops, channel.get(), query.done, deadline);
  channel.reset();
  if (!loop.ok()) {
    return loop;
  }
  if (query.status != ARES_SUCCESS) {
    return fromAres(query.status, options.hosts_only);
  }
  std::string name = std::move(query.name);
  while (!name.empty() && name.back() == '.') {
    name.pop_back();
  }
  if (name.empty()) {
    return fromAres(ARES_ENODATA, options.hosts_only);
  }
  return name;
}

// ---------------------------------------------------------------------------
// Raw queries: res_query / res_search / res_send.

namespace {

constexpr std::size_t kMaxDnsMessage = 65535;

struct RawQuery {
  bool done = false;
  int status = ARES_ECANCELLED;
  std::vector<std::uint8_t> message;
};

void onRaw(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto* q = static_cast<RawQuery*>(arg);
  q->done = true;
  q->status = status;
  if (abuf != nullptr && alen > 0) {
    try {
      q->message.assign(abuf, abuf + alen);
    } catch (...) {
      q->status = ARES_ENOMEM;
    }
  }
}

// The outcome of a finished raw query, as glibc's res_query maps the RCODE
// (resolv/res_query.c) and res_send its failures (no server answered:
// TRY_AGAIN). c-ares skips servers that answer SERVFAIL, NOTIMP or REFUSED,
// as glibc's res_send does, so those reach us only when every server did.
Result<RawAnswer> finishRaw(RawQuery& q, const Status& loop) {
  if (q.status == ARES_ENOMEM) {
    return Status::system(ENOMEM, "out of memory in c-ares");
  }
  RawAnswer out;
  out.message = std::move(q.message);
  if (!loop.ok() && loop.code() != Errc::kTimeout) {
    return loop;
  }
  switch (loop.ok() ? q.status : ARES_ETIMEOUT) {
    case ARES_SUCCESS:
      out.outcome = DnsOutcome::kAnswer;
      break;
    case ARES_ENOTFOUND:
      out.outcome = DnsOutcome::kNameError;
      break;
    case ARES_ENODATA:
      out.outcome = DnsOutcome::kNoData;
      break;
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ENOTIMP:
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED:
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
      out.outcome = DnsOutcome::kTryAgain;
      break;
    default:  // FORMERR, a bad answer, a name c-ares cannot encode
      out.outcome = DnsOutcome::kUnrecoverable;
      break;
  }
  return out;
}

}  // namespace

Result<RawAnswer> queryRaw(const SocketOps& ops, std::string_view name, int dnsclass, int type,
                           bool search, const ResolveOptions& options) {
  if (name.empty() || name.size() > Address::kMaxDomain * 4 + 5 ||
      name.find('\0') != std::string_view::npos) {
    return Status(Errc::kInvalidArgument, "not a domain name");
  }
  const auto deadline = deadlineFor(options);
  Channel channel;
  if (Status s = channel.init(ops, options); !s.ok()) {
    return s;
  }
  const std::string cname(name);
  RawQuery query;
  if (search) {
    ares_search(channel.get(), cname.c_str(), dnsclass, type, onRaw, &query);
  } else {
    ares_query(channel.get(), cname.c_str(), dnsclass, type, onRaw, &query);
  }
  Status loop = runUntil(ops, channel.get(), query.done, deadline);
  channel.reset();  // completes a pending query (ARES_EDESTRUCTION)
  return finishRaw(query, loop);
}

Result<RawAnswer> sendRaw(const SocketOps& ops, std::span<const std::uint8_t> query_msg,
                          const ResolveOptions& options) {
  if (query_msg.size() < kDnsHeaderSize || query_msg.size() > kMaxDnsMessage) {
    return Status(Errc::kInvalidArgument, "not a DNS message");
  }
  const auto deadline = deadlineFor(options);
  Channel channel;
  if (Status s = channel.init(ops, options); !s.ok()) {
    return s;
  }
  RawQuery query;
  ares_send(channel.get(), query_msg.data(), static_cast<int>(query_msg.size()), onRaw, &query);
  Status loop = runUntil(ops, channel.get(), query.done, deadline);
  channel.reset();
  Result<RawAnswer> out = finishRaw(query, loop);
  if (out.ok() && out->message.size() >= 2) {
    // c-ares sends its own random ID (RFC 5452 §9.2); the caller matches
    // the answer against the ID it chose.
    out->message[0] = query_msg[0];
    out->message[1] = query_msg[1];
  }
  return out;
}

}  // namespace socks
