// socksify — run a program with libsocksify.so preloaded, or check, explain
// or convert a configuration.
//
//   socksify [-x URL]... | [-c FILE]  [-v|-q] [--] PROGRAM [ARGS...]
//   socksify [-x URL]... | [-c FILE]  --check [--target HOST:PORT]
//   socksify [-x URL]... | [-c FILE]  --explain HOST:PORT
//   socksify --import-proxychains FILE
//   socksify --help | --version
//
// The configuration is the first of: -x URL (repeated: a chain, first hop
// first), -c FILE, $SOCKSIFY_PROXY, then the file socks::findConfigFile()
// finds ($SOCKSIFY_CONF, $XDG_CONFIG_HOME or ~/.config/socksify/socks.conf,
// /etc/socksify/socks.conf). It is validated here with the same pipeline the
// library uses (socks::loadConfigFile), so a bad file is an error with its
// FILE:LINE:COL before PROGRAM starts rather than a library that refuses
// connections later. -c becomes SOCKSIFY_CONF (absolute) for PROGRAM, and
// SOCKSIFY_PROXY is removed, since it would take precedence in the library.
//
// The library is found relative to this executable's real path (never the
// current directory: proxychains-ng CVE-2015-3887) and prepended to any
// LD_PRELOAD already set.
//
// Exit status: PROGRAM's own; 2 for a usage or configuration error; 126/127
// when PROGRAM cannot be run, as a shell does. --check: 0 when every probe
// passed, 1 when one failed, 2 for a usage or configuration error.
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "socks/address.h"
#include "socks/config.h"
#include "socks/exempt.h"
#include "socks/probe.h"
#include "socks/proxy.h"
#include "socks/resolver.h"
#include "socks/router.h"
#include "socks/socket_ops.h"

SOCKSIFY_EXEMPT_PROGRAM

