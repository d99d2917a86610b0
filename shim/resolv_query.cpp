// shim/resolv_query.cpp — the resolver entry points that send DNS messages
// without going through getaddrinfo: libresolv's query API (res_query,
// res_search, res_querydomain, res_send, their res_n* forms and the old
// __res_* names that binaries built against glibc < 2.34 or -lresolv bind
// to) and getaddrinfo_a (whose worker thread calls libc's internal
// getaddrinfo, past our hook).
//
// glibc's own callers of these functions do not go through the PLT, so what
// we catch — and must catch — are a program's direct calls. The decision
// follows the DNS mode of the queried name (DESIGN.md "Names (DNS)",
// socks::dnsModeFor), as the getaddrinfo hooks do:
//   - inert (no state, or inside the state load) or `dns system` → the real
//     function, unchanged;
//   - `dns remote` (also every name under a `block` route) → nothing is
//     sent: -1 with h_errno NO_RECOVERY and one info line
//     "res_query NAME: not sent (dns remote)";
//   - `dns local` → c-ares with the real sockets (socks::queryRaw /
//     socks::sendRaw), the answer copied into the caller's buffer with
//     res_query's conventions.
// res_send/res_nsend get a whole message: its question (socks::
// parseDnsQuestion, bounds-checked) names the name; a message without a
// readable question follows the mode of the root name ".".
//
// Nothing here throws across the C ABI: every hook body runs in guard().
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "export.h"
#include "real.h"
#include "resolve.h"
#include "socks/dns_message.h"
#include "socks/log.h"
#include "socks/resolver.h"
#include "socks/router.h"
#include "state.h"

