// shim/resolve.cpp — the resolver hooks: getaddrinfo, freeaddrinfo,
// gethostbyname{,2}{,_r}, gethostbyaddr{,_r}, getnameinfo.
//
// Every hook decides in the same order (DESIGN.md "Names (DNS)"):
//   1. inert (no process state) or inside the state load → the real call;
//   2. numeric strings, and names whose route says `dns system`
//      (socks::dnsModeFor) → the real call;
//   3. "localhost", "*.localhost" and names in /etc/hosts → answered from the
//      hosts file through c-ares with lookups "f": never sent away;
//   4. dns remote → a fake address from the shared FakeDns map;
//      dns local → c-ares with the real sockets (realSocketOps()).
// Reverse lookups: a fake address → its name; otherwise per the address's
// route: system → libc; remote, or loopback, → the hosts file only (a PTR
// query would leak); local → c-ares.
//
// Our addrinfo lists. Each node is one malloc() block (the addrinfo, then its
// sockaddr) with ai_canonname strdup'ed separately — glibc's own layout, so
// even a node that reached glibc's freeaddrinfo by mistake would be freed
// correctly. Every node we hand out is recorded in a set; freeaddrinfo frees
// the recorded nodes itself and gives any other node (and the rest of its
// list) to the real freeaddrinfo. Recording every node, not just heads, keeps
// POSIX's "arbitrary sublists" working. The set's mutex is taken around fork
// (pthread_atfork), so a child never inherits it locked.
//
// Nothing here throws across the C ABI: each hook catches everything and
// returns EAI_MEMORY / NO_RECOVERY (ENOMEM for the _r variants).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "export.h"
#include "real.h"
#include "resolve.h"
#include "socks/address.h"
#include "socks/fake_dns.h"
#include "socks/log.h"
#include "socks/resolver.h"
#include "socks/router.h"
#include "state.h"