namespace {

constexpr int kUsageError = 2;
constexpr int kProbeFailed = 1;

// Keep in step with docs/socksify.1: a test compares the long options and
// environment variables of both.
const char kUsage[] =
    "Usage: socksify [-x URL]... | [-c FILE]  [-v|-q] [--] PROGRAM [ARGS...]\n"
    "       socksify [-x URL]... | [-c FILE]  --check [--target HOST:PORT]\n"
    "       socksify [-x URL]... | [-c FILE]  --explain HOST:PORT\n"
    "       socksify --import-proxychains FILE\n"
    "Run PROGRAM with its TCP connections (and, for socks5h/socks4a, its name\n"
    "lookups) sent through SOCKS proxies.\n"
    "\n"
    "  -x, --proxy URL       proxy to use; repeat to form a chain, first hop first.\n"
    "                        socks4://, socks4a://, socks5://, socks5h://\n"
    "                        [user[:password]@]host[:port] (port 1080 by default)\n"
    "  -c, --config FILE     read the configuration from FILE (see socks.conf(5));\n"
    "                        not together with -x\n"
    "  -v, --verbose         one line per routed connection on stderr (-vv: debug)\n"
    "  -q, --quiet           no messages at all (configuration warnings included)\n"
    "      --check           print the configuration, then probe every proxy chain\n"
    "                        hop by hop (TCP, method, auth, CONNECT) and exit\n"
    "      --target HOST:PORT  with --check: also ask each chain to connect there\n"
    "      --explain HOST:PORT  print which route HOST:PORT takes, and why, and exit\n"
    "                        (HOST: a name, an IPv4 address or an [IPv6] address)\n"
    "      --import-proxychains FILE  print FILE, a proxychains.conf, as socks.conf\n"
    "  -h, --help            this text\n"
    "      --version         the version\n"
    "\n"
    "Configuration, the first found: -x, -c FILE, $SOCKSIFY_PROXY, $SOCKSIFY_CONF,\n"
    "$XDG_CONFIG_HOME/socksify/socks.conf (else ~/.config/socksify/socks.conf),\n"
    "/etc/socksify/socks.conf.\n"
    "\n"
    "Environment: SOCKSIFY_PROXY=URL[,URL...] (takes precedence over any file),\n"
    "SOCKSIFY_CONF=FILE, SOCKSIFY_LOG=quiet|error|warn|info|debug (overrides the\n"
    "file's log level), SOCKSIFY_CONNECT_TIMEOUT=SECONDS (overrides the timeout;\n"
    "default 10), SOCKSIFY_BIND=auto|all|off (which listening sockets become a\n"
    "SOCKS BIND on the proxy; default auto).\n"
    "\n"
    "Exit status: PROGRAM's own; 2 for a usage or configuration error; 126/127 when\n"
    "PROGRAM cannot be run. --check: 0 when every probe passed, 1 when one failed.\n";

[[noreturn]] void usageError(const char* fmt, const char* arg) {
  std::fprintf(stderr, "socksify: ");
  std::fprintf(stderr, fmt, arg);
  std::fprintf(stderr, "\nTry 'socksify --help' for more information.\n");
  std::exit(kUsageError);
}

// A configuration error: the diagnostic alone on its line, FILE:LINE:COL
// first, as compilers print theirs (editors jump to it).
[[noreturn]] void configError(const socks::Diagnostic& d) {
  std::fprintf(stderr, "%s\n", d.text().c_str());
  std::exit(kUsageError);
}

void printWarnings(const std::vector<socks::Diagnostic>& warnings, bool quiet) {
  if (quiet) {
    return;
  }
  for (const socks::Diagnostic& w : warnings) {
    socks::Diagnostic shown = w;
    shown.message = "warning: " + w.message;
    std::fprintf(stderr, "%s\n", shown.text().c_str());
  }
}

std::string dirOf(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// The library next to us: the install layout (bin/ -> lib/), then the build
// tree (the same directory).
std::string findLibrary() {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    return {};
  }
  self[n] = '\0';
  const std::string dir = dirOf(self);
  const std::string candidates[] = {
      dir + "/" SOCKSIFY_REL_LIBDIR "/libsocksify.so",
      dir + "/libsocksify.so",
  };
  for (const std::string& c : candidates) {
    char real[PATH_MAX];
    if (realpath(c.c_str(), real) != nullptr && access(real, R_OK) == 0) {
      return real;
    }
  }
  return {};
}

// Where PROGRAM would be found by execvp, for the setuid warning.
std::string whichProgram(const char* program) {
  if (strchr(program, '/') != nullptr) {
    return program;
  }
  const char* path = getenv("PATH");
  std::string p = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    const size_t end = p.find(':', start);
    std::string dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (dir.empty()) {
      dir = ".";
    }
    const std::string candidate = dir + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return {};
}

// The dynamic loader ignores LD_PRELOAD for setuid/setgid programs and for
// programs with file capabilities: say so rather than silently not proxying.
void warnIfSecure(const char* program) {
  const std::string path = whichProgram(program);
  struct stat st {};
  if (path.empty() || stat(path.c_str(), &st) != 0) {
    return;
  }
  const bool setid = (st.st_mode & (S_ISUID | S_ISGID)) != 0;
  const bool caps = getxattr(path.c_str(), "security.capability", nullptr, 0) > 0;
  if (setid || caps) {
    std::fprintf(stderr,
                 "socksify: warning: %s is %s; the dynamic loader ignores LD_PRELOAD for it, so "
                 "its connections will not be proxied\n",
                 path.c_str(), setid ? "setuid/setgid" : "given file capabilities");
  }
}

// LD_PRELOAD with lib prepended. Sanitizer runtimes must stay the first
// preloaded objects (ASan refuses to run otherwise), so leading ones keep
// their place; an entry for the same library is not repeated.
std::string preloadWith(const std::string& lib, const char* existing) {
  std::vector<std::string> entries;
  if (existing != nullptr) {
    std::string cur;
    for (const char* p = existing;; ++p) {
      if (*p == '\0' || *p == ' ' || *p == ':') {
        if (!cur.empty() && cur != lib) {
          entries.push_back(cur);
        }
        cur.clear();
        if (*p == '\0') {
          break;
        }
      } else {
        cur += *p;
      }
    }
  }
  auto isSanitizer = [](const std::string& path) {
    const std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    for (const char* prefix : {"libasan", "libtsan", "libubsan", "liblsan", "libclang_rt."}) {
      if (base.rfind(prefix, 0) == 0) {
        return true;
      }
    }
    return false;
  };
  std::string out;
  std::size_t k = 0;
  for (; k < entries.size() && isSanitizer(entries[k]); ++k) {
    out += entries[k] + " ";
  }
  out += lib;
  for (; k < entries.size(); ++k) {
    out += " " + entries[k];
  }
  return out;
}

// ---- options -----------------------------------------------------------------------

enum class Mode { kRun, kCheck, kExplain, kImport };

struct Options {
  Mode mode = Mode::kRun;
  std::vector<std::string> proxies;  // -x, in order
  std::optional<std::string> config_file;  // -c
  std::optional<std::string> target;       // --target
  std::string explain;                     // --explain HOST:PORT
  std::string import_file;                 // --import-proxychains FILE
  int verbosity = 0;
  bool quiet = false;
  int program = 0;  // argv index of PROGRAM; 0 when none
};

// The value of an option that takes one: "--opt VALUE", "--opt=VALUE" or,
// for short options, "-oVALUE". Returns nullptr when `a` is not `opt`.
const char* optionValue(int argc, char** argv, int& i, const char* short_name,
                        const char* long_name) {
  const char* a = argv[i];
  const std::size_t long_len = strlen(long_name);
  if ((short_name != nullptr && strcmp(a, short_name) == 0) || strcmp(a, long_name) == 0) {
    if (i + 1 >= argc) {
      usageError("option '%s' needs a value", a);
    }
    return argv[++i];
  }
  if (strncmp(a, long_name, long_len) == 0 && a[long_len] == '=') {
    return a + long_len + 1;
  }
  if (short_name != nullptr && strncmp(a, short_name, 2) == 0 && a[2] != '\0' && a[1] != '-') {
    return a + 2;
  }
  return nullptr;
}

void setMode(Options& o, Mode mode) {
  if (o.mode != Mode::kRun && o.mode != mode) {
    usageError("%s", "--check, --explain and --import-proxychains exclude each other");
  }
  o.mode = mode;
}

Options parseOptions(int argc, char** argv) {
  Options o;
  int i = 1;
  for (; i < argc; ++i) {
    const char* a = argv[i];
    if (strcmp(a, "--") == 0) {
      ++i;
      break;
    }
    if (a[0] != '-' || a[1] == '\0') {
      break;  // PROGRAM
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (strcmp(a, "--version") == 0) {
      std::printf("socksify %s\n", SOCKSIFY_VERSION);
      std::exit(0);
    }
    if (const char* url = optionValue(argc, argv, i, "-x", "--proxy")) {
      o.proxies.emplace_back(url);
    } else if (const char* file = optionValue(argc, argv, i, "-c", "--config")) {
      if (o.config_file) {
        usageError("%s", "-c is given more than once");
      }
      o.config_file = file;
    } else if (const char* target = optionValue(argc, argv, i, nullptr, "--target")) {
      o.target = target;
    } else if (const char* dest = optionValue(argc, argv, i, nullptr, "--explain")) {
      setMode(o, Mode::kExplain);
      o.explain = dest;
    } else if (const char* pc = optionValue(argc, argv, i, nullptr, "--import-proxychains")) {
      setMode(o, Mode::kImport);
      o.import_file = pc;
    } else if (strcmp(a, "--check") == 0) {
      setMode(o, Mode::kCheck);
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      ++o.verbosity;
    } else if (strcmp(a, "-vv") == 0) {
      o.verbosity += 2;
    } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
      o.quiet = true;
    } else {
      usageError("unknown option '%s'", a);
    }
  }
  o.program = i < argc ? i : 0;
  if (o.verbosity > 0 && o.quiet) {
    usageError("%s", "-v and -q contradict each other");
  }
  if (!o.proxies.empty() && o.config_file) {
    usageError("%s", "-x and -c exclude each other: give the proxies in the file, or only -x");
  }
  if (o.target && o.mode != Mode::kCheck) {
    usageError("%s", "--target goes with --check");
  }
  if (o.mode == Mode::kImport && (!o.proxies.empty() || o.config_file)) {
    usageError("%s", "--import-proxychains reads only its FILE: no -x or -c");
  }
  if (o.mode == Mode::kRun && o.program == 0) {
    usageError("%s", "no program given");
  }
  if (o.mode != Mode::kRun && o.program != 0) {
    usageError("unexpected argument '%s': --check, --explain and --import-proxychains run no "
               "program",
               argv[o.program]);
  }
  return o;
}

// ---- the configuration ------------------------------------------------------------

struct Loaded {
  enum class Source { kProxyOption, kProxyEnv, kFile };
  Source source = Source::kFile;
  socks::Config config;
  std::string path;  // kFile: as given or found
  std::string chain;  // kProxyOption: the -x URLs joined with ','
};

std::string absolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') {
    return path;
  }
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == nullptr) {
    return path;
  }
  return std::string(cwd) + "/" + path;
}

