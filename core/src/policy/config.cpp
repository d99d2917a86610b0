// config.cpp — the model's small functions, the canonical formatter,
// credential resolution, the lookup order and the SOCKSIFY_PROXY equivalent.
#include <string.h>

#include <algorithm>
#include <cerrno>
#include <new>

#include "policy/text.h"
#include "socks/config.h"
#include "socks/router.h"

namespace socks {
namespace {

constexpr std::size_t kMaxCredential = 255;  // RFC 1929 §2: PLEN is one byte

const char* levelName(log::Level level) {
  switch (level) {
    case log::Level::kQuiet:
      return "quiet";
    case log::Level::kError:
      return "error";
    case log::Level::kWarn:
      return "warn";
    case log::Level::kInfo:
      return "info";
    case log::Level::kDebug:
      return "debug";
  }
  return "warn";
}

std::string errnoText(int err) {
  char buf[128];
  // GNU strerror_r returns the message (maybe not in buf).
  const char* text = strerror_r(err, buf, sizeof buf);
  return text != nullptr ? text : "error " + std::to_string(err);
}

}  // namespace

namespace policy {
std::string targetText(const Config& config, const Target& t, bool with_password) {
  switch (t.kind) {
    case Target::Kind::kDirect:
      return "direct";
    case Target::Kind::kBlock:
      return "block";
    case Target::Kind::kChain:
      break;
  }
  std::string out;
  for (std::size_t i = 0; i < t.hops.size(); ++i) {
    if (i > 0) {
      out += " > ";
    }
    const std::uint32_t h = t.hops[i];
    if (h >= config.proxies.size()) {
      out += "?";
      continue;
    }
    const ProxyDef& p = config.proxies[h];
    out += p.name.empty() ? urlText(p.url, with_password && p.password_in_url) : p.name;
  }
  return out;
}
}  // namespace policy

std::string describeTarget(const Config& config, const Target& target) {
  return policy::targetText(config, target, false);
}


const char* dnsModeName(DnsMode mode) {
  switch (mode) {
    case DnsMode::kRemote:
      return "remote";
    case DnsMode::kLocal:
      return "local";
    case DnsMode::kSystem:
      return "system";
  }
  return "remote";
}

const char* bindModeName(BindMode mode) {
  switch (mode) {
    case BindMode::kAuto:
      return "auto";
    case BindMode::kAll:
      return "all";
    case BindMode::kOff:
      return "off";
  }
  return "auto";
}

std::string Diagnostic::text() const {
  std::string out = file;
  if (line != 0) {
    out += ':' + std::to_string(line);
    if (column != 0) {
      out += ':' + std::to_string(column);
    }
  }
  out += ": ";
  out += message;
  return out;
}

bool operator==(const ProxyUrl& a, const ProxyUrl& b) {
  return a.kind == b.kind && a.host == b.host && a.port == b.port && a.user == b.user &&
         a.password == b.password && a.has_user == b.has_user &&
         a.has_password == b.has_password;
}

std::size_t Config::firstNamedProxy() const {
  for (std::size_t i = 0; i < proxies.size(); ++i) {
    if (!proxies[i].name.empty()) {
      return i;
    }
  }
  return static_cast<std::size_t>(-1);
}

std::string format(const Config& config) {
  std::string out = "# socks.conf(5)\n";
  const auto ms = config.connect_timeout.count();
  out += "timeout " + (ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms") +
         "\n";
  if (config.dns) {
    out += std::string("dns ") + dnsModeName(*config.dns) + "\n";
  }
  out += std::string("bind ") + bindModeName(config.bind) + "\n";
  out += std::string("udp ") + (config.udp ? "on" : "off") + "\n";
  out += std::string("log ") + levelName(config.log_level) + "\n";
  switch (config.log_to) {
    case LogTarget::kStderr:
      out += "log-to stderr\n";
      break;
    case LogTarget::kSyslog:
      out += "log-to syslog\n";
      break;
    case LogTarget::kFile:
      out += "log-to file " + config.log_file + "\n";
      break;
  }
  if (!config.excludes.empty()) {
    out += "exclude";
    for (const std::string& e : config.excludes) {
      out += ' ' + e;
    }
    out += '\n';
  }
  for (const ProxyDef& p : config.proxies) {
    if (p.name.empty()) {
      continue;  // inline: written in its route
    }
    ProxyUrl shown = p.url;  // a password from password-env/-file stays out
    if (!p.password_in_url) {
      shown.has_password = false;
      shown.password.clear();
    }
    out += "proxy " + p.name + " = " + policy::urlText(shown, true);
    if (!p.password_env.empty()) {
      out += " password-env " + p.password_env;
    }
    if (!p.password_file.empty()) {
      out += " password-file " + p.password_file;
    }
    out += '\n';
  }
  for (const Route& r : config.routes) {
    out += "route ";
    for (std::size_t i = 0; i < r.matches.size(); ++i) {
      out += (i == 0 ? "" : ", ") + policy::matchText(r.matches[i]);
    }
    out += " ->";
    for (std::size_t i = 0; i < r.alternatives.size(); ++i) {
      out += (i == 0 ? " " : " | ") + policy::targetText(config, r.alternatives[i], true);
    }
    if (r.dns) {
      out += std::string(" dns ") + dnsModeName(*r.dns);
    }
    out += '\n';
  }
  return out;
}

ConfigResult<bool> resolveCredentials(Config& config, const CredentialSources& sources) {
  try {
    std::vector<Diagnostic> warnings;
    std::vector<std::string> warned;  // paths already warned about
    std::vector<ProxyDef> proxies = config.proxies;
    for (ProxyDef& p : proxies) {
      const auto at = [&](std::string message) {
        return Diagnostic{config.file, p.secret_pos.line, p.secret_pos.column, std::move(message)};
      };
      std::string secret;
      if (!p.password_env.empty()) {
        const char* value = sources.getenv ? sources.getenv(p.password_env.c_str()) : nullptr;
        if (value == nullptr || *value == '\0') {
          return at("environment variable " + p.password_env + (value == nullptr ? " is not set" : " is empty") +
                    "; expected the password of proxy '" + p.name + "'");
        }
        secret = value;
      } else if (!p.password_file.empty()) {
        FileRead read;
        if (sources.read_file) {
          read = sources.read_file(p.password_file);
        } else {
          read.sys_errno = ENOENT;
        }
        if (!read.ok) {
          return at("cannot read password file " + p.password_file + ": " +
                    errnoText(read.sys_errno) + "; expected a readable file");
        }
        secret = read.contents.substr(0, read.contents.find('\n'));
        if (!secret.empty() && secret.back() == '\r') {
          secret.pop_back();
        }
        if (secret.empty()) {
          return at("password file " + p.password_file +
                    " has an empty first line; expected the password there");
        }
        if (read.world_readable &&
            std::find(warned.begin(), warned.end(), p.password_file) == warned.end()) {
          warned.push_back(p.password_file);
          warnings.push_back(at("password file " + p.password_file +
                                " is readable by every user; expected mode 0600 (chmod o-r " +
                                p.password_file + ")"));
        }
      } else {
        if (p.password_in_url && sources.config_world_readable &&
            std::find(warned.begin(), warned.end(), config.file) == warned.end()) {
          warned.push_back(config.file);
          warnings.push_back(Diagnostic{
              config.file, p.pos.line, p.pos.column,
              "this file holds a password and is readable by every user; expected mode 0600, "
              "or password-env/password-file"});
        }
        continue;
      }
      if (secret.size() > kMaxCredential || secret.find('\0') != std::string::npos) {
        return at("the password of proxy '" + p.name +
                  "' is not usable; expected at most 255 bytes and no NUL");
      }
      p.url.password = std::move(secret);
      p.url.has_password = true;
    }
    config.proxies = std::move(proxies);
    ConfigResult<bool> ok(true);
    ok.warnings = std::move(warnings);
    return ok;
  } catch (...) {
    return Diagnostic{config.file, 0, 0, "out of memory while reading credentials"};
  }
}

std::optional<ConfigLocation> findConfigFile(std::string_view explicit_path,
                                             const LookupEnv& env) {
  try {
    const auto get = [&](const char* name) -> const char* {
      const char* v = env.getenv ? env.getenv(name) : nullptr;
      return (v != nullptr && *v != '\0') ? v : nullptr;
    };
    const auto exists = [&](const std::string& path) { return env.exists && env.exists(path); };
    if (!env.secure) {
      if (!explicit_path.empty()) {
        return ConfigLocation{ConfigLocation::Source::kExplicit, std::string(explicit_path)};
      }
      if (const char* conf = get("SOCKSIFY_CONF")) {
        return ConfigLocation{ConfigLocation::Source::kEnvironment, conf};
      }
      std::string user;
      if (const char* xdg = get("XDG_CONFIG_HOME"); xdg != nullptr && xdg[0] == '/') {
        user = std::string(xdg) + "/socksify/socks.conf";
      } else if (const char* home = get("HOME")) {
        user = std::string(home) + "/.config/socksify/socks.conf";
      }
      if (!user.empty() && exists(user)) {
        return ConfigLocation{ConfigLocation::Source::kUser, user};
      }
    }
    const std::string system(kSystemConfigPath);
    if (exists(system)) {
      return ConfigLocation{ConfigLocation::Source::kSystem, system};
    }
    return std::nullopt;
  } catch (...) {
    return std::nullopt;
  }
}

Config configFromProxyList(const std::vector<ProxyUrl>& urls) {
  Config config;
  config.file = "SOCKSIFY_PROXY";
  if (urls.empty()) {
    return config;
  }
  Target chain;
  chain.kind = Target::Kind::kChain;
  for (std::size_t i = 0; i < urls.size(); ++i) {
    ProxyDef def;
    def.name = "p" + std::to_string(i + 1);
    def.url = urls[i];
    def.password_in_url = urls[i].has_password;
    config.proxies.push_back(std::move(def));
    chain.hops.push_back(static_cast<std::uint32_t>(i));
  }
  Route route;
  route.matches.emplace_back();  // `*`
  route.alternatives.push_back(std::move(chain));
  config.routes.push_back(std::move(route));
  return config;
}

}  // namespace socks
