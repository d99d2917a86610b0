// router.cpp — destination -> decision over a Config (see socks/router.h).
#include "socks/router.h"

#include <cstring>

#include "policy/text.h"

namespace socks {
namespace {

constexpr std::size_t kIPv4Len = 4;
constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
constexpr std::string_view kLocalhost = "localhost";

const Target& directTarget() {
  static const Target t{Target::Kind::kDirect, {}};
  return t;
}

// The implicit default `* -> FIRST_PROXY`; named proxies come first, so the
// first named proxy is index 0 (config.h).
const Target& firstProxyTarget() {
  static const Target t{Target::Kind::kChain, {0}};
  return t;
}

// The destination as the matcher sees it: an IP form for IP matches (a
// domain spelling a number counts as that number) and a name without its
// trailing dot for name matches.
struct Subject {
  Address ip;      // kNone when the destination is a real name
  bool v4 = false;  // ip4 holds the IPv4 form (IPv4, or IPv4-mapped IPv6)
  std::uint8_t ip4[kIPv4Len] = {};
  std::string_view name;  // empty for an IP destination
  std::uint16_t port = 0;
  bool loopback = false;
};

Subject subjectOf(const Address& dst) {
  Subject s;
  s.port = dst.port;
  if (dst.type == Address::Type::kDomain) {
    if (auto numeric = Address::parseNumeric(dst.domainView(), dst.port)) {
      s.ip = *numeric;
    } else {
      s.name = dst.domainView();
      if (!s.name.empty() && s.name.back() == '.') {
        s.name.remove_suffix(1);
      }
    }
  } else {
    s.ip = dst;
  }
  if (s.ip.type == Address::Type::kIPv4) {
    s.v4 = true;
    std::memcpy(s.ip4, s.ip.ip.data(), kIPv4Len);
  } else if (s.ip.type == Address::Type::kIPv6 &&
             std::memcmp(s.ip.ip.data(), kMappedPrefix, sizeof kMappedPrefix) == 0) {
    s.v4 = true;
    std::memcpy(s.ip4, s.ip.ip.data() + sizeof kMappedPrefix, kIPv4Len);
  }
  if (s.ip.isIp()) {
    s.loopback = s.ip.isLoopback();
  } else {
    const std::size_t n = kLocalhost.size();
    s.loopback = policy::equalsIgnoreCase(s.name, kLocalhost) ||
                 (s.name.size() > n + 1 && s.name[s.name.size() - n - 1] == '.' &&
                  policy::equalsIgnoreCase(s.name.substr(s.name.size() - n), kLocalhost));
  }
  return s;
}

bool prefixEqual(const std::uint8_t* a, const std::uint8_t* b, unsigned bits) {
  const unsigned whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) {
    return false;
  }
  const unsigned rest = bits % 8;
  if (rest == 0) {
    return true;
  }
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

bool nameBelow(std::string_view name, std::string_view domain) {
  return name.size() > domain.size() + 1 && name[name.size() - domain.size() - 1] == '.' &&
         policy::equalsIgnoreCase(name.substr(name.size() - domain.size()), domain);
}

// Whether m takes the destination; when why is given, says why or why not.
bool matches(const Match& m, const Subject& s, bool* host_ok, std::string* why) {
  const auto say = [&](bool result, const std::string& text) {
    if (why != nullptr) {
      *why = text;
    }
    return result;
  };
  bool host = false;
  switch (m.kind) {
    case Match::Kind::kAny:
      if (s.loopback) {
        return why == nullptr ? false
                              : say(false, "a loopback destination is only taken by a match that "
                                           "names it (a network or a host name)");
      }
      host = true;
      break;
    case Match::Kind::kNetwork:
      if (!s.ip.isIp()) {
        return why == nullptr ? false : say(false, "a network never matches a host name");
      }
      if (m.family == Address::Type::kIPv4) {
        host = s.v4 && prefixEqual(m.network.data(), s.ip4, m.prefix);
      } else {
        host = s.ip.type == Address::Type::kIPv6 &&
               prefixEqual(m.network.data(), s.ip.ip.data(), m.prefix);
      }
      break;
    case Match::Kind::kHost:
      if (s.ip.isIp()) {
        return why == nullptr ? false : say(false, "a host name never matches an IP address");
      }
      host = policy::equalsIgnoreCase(s.name, m.name);
      break;
    case Match::Kind::kWildcard:
      if (s.ip.isIp()) {
        return why == nullptr ? false : say(false, "a wildcard never matches an IP address");
      }
      host = nameBelow(s.name, m.name);
      break;
  }
  if (host_ok != nullptr) {
    *host_ok = host;
  }
  const bool port = m.anyPort() || (s.port >= m.port_low && s.port <= m.port_high);
  if (why == nullptr) {
    return host && port;
  }
  if (!host) {
    if (m.kind == Match::Kind::kWildcard) {
      return say(false, "not below " + m.name +
                            (policy::equalsIgnoreCase(s.name, m.name)
                                 ? " (a wildcard does not match the bare domain)"
                                 : ""));
    }
    return say(false, m.kind == Match::Kind::kNetwork ? "not in that network" : "another name");
  }
  if (!port) {
    return say(false, "port " + std::to_string(s.port) + " is not in " +
                          std::to_string(m.port_low) +
                          (m.port_low == m.port_high ? "" : "-" + std::to_string(m.port_high)));
  }
  return say(true, "matched");
}

bool isProxyItself(const Config& config, const Subject& s) {
  for (const ProxyDef& p : config.proxies) {
    if (p.url.port != s.port) {
      continue;
    }
    if (!s.ip.isIp()) {
      std::string_view host = p.url.host;
      if (!host.empty() && host.back() == '.') {
        host.remove_suffix(1);
      }
      if (policy::equalsIgnoreCase(host, s.name)) {
        return true;
      }
      continue;
    }
    if (auto addr = Address::parseNumeric(p.url.host, p.url.port)) {
      Subject ps = subjectOf(*addr);
      if ((ps.v4 && s.v4 && std::memcmp(ps.ip4, s.ip4, kIPv4Len) == 0) ||
          (addr->type == Address::Type::kIPv6 && s.ip.type == Address::Type::kIPv6 &&
           addr->ip == s.ip.ip)) {
        return true;
      }
    }
  }
  return false;
}

// The decision of routes[r], taken by its matches[i].
Decision routeDecision(const Config& config, std::size_t r, std::size_t i) {
  const Route& route = config.routes[r];
  Decision d;
  d.rule = Decision::Rule::kRoute;
  d.route = r;
  d.match = i;
  d.alternatives = route.alternatives;
  d.dns = effectiveDns(config, &route, route.alternatives);
  return d;
}

Decision decide(const Config& config, const Subject& s) {
  Decision d;
  if (isProxyItself(config, s)) {
    d.rule = Decision::Rule::kProxyItself;
    d.alternatives = std::span<const Target>(&directTarget(), 1);
  } else {
    for (std::size_t r = 0; r < config.routes.size(); ++r) {
      const Route& route = config.routes[r];
      for (std::size_t i = 0; i < route.matches.size(); ++i) {
        if (matches(route.matches[i], s, nullptr, nullptr)) {
          return routeDecision(config, r, i);
        }
      }
    }
    if (s.loopback) {
      d.rule = Decision::Rule::kLoopback;
      d.alternatives = std::span<const Target>(&directTarget(), 1);
    } else if (config.firstNamedProxy() == 0) {
      d.rule = Decision::Rule::kDefaultProxy;
      d.alternatives = std::span<const Target>(&firstProxyTarget(), 1);
    } else {
      d.rule = Decision::Rule::kDefaultDirect;
      d.alternatives = std::span<const Target>(&directTarget(), 1);
    }
  }
  d.dns = effectiveDns(config, nullptr, d.alternatives);
  return d;
}

std::string where(const Config& config, std::size_t index) {
  const Route& r = config.routes[index];
  if (r.pos.line == 0) {  // not from a file: SOCKSIFY_PROXY or -x
    return "route " + std::to_string(index + 1) + " (" + config.file + ")";
  }
  return "route " + std::to_string(index + 1) + " (" + config.file + ":" +
         std::to_string(r.pos.line) + ")";
}

}  // namespace

DnsMode effectiveDns(const Config& config, const Route* route,
                     std::span<const Target> alternatives) {
  if (route != nullptr && route->dns) {
    return *route->dns;
  }
  if (config.dns) {
    return *config.dns;
  }
  if (alternatives.empty()) {
    return DnsMode::kSystem;
  }
  const Target& first = alternatives.front();
  switch (first.kind) {
    case Target::Kind::kDirect:
      return DnsMode::kSystem;
    case Target::Kind::kBlock:
      return DnsMode::kRemote;
    case Target::Kind::kChain:
      break;
  }
  if (first.hops.empty() || first.hops.back() >= config.proxies.size()) {
    return DnsMode::kRemote;
  }
  return resolvesRemotely(config.proxies[first.hops.back()].url.kind) ? DnsMode::kRemote
                                                                       : DnsMode::kLocal;
}

Decision route(const Config& config, const Address& dst) {
  return decide(config, subjectOf(dst));
}

Decision routeForName(const Config& config, std::string_view name) {
  Address dst;
  dst.type = Address::Type::kDomain;
  const std::size_t n = std::min(name.size(), Address::kMaxDomain);
  std::memcpy(dst.domain.data(), name.data(), n);
  dst.domain_len = static_cast<std::uint8_t>(n);
  const Subject s = subjectOf(dst);
  for (std::size_t r = 0; r < config.routes.size(); ++r) {
    const Route& route = config.routes[r];
    for (std::size_t i = 0; i < route.matches.size(); ++i) {
      const Match& m = route.matches[i];
      bool named = false;
      if (m.kind == Match::Kind::kAny) {
        named = m.anyPort() && !s.loopback;
      } else if (m.kind == Match::Kind::kHost || m.kind == Match::Kind::kWildcard) {
        matches(m, s, &named, nullptr);  // the host part only: ports do not count
      }
      if (named) {
        return routeDecision(config, r, i);
      }
    }
  }
  Subject any = s;
  any.port = 0;
  return decide(config, any);
}

DnsMode dnsModeFor(const Config& config, std::string_view name) {
  return routeForName(config, name).dns;
}

std::string explain(const Config& config, const Address& dst) {
  try {
    const Subject s = subjectOf(dst);
    std::string out = "destination " + dst.toString();
    if (s.ip.isIp()) {
      out += s.ip.type == Address::Type::kIPv4 ? " (IPv4" : " (IPv6";
      out += s.v4 && s.ip.type == Address::Type::kIPv6 ? ", IPv4-mapped)" : ")";
    } else {
      out += " (a host name: networks do not apply)";
    }
    if (s.loopback) {
      out += ", loopback";
    }
    out += "\n";
    const Decision d = decide(config, s);
    if (d.rule == Decision::Rule::kProxyItself) {
      out += "  it is a configured proxy: always direct\n";
    } else {
      const std::size_t last = d.rule == Decision::Rule::kRoute ? d.route : config.routes.size();
      for (std::size_t r = 0; r < config.routes.size() && r <= last; ++r) {
        const Route& route = config.routes[r];
        out += "  " + where(config, r) + ":\n";
        for (std::size_t i = 0; i < route.matches.size(); ++i) {
          std::string why;
          matches(route.matches[i], s, nullptr, &why);
          out += "    " + policy::matchText(route.matches[i]) + ": " + why + "\n";
          if (r == d.route && i == d.match) {
            break;
          }
        }
      }
    }
    out += "=> ";
    switch (d.rule) {
      case Decision::Rule::kRoute:
        out += where(config, d.route) + ": ";
        break;
      case Decision::Rule::kProxyItself:
        out += "proxy itself: ";
        break;
      case Decision::Rule::kLoopback:
        out += "no route names this loopback destination: ";
        break;
      case Decision::Rule::kDefaultProxy:
        out += "no route matched; the default is the first proxy: ";
        break;
      case Decision::Rule::kDefaultDirect:
        out += "no route matched and no proxy is defined: ";
        break;
    }
    for (std::size_t i = 0; i < d.alternatives.size(); ++i) {
      out += (i == 0 ? "" : " | ") + describeTarget(config, d.alternatives[i]);
    }
    out += "\n   dns " + std::string(dnsModeName(d.dns)) + "\n";
    return out;
  } catch (...) {
    return "out of memory\n";
  }
}

}  // namespace socks
