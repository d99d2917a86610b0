// proxy.cpp — curl-style SOCKS proxy URLs.
//
//   scheme "://" [ user [ ":" password ] "@" ] host [ ":" port ] [ "/" ]
//
// scheme is socks4, socks4a, socks5 or socks5h in any case; user and password
// are percent-decoded (RFC 3986 §2.1); host is a name, an IPv4 literal or an
// IPv6 literal in brackets; port is 1..65535 (default 1080). Every error is
// Status::at(column, "expected ...") with the 1-based column of the offending
// character in the text given to the parser.
#include "socks/proxy.h"

#include "proto/ascii.h"

#include <array>
#include <cstddef>

namespace socks {
namespace {

constexpr std::string_view kSchemeSep = "://";
constexpr std::uint16_t kDefaultPort = 1080;
constexpr std::uint32_t kMaxPort = 65535;
constexpr std::size_t kMaxCredential = 255;  // RFC 1929 §2 / our USERID limit
constexpr std::size_t kMaxHost = 255;
constexpr unsigned char kDelete = 0x7f;

struct SchemeEntry {
  std::string_view name;
  ProxyKind kind;
};
constexpr std::array<SchemeEntry, 4> kSchemes = {{
    {"socks4", ProxyKind::kSocks4},
    {"socks4a", ProxyKind::kSocks4a},
    {"socks5", ProxyKind::kSocks5},
    {"socks5h", ProxyKind::kSocks5h},
}};

using ascii::equalsIgnoreCase;

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = ascii::lower(c);
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

bool isHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c == '-' || c == '.' ||
         c == '_';
}

// 1-based column of text[offset].
std::uint32_t col(std::size_t offset) {
  return static_cast<std::uint32_t>(offset + 1);
}

// Percent-decodes text (which starts at `offset` in the URL) into out.
Status percentDecode(std::string_view text, std::size_t offset, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte <= ' ' || byte == kDelete) {
      return Status::at(col(offset + i),
                        "expected no blank or control character (percent-encode it)");
    }
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const int hi = i + 1 < text.size() ? hexValue(text[i + 1]) : -1;
    const int lo = i + 2 < text.size() ? hexValue(text[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return Status::at(col(offset + i), "expected two hex digits after '%'");
    }
    const char decoded = static_cast<char>(hi * 16 + lo);
    if (decoded == '\0') {
      return Status::at(col(offset + i), "expected no NUL byte (%00) in a user name or password");
    }
    out.push_back(decoded);
    i += 2;
  }
  return Status();
}


// user[:password], starting at `offset`.
Status parseUserInfo(std::string_view info, std::size_t offset, ProxyUrl& url) {
  const std::size_t colon = info.find(':');
  const std::string_view user = info.substr(0, colon);
  if (user.empty()) {
    return Status::at(col(offset), "expected a user name before '@'");
  }
  if (Status s = percentDecode(user, offset, url.user); !s.ok()) {
    return s;
  }
  if (url.user.size() > kMaxCredential) {
    return Status::at(col(offset), "expected a user name of at most 255 bytes");
  }
  url.has_user = true;
  if (colon == std::string_view::npos) {
    return Status();
  }
  const std::size_t pass_offset = offset + colon + 1;
  if (!isSocks5(url.kind)) {
    return Status::at(col(offset + colon), "expected no password: SOCKS4 sends only a user id");
  }
  const std::string_view password = info.substr(colon + 1);
  if (password.empty()) {
    return Status::at(col(pass_offset), "expected a password after ':'");
  }
  if (Status s = percentDecode(password, pass_offset, url.password); !s.ok()) {
    return s;
  }
  if (url.password.size() > kMaxCredential) {
    return Status::at(col(pass_offset), "expected a password of at most 255 bytes");
  }
  url.has_password = true;
  return Status();
}

// ":port" digits starting at `offset` (just after the ':').
Status parsePort(std::string_view digits, std::size_t offset, std::uint16_t& port) {
  if (digits.empty()) {
    return Status::at(col(offset), "expected a port number after ':'");
  }
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (!isDigit(digits[i])) {
      return Status::at(col(offset + i), "expected a port number (digits only)");
    }
    value = value * 10 + static_cast<std::uint32_t>(digits[i] - '0');
    if (value > kMaxPort) {
      return Status::at(col(offset), "expected a port number from 1 to 65535");
    }
  }
  if (value == 0) {
    return Status::at(col(offset), "expected a port number from 1 to 65535");
  }
  port = static_cast<std::uint16_t>(value);
  return Status();
}

