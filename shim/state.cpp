// The process state, built once from the environment or socks.conf and
// immutable afterwards.
#include "state.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "fd_table.h"
#include "real.h"
#include "socks/log.h"
#include "socks/resolver.h"

namespace socksify {
namespace {

std::once_flag g_once;
std::atomic<const ProcessState*> g_state{nullptr};
std::atomic<bool> g_loaded{false};
// Set when the process turns out to be a configured proxy itself.
std::atomic<bool> g_inert{false};
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
    SOCKS_LOG(kError, "cannot resolve proxy host %s: %s; routes through it fail", url.host.c_str(),
              socks::describe(resolved.status(), why, sizeof why));
    return false;
  }
  hop.addr = resolved->addresses.front();
  hop.addr.port = url.port;
  return true;
}

// What an invalid configuration becomes: nothing leaks. Every destination a
// route could have sent through a proxy is refused (EACCES), names get fake
// addresses (no query leaves the machine), loopback stays usable.
socks::Config blockingConfig(std::string file) {
  socks::Config config;
  config.file = std::move(file);
  socks::Route route;
  route.matches.emplace_back();  // `*`
  socks::Target block;
  block.kind = socks::Target::Kind::kBlock;
  route.alternatives.push_back(block);
  config.routes.push_back(std::move(route));
  return config;
}

bool fileExists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The names a program answers to: argv[0]'s last component and its
// executable's (python3 and python3.11, sh and dash).
bool excluded(const socks::Config& config) {
  if (config.excludes.empty()) {
    return false;
  }
  std::string exe;
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = '\0';
    const char* slash = strrchr(buf, '/');
    exe = slash != nullptr ? slash + 1 : buf;
  }
  const char* argv0 = program_invocation_short_name;
  for (const std::string& name : config.excludes) {
    if (name == exe || (argv0 != nullptr && name == argv0)) {
      return true;
    }
  }
  return false;
}

// log-to syslog / file: a descriptor of the shim's own (protected from
// programs that close every descriptor, close-on-exec).
void applyLogTarget(const socks::Config& config) {
  if (config.log_to == socks::LogTarget::kFile) {
    const int fd = ::open(config.log_file.c_str(),
                          O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
      // Info, not warn: under a system-wide preload every program of a user
      // who may not write the file would otherwise print this.
      SOCKS_LOG(kInfo, "%s: cannot open log file %s: %s; logging to stderr", config.file.c_str(),
                config.log_file.c_str(), strerror(errno));
      return;
    }
    fdtable::own(fd);
    socks::log::setDestination(fd, false);
  } else if (config.log_to == socks::LogTarget::kSyslog) {
    const int fd = real::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      return;
    }
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    strncpy(un.sun_path, "/dev/log", sizeof un.sun_path - 1);
    if (real::connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof un) != 0) {
      SOCKS_LOG(kInfo, "%s: cannot reach syslog at /dev/log: %s; logging to stderr",
                config.file.c_str(), strerror(errno));
      real::close(fd);
      return;
    }
    fdtable::own(fd);
    socks::log::setDestination(fd, true);
  }
}

void logDiagnostic(socks::log::Level level, const socks::Diagnostic& d) {
  if (socks::log::enabled(level)) {
    const std::string text = d.text();
    socks::log::write(level, "%s", text.c_str());
  }
}

// SOCKSIFY_PROXY=URL[,URL...]: proxies p1..pN, `route * -> p1 > ... > pN`.
socks::Config configFromEnvironment(const char* proxy) {
  auto urls = socks::parseProxyList(proxy);
  if (!urls.ok()) {
    SOCKS_LOG(kError, "SOCKSIFY_PROXY, column %u: %s; connections that would be proxied fail",
              urls.status().column(), urls.status().reason());
    return blockingConfig("SOCKSIFY_PROXY");
  }
  return socks::configFromProxyList(*urls);
}

// Settings the environment may override (SOCKSIFY_CONNECT_TIMEOUT, SOCKSIFY_BIND).
void applyEnvironmentOverrides(socks::Config& config) {
  if (const char* t = getenv("SOCKSIFY_CONNECT_TIMEOUT"); t != nullptr && *t != '\0') {
    char* end = nullptr;
    const double seconds = strtod(t, &end);
    if (end != t && *end == '\0' && std::isfinite(seconds) && seconds > 0 && seconds <= 86400) {
      config.connect_timeout =
          std::chrono::milliseconds(static_cast<long>(seconds * 1000.0 + 0.5));
    } else {
      SOCKS_LOG(kWarn, "SOCKSIFY_CONNECT_TIMEOUT=%s is not a number of seconds; using %ld ms", t,
                static_cast<long>(config.connect_timeout.count()));
    }
  }
  if (const char* b = getenv("SOCKSIFY_BIND"); b != nullptr && *b != '\0') {
    if (strcmp(b, "auto") == 0) {
      config.bind = socks::BindMode::kAuto;
    } else if (strcmp(b, "all") == 0) {
      config.bind = socks::BindMode::kAll;
    } else if (strcmp(b, "off") == 0) {
      config.bind = socks::BindMode::kOff;
    } else {
      SOCKS_LOG(kWarn, "SOCKSIFY_BIND=%s is not auto, all or off; using %s", b,
                socks::bindModeName(config.bind));
    }
  }
}

