// parse.cpp — socks.conf(5): the parser.
//
// One pass over the lines builds a private Config; proxy names used by routes
// are resolved at the end (a route may name a proxy defined further down), and
// only then is the Config handed out: an error anywhere means no Config at all.
// Every error is one Diagnostic, FILE:LINE:COLUMN with the column of the
// offending token (1-based, in bytes).
#include <arpa/inet.h>

#include <algorithm>
#include <new>

#include "policy/text.h"
#include "socks/config.h"

namespace socks {
namespace {

using policy::isAlpha;
using policy::isBlank;
using policy::isDigit;
using policy::quoted;

constexpr std::uint64_t kMaxTimeoutMs = 86400ULL * 1000;  // one day
constexpr std::size_t kMaxCredential = 255;
constexpr std::size_t kMaxListedNames = 8;
constexpr unsigned kIPv4Bits = 32;
constexpr unsigned kIPv6Bits = 128;
constexpr std::uint8_t kLoopbackNet = 127;

struct Token {
  std::string_view text;
  std::uint32_t col = 0;  // 1-based
  bool empty() const { return text.empty(); }
};

// A cursor over one line (without its line end). A '#' at the start of a
// token begins a comment: end() is true there.
class Cursor {
 public:
  explicit Cursor(std::string_view line) : line_(line) {}

  void skipBlanks() {
    while (pos_ < line_.size() && isBlank(line_[pos_])) {
      ++pos_;
    }
  }
  // True at the end of the line or at a comment (after skipping blanks).
  bool end() {
    skipBlanks();
    return pos_ >= line_.size() || line_[pos_] == '#';
  }
  char peek() const { return pos_ < line_.size() ? line_[pos_] : '\0'; }
  bool startsWith(std::string_view s) const { return line_.substr(pos_).starts_with(s); }
  void advance(std::size_t n) { pos_ = std::min(line_.size(), pos_ + n); }
  std::uint32_t col() const { return static_cast<std::uint32_t>(pos_ + 1); }

  // The next run of non-blank characters (empty at the end or a comment).
  Token word() {
    if (end()) {
      return {{}, col()};
    }
    const std::size_t begin = pos_;
    while (pos_ < line_.size() && !isBlank(line_[pos_])) {
      ++pos_;
    }
    return {line_.substr(begin, pos_ - begin), static_cast<std::uint32_t>(begin + 1)};
  }

  // The next run of characters that are not blanks, not in `stops`, and not
  // the start of "->" when stop_at_arrow.
  Token until(std::string_view stops, bool stop_at_arrow) {
    if (end()) {
      return {{}, col()};
    }
    const std::size_t begin = pos_;
    while (pos_ < line_.size()) {
      const char c = line_[pos_];
      if (isBlank(c) || stops.find(c) != std::string_view::npos) {
        break;
      }
      if (stop_at_arrow && c == '-' && pos_ + 1 < line_.size() && line_[pos_ + 1] == '>') {
        break;
      }
      ++pos_;
    }
    return {line_.substr(begin, pos_ - begin), static_cast<std::uint32_t>(begin + 1)};
  }

 private:
  std::string_view line_;
  std::size_t pos_ = 0;
};

struct PendingHop {
  Token token;  // a proxy name or an inline URL
  std::uint32_t line = 0;
  bool is_url = false;
  ProxyUrl url;  // is_url only
};
using PendingChain = std::vector<PendingHop>;

class Parser {
 public:
  explicit Parser(std::string_view file) { config_.file = std::string(file); }

  ConfigResult<Config> run(std::string_view text);

 private:
  bool parseLine(std::string_view line);
  bool parseProxy(Cursor& cur);
  bool parseRoute(Cursor& cur, std::uint32_t route_col);
  bool parseMatch(Token tok, Match& m);
  bool parseNetwork(std::string_view text, std::uint32_t col, bool bracketed, Match& m);
  bool parsePorts(std::string_view text, std::uint32_t col, Match& m);
  bool parseSetting(std::string_view keyword, Token key, Cursor& cur);
  bool parseTimeout(Token value);
  bool parseExclude(Cursor& cur);
  bool resolveHops();
  void warnUnreachable();
  bool expectEnd(Cursor& cur);
  bool once(std::string_view keyword, Token key);