namespace socksify {
namespace {

using socks::Address;
using socks::Errc;
using socks::FakeDns;
using socks::Status;

// glibc's hints when the caller passes none (AI_DEFAULT).
constexpr int kDefaultAiFlags = AI_V4MAPPED | AI_ADDRCONFIG;
// Timeout for a kLocal lookup through c-ares.
constexpr int kLocalLookupTimeoutMs = 5000;

// The state when the hooks should act, nullptr when they should forward.
const ProcessState* activeState() noexcept {
  if (inStateLoad()) {
    return nullptr;
  }
  return processState();
}

// Names whose route says `dns system` go to libc, as without socksify.
bool systemResolves(const ProcessState& state, const char* name) {
  return socks::dnsModeFor(state.config, name) == socks::DnsMode::kSystem;
}

// Reverse lookups of real addresses follow the address's route.
bool systemReverses(const ProcessState& state, const Address& addr) {
  return !FakeDns::inFakeRange(addr) && state.decide(addr).dns == socks::DnsMode::kSystem;
}

// ---------------------------------------------------------------------------
// Calls into libc that cope with a missing real symbol (the shim is broken:
// resolveRealSymbol() logged it) instead of calling a null pointer.

int realGetaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res) {
  auto fn = real::getaddrinfo.get();
  if (fn == nullptr) {
    errno = ENOSYS;
    return EAI_SYSTEM;
  }
  return fn(node, service, hints, res);
}

void realFreeaddrinfo(addrinfo* ai) {
  auto fn = real::freeaddrinfo.get();
  if (fn != nullptr) {
    fn(ai);
  }
}

int realGetnameinfo(const sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen, char* serv,
                    socklen_t servlen, int flags) {
  auto fn = real::getnameinfo.get();
  if (fn == nullptr) {
    errno = ENOSYS;
    return EAI_SYSTEM;
  }
  return fn(sa, salen, host, hostlen, serv, servlen, flags);
}

// ---------------------------------------------------------------------------
// Status → libc error codes.

int toEai(const Status& s) {
  switch (s.code()) {
    case Errc::kNotFound:
    case Errc::kInvalidArgument:
      return EAI_NONAME;
    case Errc::kTimeout:
      return EAI_AGAIN;
    case Errc::kSystem:
      if (s.sysErrno() == ENOMEM) {
        return EAI_MEMORY;
      }
      errno = s.sysErrno();
      return EAI_SYSTEM;
    default:
      return EAI_FAIL;
  }
}

int toHerrno(const Status& s) {
  switch (s.code()) {
    case Errc::kNotFound:
    case Errc::kInvalidArgument:
      return HOST_NOT_FOUND;
    case Errc::kTimeout:
      return TRY_AGAIN;
    default:
      return NO_RECOVERY;
  }
}

// ---------------------------------------------------------------------------
// Name classification.


// The names glibc's gethostbyname* answer without any lookup
// (nss/digits_dots.c): only digits and dots, or (starting with a hex digit
// and containing ':', or starting with ':') only hex digits, ':' and '.';
// in both cases not ending in a dot. The real function parses them (or
// fails with HOST_NOT_FOUND) without asking NSS. Anything else it would look
// up, so it is ours.
bool isNumericForHostent(const char* name) {
  const std::size_t len = std::strlen(name);
  if (len == 0 || name[len - 1] == '.') {
    return false;
  }
  const auto all = [&](auto pred) {
    for (std::size_t i = 0; i < len; ++i) {
      if (!pred(static_cast<unsigned char>(name[i]))) {
        return false;
      }
    }
    return true;
  };
  const unsigned char first = static_cast<unsigned char>(name[0]);
  if (std::isdigit(first) != 0 &&
      all([](unsigned char c) { return std::isdigit(c) != 0 || c == '.'; })) {
    return true;
  }
  if ((std::isxdigit(first) != 0 && std::strchr(name, ':') != nullptr) || first == ':') {
    return all([](unsigned char c) { return std::isxdigit(c) != 0 || c == ':' || c == '.'; });
  }
  return false;
}

// Whether a name could be a domain at all (FakeDns would refuse it).
bool isValidName(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  return !name.empty() && name.size() <= Address::kMaxDomain;
}

// ---------------------------------------------------------------------------
// Forward resolution shared by getaddrinfo and gethostbyname*.

struct NameAnswer {
  std::vector<Address> addresses;  // IPv4 first; port 0
  std::string canonical;
};

// The hosts file (and localhost), whatever the requested family: a name that
// is there is never sent away, even when it lacks the family asked for.
// nullopt when the name is not in the hosts file.
std::optional<NameAnswer> fromHostsFile(std::string_view name, Status& error) {
  socks::ResolveOptions options;
  options.family = AF_UNSPEC;
  options.hosts_only = true;
  socks::Result<socks::Resolved> r = socks::resolveName(realSocketOps(), name, options);
  if (!r.ok()) {
    if (r.status().code() != Errc::kNotFound) {
      error = r.status();
    }
    return std::nullopt;
  }
  return NameAnswer{std::move(r->addresses), std::move(r->canonical_name)};
}

// Resolves a non-numeric name per the process's DNS mode. family is AF_INET,
// AF_INET6 or AF_UNSPEC. kRemote: AF_INET6 gives the IPv6 fake, AF_INET
// the IPv4 fake, AF_UNSPEC the fake of the first proxy's family. kLocal: c-ares asks for family, or for both when
// v4mapped (AF_INET6 with AI_V4MAPPED may use IPv4 answers).
Status resolveHostName(const ProcessState& state, std::string_view name, int family, bool v4mapped,
                       NameAnswer& out) {
  Status error;
  if (std::optional<NameAnswer> hosts = fromHostsFile(name, error)) {
    out = std::move(*hosts);
    return {};
  }
  if (!error.ok()) {
    return error;
  }
  const socks::Decision route = socks::routeForName(state.config, name);
  if (route.dns != socks::DnsMode::kRemote) {  // kLocal (kSystem never comes here)
    socks::ResolveOptions options;
    options.family = (family == AF_INET6 && v4mapped) ? AF_UNSPEC : family;
    options.timeout_ms = kLocalLookupTimeoutMs;
    socks::Result<socks::Resolved> r = socks::resolveName(realSocketOps(), name, options);
    if (!r.ok()) {
      return r.status();
    }
    out.addresses = std::move(r->addresses);
    out.canonical = std::move(r->canonical_name);
    return {};
  }
  if (!isValidName(name)) {
    return Status(Errc::kNotFound, "not a domain name");
  }
  const std::optional<std::uint32_t> index = state.fake_dns->intern(name);
  if (!index) {
    SOCKS_LOG(kWarn, "the fake-address map is full; cannot resolve another name");
    return Status(Errc::kTimeout, "fake-address map full");
  }
  // AF_UNSPEC gets the fake of the first proxy's family: the program makes
  // its socket from the answer, and an AF_INET socket cannot reach an IPv6
  // proxy (nor can we swap the program's socket for another).
  const Chain* chain = route.alternatives.empty() ? nullptr
                                                  : state.chainFor(route.alternatives.front());
  const bool first_hop_v6 = chain != nullptr && chain->ipv6FirstHop();
  const bool v6 = family == AF_INET6 || (family == AF_UNSPEC && first_hop_v6);
  out.addresses.push_back(v6 ? FakeDns::ipv6For(*index, 0) : FakeDns::ipv4For(*index, 0));
  out.canonical.assign(name);
  SOCKS_LOG(kDebug, "fake address for a name (entry %u)", static_cast<unsigned>(*index));
  return {};
}

// ---------------------------------------------------------------------------
// Our addrinfo lists.

class OwnedNodes;
// Set once the first list of ours is built; until then (and always in an
// inert process) freeaddrinfo costs one atomic load.
std::atomic<OwnedNodes*> g_owned{nullptr};

class OwnedNodes {
 public:
  static OwnedNodes& get() {
    // Never destroyed: hooks may run during and after exit handlers.
    static OwnedNodes* nodes = [] {
      auto* n = new OwnedNodes;
      g_owned.store(n, std::memory_order_release);  // before the handlers can run
      pthread_atfork([] { g_owned.load()->mu_.lock(); }, [] { g_owned.load()->mu_.unlock(); },
                     [] { g_owned.load()->mu_.unlock(); });
      return n;
    }();
    return *nodes;
  }
  static OwnedNodes* ifCreated() { return g_owned.load(std::memory_order_acquire); }

