// shim/state.h — the process state: built once, immutable afterwards.
//
// processState() builds it on first call (std::call_once) from the
// environment: SOCKSIFY_PROXY (a chain of proxy URLs), SOCKSIFY_LOG,
// SOCKSIFY_CONNECT_TIMEOUT, SOCKSIFY_BIND. Without a proxy, or in secure-execution mode
// (getauxval(AT_SECURE)), or when the configuration is invalid (one log line),
// it returns nullptr: the shim is inert and every hook forwards to libc.
// Hooks that only need to know whether a descriptor is tracked use
// loadedState(), which never triggers a load (so close/dup/fclose stay cheap
// and can never recurse into loading).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "socks/address.h"
#include "socks/fake_dns.h"
#include "socks/proxy.h"

namespace socksify {

enum class DnsMode : std::uint8_t {
  kRemote,  // the last hop is socks4a/socks5h: names become fake addresses
  kLocal,   // names resolve here through c-ares with real sockets
};

// Which listening sockets become a SOCKS BIND on the proxy (SOCKSIFY_BIND).
enum class BindMode : std::uint8_t {
  kAuto,  // port 0 (or never bound) at the wildcard or a proxied connection's
          // local address, in a process that has made a proxied connection
  kAll,   // every listening TCP socket, once there is a proxied connection
  kOff,   // never
};

struct ProcessState {
  std::vector<socks::Hop> chain;  // first hop first; never empty
  DnsMode dns_mode = DnsMode::kRemote;
  std::chrono::milliseconds connect_timeout{10000};
  socks::FakeDns* fake_dns = nullptr;  // shared with forked children; never null
  BindMode bind_mode = BindMode::kAuto;
};

const ProcessState* processState() noexcept;
const ProcessState* loadedState() noexcept;

// True while this thread is building the state: hooks must forward.
bool inStateLoad() noexcept;

}  // namespace socksify
