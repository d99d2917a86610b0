// options.cpp — command line, users file, hosts file, CIDR ranges.
#include "options.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "version.h"

namespace socksd {
namespace {

using socks::Address;

constexpr double kMaxTimeoutSeconds = 30.0 * 24 * 3600;

constexpr char kUsage[] =
    "Usage: socksd [OPTION]...\n"
    "A SOCKS4, SOCKS4a and SOCKS5 (RFC 1928, RFC 1929) server: CONNECT, BIND and\n"
    "(SOCKS5) UDP ASSOCIATE.\n"
    "\n"
    "  --listen ADDR:PORT       listen here (repeatable; IPv6 as [::1]:1080; port 0\n"
    "                           picks a free port); default 127.0.0.1:1080. Prints\n"
    "                           'socksd: listening on ADDR:PORT' on stdout per listener\n"
    "  --external ADDR          source address of outgoing connections and UDP\n"
    "                           datagrams, and the address BIND listens on (one\n"
    "                           per family; used for destinations of its family)\n"
    "  --users FILE             require RFC 1929 username/password; FILE has lines\n"
    "                           'user:password', '#' comments. SOCKS4 is then refused\n"
    "  --hosts FILE             hosts-format file (ADDR NAME...) consulted before DNS\n"
    "  --connect-timeout SEC    time to resolve and connect to a destination (120)\n"
    "  --handshake-timeout SEC  time for a client to finish its request (30)\n"
    "  --idle-timeout SEC       close TCP relays idle this long; 0 = never (0)\n"
    "  --bind-timeout SEC       time BIND waits for the incoming connection (120)\n"
    "  --no-bind                refuse BIND (SOCKS5 0x07, SOCKS4 91)\n"
    "  --udp-idle-timeout SEC   end a UDP association (and its control connection)\n"
    "                           after this long without a datagram either way;\n"
    "                           0 = never (120)\n"
    "  --no-udp                 refuse UDP ASSOCIATE (SOCKS5 0x07)\n"
    "  --allow CIDR             accept clients from this network only (repeatable;\n"
    "                           default: all)\n"
    "  --deny-dest CIDR         refuse destinations in this network (repeatable;\n"
    "                           UDP: datagrams to or from it are dropped)\n"
    "  --max-clients N          concurrent clients; more wait in the backlog (1024)\n"
    "  -v, --verbose            one line per connection or UDP association\n"
    "                           (-vv: debug)\n"
    "  -q, --quiet              errors only\n"
    "  -h, --help               this text\n"
    "      --version            version\n"
    "\n"
    "SEC may have a fraction (0.5). Exit status: 0 after SIGTERM/SIGINT, 1 when a\n"
    "listener cannot be set up, 2 for a usage or configuration error.\n";

bool parsePort(std::string_view text, std::uint16_t& port) {
  if (text.empty() || text.size() > 5) {
    return false;
  }
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) {
    return false;
  }
  port = static_cast<std::uint16_t>(value);
  return true;
}

// "ADDR:PORT" or "[IPV6]:PORT", numeric only.
std::optional<Address> parseHostPort(std::string_view text, std::string& error) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "expected [IPV6]:PORT";
      return std::nullopt;
    }
    host = text.substr(0, close + 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      error = "expected ADDR:PORT";
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      error = "an IPv6 address needs brackets: [::1]:1080";
      return std::nullopt;
    }
  }
  std::uint16_t p = 0;
  if (!parsePort(port, p)) {
    error = "bad port";
    return std::nullopt;
  }
  auto addr = Address::parseNumeric(host, p);
  if (!addr) {
    error = "not a numeric IP address";
    return std::nullopt;
  }
  return addr;
}

bool parseSeconds(std::string_view text, std::chrono::milliseconds& out) {
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !std::isfinite(v) || v < 0 ||
      v > kMaxTimeoutSeconds) {
    return false;
  }
  out = std::chrono::milliseconds(static_cast<long long>(std::llround(v * 1000)));
  return true;
}

bool parseCount(std::string_view text, std::size_t& out) {
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0])) || end != s.c_str() + s.size() ||
      errno != 0 || v == 0 || v > 1000000) {
    return false;
  }
  out = static_cast<std::size_t>(v);
  return true;
}

}  // namespace

// ---- Config -------------------------------------------------------------------------

const Address* Config::externalFor(int family) const {
  const Address::Type want = family == AF_INET6 ? Address::Type::kIPv6 : Address::Type::kIPv4;
  for (const Address& a : external) {
    if (a.type == want) {
      return &a;
    }
  }
  return nullptr;
}