  // Records every node of a fresh list. false (nothing recorded) on ENOMEM.
  bool add(addrinfo* head) {
    std::lock_guard<std::mutex> lock(mu_);
    addrinfo* p = head;
    try {
      for (; p != nullptr; p = p->ai_next) {
        nodes_.insert(p);
      }
    } catch (...) {
      for (addrinfo* q = head; q != p; q = q->ai_next) {
        nodes_.erase(q);
      }
      return false;
    }
    any_.store(true, std::memory_order_release);
    return true;
  }

  // Frees our nodes from ai on; returns the first node that is not ours
  // (for the real freeaddrinfo), or nullptr.
  addrinfo* release(addrinfo* ai) {
    if (!any_.load(std::memory_order_acquire)) {
      return ai;
    }
    std::lock_guard<std::mutex> lock(mu_);
    while (ai != nullptr && nodes_.erase(ai) != 0) {
      addrinfo* next = ai->ai_next;
      std::free(ai->ai_canonname);
      std::free(ai);
      ai = next;
    }
    return ai;
  }

 private:
  OwnedNodes() = default;

  std::mutex mu_;
  std::unordered_set<const addrinfo*> nodes_;
  std::atomic<bool> any_{false};
};

void freeNodes(addrinfo* head) {
  while (head != nullptr) {
    addrinfo* next = head->ai_next;
    std::free(head->ai_canonname);
    std::free(head);
    head = next;
  }
}

// One socktype/protocol/port combination, as glibc would produce it.
struct Proto {
  int socktype;
  int protocol;
  std::uint16_t port;
};

// The service part, computed by the real getaddrinfo on a numeric wildcard
// (no lookup of any name): exactly glibc's socktype/protocol entries, port,
// and EAI_SERVICE / EAI_SOCKTYPE errors.
int protocolsFor(const char* service, const addrinfo& hints, std::vector<Proto>& out) {
  addrinfo h{};
  h.ai_flags = AI_NUMERICHOST | (hints.ai_flags & AI_NUMERICSERV);
  h.ai_family = hints.ai_family == AF_INET6 ? AF_INET6 : AF_INET;
  h.ai_socktype = hints.ai_socktype;
  h.ai_protocol = hints.ai_protocol;
  addrinfo* list = nullptr;
  const int rc = realGetaddrinfo(h.ai_family == AF_INET6 ? "::" : "0.0.0.0", service, &h, &list);
  if (rc != 0) {
    return rc;
  }
  for (const addrinfo* p = list; p != nullptr; p = p->ai_next) {
    const std::optional<Address> a = Address::fromSockaddr(p->ai_addr, p->ai_addrlen);
    out.push_back(Proto{p->ai_socktype, p->ai_protocol, a ? a->port : std::uint16_t{0}});
  }
  realFreeaddrinfo(list);
  return 0;
}

// The (address, family written) pairs a lookup yields for the caller's
// family and flags. AF_INET6 with AI_V4MAPPED maps IPv4 answers when there
// is no IPv6 one (or always, with AI_ALL).
std::vector<std::pair<Address, int>> selectAddresses(const std::vector<Address>& all, int family,
                                                     int flags) {
  std::vector<std::pair<Address, int>> out;
  bool have_v6 = false;
  for (const Address& a : all) {
    if (a.type == Address::Type::kIPv4 && family != AF_INET6) {
      out.emplace_back(a, AF_INET);
    } else if (a.type == Address::Type::kIPv6 && family != AF_INET) {
      out.emplace_back(a, AF_INET6);
      have_v6 = true;
    }
  }
  if (family == AF_INET6 && (flags & AI_V4MAPPED) != 0 && (!have_v6 || (flags & AI_ALL) != 0)) {
    for (const Address& a : all) {
      if (a.type == Address::Type::kIPv4) {
        out.emplace_back(a, AF_INET6);
      }
    }
  }
  return out;
}

// Builds and records the list; EAI_MEMORY on allocation failure.
int buildList(const std::vector<std::pair<Address, int>>& addrs, const std::vector<Proto>& protos,
              int flags, const char* canonical, addrinfo** res) {
  addrinfo* head = nullptr;
  addrinfo** tail = &head;
  for (const auto& [addr, family] : addrs) {
    for (const Proto& proto : protos) {
      sockaddr_storage ss;
      Address a = addr;
      a.port = proto.port;
      const socklen_t len = a.toSockaddr(ss, family);
      auto* node = static_cast<addrinfo*>(std::calloc(1, sizeof(addrinfo) + len));
      if (node == nullptr) {
        freeNodes(head);
        return EAI_MEMORY;
      }
      node->ai_flags = flags;
      node->ai_family = family;
      node->ai_socktype = proto.socktype;
      node->ai_protocol = proto.protocol;
      node->ai_addrlen = len;
      node->ai_addr = reinterpret_cast<sockaddr*>(node + 1);
      std::memcpy(node->ai_addr, &ss, len);
      *tail = node;
      tail = &node->ai_next;
    }
  }
  if (head == nullptr) {
    return EAI_NONAME;
  }
  if ((flags & AI_CANONNAME) != 0) {
    head->ai_canonname = strdup(canonical);
    if (head->ai_canonname == nullptr) {
      freeNodes(head);
      return EAI_MEMORY;
    }
  }
  if (!OwnedNodes::get().add(head)) {
    freeNodes(head);
    return EAI_MEMORY;
  }
  *res = head;
  return 0;
}

int hookGetaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res) {
  const ProcessState* state = activeState();
  if (state == nullptr || node == nullptr || (hints != nullptr && (hints->ai_flags & AI_NUMERICHOST))) {
    return realGetaddrinfo(node, service, hints, res);
  }
  addrinfo h{};
  h.ai_flags = kDefaultAiFlags;
  if (hints != nullptr) {
    h.ai_flags = hints->ai_flags;
    h.ai_family = hints->ai_family;
    h.ai_socktype = hints->ai_socktype;
    h.ai_protocol = hints->ai_protocol;
  }
  // The numeric probe: libc answers numeric hosts itself, and validates the
  // flags, family, socktype and service — every error but "no such name" is
  // final.
  addrinfo probe = h;
  probe.ai_flags |= AI_NUMERICHOST;
  const int rc = realGetaddrinfo(node, service, &probe, res);
  if (rc != EAI_NONAME || isNumericForGai(node)) {
    return rc;
  }
  // After the numeric probe: numeric strings never pay for the route lookup.
  if (systemResolves(*state, node)) {
    return realGetaddrinfo(node, service, hints, res);
  }
  std::vector<Proto> protos;
  if (const int prc = protocolsFor(service, h, protos); prc != 0) {
    return prc;
  }
  NameAnswer answer;
  const bool v4mapped = (h.ai_flags & AI_V4MAPPED) != 0;
  if (Status s = resolveHostName(*state, node, h.ai_family, v4mapped, answer); !s.ok()) {
    return toEai(s);
  }
  const std::string canonical = answer.canonical.empty() ? std::string(node) : answer.canonical;
  return buildList(selectAddresses(answer.addresses, h.ai_family, h.ai_flags), protos, h.ai_flags,
                   canonical.c_str(), res);
}

