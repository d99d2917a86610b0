// socks/probe.h — `socksify --check`: probe a chain of proxies hop by hop and
// say which stage of which hop failed, and why.
//
// A probe is one attempt through the real network, bounded by one timeout
// like a connection of the program would be: resolve each proxy's host, TCP
// connect to the first hop, then for each hop in turn the SOCKS5 method
// negotiation (RFC 1928 §3), the username/password sub-negotiation when the
// proxy asks for it (RFC 1929 §2), and the CONNECT to the next hop (RFC 1928
// §4; SOCKS4 has only the request). With a target the last hop is asked to
// CONNECT to it; without one the probe stops after the last hop's
// authentication, so nothing leaves the last proxy.
//
// The handshakes are the same ClientHandshake the library uses, driven here
// message by message so a failure is pinned to its stage. Nothing in a
// report holds a password: hops are named by ProxyUrl::redacted().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "socks/address.h"
#include "socks/codec.h"
#include "socks/proxy.h"
#include "socks/socket_ops.h"
#include "socks/status.h"

namespace socks {

// One stage of one hop.
struct StageResult {
  enum class Outcome : std::uint8_t { kNotRun, kOk, kFailed };
  Outcome outcome = Outcome::kNotRun;
  Status status;  // kFailed: why

  bool failed() const { return outcome == Outcome::kFailed; }
  bool ran() const { return outcome != Outcome::kNotRun; }
};

struct HopReport {
  std::string label;  // ProxyUrl::redacted()
  ProxyKind kind = ProxyKind::kSocks5;
  Address addr;       // the proxy's numeric address, once resolved
  Address next;       // what this hop was asked to CONNECT to (kNone: nothing)
  v5::Method method = v5::Method::kNoAuth;  // SOCKS5: what the proxy chose
  StageResult resolve;  // the host name to a numeric address (numeric: ok at once)
  StageResult tcp;      // first hop only: later hops are reached by the previous CONNECT
  StageResult negotiate;  // SOCKS5 method selection; SOCKS4 has none
  StageResult auth;       // RFC 1929, only when the proxy chose it
  StageResult connect;    // CONNECT to `next`
};

struct ChainReport {
  std::vector<HopReport> hops;  // one per proxy of the chain, first hop first
  // No stage of any hop failed (stages that did not run do not count).
  bool ok() const;
};

struct ProbeOptions {
  // The budget of the whole attempt: resolution, TCP connect and every
  // handshake (socks.conf `timeout`).
  std::chrono::milliseconds timeout{10000};
  // Asked of the last hop; nullopt: stop before the last hop's request.
  std::optional<Address> target;
  // Resolves a proxy's host name (called only for names, never for numeric
  // hosts) to an IPv4/IPv6 address; the port is taken from the URL. The
  // argument is the remaining budget in milliseconds. Unset: names fail with
  // kNotFound.
  std::function<Result<Address>(const std::string& host, int timeout_ms)> resolve;
};

// Probes `chain` (first hop first, at least one hop) on a fresh stream socket
// made with ops.socket, closed before returning. Stops at the first failure;
// the stages after it stay kNotRun. Never throws: an allocation failure is
// reported as a failed stage of the first hop (when possible).
ChainReport probeChain(const SocketOps& ops, std::span<const ProxyUrl> chain,
                       const ProbeOptions& options);

// A short reason for a failed stage, for the --check table:
//   "connection refused", "timeout after 10s", "method rejected (0xFF)",
//   "auth rejected", "reply 0x05 connection refused", "reply 91 rejected",
//   "connection closed by proxy", "malformed reply: ...".
// `timeout` is the budget the attempt had (for "timeout after ...").
std::string probeFailureText(const Status& status, std::chrono::milliseconds timeout);

// "10s", "2.5s", "500ms".
std::string durationText(std::chrono::milliseconds d);

}  // namespace socks
