// The process state, built once from the environment and immutable afterwards.
#include "state.h"

#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <string>

#include "real.h"
#include "socks/log.h"
#include "socks/resolver.h"

namespace socksify {
namespace {

std::once_flag g_once;
std::atomic<const ProcessState*> g_state{nullptr};
std::atomic<bool> g_loaded{false};
thread_local bool t_loading = false;

// Resolves a proxy's host once, locally, with real sockets: the proxy itself
// can never be reached through a proxy.
bool resolveHop(const socks::ProxyUrl& url, int timeout_ms, socks::Hop& hop) {
  if (auto numeric = socks::Address::parseNumeric(url.host, url.port)) {
    hop.addr = *numeric;
    return true;
  }
  socks::ResolveOptions options;
  options.timeout_ms = timeout_ms;
  auto resolved = socks::resolveName(realSocketOps(), url.host, options);
  if (!resolved.ok() || resolved->addresses.empty()) {
    char why[160];
    SOCKS_LOG(kError, "cannot resolve proxy host %s: %s", url.host.c_str(),
              socks::describe(resolved.status(), why, sizeof why));
    return false;
  }
  hop.addr = resolved->addresses.front();
  hop.addr.port = url.port;
  return true;
}

// A state whose chain is empty blocks: connections that would have gone
// through the proxy fail with EACCES instead of leaking out directly.
ProcessState* blockingState(ProcessState* state) {
  state->chain.clear();
  return state;
}

ProcessState* build() {
  // Secure execution (setuid/setgid, capabilities): the environment belongs
  // to someone else. Only a system configuration may apply (a later issue).
  if (getauxval(AT_SECURE) != 0) {
    return nullptr;
  }
  if (const char* lvl = getenv("SOCKSIFY_LOG"); lvl != nullptr && *lvl != '\0') {
    socks::log::Level level;
    if (socks::log::parseLevel(lvl, level)) {
      socks::log::setLevel(level);
    } else {
      SOCKS_LOG(kWarn, "SOCKSIFY_LOG=%s is not a level (quiet, error, warn, info, debug)", lvl);
    }
  }
  const char* proxy = getenv("SOCKSIFY_PROXY");
  if (proxy == nullptr || *proxy == '\0') {
    return nullptr;  // no configuration: inert
  }

  auto* state = new ProcessState;
  state->fake_dns = socks::FakeDns::create();
  if (state->fake_dns == nullptr) {
    SOCKS_LOG(kError, "cannot map the fake-address table; the library is inert");
    delete state;
    return nullptr;
  }
  if (const char* t = getenv("SOCKSIFY_CONNECT_TIMEOUT"); t != nullptr && *t != '\0') {
    char* end = nullptr;
    const double seconds = strtod(t, &end);
    if (end != t && *end == '\0' && std::isfinite(seconds) && seconds > 0 && seconds <= 86400) {
      state->connect_timeout = std::chrono::milliseconds(static_cast<long>(seconds * 1000.0 + 0.5));
    } else {
      SOCKS_LOG(kWarn, "SOCKSIFY_CONNECT_TIMEOUT=%s is not a number of seconds; using %ld s", t,
                static_cast<long>(state->connect_timeout.count() / 1000));
    }
  }

  if (const char* b = getenv("SOCKSIFY_BIND"); b != nullptr && *b != '\0') {
    if (strcmp(b, "auto") == 0) {
      state->bind_mode = BindMode::kAuto;
    } else if (strcmp(b, "all") == 0) {
      state->bind_mode = BindMode::kAll;
    } else if (strcmp(b, "off") == 0) {
      state->bind_mode = BindMode::kOff;
    } else {
      SOCKS_LOG(kWarn, "SOCKSIFY_BIND=%s is not auto, all or off; using auto", b);
    }
  }

  auto urls = socks::parseProxyList(proxy);
  if (!urls.ok()) {
    SOCKS_LOG(kError, "SOCKSIFY_PROXY, column %u: %s; connections that would be proxied fail",
              urls.status().column(), urls.status().reason());
    return blockingState(state);
  }
  for (const socks::ProxyUrl& url : *urls) {
    socks::Hop hop;
    hop.kind = url.kind;
    hop.user = url.user;
    hop.password = url.password;
    hop.has_credentials = url.has_user;
    hop.label = url.redacted();
    if (!resolveHop(url, static_cast<int>(state->connect_timeout.count()), hop)) {
      return blockingState(state);
    }
    state->chain.push_back(std::move(hop));
  }
  state->dns_mode = socks::resolvesRemotely(state->chain.back().kind) ? DnsMode::kRemote
                                                                       : DnsMode::kLocal;
  return state;
}

void load() {
  t_loading = true;
  const ProcessState* state = nullptr;
  try {
    state = build();
  } catch (...) {
    SOCKS_LOG(kError, "cannot build the configuration; the library is inert");
  }
  g_state.store(state, std::memory_order_release);
  g_loaded.store(true, std::memory_order_release);
  t_loading = false;
}

}  // namespace

const ProcessState* processState() noexcept {
  if (g_loaded.load(std::memory_order_acquire)) {
    return g_state.load(std::memory_order_acquire);
  }
  if (t_loading || shimBroken()) {
    return nullptr;
  }
  try {
    std::call_once(g_once, load);
  } catch (...) {
    return nullptr;
  }
  return g_state.load(std::memory_order_acquire);
}

const ProcessState* loadedState() noexcept { return g_state.load(std::memory_order_acquire); }

bool inStateLoad() noexcept { return t_loading; }

}  // namespace socksify