  bool fail(std::uint32_t col, std::string message) {
    error_ = Diagnostic{config_.file, line_, col, std::move(message)};
    return false;
  }
  void warn(std::uint32_t line, std::uint32_t col, std::string message) {
    warnings_.push_back(Diagnostic{config_.file, line, col, std::move(message)});
  }
  std::string knownProxies() const;

  Config config_;
  std::uint32_t line_ = 0;
  Diagnostic error_;
  std::vector<Diagnostic> warnings_;
  std::vector<std::vector<PendingChain>> pending_;  // per route, per alternative
  std::vector<std::pair<std::string, std::uint32_t>> seen_settings_;  // keyword, line
};

ConfigResult<Config> Parser::run(std::string_view text) {
  bool ok = true;
  while (ok && !text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    ++line_;
    ok = parseLine(line);
  }
  if (ok) {
    ok = resolveHops();
  }
  if (!ok) {
    ConfigResult<Config> r(std::move(error_));
    r.warnings = std::move(warnings_);
    return r;
  }
  warnUnreachable();
  ConfigResult<Config> r(std::move(config_));
  r.warnings = std::move(warnings_);
  return r;
}

bool Parser::parseLine(std::string_view line) {
  // Control characters are refused outside comments (a comment starts with a
  // '#' at the start of a token).
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '#' && (i == 0 || isBlank(line[i - 1]))) {
      break;
    }
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
      return fail(static_cast<std::uint32_t>(i + 1),
                  "control character in the line; expected printable text");
    }
  }
  Cursor cur(line);
  const Token key = cur.word();
  if (key.empty()) {
    return true;  // blank or comment
  }
  const std::string_view k = key.text;
  if (k == "proxy") {
    return parseProxy(cur);
  }
  if (k == "route") {
    return parseRoute(cur, key.col);
  }
  if (k == "exclude") {
    return parseExclude(cur);
  }
  if (k == "timeout" || k == "dns" || k == "bind" || k == "udp" || k == "log" || k == "log-to") {
    return parseSetting(k, key, cur);
  }
  if (k.starts_with("[") || k == "strict_chain" || k == "dynamic_chain" || k == "socks5" ||
      k == "socks4") {
    return fail(key.col, "unknown keyword " + quoted(k) +
                             " (this looks like proxychains.conf: convert it with "
                             "'socksify --import-proxychains FILE'); expected proxy, route, "
                             "timeout, dns, bind, udp, log, log-to or exclude");
  }
  return fail(key.col, "unknown keyword " + quoted(k) +
                           "; expected proxy, route, timeout, dns, bind, udp, log, log-to or "
                           "exclude");
}

bool Parser::expectEnd(Cursor& cur) {
  if (cur.end()) {
    return true;
  }
  const Token extra = cur.word();
  return fail(extra.col, "unexpected " + quoted(extra.text) + "; expected the end of the line");
}

bool isNameChar(char c) {
  return isAlpha(c) || isDigit(c) || c == '_' || c == '-' || c == '.';
}

bool isEnvName(std::string_view s) {
  if (s.empty() || isDigit(s[0])) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) { return isAlpha(c) || isDigit(c) || c == '_'; });
}

