// shim/state.h — the process state: built once, immutable afterwards.
//
// processState() builds it on first call (std::call_once). Where the
// configuration comes from, in this order:
//   - SOCKSIFY_PROXY=URL[,URL...] (a chain for every destination), with
//     SOCKSIFY_CONNECT_TIMEOUT and SOCKSIFY_BIND;
//   - else the socks.conf(5) file of the lookup order (SOCKSIFY_CONF,
//     $XDG_CONFIG_HOME or ~/.config, /etc/socksify/socks.conf);
//   - in secure-execution mode (getauxval(AT_SECURE)) the environment is
//     ignored and only /etc/socksify/socks.conf counts.
// SOCKSIFY_LOG overrides the file's log level. It returns nullptr — the shim
// is inert and every hook forwards to libc — without a configuration, in a
// program that carries the socksify_exempt marker (socks/exempt.h) or is
// excluded by name, and from the moment the process listens on a configured
// proxy's own port (it *is* that proxy: its connections must not loop back
// into it). An invalid configuration is logged once and replaced by
// `route * -> block`: connections that would have been proxied fail with
// EACCES instead of leaking, names get fake addresses, loopback works.
// Hooks that only need to know whether a descriptor is tracked use
// loadedState(), which never triggers a load (so close/dup/fclose stay cheap
// and can never recurse into loading).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <cstdint>
#include <string>
#include <vector>

#include "socks/address.h"
#include "socks/config.h"
#include "socks/fake_dns.h"
#include "socks/proxy.h"
#include "socks/router.h"

namespace socksify {

// One chain of proxies a route leads to, with every hop's address resolved,
// locally (a proxy is never reached through a proxy). Immutable once
// published; never freed.
struct Chain {
  std::vector<std::uint32_t> proxies;  // indices into Config::proxies, first hop first
  std::vector<socks::Hop> hops;        // the same, ready for the handshake
  std::string label;                   // "corp > tor" (never a password)
  bool usable = true;                  // false: a hop's host name did not resolve
  // Until when (steady clock, ms) failover tries this chain last: its first
  // proxy failed recently. The one mutable field; 0 = healthy.
  mutable std::atomic<std::int64_t> down_until_ms{0};

  bool remoteNames() const { return socks::resolvesRemotely(hops.back().kind); }
  bool ipv6FirstHop() const { return hops.front().addr.type == socks::Address::Type::kIPv6; }
};

// Where a chain is published. A chain whose proxies are all numeric is
// built with the state; one with a host name is resolved at its first use
// (a system-wide configuration must not make every process resolve every
// proxy at start-up). Lock-free: a thread that finds it unresolved resolves
// it and publishes with a compare-exchange; a loser frees its copy. Nothing
// can be held locked across fork().
struct ChainSlot {
  std::vector<std::uint32_t> proxies;
  mutable std::atomic<const Chain*> chain{nullptr};  // published once, never freed
};

struct ProcessState {
  socks::Config config;  // passwords resolved
  // Every chain a route names, and the default's (stable addresses).
  std::vector<std::unique_ptr<ChainSlot>> chains;
  std::vector<socks::Address> numeric_proxies;  // the proxies written as addresses
  socks::FakeDns* fake_dns = nullptr;  // shared with forked children; never null

  // The chain for a kChain target, resolved (resolving it now, with real
  // sockets, if this is its first use); nullptr for direct and block.
  const Chain* chainFor(const socks::Target& target) const noexcept;
  // The same if it has been resolved already, else nullptr: never any I/O.
  const Chain* resolvedChainFor(const socks::Target& target) const noexcept;
  // Where a kChain target's chain is (or will be) published.
  const ChainSlot* slotFor(const socks::Target& target) const noexcept;
  // Whether dst is a configured proxy (by its address and port, numeric or
  // resolved so far): connections to it always go direct.
  bool isProxy(const socks::Address& dst) const noexcept;
  // The router's decision, with proxies-by-address direct.
  socks::Decision decide(const socks::Address& dst) const noexcept;
};

const ProcessState* processState() noexcept;
const ProcessState* loadedState() noexcept;

// True while this thread is building the state: hooks must forward.
bool inStateLoad() noexcept;

// listen() calls this: a process that listens on a configured proxy's own
// address and port is that proxy, and the shim leaves it alone from then on.
void noteListening(int fd) noexcept;

}  // namespace socksify
