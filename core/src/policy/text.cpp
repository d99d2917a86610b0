// text.cpp — shared text helpers of the policy layer.
#include "policy/text.h"

#include <arpa/inet.h>

namespace socks::policy {
namespace {

constexpr std::size_t kMaxQuoted = 48;
constexpr std::size_t kMaxHostName = 253;  // RFC 1035 §2.3.4, without the root dot
constexpr std::size_t kMaxLabel = 63;
constexpr std::uint32_t kMaxPort = 65535;

}  // namespace

std::string urlText(const ProxyUrl& url, bool with_password) {
  std::string out = schemeName(url.kind);
  out += "://";
  if (url.has_user) {
    ascii::percentEncode(url.user, out);
    if (url.has_password) {
      out += ':';
      if (with_password) {
        ascii::percentEncode(url.password, out);
      } else {
        out += "***";
      }
    }
    out += '@';
  }
  if (url.host.find(':') != std::string::npos) {
    out += '[' + url.host + ']';
  } else {
    out += url.host;
  }
  out += ':';
  out += std::to_string(url.port);
  return out;
}

std::string quoted(std::string_view token) {
  std::string out = "'";
  for (std::size_t i = 0; i < token.size() && i < kMaxQuoted; ++i) {
    const char c = token[i];
    out.push_back(c > ' ' && c < 0x7f ? c : '?');
  }
  if (token.size() > kMaxQuoted) {
    out += "...";
  }
  out += "'";
  return out;
}

std::string networkText(const Match& m) {
  char buf[INET6_ADDRSTRLEN] = "";
  const int af = m.family == Address::Type::kIPv4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, m.network.data(), buf, sizeof buf) == nullptr) {
    buf[0] = '\0';
  }
  return std::string(buf) + "/" + std::to_string(m.prefix);
}

std::string matchText(const Match& m) {
  std::string out;
  switch (m.kind) {
    case Match::Kind::kAny:
      out = m.anyPort() ? "*" : "";
      break;
    case Match::Kind::kNetwork:
      out = m.family == Address::Type::kIPv6 ? "[" + networkText(m) + "]" : networkText(m);
      break;
    case Match::Kind::kHost:
      out = m.name;
      break;
    case Match::Kind::kWildcard:
      out = "*." + m.name;
      break;
  }
  if (!m.anyPort()) {
    out += ':' + std::to_string(m.port_low);
    if (m.port_high != m.port_low) {
      out += '-' + std::to_string(m.port_high);
    }
  }
  return out;
}

namespace {

bool parseOnePort(std::string_view text, std::uint16_t& port) {
  if (text.empty() || text.size() > 5) {
    return false;
  }
  std::uint32_t value = 0;
  for (char c : text) {
    if (!isDigit(c)) {
      return false;
    }
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value == 0 || value > kMaxPort) {
    return false;
  }
  port = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace

bool parsePortSpec(std::string_view text, std::uint16_t& low, std::uint16_t& high,
                   std::size_t& err_offset, std::string& message) {
  if (text.empty()) {
    err_offset = 0;
    message = "missing port; expected PORT or LOW-HIGH after ':'";
    return false;
  }
  const std::size_t dash = text.find('-');
  const std::string_view first = text.substr(0, dash);
  if (!parseOnePort(first, low)) {
    err_offset = 0;
    message = "invalid port " + quoted(first) + "; expected a number from 1 to 65535";
    return false;
  }
  if (dash == std::string_view::npos) {
    high = low;
    return true;
  }
  const std::string_view second = text.substr(dash + 1);
  if (!parseOnePort(second, high)) {
    err_offset = dash + 1;
    message = "invalid port " + quoted(second) + "; expected a number from 1 to 65535";
    return false;
  }
  if (low > high) {
    err_offset = 0;
    message = "empty port range " + quoted(text) + "; expected LOW-HIGH with LOW <= HIGH";
    return false;
  }
  return true;
}

bool canonicalHostName(std::string_view text, std::string& out) {
  if (!text.empty() && text.back() == '.') {
    text.remove_suffix(1);
  }
  if (text.empty() || text.size() > kMaxHostName) {
    return false;
  }
  std::size_t label = 0;
  for (char c : text) {
    if (c == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
      continue;
    }
    if (!(isAlpha(c) || isDigit(c) || c == '-' || c == '_')) {
      return false;
    }
    if (++label > kMaxLabel) {
      return false;
    }
  }
  if (label == 0) {
    return false;
  }
  out = ascii::canonicalHostName(text);
  return true;
}

}  // namespace socks::policy
