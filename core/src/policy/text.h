// policy/text.h — small text helpers shared by the policy sources (internal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/ascii.h"
#include "socks/config.h"
#include "socks/proxy.h"

namespace socks::policy {

using ascii::equalsIgnoreCase;
inline bool isDigit(char c) { return c >= '0' && c <= '9'; }
inline bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool isBlank(char c) { return c == ' ' || c == '\t'; }

// scheme://[user[:password]@]host:port with user and password percent-encoded;
// the password only when with_password (else ":***" when there is one).
std::string urlText(const ProxyUrl& url, bool with_password);

// A token quoted for a message: printable ASCII only, cut at 48 bytes.
std::string quoted(std::string_view token);

// "1.2.3.0/24", "2001:db8::/32" (no brackets).
std::string networkText(const Match& m);
// The match as socks.conf writes it ("*.corp.example:443", "[::1/128]").
std::string matchText(const Match& m);

// "direct", "block", "a > b" (inline proxies as URLs, with their password only
// when with_password and it was written in the URL).
std::string targetText(const Config& config, const Target& t, bool with_password);

// Parses PORT or LOW-HIGH (1..65535). On error returns false and sets
// `err_offset` (into text) and `message`.
bool parsePortSpec(std::string_view text, std::uint16_t& low, std::uint16_t& high,
                   std::size_t& err_offset, std::string& message);

// A host name: labels of letters, digits, '-' and '_' separated by dots; at
// most 253 bytes without the one trailing dot allowed. On success `out` is the
// canonical form (lower case, no trailing dot).
bool canonicalHostName(std::string_view text, std::string& out);

}  // namespace socks::policy