// ---------------------------------------------------------------------------
// hostent.

struct HostData {
  std::string name;
  int family = AF_INET;
  std::vector<std::array<std::uint8_t, 16>> addrs;  // first 4 or 16 bytes used

  int length() const { return family == AF_INET6 ? 16 : 4; }
};

// Bytes fillHostent() needs past the alignment of buf: the alias list (just
// its NULL), the address pointers and their NULL, the addresses, the name.
std::size_t hostentSize(const HostData& d) {
  return sizeof(char*) * (1 + d.addrs.size() + 1) +
         d.addrs.size() * static_cast<std::size_t>(d.length()) + d.name.size() + 1;
}

// Lays d out in buf (pointer arrays first, aligned). ERANGE if too small.
int fillHostent(const HostData& d, hostent* he, char* buf, std::size_t buflen) {
  std::size_t skip = reinterpret_cast<std::uintptr_t>(buf) % alignof(char*);
  skip = skip == 0 ? 0 : alignof(char*) - skip;
  if (buf == nullptr || buflen < skip + hostentSize(d)) {
    return ERANGE;
  }
  char** aliases = reinterpret_cast<char**>(buf + skip);
  char** addr_list = aliases + 1;
  char* data = reinterpret_cast<char*>(addr_list + d.addrs.size() + 1);
  aliases[0] = nullptr;
  for (std::size_t i = 0; i < d.addrs.size(); ++i) {
    std::memcpy(data, d.addrs[i].data(), static_cast<std::size_t>(d.length()));
    addr_list[i] = data;
    data += d.length();
  }
  addr_list[d.addrs.size()] = nullptr;
  std::memcpy(data, d.name.c_str(), d.name.size() + 1);
  he->h_name = data;
  he->h_aliases = aliases;
  he->h_addrtype = d.family;
  he->h_length = d.length();
  he->h_addr_list = addr_list;
  return 0;
}