// host[:port], starting at `offset`.
Status parseHostPort(std::string_view hp, std::size_t offset, ProxyUrl& url) {
  std::size_t port_sep;  // index of the ':' before the port, or npos
  if (!hp.empty() && hp.front() == '[') {
    const std::size_t close = hp.find(']');
    if (close == std::string_view::npos) {
      return Status::at(col(offset), "expected ']' to close the IPv6 address");
    }
    const std::string_view literal = hp.substr(1, close - 1);
    auto addr = Address::parseNumeric(literal, 0);
    if (!addr || addr->type != Address::Type::kIPv6) {
      return Status::at(col(offset + 1), "expected an IPv6 address inside the brackets");
    }
    url.host = std::string(literal);
    const std::size_t after = close + 1;
    if (after < hp.size() && hp[after] != ':') {
      return Status::at(col(offset + after), "expected ':' and a port after ']'");
    }
    port_sep = after < hp.size() ? after : std::string_view::npos;
  } else {
    port_sep = hp.find(':');
    const std::string_view host = hp.substr(0, port_sep);
    if (host.empty()) {
      return Status::at(col(offset), "expected a host name");
    }
    for (std::size_t i = 0; i < host.size(); ++i) {
      if (!isHostChar(host[i])) {
        return Status::at(col(offset + i), "expected a host name, an IPv4 address or [IPv6]");
      }
    }
    if (host.size() > kMaxHost) {
      return Status::at(col(offset), "expected a host name of at most 255 bytes");
    }
    url.host = std::string(host);
  }
  url.port = kDefaultPort;
  if (port_sep == std::string_view::npos) {
    return Status();
  }
  return parsePort(hp.substr(port_sep + 1), offset + port_sep + 1, url.port);
}

}  // namespace

const char* schemeName(ProxyKind kind) {
  for (const SchemeEntry& e : kSchemes) {
    if (e.kind == kind) {
      return e.name.data();  // the literals are NUL-terminated
    }
  }
  return "socks?";
}

std::string ProxyUrl::redacted() const {
  std::string out = schemeName(kind);
  out += "://";
  if (has_user) {
    ascii::percentEncode(user, out);
    if (has_password) {
      out += ":***";
    }
    out += '@';
  }
  const bool v6 = host.find(':') != std::string::npos;
  if (v6) {
    out += '[';
  }
  out += host;
  if (v6) {
    out += ']';
  }
  out += ':';
  out += std::to_string(port);
  return out;
}

Result<ProxyUrl> parseProxyUrl(std::string_view text) {
  ProxyUrl url;
  const std::size_t sep = text.find(kSchemeSep);
  if (sep == std::string_view::npos) {
    return Status::at(1, "expected a scheme: socks4://, socks4a://, socks5:// or socks5h://");
  }
  const std::string_view scheme = text.substr(0, sep);
  bool known = false;
  for (const SchemeEntry& e : kSchemes) {
    if (equalsIgnoreCase(scheme, e.name)) {
      url.kind = e.kind;
      known = true;
    }
  }
  if (!known) {
    return Status::at(1, "expected scheme socks4, socks4a, socks5 or socks5h");
  }

  const std::size_t auth_begin = sep + kSchemeSep.size();
  // The authority ends at the first '/', '?' or '#'; after it only one
  // trailing '/' is allowed.
  std::size_t auth_end = text.find_first_of("/?#", auth_begin);
  if (auth_end == std::string_view::npos) {
    auth_end = text.size();
  } else if (!(text[auth_end] == '/' && auth_end + 1 == text.size())) {
    const std::size_t bad = text[auth_end] == '/' ? auth_end + 1 : auth_end;
    return Status::at(col(bad), "expected the end of the URL: no path, query or fragment");
  }
  const std::string_view authority = text.substr(auth_begin, auth_end - auth_begin);

  std::size_t host_begin = 0;
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    if (Status s = parseUserInfo(authority.substr(0, at), auth_begin, url); !s.ok()) {
      return s;
    }
    host_begin = at + 1;
  }
  if (Status s = parseHostPort(authority.substr(host_begin), auth_begin + host_begin, url);
      !s.ok()) {
    return s;
  }
  return url;
}

Result<std::vector<ProxyUrl>> parseProxyList(std::string_view text) {
  std::vector<ProxyUrl> chain;
  std::size_t begin = 0;
  // Each pass consumes one element and its ',' : at most text.size() + 1 passes.
  for (;;) {
    std::size_t end = text.find(',', begin);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    // Blanks around an element are allowed ("socks5://a, socks5://b").
    std::size_t first = begin;
    std::size_t last = end;
    while (first < last && (text[first] == ' ' || text[first] == '\t')) {
      ++first;
    }
    while (last > first && (text[last - 1] == ' ' || text[last - 1] == '\t')) {
      --last;
    }
    if (first == last) {
      return Status::at(col(first), "expected a proxy URL");
    }
    auto url = parseProxyUrl(text.substr(first, last - first));
    if (!url.ok()) {
      return Status::at(url.status().column() + static_cast<std::uint32_t>(first),
                        url.status().reason());
    }
    chain.push_back(std::move(url).value());
    if (end == text.size()) {
      break;
    }
    begin = end + 1;
  }
  return chain;
}

}  // namespace socks