bool Parser::parseProxy(Cursor& cur) {
  if (cur.end()) {
    return fail(cur.col(), "missing proxy name; expected 'proxy NAME = URL'");
  }
  const std::uint32_t name_col = cur.col();
  const Token name = cur.until("=", false);
  for (std::size_t i = 0; i < name.text.size(); ++i) {
    if (!isNameChar(name.text[i])) {
      return fail(name_col + static_cast<std::uint32_t>(i),
                  "invalid character in proxy name " + quoted(name.text) +
                      "; expected letters, digits, '-', '_' and '.'");
    }
  }
  if (name.empty()) {
    return fail(name_col, "missing proxy name; expected 'proxy NAME = URL'");
  }
  if (name.text == "direct" || name.text == "block" || name.text == "dns") {
    return fail(name_col, "proxy name " + quoted(name.text) +
                              " is reserved; expected another name");
  }
  for (const ProxyDef& p : config_.proxies) {
    if (p.name == name.text) {
      return fail(name_col, "duplicate proxy " + quoted(name.text) + " (first defined at line " +
                                std::to_string(p.pos.line) + "); expected a new name");
    }
  }
  cur.skipBlanks();
  if (cur.peek() != '=') {
    return fail(cur.col(), "expected '=' after the proxy name");
  }
  cur.advance(1);
  const Token url_tok = cur.word();
  if (url_tok.empty()) {
    return fail(url_tok.col, "missing URL; expected 'proxy NAME = socks5://HOST:PORT'");
  }
  auto url = parseProxyUrl(url_tok.text);
  if (!url.ok()) {
    return fail(url_tok.col + url.status().column() - 1,
                std::string("invalid proxy URL; ") + url.status().reason());
  }
  ProxyDef def;
  def.name = std::string(name.text);
  def.url = std::move(url).value();
  def.password_in_url = def.url.has_password;
  def.pos = SourcePos{line_, name_col};

  while (!cur.end()) {
    const Token opt = cur.word();
    const bool is_env = opt.text == "password-env";
    if (!is_env && opt.text != "password-file") {
      return fail(opt.col, "unknown proxy option " + quoted(opt.text) +
                               "; expected password-env VAR or password-file PATH");
    }
    if (def.password_in_url || !def.password_env.empty() || !def.password_file.empty()) {
      return fail(opt.col, "a second password for proxy " + quoted(def.name) +
                               "; expected one of: a password in the URL, password-env or "
                               "password-file");
    }
    if (!isSocks5(def.url.kind)) {
      return fail(opt.col, std::string(schemeName(def.url.kind)) +
                               " proxies take no password; expected a socks5:// or socks5h:// "
                               "URL");
    }
    if (!def.url.has_user) {
      return fail(opt.col, std::string(opt.text) +
                               " needs a user name in the URL; expected socks5://USER@HOST");
    }
    const Token value = cur.word();
    if (value.empty()) {
      return fail(value.col, is_env ? "missing variable; expected 'password-env VAR'"
                                    : "missing path; expected 'password-file PATH'");
    }
    if (is_env) {
      if (!isEnvName(value.text)) {
        return fail(value.col, "invalid variable name " + quoted(value.text) +
                                   "; expected letters, digits and '_'");
      }
      def.password_env = std::string(value.text);
    } else {
      def.password_file = std::string(value.text);
    }
    def.secret_pos = SourcePos{line_, value.col};
  }
  config_.proxies.push_back(std::move(def));
  return true;
}

bool Parser::parsePorts(std::string_view text, std::uint32_t col, Match& m) {
  std::size_t off = 0;
  std::string message;
  if (!policy::parsePortSpec(text, m.port_low, m.port_high, off, message)) {
    return fail(col + static_cast<std::uint32_t>(off), std::move(message));
  }
  return true;
}

bool Parser::parseNetwork(std::string_view text, std::uint32_t col, bool bracketed, Match& m) {
  const std::size_t slash = text.find('/');
  const std::string_view host = text.substr(0, slash);
  auto addr = Address::parseNumeric(host, 0);
  if (!addr) {
    return fail(col, "invalid IP address " + quoted(host) +
                         (bracketed ? "; expected an IPv6 address or network in brackets"
                                    : "; expected an IPv4 or IPv6 address"));
  }
  if (bracketed && addr->type != Address::Type::kIPv6) {
    return fail(col, "IPv4 address in brackets; expected brackets only around IPv6");
  }
  const unsigned max = addr->type == Address::Type::kIPv4 ? kIPv4Bits : kIPv6Bits;
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const std::uint32_t pcol = col + static_cast<std::uint32_t>(slash + 1);
    unsigned value = 0;
    bool good = !digits.empty() && digits.size() <= 3;
    for (char c : digits) {
      good = good && isDigit(c);
      if (good) {
        value = value * 10 + static_cast<unsigned>(c - '0');
      }
    }
    if (!good || value > max) {
      return fail(pcol, "invalid prefix length " + quoted(digits) + "; expected 0 to " +
                            std::to_string(max));
    }
    prefix = value;
  }
  m.kind = Match::Kind::kNetwork;
  m.family = addr->type;
  m.prefix = static_cast<std::uint8_t>(prefix);
  m.network = addr->ip;
  bool host_bits = false;
  for (unsigned bit = prefix; bit < max; ++bit) {
    const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    if ((m.network[bit / 8] & mask) != 0) {
      host_bits = true;
      m.network[bit / 8] = static_cast<std::uint8_t>(m.network[bit / 8] & ~mask);
    }
  }
  if (host_bits) {
    warn(line_, col, quoted(text) + " has host bits set; it stands for " +
                         policy::networkText(m) + " (write that)");
  }
  return true;
}

