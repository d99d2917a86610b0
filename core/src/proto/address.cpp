// address.cpp — socks::Address: construction, sockaddr conversion, formatting.
//
// Everything here except toString()/hostString() is allocation-free, so the
// shim may call it on any path (including before its own initialisation).
#include "socks/address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "proto/text_sink.h"

namespace socks {
namespace {

using detail::TextSink;

constexpr std::size_t kIPv4Len = 4;
constexpr std::size_t kIPv6Len = 16;
// ::ffff:0:0/96 — the IPv4-mapped prefix (RFC 4291 §2.5.5.2).
constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
constexpr std::uint8_t kLoopbackNet = 127;
// Longest literal parseNumeric() looks at: an IPv6 text form plus brackets.
constexpr std::size_t kMaxNumericText = INET6_ADDRSTRLEN + 2;

bool isMapped(const Address& a) {
  return a.type == Address::Type::kIPv6 &&
         std::memcmp(a.ip.data(), kMappedPrefix, sizeof(kMappedPrefix)) == 0;
}

// Writes the host part. Domain bytes outside printable ASCII are shown as '?'
// so a hostile name cannot inject control characters into a log line.
void formatHost(const Address& a, TextSink& sink) {
  char text[INET6_ADDRSTRLEN];
  switch (a.type) {
    case Address::Type::kIPv4:
      if (inet_ntop(AF_INET, a.ip.data(), text, sizeof(text)) != nullptr) {
        sink.put(std::string_view(text));
      }
      return;
    case Address::Type::kIPv6:
      if (inet_ntop(AF_INET6, a.ip.data(), text, sizeof(text)) != nullptr) {
        sink.put(std::string_view(text));
      }
      return;
    case Address::Type::kDomain:
      for (char c : a.domainView()) {
        const bool printable = c > ' ' && c < 0x7f;
        sink.put(printable ? c : '?');
      }
      return;
    case Address::Type::kNone:
      sink.put("(none)");
      return;
  }
}

}  // namespace

Address Address::ipv4(const std::uint8_t (&octets)[4], std::uint16_t port) {
  Address a;
  a.type = Type::kIPv4;
  std::copy(octets, octets + kIPv4Len, a.ip.begin());
  a.port = port;
  return a;
}

Address Address::ipv4(std::uint32_t host_order_addr, std::uint16_t port) {
  const std::uint8_t octets[4] = {static_cast<std::uint8_t>(host_order_addr >> 24),
                                  static_cast<std::uint8_t>(host_order_addr >> 16),
                                  static_cast<std::uint8_t>(host_order_addr >> 8),
                                  static_cast<std::uint8_t>(host_order_addr)};
  return ipv4(octets, port);
}

Address Address::ipv6(const std::uint8_t (&octets)[16], std::uint16_t port) {
  Address a;
  a.type = Type::kIPv6;
  std::copy(octets, octets + kIPv6Len, a.ip.begin());
  a.port = port;
  return a;
}

Result<Address> Address::domainName(std::string_view name, std::uint16_t port) {
  if (name.empty()) {
    return Status(Errc::kInvalidArgument, "empty host name");
  }
  if (name.size() > kMaxDomain) {
    return Status(Errc::kInvalidArgument, "host name longer than 255 bytes");
  }
  if (name.find('\0') != std::string_view::npos) {
    return Status(Errc::kInvalidArgument, "host name contains a NUL byte");
  }
  Address a;
  a.type = Type::kDomain;
  std::copy(name.begin(), name.end(), a.domain.begin());
  a.domain_len = static_cast<std::uint8_t>(name.size());
  a.port = port;
  return a;
}

std::optional<Address> Address::parseNumeric(std::string_view text, std::uint16_t port) {
  bool bracketed = false;
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
    bracketed = true;
  }
  if (text.empty() || text.size() >= kMaxNumericText) {
    return std::nullopt;
  }
  char buf[kMaxNumericText];
  std::copy(text.begin(), text.end(), buf);
  buf[text.size()] = '\0';
  if (std::strlen(buf) != text.size()) {
    return std::nullopt;  // an embedded NUL
  }
  std::uint8_t bytes[kIPv6Len];
  if (!bracketed && inet_pton(AF_INET, buf, bytes) == 1) {
    std::uint8_t v4[kIPv4Len];
    std::copy(bytes, bytes + kIPv4Len, v4);
    return ipv4(v4, port);
  }
  if (inet_pton(AF_INET6, buf, bytes) == 1) {
    return ipv6(bytes, port);
  }
  return std::nullopt;
}