CommandLine parseCommandLine(int argc, char** argv, Config& config, std::string& error) {
  int verbose = 0;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_inline_value = false;
    if (arg.rfind("--", 0) == 0) {
      const std::size_t eq = arg.find('=');
      if (eq != std::string_view::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline_value = true;
      }
    }
    // Fetches the option's value (inline or the next argument).
    auto need = [&](std::string_view& v) {
      if (has_inline_value) {
        v = value;
        return true;
      }
      if (i + 1 >= argc) {
        error = std::string("option ") + std::string(arg) + " needs a value";
        return false;
      }
      v = argv[++i];
      return true;
    };
    auto bad = [&](std::string_view v, const std::string& why) {
      error = std::string(arg) + " " + std::string(v) + ": " + why;
      return CommandLine::kUsageError;
    };
    std::string_view v;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return CommandLine::kExitOk;
    }
    if (arg == "--version") {
      std::printf("socksd (socksify) %s\n", kSocksdVersion);
      return CommandLine::kExitOk;
    }
    const bool is_flag = arg == "-v" || arg == "--verbose" || arg == "-vv" || arg == "-q" || arg == "--quiet" ||
                         arg == "--no-bind" || arg == "--no-udp";
    if (is_flag && has_inline_value) {
      error = std::string(arg) + " takes no value";
      return CommandLine::kUsageError;
    }
    if (arg == "-v" || arg == "--verbose") {
      ++verbose;
    } else if (arg == "-vv") {
      verbose += 2;
    } else if (arg == "-q" || arg == "--quiet") {
      quiet = true;
    } else if (arg == "--no-bind") {
      config.allow_bind = false;
    } else if (arg == "--no-udp") {
      config.allow_udp = false;
    } else if (arg == "--listen") {
      if (!need(v)) {
        return CommandLine::kUsageError;
      }
      std::string why;
      auto addr = parseHostPort(v, why);
      if (!addr) {
        return bad(v, why);
      }
      config.listen.push_back(*addr);
    } else if (arg == "--external") {
      if (!need(v)) {
        return CommandLine::kUsageError;
      }
      auto addr = Address::parseNumeric(v, 0);
      if (!addr) {
        return bad(v, "not a numeric IP address");
      }
      const int family = addr->type == Address::Type::kIPv4 ? AF_INET : AF_INET6;
      if (config.externalFor(family) != nullptr) {
        return bad(v, "only one external address per address family");
      }
      config.external.push_back(*addr);
    } else if (arg == "--users") {
      if (!need(v)) {
        return CommandLine::kUsageError;
      }
      config.users_file = std::string(v);
    } else if (arg == "--hosts") {
      if (!need(v)) {
        return CommandLine::kUsageError;
      }
      config.hosts_file = std::string(v);
    } else if (arg == "--connect-timeout" || arg == "--handshake-timeout" || arg == "--idle-timeout" ||
               arg == "--bind-timeout" || arg == "--udp-idle-timeout") {
      if (!need(v)) {
        return CommandLine::kUsageError;
      }
      std::chrono::milliseconds t{};
      if (!parseSeconds(v, t)) {
        return bad(v, "expected seconds");
      }
      if (arg == "--idle-timeout") {
        config.idle_timeout = t;
      } else if (arg == "--udp-idle-timeout") {
        config.udp_idle_timeout = t;
      } else if (t.count() == 0) {
        return bad(v, "must be more than 0");
      } else if (arg == "--connect-timeout") {
        config.connect_timeout = t;
      } else if (arg == "--bind-timeout") {
        config.bind_timeout = t;
      } else {
        config.handshake_timeout = t;
      }
    } else if (arg == "--allow" || arg == "--deny-dest") {
      if (!need(v)) {
        return CommandLine::kUsageError;
      }
      auto range = socks::AddressRange::parse(v);
      if (!range.ok()) {
        return bad(v, range.status().reason());
      }
      (arg == "--allow" ? config.allow : config.deny_dest).push_back(std::move(range).value());
    } else if (arg == "--max-clients") {
      if (!need(v)) {
        return CommandLine::kUsageError;
      }
      if (!parseCount(v, config.max_clients)) {
        return bad(v, "expected a number from 1 to 1000000");
      }
    } else {
      error = std::string("unknown option ") + std::string(arg);
      return CommandLine::kUsageError;
    }
  }
  if (quiet && verbose > 0) {
    error = "-q and -v exclude each other";
    return CommandLine::kUsageError;
  }
  if (config.listen.empty()) {
    config.listen.push_back(Address::ipv4(0x7f000001u, 1080));
  }
  if (quiet) {
    config.log_level = socks::log::Level::kError;
  } else if (verbose == 1) {
    config.log_level = socks::log::Level::kInfo;
  } else if (verbose > 1) {
    config.log_level = socks::log::Level::kDebug;
  }
  return CommandLine::kRun;
}

}  // namespace socksd