bool Parser::parseMatch(Token tok, Match& m) {
  const std::string_view t = tok.text;
  const std::uint32_t col = tok.col;
  m.pos = SourcePos{line_, col};
  if (t == "*") {
    return true;
  }
  if (t.starts_with(":") && !t.starts_with("::")) {
    return parsePorts(t.substr(1), col + 1, m);
  }
  if (t.starts_with("*:")) {
    return parsePorts(t.substr(2), col + 2, m);
  }
  if (t.starts_with("*.")) {
    const std::size_t colon = t.find(':');
    const std::string_view domain = t.substr(2, colon == std::string_view::npos ? colon : colon - 2);
    if (!policy::canonicalHostName(domain, m.name) || domain.ends_with(".")) {
      return fail(col + 2, "invalid domain " + quoted(domain) +
                               " after '*.'; expected a name like corp.example");
    }
    m.kind = Match::Kind::kWildcard;
    return colon == std::string_view::npos ||
           parsePorts(t.substr(colon + 1), col + static_cast<std::uint32_t>(colon + 1), m);
  }
  if (t.starts_with("*")) {
    return fail(col, "invalid wildcard " + quoted(t) + "; expected '*' alone or '*.DOMAIN'");
  }
  if (t.starts_with("[")) {
    const std::size_t close = t.find(']');
    if (close == std::string_view::npos) {
      return fail(col, "missing ']'; expected [IPv6] or [IPv6/PREFIX]");
    }
    if (!parseNetwork(t.substr(1, close - 1), col + 1, true, m)) {
      return false;
    }
    const std::string_view rest = t.substr(close + 1);
    if (rest.empty()) {
      return true;
    }
    const std::uint32_t rcol = col + static_cast<std::uint32_t>(close + 1);
    if (rest[0] != ':') {
      return fail(rcol, "unexpected " + quoted(rest) + " after ']'; expected ':PORT' or nothing");
    }
    return parsePorts(rest.substr(1), rcol + 1, m);
  }
  const std::size_t colons = static_cast<std::size_t>(std::count(t.begin(), t.end(), ':'));
  if (colons >= 2) {
    return parseNetwork(t, col, false, m);  // IPv6 without brackets: no port
  }
  const std::size_t colon = t.find(':');
  const std::string_view host = t.substr(0, colon);
  if (host.empty()) {
    return fail(col, "missing destination; expected *, a network, a host name or *.DOMAIN");
  }
  const bool numeric_like = std::all_of(host.begin(), host.end(), [](char c) {
    return isDigit(c) || c == '.' || c == '/';
  });
  if (host.find('/') != std::string_view::npos || numeric_like) {
    if (!parseNetwork(host, col, false, m)) {
      return false;
    }
  } else if (!policy::canonicalHostName(host, m.name)) {
    return fail(col, "invalid host name " + quoted(host) +
                         "; expected letters, digits, '-', '_' and dots, or *.DOMAIN");
  } else {
    m.kind = Match::Kind::kHost;
  }
  return colon == std::string_view::npos ||
         parsePorts(t.substr(colon + 1), col + static_cast<std::uint32_t>(colon + 1), m);
}

