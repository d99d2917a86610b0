// socks/router.h — which way a destination goes: the router over a Config.
//
// Precedence, in this order:
//   1. a destination that is a configured proxy itself (its numeric address
//      or its host name, and its port) always goes direct;
//   2. the first route, in file order, with a match for the destination;
//      except that a loopback destination (127.0.0.0/8, ::1, ::ffff:127.x,
//      the name localhost and names under .localhost) is only taken by a route
//      whose match names it (a CIDR or host name, not `*` nor a bare :PORT);
//   3. otherwise: loopback goes direct; anything else goes through the first
//      named proxy, or direct when the configuration names no proxy.
// For a destination that is a domain name, CIDR matches never apply; for an IP
// address, host and wildcard matches never apply (a domain that is a numeric
// literal is matched as the address it spells). An IPv4-mapped IPv6 address is
// matched both as the IPv4 address (against IPv4 networks) and as itself
// (against IPv6 networks).
//
// route() never allocates and never fails.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "socks/address.h"
#include "socks/config.h"

namespace socks {

struct Decision {
  enum class Rule : std::uint8_t {
    kRoute,          // routes[route] matched
    kProxyItself,    // the destination is a configured proxy: direct
    kLoopback,       // loopback, no route names it: direct
    kDefaultProxy,   // nothing matched: the first named proxy
    kDefaultDirect,  // nothing matched and no named proxy: direct
  };
  static constexpr std::size_t kNoRoute = static_cast<std::size_t>(-1);

  Rule rule = Rule::kDefaultDirect;
  std::size_t route = kNoRoute;  // index into Config::routes for kRoute
  std::size_t match = kNoRoute;  // index into that route's matches
  // Tried in order until one works. Points into the Config (or static
  // storage): valid as long as the Config is.
  std::span<const Target> alternatives;
  DnsMode dns = DnsMode::kLocal;
};

Decision route(const Config& config, const Address& dst);

// The DNS mode for a route (or implicit default) leading to `alternatives`:
// the route's own `dns`, else the global `dns`, else automatic: remote when
// the first alternative is a chain whose last hop is socks4a:// or socks5h://,
// local for any other chain, system for direct, remote for block (a fake
// address: no query leaves the machine for a destination that is refused).
DnsMode effectiveDns(const Config& config, const Route* route,
                     std::span<const Target> alternatives);

// The DNS mode a name lookup falls under (for the resolver hooks, which know
// no port): the first route with a match that names `name` (host or
// wildcard, whatever its port) or is a `*` for every port; else the
// implicit default's mode.
DnsMode dnsModeFor(const Config& config, std::string_view name);

// The decision dnsModeFor() takes its mode from: what a name lookup, which
// knows no port, falls under (decision.dns is that mode). The shim uses its
// alternatives to pick the family of a fake address.
Decision routeForName(const Config& config, std::string_view name);

// A readable, multi-line account of route(config, dst): which route matched
// and why (for `socksify --explain HOST:PORT`). Never contains a password.
std::string explain(const Config& config, const Address& dst);

// "direct", "block", "corp > tor" (inline proxies by their redacted URL).
std::string describeTarget(const Config& config, const Target& target);

}  // namespace socks