// Forward lookup for gethostbyname*: 0, or an h_errno value.
int hostByName(const ProcessState& state, const char* name, int af, HostData& out) {
  NameAnswer answer;
  if (Status s = resolveHostName(state, name, af, /*v4mapped=*/false, answer); !s.ok()) {
    return toHerrno(s);
  }
  out.family = af;
  out.name = answer.canonical.empty() ? std::string(name) : answer.canonical;
  for (const Address& a : answer.addresses) {
    if ((af == AF_INET) != (a.type == Address::Type::kIPv4)) {
      continue;
    }
    std::array<std::uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), a.ip.data(), af == AF_INET6 ? 16 : 4);
    out.addrs.push_back(bytes);
  }
  // In the hosts file without this family: not found, as glibc's files
  // module says (and never asked elsewhere).
  return out.addrs.empty() ? HOST_NOT_FOUND : 0;
}

// The non-_r variants' result: one per thread, never shared.
struct HostentSlot {
  hostent he{};
  std::vector<char> buf;
};

hostent* toThreadLocal(const HostData& d) {
  thread_local HostentSlot slot;
  slot.buf.resize(hostentSize(d) + alignof(char*));
  if (fillHostent(d, &slot.he, slot.buf.data(), slot.buf.size()) != 0) {
    h_errno = NO_RECOVERY;
    return nullptr;
  }
  return &slot.he;
}

