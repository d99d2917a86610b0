// proxychains.cpp — proxychains.conf (proxychains-ng 4.x) -> socks.conf.
//
// The mapping (also in socks.conf(5), IMPORTING FROM PROXYCHAINS):
//   strict_chain            route * -> p1 > p2 > ... > pN
//   dynamic_chain (default) the full chain, then the chain with each single
//                           proxy left out, as failover alternatives:
//                           p1 > p2 > p3 | p2 > p3 | p1 > p3 | p1 > p2
//                           (proxychains skips every dead proxy; two dead ones
//                           are not skipped here, and a comment says so)
//   round_robin_chain,      chain_len consecutive proxies starting at each
//   random_chain            proxy in turn, as failover alternatives (no
//                           rotation, no randomness: a comment says so)
//   chain_len = N           the length used by the two above (default 1)
//   proxy_dns, proxy_dns_old, proxy_dns_daemon
//                           dns remote, and socks5 -> socks5h, socks4 -> socks4a
//   (no proxy_dns)          dns local
//   tcp_connect_time_out MS timeout MSms
//   quiet_mode              log error
//   localnet A/MASK, A:P/MASK, A6/PREFIX
//                           route NET[:P] -> direct, before the catch-all
//   remote_dns_subnet, tcp_read_time_out, dnat
//                           not supported: kept as comments
//   socks4|socks5 HOST PORT [USER [PASS]]   proxy pN = URL
//   http|raw ...            an error: socksify speaks only SOCKS
// The output is checked by parseConfig() before it is returned.
#include <arpa/inet.h>

#include <algorithm>

#include "policy/text.h"
#include "socks/config.h"

namespace socks {
namespace {

using policy::isBlank;
using policy::isDigit;
using policy::quoted;

constexpr std::uint64_t kMaxTimeoutMs = 86400ULL * 1000;
constexpr std::size_t kMaxChainLen = Config::kMaxHops;

struct Word {
  std::string_view text;
  std::uint32_t col = 0;
};

std::vector<Word> split(std::string_view line) {
  std::vector<Word> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && isBlank(line[i])) {
      ++i;
    }
    const std::size_t begin = i;
    while (i < line.size() && !isBlank(line[i])) {
      ++i;
    }
    if (i > begin) {
      words.push_back({line.substr(begin, i - begin), static_cast<std::uint32_t>(begin + 1)});
    }
  }
  return words;
}

bool parseNumber(std::string_view text, std::uint64_t max, std::uint64_t& out) {
  if (text.empty() || text.size() > 10) {
    return false;
  }
  out = 0;
  for (char c : text) {
    if (!isDigit(c)) {
      return false;
    }
    out = out * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return out <= max;
}

struct Entry {
  ProxyKind kind = ProxyKind::kSocks5;
  ProxyUrl url;
  std::uint32_t line = 0;
};

enum class ChainType : std::uint8_t { kDynamic, kStrict, kRoundRobin, kRandom };

class Importer {
 public:
  explicit Importer(std::string_view file) : file_(file) {}
  ConfigResult<std::string> run(std::string_view text);

 private:
  bool line(std::string_view text);
  bool entry(const std::vector<Word>& w);
  bool localnet(const std::vector<Word>& w);
  bool fail(std::uint32_t col, std::string message) {
    error_ = Diagnostic{std::string(file_), line_, col, std::move(message)};
    return false;
  }
  std::string emit() const;

  std::string_view file_;
  std::uint32_t line_ = 0;
  Diagnostic error_;
  bool in_list_ = false;
  ChainType chain_ = ChainType::kDynamic;
  std::uint64_t chain_len_ = 1;
  bool proxy_dns_ = false;
  bool quiet_ = false;
  std::uint64_t connect_timeout_ms_ = 0;
  std::vector<Entry> entries_;
  std::vector<std::string> nets_;   // localnet matches, socks.conf syntax
  std::vector<std::string> notes_;  // comments for the output
};

ConfigResult<std::string> Importer::run(std::string_view text) {
  bool ok = true;
  while (ok && !text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view l = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!l.empty() && l.back() == '\r') {
      l.remove_suffix(1);
    }
    ++line_;
    ok = line(l);
  }
  if (!ok) {
    return error_;
  }
  if (entries_.empty()) {
    return Diagnostic{std::string(file_), 0, 0,
                      "no proxy in [ProxyList]; expected lines such as 'socks5 192.0.2.1 1080'"};
  }
  std::string out = emit();
  auto check = parseConfig(out, "(converted)");
  if (!check.ok()) {
    return Diagnostic{std::string(file_), 0, 0,
                      "internal error: the converted configuration does not parse: " +
                          check.error().text()};
  }
  return out;
}

