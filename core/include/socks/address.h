// socks/address.h — a SOCKS destination or bound address: IPv4, IPv6 or a
// domain name, plus a port. Fixed size, no heap, trivially copyable, so the
// codecs and the shim's hot paths can pass it around freely.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "socks/status.h"

namespace socks {

struct Address {
  // The values are the SOCKS5 ATYP bytes (RFC 1928 §4).
  enum class Type : std::uint8_t { kNone = 0, kIPv4 = 1, kDomain = 3, kIPv6 = 4 };

  static constexpr std::size_t kMaxDomain = 255;

  Type type = Type::kNone;
  std::array<std::uint8_t, 16> ip{};  // network byte order; IPv4 uses the first 4
  std::uint8_t domain_len = 0;
  std::array<char, kMaxDomain> domain{};  // not NUL-terminated
  std::uint16_t port = 0;                 // host byte order

  static Address ipv4(const std::uint8_t (&octets)[4], std::uint16_t port);
  static Address ipv4(std::uint32_t host_order_addr, std::uint16_t port);
  static Address ipv6(const std::uint8_t (&octets)[16], std::uint16_t port);
  // Fails with kInvalidArgument for an empty name, one over 255 bytes, or one
  // containing a NUL byte.
  static Result<Address> domainName(std::string_view name, std::uint16_t port);
  // A numeric IPv4/IPv6 literal ("10.0.0.1", "::1", "[::1]"), nothing else.
  static std::optional<Address> parseNumeric(std::string_view text, std::uint16_t port);

  // AF_INET / AF_INET6 only. An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
  // becomes IPv4: that is the destination a proxy must be asked for.
  static std::optional<Address> fromSockaddr(const sockaddr* sa, socklen_t len);
  // Writes an AF_INET/AF_INET6 sockaddr; returns its length, 0 for a domain.
  // With family == AF_INET6 an IPv4 address is written IPv4-mapped.
  socklen_t toSockaddr(sockaddr_storage& out, int family = AF_UNSPEC) const;

  bool isIp() const { return type == Type::kIPv4 || type == Type::kIPv6; }
  bool isLoopback() const;     // 127.0.0.0/8, ::1
  bool isUnspecified() const;  // 0.0.0.0, ::
  std::string_view domainView() const { return {domain.data(), domain_len}; }

  // "1.2.3.4:80", "[2001:db8::1]:443", "example.org:80". format() never
  // allocates and always NUL-terminates; it returns the length written.
  std::size_t format(char* buf, std::size_t len) const;
  std::string toString() const;
  // The host part only ("1.2.3.4", "2001:db8::1", "example.org").
  std::string hostString() const;

  friend bool operator==(const Address& a, const Address& b);
};

}  // namespace socks