// A proxy list from -x or SOCKSIFY_PROXY; `what` names it in the error, which
// never repeats the text (it may hold a password).
socks::Config proxyListConfig(const std::string& list, const char* what) {
  auto parsed = socks::parseProxyList(list);
  if (!parsed.ok()) {
    std::fprintf(stderr, "socksify: bad proxy URL in %s, column %u: %s\n", what,
                 parsed.status().column(), parsed.status().reason());
    std::exit(kUsageError);
  }
  socks::Config config = socks::configFromProxyList(*parsed);
  config.file = what;
  return config;
}

// Reads a configuration file. `credentials`: fill passwords from
// password-env / password-file too, exactly as the library will (--explain
// needs no password, and should work on a file whose secrets are not here).
socks::Config loadFile(const std::string& path, bool credentials, bool quiet) {
  if (credentials) {
    socks::ConfigResult<socks::Config> loaded = socks::loadConfigFile(path, ::getenv);
    printWarnings(loaded.warnings, quiet);
    if (!loaded.ok()) {
      configError(loaded.error());
    }
    return std::move(loaded).value();
  }
  const socks::FileRead file = socks::readFileContents(path);
  if (!file.ok) {
    char buf[128];
    configError(socks::Diagnostic{
        path, 0, 0,
        std::string("cannot read: ") + strerror_r(file.sys_errno, buf, sizeof buf) +
            "; expected a readable configuration file (see socks.conf(5))"});
  }
  socks::ConfigResult<socks::Config> parsed = socks::parseConfig(file.contents, path);
  printWarnings(parsed.warnings, quiet);
  if (!parsed.ok()) {
    configError(parsed.error());
  }
  return std::move(parsed).value();
}