bool Importer::line(std::string_view text) {
  const std::vector<Word> w = split(text);
  if (w.empty() || w[0].text.starts_with("#")) {
    return true;
  }
  const std::string_view k = w[0].text;
  if (k.starts_with("[")) {
    if (policy::equalsIgnoreCase(text.substr(w[0].col - 1), "[ProxyList]") ||
        policy::equalsIgnoreCase(text.substr(w[0].col - 1), "[proxy list]")) {
      in_list_ = true;
      return true;
    }
    return fail(w[0].col, "unknown section " + quoted(k) + "; expected [ProxyList]");
  }
  if (in_list_) {
    return entry(w);
  }
  if (k == "strict_chain") {
    chain_ = ChainType::kStrict;
  } else if (k == "dynamic_chain") {
    chain_ = ChainType::kDynamic;
  } else if (k == "round_robin_chain") {
    chain_ = ChainType::kRoundRobin;
  } else if (k == "random_chain") {
    chain_ = ChainType::kRandom;
  } else if (k.starts_with("chain_len")) {
    // "chain_len = 2", "chain_len=2"
    const std::size_t eq = text.find('=');
    if (eq == std::string_view::npos) {
      return fail(w[0].col, "missing '='; expected 'chain_len = N'");
    }
    std::string_view v = text.substr(eq + 1);
    while (!v.empty() && isBlank(v.front())) {
      v.remove_prefix(1);
    }
    while (!v.empty() && isBlank(v.back())) {
      v.remove_suffix(1);
    }
    if (!parseNumber(v, kMaxChainLen, chain_len_) || chain_len_ == 0) {
      return fail(static_cast<std::uint32_t>(eq + 2),
                  "invalid chain_len; expected a number from 1 to " + std::to_string(kMaxChainLen));
    }
  } else if (k == "quiet_mode") {
    quiet_ = true;
  } else if (k == "proxy_dns" || k == "proxy_dns_old") {
    proxy_dns_ = true;
  } else if (k == "proxy_dns_daemon") {
    proxy_dns_ = true;
    notes_.push_back("proxy_dns_daemon: names are sent to the proxy instead (dns remote)");
  } else if (k == "remote_dns_subnet") {
    notes_.push_back("remote_dns_subnet ignored: socksify chooses its own fake-address range");
  } else if (k == "tcp_read_time_out") {
    notes_.push_back("tcp_read_time_out ignored: socksify has no read timeout");
  } else if (k == "tcp_connect_time_out") {
    if (w.size() < 2 || !parseNumber(w[1].text, kMaxTimeoutMs, connect_timeout_ms_) ||
        connect_timeout_ms_ == 0) {
      return fail(w.size() < 2 ? static_cast<std::uint32_t>(text.size() + 1) : w[1].col,
                  "invalid tcp_connect_time_out; expected milliseconds from 1 to 86400000");
    }
  } else if (k == "localnet") {
    return localnet(w);
  } else if (k == "dnat") {
    notes_.push_back("dnat not supported: " + std::string(text.substr(w[0].col - 1)));
  } else {
    return fail(w[0].col, "unknown directive " + quoted(k) +
                              "; expected a proxychains.conf directive or [ProxyList]");
  }
  return true;
}