bool Parser::parseRoute(Cursor& cur, std::uint32_t route_col) {
  Route route;
  route.pos = SourcePos{line_, route_col};
  // MATCH[, MATCH...]
  for (;;) {
    const Token tok = cur.until(",|>", true);
    if (tok.empty()) {
      return fail(tok.col, route.matches.empty()
                               ? "missing destination; expected 'route MATCH[, MATCH...] -> "
                                 "TARGET'"
                               : "missing destination after ','; expected *, a network, a "
                                 "host name, *.DOMAIN or :PORT");
    }
    Match m;
    if (!parseMatch(tok, m)) {
      return false;
    }
    route.matches.push_back(std::move(m));
    cur.skipBlanks();
    if (cur.peek() == ',') {
      cur.advance(1);
      continue;
    }
    break;
  }
  if (cur.end() || !cur.startsWith("->")) {
    return fail(cur.col(), "expected ',' and another destination, or '->' and a target");
  }
  cur.advance(2);
  // TARGET [| TARGET...], each a chain HOP [> HOP...]
  std::vector<PendingChain> alternatives;
  for (;;) {
    PendingChain chain;
    for (;;) {
      const Token hop = cur.until(",|>", false);
      if (hop.empty()) {
        return fail(hop.col, chain.empty() && alternatives.empty()
                                 ? "missing target; expected direct, block or proxy names "
                                   "after '->'"
                                 : "missing target; expected a proxy name, direct or block");
      }
      PendingHop ph;
      ph.token = hop;
      ph.line = line_;
      if (hop.text.find("://") != std::string_view::npos) {
        auto url = parseProxyUrl(hop.text);
        if (!url.ok()) {
          return fail(hop.col + url.status().column() - 1,
                      std::string("invalid proxy URL; ") + url.status().reason());
        }
        ph.is_url = true;
        ph.url = std::move(url).value();
      }
      const bool special = hop.text == "direct" || hop.text == "block";
      cur.skipBlanks();
      const bool more = cur.peek() == '>';
      if (special && (more || !chain.empty())) {
        return fail(hop.col, quoted(hop.text) +
                                 " cannot be part of a chain; expected proxy names joined by '>'");
      }
      if (chain.size() >= Config::kMaxHops) {
        return fail(hop.col, "chain longer than " + std::to_string(Config::kMaxHops) +
                                 " proxies; expected at most " +
                                 std::to_string(Config::kMaxHops));
      }
      chain.push_back(std::move(ph));
      if (!more) {
        break;
      }
      cur.advance(1);
    }
    alternatives.push_back(std::move(chain));
    cur.skipBlanks();
    if (cur.peek() == '|') {
      cur.advance(1);
      continue;
    }
    break;
  }
  // [dns MODE]
  if (!cur.end()) {
    const Token opt = cur.word();
    if (opt.text != "dns") {
      return fail(opt.col, "unexpected " + quoted(opt.text) +
                               "; expected '>' and a proxy, '|' and another target, "
                               "'dns MODE' or the end of the line");
    }
    const Token mode = cur.word();
    if (mode.text == "remote") {
      route.dns = DnsMode::kRemote;
    } else if (mode.text == "local") {
      route.dns = DnsMode::kLocal;
    } else if (mode.text == "system") {
      route.dns = DnsMode::kSystem;
    } else {
      return fail(mode.col, (mode.empty() ? std::string("missing DNS mode")
                                          : "unknown DNS mode " + quoted(mode.text)) +
                                "; expected remote, local or system");
    }
    if (!expectEnd(cur)) {
      return false;
    }
  }
  config_.routes.push_back(std::move(route));
  pending_.push_back(std::move(alternatives));
  return true;
}

std::string Parser::knownProxies() const {
  std::string names;
  std::size_t listed = 0;
  for (const ProxyDef& p : config_.proxies) {
    if (p.name.empty()) {
      continue;
    }
    if (listed == kMaxListedNames) {
      names += ", ...";
      break;
    }
    names += (listed++ == 0 ? "" : ", ") + p.name;
  }
  return names;
}

