// socks/proxy.h — proxy URLs as curl writes them, and a hop of a chain.
//
//   socks4://host[:port]            SOCKS4; names are resolved locally
//   socks4a://[user@]host[:port]    SOCKS4a; names are sent to the proxy
//   socks5://[user[:pass]@]host[:port]   SOCKS5; names resolved locally
//   socks5h://[user[:pass]@]host[:port]  SOCKS5; names sent to the proxy
//
// user and password are percent-decoded; an IPv6 host is written in brackets;
// the port defaults to 1080. For SOCKS4/4a the user becomes the USERID.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "socks/address.h"
#include "socks/status.h"

namespace socks {

enum class ProxyKind : std::uint8_t { kSocks4, kSocks4a, kSocks5, kSocks5h };

const char* schemeName(ProxyKind kind);  // "socks4", "socks4a", "socks5", "socks5h"
// Whether the proxy is sent host names (4a, 5h) rather than addresses.
inline bool resolvesRemotely(ProxyKind kind) {
  return kind == ProxyKind::kSocks4a || kind == ProxyKind::kSocks5h;
}
inline bool isSocks5(ProxyKind kind) {
  return kind == ProxyKind::kSocks5 || kind == ProxyKind::kSocks5h;
}

struct ProxyUrl {
  ProxyKind kind = ProxyKind::kSocks5;
  std::string host;  // without brackets
  std::uint16_t port = 1080;
  std::string user;      // decoded
  std::string password;  // decoded
  bool has_user = false;
  bool has_password = false;

  // "socks5h://alice:***@proxy:1080": never the password.
  std::string redacted() const;
};

// Errors are Status::at(column, reason) with a 1-based column into `text`.
Result<ProxyUrl> parseProxyUrl(std::string_view text);
// "URL[,URL...]" — a chain, first hop first. Columns count from the start of
// the whole list.
Result<std::vector<ProxyUrl>> parseProxyList(std::string_view text);

// One hop of a chain, ready to use: the proxy's address is numeric.
struct Hop {
  ProxyKind kind = ProxyKind::kSocks5;
  Address addr;  // IPv4 or IPv6
  std::string user;
  std::string password;
  bool has_credentials = false;
  std::string label;  // ProxyUrl::redacted(), for logs
};

}  // namespace socks