bool Importer::entry(const std::vector<Word>& w) {
  const std::string_view type = w[0].text;
  Entry e;
  e.line = line_;
  if (type == "socks5") {
    e.kind = ProxyKind::kSocks5;
  } else if (type == "socks4") {
    e.kind = ProxyKind::kSocks4;
  } else if (type == "http" || type == "raw") {
    return fail(w[0].col, quoted(type) +
                              " proxies are not supported (socksify speaks SOCKS only); expected "
                              "socks4 or socks5 (remove or replace this proxy)");
  } else {
    return fail(w[0].col, "unknown proxy type " + quoted(type) + "; expected socks4 or socks5");
  }
  if (w.size() < 3) {
    return fail(w.back().col + static_cast<std::uint32_t>(w.back().text.size()),
                "missing host or port; expected 'TYPE HOST PORT [USER PASS]'");
  }
  if (w.size() > 5) {
    return fail(w[5].col, "unexpected " + quoted(w[5].text) + "; expected at most 'TYPE HOST "
                          "PORT USER PASS'");
  }
  std::string host(w[1].text);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string canonical;
  if (!Address::parseNumeric(host, 0) && !policy::canonicalHostName(host, canonical)) {
    return fail(w[1].col, "invalid host " + quoted(w[1].text) + "; expected an IP address or "
                                                                "a host name");
  }
  std::uint64_t port = 0;
  if (!parseNumber(w[2].text, 65535, port) || port == 0) {
    return fail(w[2].col, "invalid port " + quoted(w[2].text) + "; expected 1 to 65535");
  }
  if (entries_.size() >= Config::kMaxHops) {
    return fail(w[0].col, "more than " + std::to_string(Config::kMaxHops) +
                              " proxies; expected at most " + std::to_string(Config::kMaxHops));
  }
  for (std::size_t i = 3; i < w.size(); ++i) {
    if (w[i].text.size() > 255) {
      return fail(w[i].col, "user name or password longer than 255 bytes; expected at most 255");
    }
  }
  e.url.host = host;
  e.url.port = static_cast<std::uint16_t>(port);
  if (w.size() >= 4) {
    e.url.user = std::string(w[3].text);
    e.url.has_user = true;
  }
  if (w.size() == 5) {
    if (e.kind == ProxyKind::kSocks4) {
      return fail(w[4].col, "a password for a socks4 proxy; expected only a user id");
    }
    e.url.password = std::string(w[4].text);
    e.url.has_password = true;
  }
  entries_.push_back(std::move(e));
  return true;
}

bool Importer::localnet(const std::vector<Word>& w) {
  if (w.size() != 2) {
    return fail(w.size() < 2 ? w[0].col : w[2].col,
                "expected 'localnet ADDR[:PORT]/NETMASK'");
  }
  const std::string_view t = w[1].text;
  const std::size_t slash = t.find('/');
  if (slash == std::string_view::npos) {
    return fail(w[1].col, "missing '/'; expected 'localnet ADDR[:PORT]/NETMASK'");
  }
  std::string_view addr = t.substr(0, slash);
  const std::string_view mask = t.substr(slash + 1);
  const std::uint32_t mask_col = w[1].col + static_cast<std::uint32_t>(slash + 1);
  std::string port;
  const bool v6 = std::count(addr.begin(), addr.end(), ':') >= 2;
  if (!v6) {
    if (const std::size_t colon = addr.find(':'); colon != std::string_view::npos) {
      std::uint64_t p = 0;
      if (!parseNumber(addr.substr(colon + 1), 65535, p) || p == 0) {
        return fail(w[1].col + static_cast<std::uint32_t>(colon + 1),
                    "invalid port; expected 1 to 65535");
      }
      port = ":" + std::to_string(p);
      addr = addr.substr(0, colon);
    }
  }
  const auto a = Address::parseNumeric(addr, 0);
  if (!a || (a->type == Address::Type::kIPv6) != v6) {
    return fail(w[1].col, "invalid address " + quoted(addr) + "; expected an IP address");
  }
  std::uint64_t prefix = 0;
  if (auto m = Address::parseNumeric(mask, 0); m && m->type == Address::Type::kIPv4 && !v6) {
    // A dotted netmask: contiguous ones, then zeros.
    const std::uint32_t bits = (std::uint32_t{m->ip[0]} << 24) | (std::uint32_t{m->ip[1]} << 16) |
                               (std::uint32_t{m->ip[2]} << 8) | std::uint32_t{m->ip[3]};
    const std::uint32_t inverted = ~bits;
    if ((inverted & (inverted + 1)) != 0) {
      return fail(mask_col, "non-contiguous netmask " + quoted(mask) +
                                "; expected ones then zeros, such as 255.255.0.0");
    }
    while (prefix < 32 && (bits & (0x80000000u >> prefix)) != 0) {
      ++prefix;
    }
  } else if (!parseNumber(mask, v6 ? 128 : 32, prefix)) {
    return fail(mask_col, "invalid netmask " + quoted(mask) +
                              (v6 ? "; expected a prefix length from 0 to 128"
                                  : "; expected a netmask such as 255.255.0.0 or a prefix length"));
  }
  // Clear the host bits, as proxychains compares under the mask.
  Match m;
  m.kind = Match::Kind::kNetwork;
  m.family = a->type;
  m.network = a->ip;
  m.prefix = static_cast<std::uint8_t>(prefix);
  const unsigned max = v6 ? 128 : 32;
  for (unsigned bit = m.prefix; bit < max; ++bit) {
    m.network[bit / 8] = static_cast<std::uint8_t>(m.network[bit / 8] & ~(0x80u >> (bit % 8)));
  }
  nets_.push_back(v6 ? "[" + policy::networkText(m) + "]" : policy::networkText(m) + port);
  return true;
}