namespace socksify {
namespace {

// Bound of one `dns local` query through c-ares (as the getaddrinfo hooks).
constexpr int kLocalQueryTimeoutMs = 5000;
constexpr std::uint8_t kTcBit = 0x02;  // RFC 1035 §4.1.1, in the third header octet

enum class Verdict { kForward, kRefuse, kLocal };

const ProcessState* activeState() noexcept {
  if (inStateLoad()) {
    return nullptr;
  }
  return processState();
}

Verdict verdictFor(const ProcessState* state, std::string_view name) {
  if (state == nullptr) {
    return Verdict::kForward;
  }
  switch (socks::dnsModeFor(state->config, name)) {
    case socks::DnsMode::kSystem:
      return Verdict::kForward;
    case socks::DnsMode::kLocal:
      return Verdict::kLocal;
    case socks::DnsMode::kRemote:
      break;
  }
  return Verdict::kRefuse;
}

// h_errno as glibc's RES_SET_H_ERRNO leaves it: in the resolver state too.
void setHerrno(res_state statp, int value) {
  if (statp != nullptr) {
    statp->res_h_errno = value;
  }
  h_errno = value;
}

// A name safe for a log line: printable ASCII, at most 255 characters.
struct LogName {
  char text[256];
  explicit LogName(std::string_view name) {
    std::size_t n = 0;
    for (const char c : name) {
      if (n + 1 >= sizeof(text)) {
        break;
      }
      text[n++] = (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    text[n] = '\0';
  }
};

// `dns remote`: the name must not leave the machine, and there is no answer
// to give (the proxy resolves names only as part of a CONNECT).
// NO_RECOVERY rather than HOST_NOT_FOUND: HOST_NOT_FOUND means NXDOMAIN, an
// authoritative "this name does not exist" that programs and caches keep
// (negative caching, RFC 2308) — false here. NO_RECOVERY says the lookup
// failed in a way retrying will not fix (true: the route keeps names off
// the wire) and claims nothing about the name; TRY_AGAIN would invite retry
// loops. errno is left alone, as glibc leaves it for an RCODE failure.
int refuse(res_state statp, const char* fn, std::string_view name) {
  SOCKS_LOG(kInfo, "%s %s: not sent (dns remote)", fn, LogName(name).text);
  setHerrno(statp, NO_RECOVERY);
  return -1;
}

// The name servers of an initialised resolver state, in
// ares_set_servers_ports_csv() form; "" (the system's, which c-ares reads
// from resolv.conf as res_init would) when it is not initialised. A program
// that set _res.nsaddr_list keeps its servers.
std::string serversOf(res_state statp) {
  std::string out;
  if (statp == nullptr || (statp->options & RES_INIT) == 0) {
    return out;
  }
  const int count = std::clamp(statp->nscount, 0, MAXNS);
  for (int i = 0; i < count; ++i) {
    char host[INET6_ADDRSTRLEN];
    std::uint16_t port = 0;
    bool v6 = false;
    if (statp->nsaddr_list[i].sin_family == AF_INET) {
      if (inet_ntop(AF_INET, &statp->nsaddr_list[i].sin_addr, host, sizeof(host)) == nullptr) {
        continue;
      }
      port = ntohs(statp->nsaddr_list[i].sin_port);
    } else if (const sockaddr_in6* sa6 = statp->_u._ext.nsaddrs[i];
               sa6 != nullptr && sa6->sin6_family == AF_INET6) {
      if (inet_ntop(AF_INET6, &sa6->sin6_addr, host, sizeof(host)) == nullptr) {
        continue;
      }
      port = ntohs(sa6->sin6_port);
      v6 = true;
    } else {
      continue;
    }
    if (!out.empty()) {
      out += ',';
    }
    out += v6 ? "[" + std::string(host) + "]" : std::string(host);
    out += ':' + std::to_string(port == 0 ? NAMESERVER_PORT : port);
  }
  return out;
}

// Copies an answer into the caller's buffer. A message longer than anslen
// is truncated with TC set (RFC 1035 §4.1.1), as glibc's res_send does when
// the caller's buffer is too small; the length returned is what was copied
// (glibc's UDP path), so a caller never reads past its buffer.
int copyAnswer(const std::vector<std::uint8_t>& message, unsigned char* answer, int anslen) {
  const std::size_t n = std::min(message.size(), static_cast<std::size_t>(anslen));
  std::memcpy(answer, message.data(), n);
  if (n < message.size() && n > 2) {
    answer[2] |= kTcBit;
  }
  return static_cast<int>(n);
}

socks::ResolveOptions localOptions(res_state statp) {
  socks::ResolveOptions options;
  options.timeout_ms = kLocalQueryTimeoutMs;
  options.servers = serversOf(statp);
  return options;
}

// res_query/res_search for a `dns local` name: the c-ares answer with
// res_query's return value and h_errno (glibc resolv/res_query.c:
// NXDOMAIN → HOST_NOT_FOUND, NOERROR without answers → NO_DATA, SERVFAIL
// and no answer at all → TRY_AGAIN, FORMERR and the rest → NO_RECOVERY).
// The answer stays in the buffer also on failure, as with glibc.
int localQuery(res_state statp, const char* name, int cls, int type, bool search,
               unsigned char* answer, int anslen) {
  const int saved_errno = errno;
  if (answer == nullptr || anslen < static_cast<int>(socks::kDnsHeaderSize)) {
    errno = EINVAL;  // glibc's res_send refuses a buffer smaller than a header
    setHerrno(statp, TRY_AGAIN);
    return -1;
  }
  socks::Result<socks::RawAnswer> r =
      socks::queryRaw(realSocketOps(), name, cls, type, search, localOptions(statp));
  if (!r.ok()) {
    if (r.status().code() == socks::Errc::kSystem) {
      errno = r.status().sysErrno();
      setHerrno(statp, NETDB_INTERNAL);
    } else {
      setHerrno(statp, NO_RECOVERY);  // a name res_mkquery would refuse
    }
    return -1;
  }
  const int n = copyAnswer(r->message, answer, anslen);
  errno = saved_errno;
  switch (r->outcome) {
    case socks::DnsOutcome::kAnswer:
      setHerrno(statp, NETDB_SUCCESS);
      return n;
    case socks::DnsOutcome::kNameError:
      setHerrno(statp, HOST_NOT_FOUND);
      break;
    case socks::DnsOutcome::kNoData:
      setHerrno(statp, NO_DATA);
      break;
    case socks::DnsOutcome::kTryAgain:
      setHerrno(statp, TRY_AGAIN);
      break;
    case socks::DnsOutcome::kUnrecoverable:
      setHerrno(statp, NO_RECOVERY);
      break;
  }
  return -1;
}

// res_query / res_search (search=true) for a resolved state pointer
// (nullptr for the forms without one: glibc's thread's _res then).
int hookQuery(res_state statp, const char* fn, bool search, const char* name, int cls, int type,
              unsigned char* answer, int anslen) {
  switch (name == nullptr ? Verdict::kForward : verdictFor(activeState(), name)) {
    case Verdict::kForward:
      break;
    case Verdict::kRefuse:
      return refuse(statp, fn, name);
    case Verdict::kLocal:
      SOCKS_LOG(kDebug, "%s %s: asking through c-ares (dns local)", fn, LogName(name).text);
      return localQuery(statp, name, cls, type, search, answer, anslen);
  }
  return -2;  // the caller forwards
}

// res_querydomain's name: "name.domain", or name without its trailing dot
// when domain is NULL (glibc resolv/res_query.c). false when too long
// (glibc: NO_RECOVERY).
bool joinDomain(const char* name, const char* domain, std::string& out) {
  out.assign(name);
  if (domain == nullptr) {
    if (!out.empty() && out.back() == '.') {
      out.pop_back();
    }
  } else {
    out += '.';
    out += domain;
  }
  return out.size() < NS_MAXDNAME;
}

int hookQuerydomain(res_state statp, const char* fn, const char* name, const char* domain,
                    int cls, int type, unsigned char* answer, int anslen) {
  const ProcessState* state = name == nullptr ? nullptr : activeState();
  if (state == nullptr) {
    return -2;
  }
  std::string full;
  if (!joinDomain(name, domain, full)) {
    return -2;  // glibc fails it (NO_RECOVERY) before anything is sent
  }
  switch (verdictFor(state, full)) {
    case Verdict::kForward:
      break;
    case Verdict::kRefuse:
      return refuse(statp, fn, full);
    case Verdict::kLocal:
      SOCKS_LOG(kDebug, "%s %s: asking through c-ares (dns local)", fn, LogName(full).text);
      return localQuery(statp, full.c_str(), cls, type, false, answer, anslen);
  }
  return -2;
}

// res_send / res_nsend: -2 when the real function should have the message.
int hookSend(res_state statp, const char* fn, const unsigned char* msg, int msglen,
             unsigned char* answer, int anssiz) {
  const ProcessState* state = activeState();
  if (state == nullptr || msg == nullptr || msglen <= 0) {
    return -2;
  }
  const std::span<const std::uint8_t> bytes(msg, static_cast<std::size_t>(msglen));
  socks::Result<socks::DnsQuestion> q = socks::parseDnsQuestion(bytes);
  const std::string name = q.ok() ? q->name : ".";
  switch (verdictFor(state, name)) {
    case Verdict::kForward:
      return -2;
    case Verdict::kRefuse:
      // As glibc when no server could be reached.
      refuse(statp, fn, q.ok() ? name : std::string_view("(no question)"));
      errno = ECONNREFUSED;
      return -1;
    case Verdict::kLocal:
      break;
  }
  if (answer == nullptr || anssiz < static_cast<int>(socks::kDnsHeaderSize)) {
    errno = EINVAL;
    return -1;
  }
  SOCKS_LOG(kDebug, "%s %s: asking through c-ares (dns local)", fn, LogName(name).text);
  const int saved_errno = errno;
  socks::Result<socks::RawAnswer> r = socks::sendRaw(realSocketOps(), bytes, localOptions(statp));
  if (!r.ok()) {
    errno = r.status().code() == socks::Errc::kSystem ? r.status().sysErrno() : EINVAL;
    return -1;
  }
  if (r->outcome != socks::DnsOutcome::kAnswer || r->message.empty()) {
    errno = ETIMEDOUT;  // glibc: no server answered
    return -1;
  }
  errno = saved_errno;
  return copyAnswer(r->message, answer, anssiz);
}

// ---------------------------------------------------------------------------
// getaddrinfo_a.

// Whether the request would be answered by something other than libc.
bool needsHook(const ProcessState& state, const gaicb* req) {
  if (req == nullptr || req->ar_name == nullptr) {
    return false;
  }
  if (req->ar_request != nullptr && (req->ar_request->ai_flags & AI_NUMERICHOST) != 0) {
    return false;
  }
  return !isNumericForGai(req->ar_name) &&
         socks::dnsModeFor(state.config, req->ar_name) != socks::DnsMode::kSystem;
}

struct Notification {
  void (*fn)(sigval);
  sigval value;
};

void* notifyThread(void* arg) {
  const Notification n = *static_cast<Notification*>(arg);
  std::free(arg);
  // As glibc's notification threads: no signal blocked.
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, nullptr);
  n.fn(n.value);
  return nullptr;
}

// GAI_NOWAIT's notification once every request is complete (glibc
// __gai_notify_only). SIGEV_SIGNAL is queued to this process with
// sigqueue (si_code SI_QUEUE; glibc uses SI_ASYNCNL). EAI_AGAIN when the
// notification thread cannot be started.
int notify(const sigevent& sev) {
  if (sev.sigev_notify == SIGEV_SIGNAL) {
    sigqueue(getpid(), sev.sigev_signo, sev.sigev_value);
    return 0;
  }
  if (sev.sigev_notify != SIGEV_THREAD || sev.sigev_notify_function == nullptr) {
    return 0;  // SIGEV_NONE
  }
  auto* n = static_cast<Notification*>(std::malloc(sizeof(Notification)));
  if (n == nullptr) {
    return EAI_AGAIN;
  }
  n->fn = sev.sigev_notify_function;
  n->value = sev.sigev_value;
  pthread_attr_t own;
  pthread_attr_t* attr = static_cast<pthread_attr_t*>(sev.sigev_notify_attributes);
  if (attr == nullptr) {
    // glibc detaches only the threads it makes with default attributes.
    pthread_attr_init(&own);
    pthread_attr_setdetachstate(&own, PTHREAD_CREATE_DETACHED);
  }
  pthread_t tid;
  const int rc = pthread_create(&tid, attr != nullptr ? attr : &own, notifyThread, n);
  if (attr == nullptr) {
    pthread_attr_destroy(&own);
  }
  if (rc != 0) {
    std::free(n);
    return EAI_AGAIN;
  }
  return 0;
}

// -2: forward to the real getaddrinfo_a.
int hookGetaddrinfoA(int mode, gaicb** list, int ent, sigevent* sevp) {
  const ProcessState* state = activeState();
  if (state == nullptr || list == nullptr || ent <= 0) {
    return -2;
  }
  bool ours = false;
  for (int i = 0; i < ent && !ours; ++i) {
    ours = needsHook(*state, list[i]);
  }
  if (!ours) {
    return -2;
  }
  if (mode != GAI_WAIT && mode != GAI_NOWAIT) {
    errno = EINVAL;
    return EAI_SYSTEM;
  }
  // Every request is completed here, synchronously, through the getaddrinfo
  // hook's own logic (resolveForGai, which hands `dns system` and numeric
  // names to libc). Then
  // gai_error() reads the result from __return, gai_suspend() returns at
  // once (nothing is EAI_INPROGRESS) and gai_cancel() says EAI_ALLDONE
  // (glibc finds no queued request). GAI_NOWAIT thus blocks the caller for
  // as long as a `dns local` lookup takes (a `dns remote` one is immediate).
  for (int i = 0; i < ent; ++i) {
    gaicb* req = list[i];
    if (req == nullptr) {
      continue;
    }
    const int saved_errno = errno;
    req->ar_result = nullptr;
    req->__return = resolveForGai(req->ar_name, req->ar_service, req->ar_request, &req->ar_result);
    errno = saved_errno;
  }
  if (mode == GAI_NOWAIT && sevp != nullptr) {
    return notify(*sevp);
  }
  return 0;
}

}  // namespace
}  // namespace socksify

// ---------------------------------------------------------------------------
// The exported hooks. Each forwards when its helper returns -2.

using socksify::guard;

#define SOCKSIFY_RES_QUERY(NAME, REAL, SEARCH)                                                    \
  SOCKSIFY_EXPORT int NAME(const char* name, int cls, int type, unsigned char* answer,            \
                           int anslen) noexcept {                                                 \
    return guard(-1, [&] {                                                                        \
      const int rc = socksify::hookQuery(&_res, #REAL, SEARCH, name, cls, type, answer, anslen); \
      return rc != -2 ? rc : socksify::real::REAL(name, cls, type, answer, anslen);               \
    });                                                                                           \
  }

#define SOCKSIFY_RES_NQUERY(NAME, REAL, SEARCH)                                                  \
  SOCKSIFY_EXPORT int NAME(res_state statp, const char* name, int cls, int type,                 \
                           unsigned char* answer, int anslen) noexcept {                         \
    return guard(-1, [&] {                                                                       \
      const int rc = socksify::hookQuery(statp, #REAL, SEARCH, name, cls, type, answer, anslen); \
      return rc != -2 ? rc : socksify::real::REAL(statp, name, cls, type, answer, anslen);       \
    });                                                                                          \
  }

SOCKSIFY_RES_QUERY(res_query, res_query, false)
SOCKSIFY_RES_QUERY(__res_query, res_query, false)
SOCKSIFY_RES_QUERY(res_search, res_search, true)
SOCKSIFY_RES_QUERY(__res_search, res_search, true)
SOCKSIFY_RES_NQUERY(res_nquery, res_nquery, false)
SOCKSIFY_RES_NQUERY(__res_nquery, res_nquery, false)
SOCKSIFY_RES_NQUERY(res_nsearch, res_nsearch, true)
SOCKSIFY_RES_NQUERY(__res_nsearch, res_nsearch, true)

#define SOCKSIFY_RES_QUERYDOMAIN(NAME)                                                          \
  SOCKSIFY_EXPORT int NAME(const char* name, const char* domain, int cls, int type,             \
                           unsigned char* answer, int anslen) noexcept {                        \
    return guard(-1, [&] {                                                                      \
      const int rc = socksify::hookQuerydomain(&_res, "res_querydomain", name, domain, cls,     \
                                               type, answer, anslen);                           \
      return rc != -2 ? rc                                                                      \
                      : socksify::real::res_querydomain(name, domain, cls, type, answer, anslen); \
    });                                                                                         \
  }

#define SOCKSIFY_RES_NQUERYDOMAIN(NAME)                                                         \
  SOCKSIFY_EXPORT int NAME(res_state statp, const char* name, const char* domain, int cls,      \
                           int type, unsigned char* answer, int anslen) noexcept {              \
    return guard(-1, [&] {                                                                      \
      const int rc = socksify::hookQuerydomain(statp, "res_nquerydomain", name, domain, cls,    \
                                               type, answer, anslen);                           \
      return rc != -2 ? rc                                                                      \
                      : socksify::real::res_nquerydomain(statp, name, domain, cls, type,        \
                                                         answer, anslen);                       \
    });                                                                                         \
  }

SOCKSIFY_RES_QUERYDOMAIN(res_querydomain)
SOCKSIFY_RES_QUERYDOMAIN(__res_querydomain)
SOCKSIFY_RES_NQUERYDOMAIN(res_nquerydomain)
SOCKSIFY_RES_NQUERYDOMAIN(__res_nquerydomain)

#define SOCKSIFY_RES_SEND(NAME)                                                               \
  SOCKSIFY_EXPORT int NAME(const unsigned char* msg, int msglen, unsigned char* answer,       \
                           int anssiz) noexcept {                                             \
    return guard(-1, [&] {                                                                    \
      const int rc = socksify::hookSend(&_res, "res_send", msg, msglen, answer, anssiz);      \
      return rc != -2 ? rc : socksify::real::res_send(msg, msglen, answer, anssiz);           \
    });                                                                                       \
  }

#define SOCKSIFY_RES_NSEND(NAME)                                                              \
  SOCKSIFY_EXPORT int NAME(res_state statp, const unsigned char* msg, int msglen,             \
                           unsigned char* answer, int anssiz) noexcept {                      \
    return guard(-1, [&] {                                                                    \
      const int rc = socksify::hookSend(statp, "res_nsend", msg, msglen, answer, anssiz);     \
      return rc != -2 ? rc : socksify::real::res_nsend(statp, msg, msglen, answer, anssiz);   \
    });                                                                                       \
  }

SOCKSIFY_RES_SEND(res_send)
SOCKSIFY_RES_SEND(__res_send)
SOCKSIFY_RES_NSEND(res_nsend)
SOCKSIFY_RES_NSEND(__res_nsend)

SOCKSIFY_EXPORT int getaddrinfo_a(int mode, struct gaicb* list[], int ent, struct sigevent* sevp) {
  const int saved_errno = errno;
  const int rc = guard(-3, [&] { return socksify::hookGetaddrinfoA(mode, list, ent, sevp); });
  if (rc == -3) {
    return errno == ENOMEM ? EAI_MEMORY : EAI_SYSTEM;
  }
  if (rc != -2) {
    return rc;
  }
  errno = saved_errno;
  return socksify::real::getaddrinfo_a(mode, list, ent, sevp);
}