// The _r convention of glibc: 0 with *result set, or 0 with *result NULL
// and *h_errnop HOST_NOT_FOUND / NO_DATA, EAGAIN for TRY_AGAIN, ERANGE (with
// NETDB_INTERNAL) when buf is too small.
int toReentrant(int herr, const HostData& d, hostent* ret, char* buf, size_t buflen,
                hostent** result, int* h_errnop) {
  // Some callers (CPython) read the global h_errno after an _r call; glibc's
  // DNS module sets it as a side effect, so set both.
  const struct SetGlobal {
    const int* v;
    ~SetGlobal() { h_errno = *v; }
  } set_global{h_errnop};
  *result = nullptr;
  if (herr == 0) {
    if (fillHostent(d, ret, buf, buflen) != 0) {
      *h_errnop = NETDB_INTERNAL;
      errno = ERANGE;
      return ERANGE;
    }
    *result = ret;
    *h_errnop = NETDB_SUCCESS;
    return 0;
  }
  *h_errnop = herr;
  if (herr == TRY_AGAIN) {
    errno = EAGAIN;
    return EAGAIN;
  }
  if (herr == NO_RECOVERY) {
    errno = EIO;
    return EIO;
  }
  return 0;
}

// Reverse: the name for an address, or nullopt (status says why).
std::optional<std::string> nameForAddress(const ProcessState& state, const Address& addr,
                                          Status& error) {
  if (FakeDns::inFakeRange(addr)) {
    if (std::optional<Address> name = state.fake_dns->lookup(addr)) {
      return std::string(name->domainView());
    }
    error = Status(Errc::kNotFound, "unallocated fake address");
    return std::nullopt;
  }
  socks::ResolveOptions options;
  options.hosts_only = state.decide(addr).dns == socks::DnsMode::kRemote || addr.isLoopback();
  options.timeout_ms = kLocalLookupTimeoutMs;
  socks::Result<std::string> r = socks::resolveAddress(realSocketOps(), addr, options);
  if (!r.ok()) {
    error = r.status();
    return std::nullopt;
  }
  return std::move(*r);
}

// gethostbyaddr's arguments as an Address (IPv4-mapped becomes IPv4).
std::optional<Address> addressOf(const void* addr, socklen_t len, int type) {
  if (addr == nullptr) {
    return std::nullopt;
  }
  if (type == AF_INET && len == 4) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr, addr, 4);
    return Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
  }
  if (type == AF_INET6 && len == 16) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    std::memcpy(&sin6.sin6_addr, addr, 16);
    return Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&sin6), sizeof(sin6));
  }
  return std::nullopt;
}

// Reverse lookup for gethostbyaddr*: 0, or an h_errno value.
int hostByAddr(const ProcessState& state, const Address& addr, const void* raw, socklen_t len,
               int type, HostData& out) {
  Status error;
  std::optional<std::string> name = nameForAddress(state, addr, error);
  if (!name) {
    return toHerrno(error);
  }
  out.family = type;
  out.name = std::move(*name);
  std::array<std::uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), raw, len);
  out.addrs.push_back(bytes);
  return 0;
}

hostent* failHostent() {
  h_errno = NO_RECOVERY;
  return nullptr;
}

int failReentrant(hostent** result, int* h_errnop, int err) {
  *result = nullptr;
  *h_errnop = NO_RECOVERY;
  errno = err;
  return err;
}

// gethostbyname{,2} for a name that is ours. Families other than
// AF_INET/AF_INET6 fail as in glibc: NETDB_INTERNAL with EAFNOSUPPORT.
hostent* oursByName(const ProcessState& state, const char* name, int af) {
  if (af != AF_INET && af != AF_INET6) {
    errno = EAFNOSUPPORT;
    h_errno = NETDB_INTERNAL;
    return nullptr;
  }
  HostData data;
  if (const int herr = hostByName(state, name, af, data); herr != 0) {
    h_errno = herr;
    return nullptr;
  }
  return toThreadLocal(data);
}

