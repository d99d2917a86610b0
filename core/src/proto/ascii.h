// proto/ascii.h — ASCII case folding and the canonical form of host names,
// for every part of core (internal). Host names compare case-insensitively in
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

}  // namespace socks::ascii