std::optional<Address> Address::fromSockaddr(const sockaddr* sa, socklen_t len) {
  if (sa == nullptr || len < static_cast<socklen_t>(sizeof(sa_family_t))) {
    return std::nullopt;
  }
  sa_family_t family;
  std::memcpy(&family, reinterpret_cast<const char*>(sa) + offsetof(sockaddr, sa_family),
              sizeof(family));
  if (family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in sin;
    std::memcpy(&sin, sa, sizeof(sin));
    std::uint8_t octets[kIPv4Len];
    std::memcpy(octets, &sin.sin_addr, kIPv4Len);
    return ipv4(octets, ntohs(sin.sin_port));
  }
  if (family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, sa, sizeof(sin6));
    std::uint8_t octets[kIPv6Len];
    std::memcpy(octets, &sin6.sin6_addr, kIPv6Len);
    Address a = ipv6(octets, ntohs(sin6.sin6_port));
    if (isMapped(a)) {
      const std::uint8_t v4[kIPv4Len] = {octets[12], octets[13], octets[14], octets[15]};
      return ipv4(v4, a.port);
    }
    return a;
  }
  return std::nullopt;
}

socklen_t Address::toSockaddr(sockaddr_storage& out, int family) const {
  std::memset(&out, 0, sizeof(out));
  const bool want_v4 = family == AF_INET || (family == AF_UNSPEC && type == Type::kIPv4);
  const bool want_v6 = family == AF_INET6 || (family == AF_UNSPEC && type == Type::kIPv6);
  if (type == Type::kIPv4 && want_v4) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    std::memcpy(&sin.sin_addr, ip.data(), kIPv4Len);
    std::memcpy(&out, &sin, sizeof(sin));
    return sizeof(sin);
  }
  if (type == Type::kIPv4 && want_v6) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    std::uint8_t mapped[kIPv6Len];
    std::memcpy(mapped, kMappedPrefix, sizeof(kMappedPrefix));
    std::memcpy(mapped + sizeof(kMappedPrefix), ip.data(), kIPv4Len);
    std::memcpy(&sin6.sin6_addr, mapped, kIPv6Len);
    std::memcpy(&out, &sin6, sizeof(sin6));
    return sizeof(sin6);
  }
  if (type == Type::kIPv6 && want_v6) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    std::memcpy(&sin6.sin6_addr, ip.data(), kIPv6Len);
    std::memcpy(&out, &sin6, sizeof(sin6));
    return sizeof(sin6);
  }
  if (type == Type::kIPv6 && want_v4 && isMapped(*this)) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    std::memcpy(&sin.sin_addr, ip.data() + sizeof(kMappedPrefix), kIPv4Len);
    std::memcpy(&out, &sin, sizeof(sin));
    return sizeof(sin);
  }
  return 0;
}

bool Address::isLoopback() const {
  if (type == Type::kIPv4) {
    return ip[0] == kLoopbackNet;
  }
  if (type == Type::kIPv6) {
    if (isMapped(*this)) {
      return ip[sizeof(kMappedPrefix)] == kLoopbackNet;
    }
    static constexpr std::uint8_t kLoopback6[kIPv6Len] = {0, 0, 0, 0, 0, 0, 0, 0,
                                                          0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(ip.data(), kLoopback6, kIPv6Len) == 0;
  }
  return false;
}

bool Address::isUnspecified() const {
  const auto zero = [](std::uint8_t b) { return b == 0; };
  if (type == Type::kIPv4) {
    return std::all_of(ip.begin(), ip.begin() + kIPv4Len, zero);
  }
  if (type == Type::kIPv6) {
    return std::all_of(ip.begin(), ip.end(), zero);
  }
  return false;
}

std::size_t Address::format(char* buf, std::size_t len) const {
  TextSink sink(buf, len);
  if (type == Type::kIPv6) {
    sink.put('[');
  }
  formatHost(*this, sink);
  if (type == Type::kIPv6) {
    sink.put(']');
  }
  if (type != Type::kNone) {
    sink.put(':');
    sink.putUnsigned(port);
  }
  return sink.size();
}

std::string Address::toString() const {
  // "[" + 45 + "]:" + 5 digits, or 255 name bytes + ":" + 5 digits.
  char buf[kMaxDomain + 16];
  const std::size_t n = format(buf, sizeof(buf));
  return std::string(buf, n);
}

std::string Address::hostString() const {
  if (type == Type::kDomain) {
    return std::string(domainView());  // raw: callers may resolve it
  }
  char buf[kMaxDomain + 16];
  TextSink sink(buf, sizeof(buf));
  formatHost(*this, sink);
  return std::string(buf, sink.size());
}

bool operator==(const Address& a, const Address& b) {
  if (a.type != b.type || a.port != b.port) {
    return false;
  }
  switch (a.type) {
    case Address::Type::kIPv4:
      return std::equal(a.ip.begin(), a.ip.begin() + kIPv4Len, b.ip.begin());
    case Address::Type::kIPv6:
      return a.ip == b.ip;
    case Address::Type::kDomain:
      return a.domainView() == b.domainView();  // byte-exact, case-sensitive
    case Address::Type::kNone:
      return true;
  }
  return false;
}

}  // namespace socks