// A chain with every hop resolved (or marked unusable). Allocates; may block
// on DNS for up to the connect timeout per proxy host name.
Chain* resolveChain(const socks::Config& config, const std::vector<std::uint32_t>& proxies) {
  auto chain = std::make_unique<Chain>();
  chain->proxies = proxies;
  const int timeout_ms = static_cast<int>(config.connect_timeout.count());
  for (std::uint32_t i : proxies) {
    const socks::ProxyDef& def = config.proxies[i];
    socks::Hop hop;
    hop.kind = def.url.kind;
    hop.user = def.url.user;
    hop.password = def.url.password;
    hop.has_credentials = def.url.has_user;
    hop.label = def.name.empty() ? def.url.redacted() : def.name;
    chain->usable = resolveHop(def.url, timeout_ms, hop) && chain->usable;
    chain->label += chain->label.empty() ? "" : " > ";
    chain->label += hop.label;
    chain->hops.push_back(std::move(hop));
  }
  return chain.release();
}

bool allNumeric(const socks::Config& config, const std::vector<std::uint32_t>& proxies) {
  for (std::uint32_t i : proxies) {
    if (!socks::Address::parseNumeric(config.proxies[i].url.host, 1)) {
      return false;
    }
  }
  return true;
}

void addChain(ProcessState& state, const std::vector<std::uint32_t>& proxies) {
  for (const auto& slot : state.chains) {
    if (slot->proxies == proxies) {
      return;
    }
  }
  auto slot = std::make_unique<ChainSlot>();
  slot->proxies = proxies;
  if (allNumeric(state.config, proxies)) {  // no I/O: build it now
    slot->chain.store(resolveChain(state.config, proxies), std::memory_order_release);
  }
  state.chains.push_back(std::move(slot));
}

// Every chain a route (or the implicit default) can lead to.
void buildChains(ProcessState& state) {
  const socks::Config& config = state.config;
  for (const socks::Route& route : config.routes) {
    for (const socks::Target& t : route.alternatives) {
      if (t.kind == socks::Target::Kind::kChain) {
        addChain(state, t.hops);
      }
    }
  }
  if (const std::size_t first = config.firstNamedProxy(); first != static_cast<std::size_t>(-1)) {
    addChain(state, {static_cast<std::uint32_t>(first)});
  }
  for (const socks::ProxyDef& def : config.proxies) {
    if (auto numeric = socks::Address::parseNumeric(def.url.host, def.url.port)) {
      state.numeric_proxies.push_back(*numeric);
    }
  }
}

ProcessState* build() {
  // A proxy (socksd, the launcher) that says so is never socksified.
  if (dlsym(RTLD_DEFAULT, "socksify_exempt") != nullptr) {
    return nullptr;
  }
  // Secure execution (setuid/setgid, capabilities): the environment belongs
  // to someone else. Only the system configuration may apply.
  const bool secure = getauxval(AT_SECURE) != 0;
  const auto env = [secure](const char* name) -> const char* {
    return secure ? nullptr : getenv(name);
  };
  bool level_from_env = false;
  if (const char* lvl = env("SOCKSIFY_LOG"); lvl != nullptr && *lvl != '\0') {
    socks::log::Level level;
    if (socks::log::parseLevel(lvl, level)) {
      socks::log::setLevel(level);
      level_from_env = true;
    } else {
      SOCKS_LOG(kWarn, "SOCKSIFY_LOG=%s is not a level (quiet, error, warn, info, debug)", lvl);
    }
  }

  auto state = std::make_unique<ProcessState>();
  if (const char* proxy = env("SOCKSIFY_PROXY"); proxy != nullptr && *proxy != '\0') {
    state->config = configFromEnvironment(proxy);
  } else {
    socks::LookupEnv lookup;
    lookup.getenv = env;
    lookup.exists = fileExists;
    lookup.secure = secure;
    const std::optional<socks::ConfigLocation> where = socks::findConfigFile("", lookup);
    if (!where) {
      return nullptr;  // no configuration: inert
    }
    socks::ConfigResult<socks::Config> loaded = socks::loadConfigFile(where->path, env);
    if (!loaded.ok()) {
      logDiagnostic(socks::log::Level::kError, loaded.error());
      SOCKS_LOG(kError, "the configuration is not applied: connections that would be proxied "
                        "fail (EACCES)");
      state->config = blockingConfig(where->path);
    } else {
      state->config = std::move(loaded).value();
      if (excluded(state->config)) {
        return nullptr;
      }
      if (!level_from_env) {
        socks::log::setLevel(state->config.log_level);
      }
      applyLogTarget(state->config);
      for (const socks::Diagnostic& w : loaded.warnings) {
        logDiagnostic(socks::log::Level::kWarn, w);
      }
    }
  }
  if (!secure) {
    applyEnvironmentOverrides(state->config);
  }

  state->fake_dns = socks::FakeDns::create();
  if (state->fake_dns == nullptr) {
    SOCKS_LOG(kError, "cannot map the fake-address table; the library is inert");
    return nullptr;
  }
  buildChains(*state);
  return state.release();
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

bool isLocalInterfaceAddress(const socks::Address& a) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return false;
  }
  bool found = false;
  for (ifaddrs* p = list; p != nullptr && !found; p = p->ifa_next) {
    if (p->ifa_addr == nullptr) {
      continue;
    }
    const socklen_t len = p->ifa_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6)
                                                             : sizeof(sockaddr_in);
    if (auto local = socks::Address::fromSockaddr(p->ifa_addr, len)) {
      found = local->type == a.type && local->ip == a.ip;
    }
  }
  freeifaddrs(list);
  return found;
}

}  // namespace