int oursByNameR(const ProcessState& state, const char* name, int af, hostent* ret, char* buf,
                size_t buflen, hostent** result, int* h_errnop) {
  if (af != AF_INET && af != AF_INET6) {
    *result = nullptr;
    *h_errnop = NETDB_INTERNAL;
    h_errno = NETDB_INTERNAL;
    errno = EAFNOSUPPORT;
    return EAFNOSUPPORT;
  }
  HostData data;
  const int herr = hostByName(state, name, af, data);
  return toReentrant(herr, data, ret, buf, buflen, result, h_errnop);
}

int hookGetnameinfo(const sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen, char* serv,
                    socklen_t servlen, int flags) {
  const ProcessState* state = activeState();
  if (state == nullptr || host == nullptr || hostlen == 0 || (flags & NI_NUMERICHOST) != 0) {
    return realGetnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
  }
  const std::optional<Address> addr = Address::fromSockaddr(sa, salen);
  if (!addr || systemReverses(*state, *addr)) {
    // Not AF_INET/AF_INET6, or a short length: libc answers without a lookup.
    return realGetnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
  }
  Status error;
  const std::optional<std::string> name = nameForAddress(*state, *addr, error);
  if (!name) {
    if ((flags & NI_NAMEREQD) != 0) {
      return error.code() == Errc::kTimeout ? EAI_AGAIN : EAI_NONAME;
    }
    return realGetnameinfo(sa, salen, host, hostlen, serv, servlen, flags | NI_NUMERICHOST);
  }
  if (name->size() + 1 > hostlen) {
    return EAI_OVERFLOW;
  }
  if (serv != nullptr && servlen > 0) {
    // The service alone (host NULL): getservbyport_r or the number, no lookup.
    const int rc = realGetnameinfo(sa, salen, nullptr, 0, serv, servlen, flags | NI_NUMERICHOST);
    if (rc != 0) {
      return rc;
    }
  }
  std::memcpy(host, name->c_str(), name->size() + 1);
  return 0;
}

}  // namespace

// What glibc's getaddrinfo treats as numeric (inet_aton forms, IPv6 with an
// optional %scope): a backstop for the AI_NUMERICHOST probe.
bool isNumericForGai(const char* node) noexcept {
  in_addr a4;
  if (inet_aton(node, &a4) != 0) {
    return true;
  }
  const char* pct = std::strchr(node, '%');
  const std::size_t len = pct != nullptr ? static_cast<std::size_t>(pct - node) : std::strlen(node);
  if (len == 0 || len >= INET6_ADDRSTRLEN) {
    return false;
  }
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, node, len);
  buf[len] = '\0';
  in6_addr a6;
  return inet_pton(AF_INET6, buf, &a6) == 1;
}

int resolveForGai(const char* node, const char* service, const addrinfo* hints,
                  addrinfo** res) noexcept {
  try {
    return hookGetaddrinfo(node, service, hints, res);
  } catch (...) {
    return EAI_MEMORY;
  }
}

}  // namespace socksify

using socksify::activeState;
using socksify::HostData;

SOCKSIFY_EXPORT int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                                struct addrinfo** res) {
  return socksify::resolveForGai(node, service, hints, res);
}

SOCKSIFY_EXPORT void freeaddrinfo(struct addrinfo* ai) noexcept {
  if (ai == nullptr) {
    return;
  }
  socksify::OwnedNodes* owned = socksify::OwnedNodes::ifCreated();
  addrinfo* rest = owned != nullptr ? owned->release(ai) : ai;
  if (rest != nullptr) {
    socksify::realFreeaddrinfo(rest);
  }
}

SOCKSIFY_EXPORT int getnameinfo(const struct sockaddr* sa, socklen_t salen, char* host,
                                socklen_t hostlen, char* serv, socklen_t servlen, int flags) {
  try {
    return socksify::hookGetnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
  } catch (...) {
    return EAI_MEMORY;
  }
}

SOCKSIFY_EXPORT struct hostent* gethostbyname2(const char* name, int af) {
  try {
    const socksify::ProcessState* state = activeState();
    if (state == nullptr || name == nullptr || socksify::isNumericForHostent(name) ||
        socksify::systemResolves(*state, name)) {
      auto fn = socksify::real::gethostbyname2.get();
      return fn != nullptr ? fn(name, af) : socksify::failHostent();
    }
    return socksify::oursByName(*state, name, af);
  } catch (...) {
    return socksify::failHostent();
  }
}

