// proto/ascii.h — ASCII case folding, the canonical form of host names and
// URL percent-encoding, for every part of core (internal). Host names compare case-insensitively in
// ASCII only (RFC 4343 §3); the canonical form is lower case without one
// trailing dot ("Example.ORG." -> "example.org").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace socks::ascii {

constexpr char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

inline std::string canonicalHostName(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  std::string out(name);
  for (char& c : out) {
    c = lower(c);
  }
  return out;
}

// RFC 3986 §2.3 unreserved characters: written as they are in a URL.
constexpr bool isUnreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// RFC 3986 §2.1 percent-encoding of everything but unreserved characters,
// appended to out.
inline void percentEncode(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : text) {
    if (isUnreserved(c)) {
      out.push_back(c);
    } else {
      const auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    }
  }
}

}  // namespace socks::ascii