// SOCKSIFY_CONNECT_TIMEOUT overrides the timeout, in the library as here; a
// bad value is a warning there, and so here.
void applyTimeoutOverride(socks::Config& config, bool quiet) {
  const char* t = getenv("SOCKSIFY_CONNECT_TIMEOUT");
  if (t == nullptr || *t == '\0') {
    return;
  }
  char* end = nullptr;
  const double seconds = strtod(t, &end);
  if (end == t || *end != '\0' || !std::isfinite(seconds) || seconds <= 0 || seconds > 86400) {
    if (!quiet) {
      std::fprintf(stderr, "socksify: warning: SOCKSIFY_CONNECT_TIMEOUT=%s is not a number of "
                   "seconds; using %s\n", t, socks::durationText(config.connect_timeout).c_str());
    }
    return;
  }
  config.connect_timeout = std::chrono::milliseconds(static_cast<long>(seconds * 1000.0 + 0.5));
}

Loaded loadConfiguration(const Options& o, bool credentials) {
  Loaded l;
  if (!o.proxies.empty()) {
    for (const std::string& p : o.proxies) {
      l.chain += l.chain.empty() ? "" : ",";
      l.chain += p;
    }
    l.source = Loaded::Source::kProxyOption;
    l.config = proxyListConfig(l.chain, "-x");
  } else if (o.config_file) {
    l.source = Loaded::Source::kFile;
    l.path = *o.config_file;
    l.config = loadFile(l.path, credentials, o.quiet);
  } else if (const char* env = getenv("SOCKSIFY_PROXY"); env != nullptr && *env != '\0') {
    l.source = Loaded::Source::kProxyEnv;
    l.config = proxyListConfig(env, "SOCKSIFY_PROXY");
  } else {
    socks::LookupEnv lookup;
    lookup.getenv = ::getenv;
    lookup.exists = [](const std::string& path) { return access(path.c_str(), F_OK) == 0; };
    const std::optional<socks::ConfigLocation> where = socks::findConfigFile("", lookup);
    if (!where) {
      usageError("%s",
                 "no proxy configured: use -x URL or -c FILE, set SOCKSIFY_PROXY or "
                 "SOCKSIFY_CONF, or write ~/.config/socksify/socks.conf or "
                 "/etc/socksify/socks.conf (see socks.conf(5))");
    }
    l.source = Loaded::Source::kFile;
    l.path = where->path;
    l.config = loadFile(l.path, credentials, o.quiet);
  }
  applyTimeoutOverride(l.config, o.quiet);
  return l;
}

