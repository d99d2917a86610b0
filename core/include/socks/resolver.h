// socks/resolver.h — local name resolution through c-ares with real sockets.
//
// The shim can never use libc's resolver: libc's DNS may fall back to TCP,
// whose connect() would be our own hook. c-ares is given the caller's
// SocketOps through ares_set_socket_functions (a static table, all callbacks
// set, sockets created SOCK_NONBLOCK|SOCK_CLOEXEC — see STYLE.md, c-ares
// 1.18 notes), so no interposed call is ever re-entered.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "socks/address.h"
#include "socks/socket_ops.h"
#include "socks/status.h"

namespace socks {

struct ResolveOptions {
  int family = AF_UNSPEC;  // AF_INET, AF_INET6 or AF_UNSPEC
  int timeout_ms = 5000;   // whole lookup
  bool hosts_only = false;  // /etc/hosts (and localhost) only: no DNS packet leaves
  // Name servers in ares_set_servers_ports_csv() form ("127.0.0.1:5353,[::1]:53");
  // empty = the system's (/etc/resolv.conf). Tests point this at a mock server.
  std::string servers;
};

struct Resolved {
  std::vector<Address> addresses;  // port 0; IPv4 before IPv6 for AF_UNSPEC
  std::string canonical_name;      // may be empty
};

// Numeric strings are answered without any lookup. "localhost" and names
// under ".localhost" answer loopback (RFC 6761 §6.3). Otherwise the hosts
// file is read first, then (unless hosts_only) DNS is asked through `ops`.
// Errors: kNotFound when the name does not exist or has no address of the
// family (or, hosts_only, is not in the hosts file; also for an empty name);
// kTimeout when options.timeout_ms passes or the servers fail temporarily
// (SERVFAIL, refused, unreachable: what libc calls TRY_AGAIN); kMalformed for
// an unusable answer; kInvalidArgument for a bad `servers` or family;
// kSystem (with errno) when a system call fails.
Result<Resolved> resolveName(const SocketOps& ops, std::string_view name,
                             const ResolveOptions& options);

// Reverse lookup of an IP address: the hosts file, then (unless hosts_only)
// a PTR query. The name has no trailing dot. Errors as for resolveName;
// kInvalidArgument when addr is not an IP address.
Result<std::string> resolveAddress(const SocketOps& ops, const Address& addr,
                                   const ResolveOptions& options);

// What a raw query came to, in the terms libresolv's res_query() reports
// through h_errno (glibc resolv/res_query.c).
enum class DnsOutcome {
  kAnswer,        // NOERROR with at least one answer record
  kNameError,     // NXDOMAIN (HOST_NOT_FOUND)
  kNoData,        // NOERROR without answers (NO_DATA)
  kTryAgain,      // SERVFAIL/REFUSED from every server, no answer in time (TRY_AGAIN)
  kUnrecoverable  // FORMERR, an unusable answer (NO_RECOVERY)
};

struct RawAnswer {
  DnsOutcome outcome = DnsOutcome::kTryAgain;
  // The last DNS message received (whole, as on the wire); empty when no
  // server answered. Present also for kNameError / kNoData, as res_query()
  // leaves it in the caller's buffer.
  std::vector<std::uint8_t> message;
};

// res_query()/res_search() through c-ares: one question (name, class, type;
// RFC 1035 §4.1.2) to the name servers of `options` (the hosts file is never
// read, options.family and hosts_only are ignored). search=false asks for
// `name` as given (ares_query); search=true applies the search list and
// ndots of resolv.conf as res_search() does (ares_search). Sockets come from
// `ops`. A timeout (options.timeout_ms) is the outcome kTryAgain, not an
// error. Errors: kInvalidArgument for an empty name, a name with a NUL or
// longer than 1025 characters, or a bad `servers`; kSystem (with errno)
// when a system call or an allocation fails.
Result<RawAnswer> queryRaw(const SocketOps& ops, std::string_view name, int dnsclass, int type,
                           bool search, const ResolveOptions& options);

// res_send() through c-ares: sends `query`, a whole DNS message (as
// res_mkquery() builds it), to the name servers of `options` and returns
// the answer with the query's own ID (c-ares picks a fresh ID on the wire).
// outcome is kAnswer for any answer received, whatever its RCODE (res_send
// does not interpret it), and kTryAgain when none came (every server
// failed, or the timeout passed). Errors: kInvalidArgument for a message
// shorter than a DNS header or longer than 65535 octets, or a bad `servers`;
// kSystem as above.
Result<RawAnswer> sendRaw(const SocketOps& ops, std::span<const std::uint8_t> query,
                          const ResolveOptions& options);

}  // namespace socks