bool Parser::resolveHops() {
  const std::size_t named = config_.proxies.size();
  for (std::size_t r = 0; r < pending_.size(); ++r) {
    for (const PendingChain& chain : pending_[r]) {
      Target target;
      for (const PendingHop& hop : chain) {
        if (hop.token.text == "direct") {
          target.kind = Target::Kind::kDirect;
          continue;
        }
        if (hop.token.text == "block") {
          target.kind = Target::Kind::kBlock;
          continue;
        }
        target.kind = Target::Kind::kChain;
        if (hop.is_url) {
          ProxyDef def;
          def.url = hop.url;
          def.password_in_url = hop.url.has_password;
          def.pos = SourcePos{hop.line, hop.token.col};
          target.hops.push_back(static_cast<std::uint32_t>(config_.proxies.size()));
          config_.proxies.push_back(std::move(def));
          continue;
        }
        std::size_t index = named;
        for (std::size_t i = 0; i < named; ++i) {
          if (config_.proxies[i].name == hop.token.text) {
            index = i;
            break;
          }
        }
        if (index == named) {
          line_ = hop.line;
          const std::string known = knownProxies();
          return fail(hop.token.col,
                      "unknown proxy " + quoted(hop.token.text) +
                          (known.empty() ? "; expected a name defined by 'proxy' (there is "
                                           "none), an inline URL, or direct/block"
                                         : "; expected a name defined by 'proxy' (" + known +
                                               ") or direct/block"));
        }
        target.hops.push_back(static_cast<std::uint32_t>(index));
      }
      config_.routes[r].alternatives.push_back(std::move(target));
    }
  }
  return true;
}

// Whether a match could take a loopback destination although a `*` before it
// does not (see router.h: loopback needs a match that names it).
bool namesLoopback(const Match& m) {
  switch (m.kind) {
    case Match::Kind::kAny:
      return false;
    case Match::Kind::kHost:
    case Match::Kind::kWildcard:
      return m.name == "localhost" || m.name.ends_with(".localhost");
    case Match::Kind::kNetwork:
      break;
  }
  if (m.family == Address::Type::kIPv4) {
    return m.prefix == 0 || (m.network[0] == kLoopbackNet) ||
           (m.prefix < 8 && ((m.network[0] ^ kLoopbackNet) >> (8 - m.prefix)) == 0);
  }
  return true;  // IPv6: ::1 and ::ffff:127.x are too many cases to be sure; no warning
}

void Parser::warnUnreachable() {
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t catch_all = kNone;
  for (std::size_t r = 0; r < config_.routes.size(); ++r) {
    const Route& route = config_.routes[r];
    if (catch_all != kNone) {
      const bool loopback = std::any_of(route.matches.begin(), route.matches.end(), namesLoopback);
      if (!loopback) {
        warn(route.pos.line, route.pos.column,
             "this route can never match: the route at line " +
                 std::to_string(config_.routes[catch_all].pos.line) +
                 " matches every destination first; expected it before that route");
      }
      continue;
    }
    for (const Match& m : route.matches) {
      if (m.kind == Match::Kind::kAny && m.anyPort()) {
        catch_all = r;
      }
    }
  }
}

bool Parser::once(std::string_view keyword, Token key) {
  for (const auto& [k, line] : seen_settings_) {
    if (k == keyword) {
      return fail(key.col, "duplicate setting " + quoted(keyword) + " (first set at line " +
                               std::to_string(line) + "); expected each setting once");
    }
  }
  seen_settings_.emplace_back(std::string(keyword), line_);
  return true;
}