// ---- HOST:PORT --------------------------------------------------------------------

// "name:80", "192.0.2.1:80", "[2001:db8::1]:443". nullopt with `why` set when
// the text is none of these.
std::optional<socks::Address> parseHostPort(const std::string& text, std::string& why) {
  std::string host;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      why = "expected [IPv6]:PORT";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (host.find(':') == std::string::npos) {
      why = "only an IPv6 address goes in brackets";
      return std::nullopt;
    }
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos) {
      why = "expected HOST:PORT";
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      why = "write an IPv6 address in brackets: [ADDRESS]:PORT";
      return std::nullopt;
    }
  }
  char* end = nullptr;
  const long p = port.empty() ? 0 : strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 1 || p > 65535 || port[0] == '+' || port[0] == '-') {
    why = "expected a port number from 1 to 65535";
    return std::nullopt;
  }
  const auto p16 = static_cast<std::uint16_t>(p);
  if (host.empty()) {
    why = "expected a host before ':'";
    return std::nullopt;
  }
  if (auto numeric = socks::Address::parseNumeric(host, p16)) {
    return numeric;
  }
  auto named = socks::Address::domainName(host, p16);
  if (!named.ok()) {
    why = named.status().reason();
    return std::nullopt;
  }
  return *named;
}

socks::Address hostPortOrExit(const std::string& text, const char* option) {
  std::string why;
  std::optional<socks::Address> a = parseHostPort(text, why);
  if (!a) {
    std::fprintf(stderr, "socksify: %s '%s': %s\n", option, text.c_str(), why.c_str());
    std::exit(kUsageError);
  }
  return *a;
}

// ---- --check -------------------------------------------------------------------------

// A chain to probe and who uses it.
struct ChainUse {
  std::vector<std::uint32_t> hops;  // indices into Config::proxies
  std::string label;                // "corp > tor"
};

std::string routeName(const socks::Config& config, std::size_t r) {
  return "route " + std::to_string(r + 1) + " (" + config.file + ":" +
         std::to_string(config.routes[r].pos.line) + ")";
}

// The index of the first route that takes every destination the implicit
// default could get (`*` on every port; loopback never goes to the default
// proxy), or npos. After it, the default chain is never used, and probing
// it would only report failures nobody can meet (a name only a later hop
// can resolve, say).
std::size_t catchAllRoute(const socks::Config& config) {
  for (std::size_t r = 0; r < config.routes.size(); ++r) {
    for (const socks::Match& m : config.routes[r].matches) {
      if (m.kind == socks::Match::Kind::kAny && m.anyPort()) {
        return r;
      }
    }
  }
  return static_cast<std::size_t>(-1);
}

// The implicit default `* -> FIRST_PROXY`, when some destination can reach it.
std::optional<socks::Target> defaultChain(const socks::Config& config) {
  const std::size_t first = config.firstNamedProxy();
  if (first == static_cast<std::size_t>(-1) ||
      catchAllRoute(config) != static_cast<std::size_t>(-1)) {
    return std::nullopt;
  }
  socks::Target t;
  t.kind = socks::Target::Kind::kChain;
  t.hops = {static_cast<std::uint32_t>(first)};
  return t;
}