const ChainSlot* ProcessState::slotFor(const socks::Target& target) const noexcept {
  if (target.kind != socks::Target::Kind::kChain) {
    return nullptr;
  }
  for (const auto& slot : chains) {
    if (slot->proxies == target.hops) {
      return slot.get();
    }
  }
  return nullptr;
}

const Chain* ProcessState::chainFor(const socks::Target& target) const noexcept {
  const ChainSlot* slot = slotFor(target);
  if (slot == nullptr) {
    return nullptr;
  }
  if (const Chain* c = slot->chain.load(std::memory_order_acquire)) {
    return c;
  }
  try {
    const Chain* fresh = resolveChain(config, slot->proxies);
    const Chain* expected = nullptr;
    if (!slot->chain.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) {
      delete fresh;  // another thread published first
      return expected;
    }
    return fresh;
  } catch (...) {
    return nullptr;
  }
}

const Chain* ProcessState::resolvedChainFor(const socks::Target& target) const noexcept {
  const ChainSlot* slot = slotFor(target);
  return slot != nullptr ? slot->chain.load(std::memory_order_acquire) : nullptr;
}

bool ProcessState::isProxy(const socks::Address& dst) const noexcept {
  for (const socks::Address& a : numeric_proxies) {
    if (a == dst) {
      return true;
    }
  }
  for (const auto& slot : chains) {
    const Chain* c = slot->chain.load(std::memory_order_acquire);
    for (std::size_t i = 0; c != nullptr && i < c->hops.size(); ++i) {
      if (c->hops[i].addr.isIp() && c->hops[i].addr == dst) {
        return true;
      }
    }
  }
  return false;
}

socks::Decision ProcessState::decide(const socks::Address& dst) const noexcept {
  if (dst.isIp() && isProxy(dst)) {
    static const socks::Target kDirect{};
    socks::Decision d;
    d.rule = socks::Decision::Rule::kProxyItself;
    d.alternatives = std::span<const socks::Target>(&kDirect, 1);
    d.dns = socks::DnsMode::kSystem;
    return d;
  }
  return socks::route(config, dst);
}

const ProcessState* processState() noexcept {
  if (g_loaded.load(std::memory_order_acquire)) {
    return g_inert.load(std::memory_order_relaxed) ? nullptr
                                                   : g_state.load(std::memory_order_acquire);
  }
  if (t_loading || shimBroken()) {
    return nullptr;
  }
  try {
    std::call_once(g_once, load);
  } catch (...) {
    return nullptr;
  }
  return g_inert.load(std::memory_order_relaxed) ? nullptr
                                                 : g_state.load(std::memory_order_acquire);
}

const ProcessState* loadedState() noexcept { return g_state.load(std::memory_order_acquire); }

bool inStateLoad() noexcept { return t_loading; }

void noteListening(int fd) noexcept {
  const ProcessState* state = processState();
  if (state == nullptr) {
    return;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (real::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return;
  }
  const auto local = socks::Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
  if (!local) {
    return;
  }
  const auto isThatProxy = [&](const socks::Address& proxy) {
    if (!proxy.isIp() || proxy.port != local->port) {
      return false;
    }
    return proxy == *local ||
           (local->isUnspecified() && (proxy.isLoopback() || isLocalInterfaceAddress(proxy)));
  };
  const auto becomeInert = [](const char* label) {
    SOCKS_LOG(kInfo, "this process listens on proxy %s's port: it is that proxy, and its "
                     "connections go direct", label);
    g_inert.store(true, std::memory_order_relaxed);
  };
  for (const socks::Address& proxy : state->numeric_proxies) {
    if (isThatProxy(proxy)) {
      char text[64];
      proxy.format(text, sizeof text);
      becomeInert(text);
      return;
    }
  }
  for (const auto& slot : state->chains) {
    const Chain* c = slot->chain.load(std::memory_order_acquire);
    for (std::size_t i = 0; c != nullptr && i < c->hops.size(); ++i) {
      if (isThatProxy(c->hops[i].addr)) {
        becomeInert(c->hops[i].label.c_str());
        return;
      }
    }
  }
}

}  // namespace socksify