bool Parser::parseTimeout(Token value) {
  const std::string_view t = value.text;
  const std::string bad = "invalid timeout " + quoted(t) +
                          "; expected seconds such as 10, 2.5, 10s or 500ms";
  std::size_t i = 0;
  std::uint64_t whole = 0;
  std::size_t whole_digits = 0;
  while (i < t.size() && isDigit(t[i])) {
    if (++whole_digits > 9) {
      return fail(value.col, "timeout out of range; expected 1ms to 86400s");
    }
    whole = whole * 10 + static_cast<std::uint64_t>(t[i++] - '0');
  }
  std::uint64_t frac_micro = 0;  // the fraction in millionths
  std::size_t frac_digits = 0;
  if (i < t.size() && t[i] == '.') {
    ++i;
    std::uint64_t scale = 100000;
    while (i < t.size() && isDigit(t[i])) {
      frac_micro += static_cast<std::uint64_t>(t[i++] - '0') * scale;
      scale /= 10;
      ++frac_digits;
    }
    if (frac_digits == 0) {
      return fail(value.col, bad);
    }
  }
  if (whole_digits == 0 && frac_digits == 0) {
    return fail(value.col, bad);
  }
  const std::string_view unit = t.substr(i);
  std::uint64_t ms = 0;
  if (unit.empty() || unit == "s") {
    ms = whole * 1000 + (frac_micro + 500) / 1000;
  } else if (unit == "ms") {
    ms = whole + (frac_micro + 500000) / 1000000;
  } else {
    return fail(value.col + static_cast<std::uint32_t>(i),
                "unknown unit " + quoted(unit) + " in the timeout; expected s or ms");
  }
  if (ms == 0 || ms > kMaxTimeoutMs) {
    return fail(value.col, "timeout out of range; expected 1ms to 86400s");
  }
  config_.connect_timeout = std::chrono::milliseconds(ms);
  return true;
}

bool Parser::parseSetting(std::string_view k, Token key, Cursor& cur) {
  if (!once(k, key)) {
    return false;
  }
  const Token value = cur.word();
  const auto choose = [&](std::initializer_list<std::string_view> allowed, std::size_t& index,
                          const char* what) {
    index = 0;
    for (std::string_view a : allowed) {
      if (value.text == a) {
        return true;
      }
      ++index;
    }
    std::string list;
    std::size_t n = 0;
    for (std::string_view a : allowed) {
      list += (n == 0 ? "" : (n + 1 == allowed.size() ? " or " : ", "));
      list += a;
      ++n;
    }
    return fail(value.col, (value.empty() ? std::string("missing ") + what
                                          : std::string("unknown ") + what + " " +
                                                quoted(value.text)) +
                               "; expected " + list);
  };
  std::size_t i = 0;
  if (k == "timeout") {
    if (value.empty()) {
      return fail(value.col, "missing timeout; expected seconds such as 10, 2.5, 10s or 500ms");
    }
    if (!parseTimeout(value)) {
      return false;
    }
  } else if (k == "dns") {
    if (!choose({"remote", "local", "system"}, i, "DNS mode")) {
      return false;
    }
    config_.dns = static_cast<DnsMode>(i);
  } else if (k == "bind") {
    if (!choose({"auto", "all", "off"}, i, "bind mode")) {
      return false;
    }
    config_.bind = static_cast<BindMode>(i);
  } else if (k == "udp") {
    if (!choose({"on", "off"}, i, "udp setting")) {
      return false;
    }
    config_.udp = i == 0;
  } else if (k == "log") {
    if (!choose({"quiet", "error", "warn", "info", "debug"}, i, "log level")) {
      return false;
    }
    config_.log_level = static_cast<log::Level>(i);
  } else {  // log-to
    if (!choose({"stderr", "syslog", "file"}, i, "log destination")) {
      return false;
    }
    config_.log_to = static_cast<LogTarget>(i);
    if (config_.log_to == LogTarget::kFile) {
      const Token path = cur.word();
      if (path.empty()) {
        return fail(path.col, "missing path; expected 'log-to file PATH'");
      }
      config_.log_file = std::string(path.text);
    }
  }
  return expectEnd(cur);
}

bool Parser::parseExclude(Cursor& cur) {
  if (cur.end()) {
    return fail(cur.col(), "missing program name; expected 'exclude NAME...'");
  }
  while (!cur.end()) {
    const Token name = cur.word();
    if (name.text.find('/') != std::string_view::npos) {
      return fail(name.col, "path " + quoted(name.text) +
                                " in exclude; expected an executable name without '/'");
    }
    config_.excludes.emplace_back(name.text);
  }
  return true;
}

}  // namespace

ConfigResult<Config> parseConfig(std::string_view text, std::string_view file) {
  try {
    Parser parser(file);
    return parser.run(text);
  } catch (...) {  // std::bad_alloc: nothing else throws here
    return Diagnostic{std::string(file), 0, 0, "out of memory while parsing"};
  }
}

}  // namespace socks