// Every distinct chain a route alternative or the implicit default can lead
// to, in file order.
std::vector<ChainUse> chainsOf(const socks::Config& config) {
  std::vector<ChainUse> chains;
  const auto add = [&](const socks::Target& t) {
    for (const ChainUse& c : chains) {
      if (c.hops == t.hops) {
        return;
      }
    }
    chains.push_back({t.hops, socks::describeTarget(config, t)});
  };
  for (const socks::Route& route : config.routes) {
    for (const socks::Target& t : route.alternatives) {
      if (t.kind == socks::Target::Kind::kChain) {
        add(t);
      }
    }
  }
  if (const std::optional<socks::Target> t = defaultChain(config)) {
    add(*t);
  }
  return chains;
}

std::size_t chainNumber(const std::vector<ChainUse>& chains, const socks::Target& t) {
  for (std::size_t i = 0; i < chains.size(); ++i) {
    if (chains[i].hops == t.hops) {
      return i + 1;
    }
  }
  return 0;
}

// Which chain (or direct/block, not probed) each route alternative means.
void printRouteMap(const socks::Config& config, const std::vector<ChainUse>& chains) {
  std::printf("routes (first match wins):\n");
  const auto alternatives = [&](const std::vector<socks::Target>& targets) {
    std::string out;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const socks::Target& t = targets[i];
      out += i == 0 ? "" : " | ";
      if (t.kind == socks::Target::Kind::kChain) {
        out += "chain " + std::to_string(chainNumber(chains, t)) + " (" +
               socks::describeTarget(config, t) + ")";
      } else {
        out += socks::describeTarget(config, t) + " (not probed)";
      }
    }
    return out;
  };
  for (std::size_t r = 0; r < config.routes.size(); ++r) {
    std::printf("  %s: %s\n", routeName(config, r).c_str(),
                alternatives(config.routes[r].alternatives).c_str());
  }
  if (const std::size_t r = catchAllRoute(config); r != static_cast<std::size_t>(-1)) {
    std::printf("  default: never used (%s matches every destination)\n",
                routeName(config, r).c_str());
    return;
  }
  std::vector<socks::Target> fallback(1);  // direct, unless a proxy is named
  if (const std::optional<socks::Target> t = defaultChain(config)) {
    fallback[0] = *t;
  }
  std::printf("  default (no route matched; loopback goes direct): %s\n",
              alternatives(fallback).c_str());
}

// The configuration as socks.conf text, with every password left out (also
// those written in a URL, which format() would keep). Inline URLs show
// "user:***@"; a named proxy with a password gets a comment saying so.
std::string redactedConfigText(const socks::Config& config) {
  socks::Config shown = config;
  for (socks::ProxyDef& p : shown.proxies) {
    p.password_in_url = false;
    p.url.password.clear();
  }
  std::string text = socks::format(shown);
  for (const socks::ProxyDef& p : config.proxies) {
    if (p.name.empty() || !p.url.has_password) {
      continue;
    }
    const std::string head = "proxy " + p.name + " = ";
    std::size_t at = text.rfind('\n' + head) == std::string::npos ? text.find(head)
                                                                   : text.find('\n' + head) + 1;
    if (at == std::string::npos) {
      continue;
    }
    const std::size_t eol = text.find('\n', at);
    text.insert(eol == std::string::npos ? text.size() : eol, "  # with a password (not shown)");
  }
  return text;
}

const char* methodName(socks::v5::Method m) {
  switch (m) {
    case socks::v5::Method::kNoAuth:
      return "no auth";
    case socks::v5::Method::kGssapi:
      return "GSSAPI";
    case socks::v5::Method::kUserPass:
      return "user/password";
    case socks::v5::Method::kNoAcceptable:
      break;
  }
  return "none acceptable";
}

std::string cell(const socks::StageResult& s, std::chrono::milliseconds timeout,
                 const std::string& ok_text = "ok") {
  switch (s.outcome) {
    case socks::StageResult::Outcome::kNotRun:
      return "-";
    case socks::StageResult::Outcome::kOk:
      return ok_text;
    case socks::StageResult::Outcome::kFailed:
      return "FAILED (" + socks::probeFailureText(s.status, timeout) + ")";
  }
  return "-";
}

void printTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (std::size_t c = 0; c < row.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  for (const auto& row : rows) {
    std::string line = "  ";
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) {
        line += std::string(width[c] - row[c].size() + 2, ' ');
      }
    }
    std::printf("%s\n", line.c_str());
  }
}

socks::Result<socks::Address> resolveProxyHost(const std::string& host, int timeout_ms) {
  socks::ResolveOptions options;
  options.timeout_ms = timeout_ms;
  auto resolved = socks::resolveName(socks::libcSocketOps(), host, options);
  if (!resolved.ok()) {
    return resolved.status();
  }
  if (resolved->addresses.empty()) {
    return socks::Status(socks::Errc::kNotFound, "no address");
  }
  return resolved->addresses.front();
}

int runCheck(const Options& o) {
  const Loaded loaded = loadConfiguration(o, true);
  const socks::Config& config = loaded.config;
  std::optional<socks::Address> target;
  if (o.target) {
    target = hostPortOrExit(*o.target, "--target");
  }
  switch (loaded.source) {
    case Loaded::Source::kProxyOption:
      std::printf("configuration: -x (a chain of %zu)\n", config.proxies.size());
      break;
    case Loaded::Source::kProxyEnv:
      std::printf("configuration: SOCKSIFY_PROXY (a chain of %zu)\n", config.proxies.size());
      break;
    case Loaded::Source::kFile:
      std::printf("configuration: %s\n", loaded.path.c_str());
      break;
  }
  std::printf("\n# the effective configuration; passwords are not shown\n%s\n",
              redactedConfigText(config).c_str());

  const std::vector<ChainUse> chains = chainsOf(config);
  printRouteMap(config, chains);
  if (chains.empty()) {
    std::printf("\nno proxy chain to probe\n");
    return 0;
  }
  const std::chrono::milliseconds timeout = config.connect_timeout;
  std::printf("\nprobing %zu chain%s (timeout %s per attempt)%s%s\n", chains.size(),
              chains.size() == 1 ? "" : "s", socks::durationText(timeout).c_str(),
              target ? ", CONNECT to " : "", target ? target->toString().c_str() : "");

  std::size_t failed = 0;
  for (std::size_t n = 0; n < chains.size(); ++n) {
    const ChainUse& chain = chains[n];
    std::vector<socks::ProxyUrl> urls;
    for (std::uint32_t i : chain.hops) {
      urls.push_back(config.proxies[i].url);
    }
    std::printf("\nchain %zu: %s\n", n + 1, chain.label.c_str());
    socks::ProbeOptions options;
    options.timeout = timeout;
    options.resolve = resolveProxyHost;
    bool target_ok = true;
    if (target) {
      options.target = *target;
      // A socks4:// or socks5:// last hop is sent addresses, as the library
      // does: the name is resolved here.
      if (!target->isIp() && !socks::resolvesRemotely(urls.back().kind)) {
        auto resolved = resolveProxyHost(std::string(target->domainView()),
                                         static_cast<int>(timeout.count()));
        if (resolved.ok()) {
          options.target = *resolved;
          options.target->port = target->port;
        } else {
          char why[160];
          std::printf("  cannot resolve the target %s here: %s\n",
                      std::string(target->domainView()).c_str(),
                      socks::describe(resolved.status(), why, sizeof why));
          options.target.reset();
          target_ok = false;
        }
      }
    }
    const socks::ChainReport report = socks::probeChain(socks::libcSocketOps(), urls, options);
    std::vector<std::vector<std::string>> rows = {
        {"hop", "proxy", "address", "tcp", "method", "auth", "connect"}};
    for (std::size_t h = 0; h < report.hops.size(); ++h) {
      const socks::HopReport& hop = report.hops[h];
      const socks::ProxyDef& def = config.proxies[chain.hops[h]];
      const std::string proxy = def.name.empty() ? hop.label : def.name + " " + hop.label;
      const std::string address =
          hop.resolve.outcome == socks::StageResult::Outcome::kOk
              ? hop.addr.toString()
              : cell(hop.resolve, timeout);
      std::string connect = cell(hop.connect, timeout);
      if (hop.connect.ran() && hop.next.type != socks::Address::Type::kNone) {
        connect += hop.connect.failed() ? "" : " (to " + hop.next.toString() + ")";
      }
      rows.push_back({std::to_string(h + 1), proxy, address,
                      h == 0 ? cell(hop.tcp, timeout) : "-",
                      cell(hop.negotiate, timeout,
                           std::string("ok (") + methodName(hop.method) + ")"),
                      cell(hop.auth, timeout), connect});
    }
    printTable(rows);
    const bool ok = report.ok() && target_ok;
    if (report.hops.size() > 1) {
      std::printf("  (hops after the first are reached through the previous hop's CONNECT)\n");
    }
    std::printf("  => %s\n", ok ? "ok" : "FAILED");
    failed += ok ? 0 : 1;
  }
  if (failed == 0) {
    std::printf("\nall %zu chain%s passed\n", chains.size(), chains.size() == 1 ? "" : "s");
    return 0;
  }
  std::printf("\n%zu of %zu chain%s FAILED\n", failed, chains.size(),
              chains.size() == 1 ? "" : "s");
  return kProbeFailed;
}