SOCKSIFY_EXPORT struct hostent* gethostbyname(const char* name) {
  try {
    const socksify::ProcessState* state = activeState();
    if (state == nullptr || name == nullptr || socksify::isNumericForHostent(name) ||
        socksify::systemResolves(*state, name)) {
      auto fn = socksify::real::gethostbyname.get();
      return fn != nullptr ? fn(name) : socksify::failHostent();
    }
    return socksify::oursByName(*state, name, AF_INET);
  } catch (...) {
    return socksify::failHostent();
  }
}

SOCKSIFY_EXPORT int gethostbyname2_r(const char* name, int af, struct hostent* ret, char* buf,
                                     size_t buflen, struct hostent** result, int* h_errnop) {
  try {
    const socksify::ProcessState* state = activeState();
    if (state == nullptr || name == nullptr || socksify::isNumericForHostent(name) ||
        socksify::systemResolves(*state, name)) {
      auto fn = socksify::real::gethostbyname2_r.get();
      return fn != nullptr ? fn(name, af, ret, buf, buflen, result, h_errnop)
                           : socksify::failReentrant(result, h_errnop, ENOSYS);
    }
    return socksify::oursByNameR(*state, name, af, ret, buf, buflen, result, h_errnop);
  } catch (...) {
    return socksify::failReentrant(result, h_errnop, ENOMEM);
  }
}

SOCKSIFY_EXPORT int gethostbyname_r(const char* name, struct hostent* ret, char* buf,
                                    size_t buflen, struct hostent** result, int* h_errnop) {
  try {
    const socksify::ProcessState* state = activeState();
    if (state == nullptr || name == nullptr || socksify::isNumericForHostent(name) ||
        socksify::systemResolves(*state, name)) {
      auto fn = socksify::real::gethostbyname_r.get();
      return fn != nullptr ? fn(name, ret, buf, buflen, result, h_errnop)
                           : socksify::failReentrant(result, h_errnop, ENOSYS);
    }
    return socksify::oursByNameR(*state, name, AF_INET, ret, buf, buflen, result, h_errnop);
  } catch (...) {
    return socksify::failReentrant(result, h_errnop, ENOMEM);
  }
}

SOCKSIFY_EXPORT struct hostent* gethostbyaddr(const void* addr, socklen_t len, int type) {
  try {
    const socksify::ProcessState* state = activeState();
    const std::optional<socks::Address> a = socksify::addressOf(addr, len, type);
    if (state == nullptr || !a || socksify::systemReverses(*state, *a)) {
      auto fn = socksify::real::gethostbyaddr.get();
      return fn != nullptr ? fn(addr, len, type) : socksify::failHostent();
    }
    HostData data;
    if (const int herr = socksify::hostByAddr(*state, *a, addr, len, type, data); herr != 0) {
      h_errno = herr;
      return nullptr;
    }
    return socksify::toThreadLocal(data);
  } catch (...) {
    return socksify::failHostent();
  }
}

SOCKSIFY_EXPORT int gethostbyaddr_r(const void* addr, socklen_t len, int type, struct hostent* ret,
                                    char* buf, size_t buflen, struct hostent** result,
                                    int* h_errnop) {
  try {
    const socksify::ProcessState* state = activeState();
    const std::optional<socks::Address> a = socksify::addressOf(addr, len, type);
    if (state == nullptr || !a || socksify::systemReverses(*state, *a)) {
      auto fn = socksify::real::gethostbyaddr_r.get();
      return fn != nullptr ? fn(addr, len, type, ret, buf, buflen, result, h_errnop)
                           : socksify::failReentrant(result, h_errnop, ENOSYS);
    }
    HostData data;
    const int herr = socksify::hostByAddr(*state, *a, addr, len, type, data);
    return socksify::toReentrant(herr, data, ret, buf, buflen, result, h_errnop);
  } catch (...) {
    return socksify::failReentrant(result, h_errnop, ENOMEM);
  }
}