std::string Importer::emit() const {
  const std::size_t n = entries_.size();
  std::string out =
      "# socks.conf converted from proxychains.conf by socksify --import-proxychains.\n"
      "# See socks.conf(5).\n";
  for (const std::string& note : notes_) {
    out += "# " + note + "\n";
  }
  if (connect_timeout_ms_ != 0) {
    out += "timeout " + std::to_string(connect_timeout_ms_) + "ms\n";
  }
  out += proxy_dns_ ? "dns remote\n" : "dns local\n";
  if (quiet_) {
    out += "log error\n";
  }
  bool passwords = false;
  for (std::size_t i = 0; i < n; ++i) {
    ProxyUrl url = entries_[i].url;
    url.kind = entries_[i].kind;
    if (proxy_dns_) {
      url.kind = url.kind == ProxyKind::kSocks5 ? ProxyKind::kSocks5h : ProxyKind::kSocks4a;
    }
    passwords = passwords || url.has_password;
    out += "proxy p" + std::to_string(i + 1) + " = " + policy::urlText(url, true) +
           "   # line " + std::to_string(entries_[i].line) + "\n";
  }
  if (passwords) {
    out += "# Passwords were copied from proxychains.conf: keep this file mode 0600, or move\n"
           "# them to password-env / password-file.\n";
  }
  for (const std::string& net : nets_) {
    out += "route " + net + " -> direct   # localnet\n";
  }
  const auto chainOf = [&](const std::vector<std::size_t>& idx) {
    std::string s;
    for (std::size_t j = 0; j < idx.size(); ++j) {
      s += (j == 0 ? "p" : " > p") + std::to_string(idx[j] + 1);
    }
    return s;
  };
  std::vector<std::string> alternatives;
  std::vector<std::size_t> all(n);
  for (std::size_t i = 0; i < n; ++i) {
    all[i] = i;
  }
  switch (chain_) {
    case ChainType::kStrict:
      out += "# strict_chain: every connection goes through all the proxies, in order.\n";
      alternatives.push_back(chainOf(all));
      break;
    case ChainType::kDynamic:
      out += "# dynamic_chain: the whole chain, else the chain without one of its proxies\n"
             "# (proxychains skips any number of dead proxies; here at most one).\n";
      alternatives.push_back(chainOf(all));
      if (n > 1) {
        for (std::size_t skip = 0; skip < n; ++skip) {
          std::vector<std::size_t> idx;
          for (std::size_t i = 0; i < n; ++i) {
            if (i != skip) {
              idx.push_back(i);
            }
          }
          alternatives.push_back(chainOf(idx));
        }
      }
      break;
    case ChainType::kRoundRobin:
    case ChainType::kRandom: {
      const std::size_t len = std::min<std::size_t>(chain_len_, n);
      out += std::string("# ") +
             (chain_ == ChainType::kRandom ? "random_chain" : "round_robin_chain") +
             " (chain_len " + std::to_string(len) +
             "): approximated by failover over chains of\n# consecutive proxies, "
             "always tried in this order (no rotation, no randomness).\n";
      for (std::size_t start = 0; start < n; ++start) {
        std::vector<std::size_t> idx;
        for (std::size_t j = 0; j < len; ++j) {
          idx.push_back((start + j) % n);
        }
        alternatives.push_back(chainOf(idx));
      }
      break;
    }
  }
  out += "route * -> ";
  for (std::size_t i = 0; i < alternatives.size(); ++i) {
    out += (i == 0 ? "" : " | ") + alternatives[i];
  }
  out += "\n";
  return out;
}

}  // namespace

ConfigResult<std::string> importProxychains(std::string_view text, std::string_view file) {
  try {
    Importer importer(file);
    return importer.run(text);
  } catch (...) {
    return Diagnostic{std::string(file), 0, 0, "out of memory while converting"};
  }
}

}  // namespace socks