// ---- --explain, --import-proxychains -----------------------------------------------------

int runExplain(const Options& o) {
  const Loaded loaded = loadConfiguration(o, false);
  const socks::Address dst = hostPortOrExit(o.explain, "--explain");
  std::fputs(socks::explain(loaded.config, dst).c_str(), stdout);
  return 0;
}

int runImport(const Options& o) {
  const socks::FileRead file = socks::readFileContents(o.import_file);
  if (!file.ok) {
    char buf[128];
    configError(socks::Diagnostic{o.import_file, 0, 0,
                                  std::string("cannot read: ") +
                                      strerror_r(file.sys_errno, buf, sizeof buf) +
                                      "; expected a proxychains.conf"});
  }
  socks::ConfigResult<std::string> converted =
      socks::importProxychains(file.contents, o.import_file);
  printWarnings(converted.warnings, o.quiet);
  if (!converted.ok()) {
    configError(converted.error());
  }
  std::fputs(converted.value().c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parseOptions(argc, argv);
  switch (o.mode) {
    case Mode::kCheck:
      return runCheck(o);
    case Mode::kExplain:
      return runExplain(o);
    case Mode::kImport:
      return runImport(o);
    case Mode::kRun:
      break;
  }

  // Validate before anything runs: the library would only log the error and
  // refuse every proxied connection.
  const Loaded loaded = loadConfiguration(o, true);
  const std::string lib = findLibrary();
  if (lib.empty()) {
    std::fprintf(stderr, "socksify: cannot find libsocksify.so next to this program\n");
    return kUsageError;
  }
  setenv("LD_PRELOAD", preloadWith(lib, getenv("LD_PRELOAD")).c_str(), 1);
  switch (loaded.source) {
    case Loaded::Source::kProxyOption:
      setenv("SOCKSIFY_PROXY", loaded.chain.c_str(), 1);
      break;
    case Loaded::Source::kProxyEnv:
      break;  // already there
    case Loaded::Source::kFile:
      if (o.config_file) {
        // The library gives SOCKSIFY_PROXY precedence over any file.
        setenv("SOCKSIFY_CONF", absolutePath(loaded.path).c_str(), 1);
        unsetenv("SOCKSIFY_PROXY");
      }
      break;  // else the library finds the same file itself
  }
  if (o.quiet) {
    setenv("SOCKSIFY_LOG", "quiet", 1);
  } else if (o.verbosity == 1) {
    setenv("SOCKSIFY_LOG", "info", 1);
  } else if (o.verbosity > 1) {
    setenv("SOCKSIFY_LOG", "debug", 1);
  }

  char** program = argv + o.program;
  warnIfSecure(program[0]);
  execvp(program[0], program);
  const int err = errno;
  std::fprintf(stderr, "socksify: cannot run %s: %s\n", program[0], strerror(err));
  return err == ENOENT ? 127 : 126;
}
