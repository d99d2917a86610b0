// socks::Address: construction, sockaddr round trips, formatting.
#include "socks/address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace socks {
namespace {

sockaddr_in sin4(const char* ip, std::uint16_t port) {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_port = htons(port);
  inet_pton(AF_INET, ip, &s.sin_addr);
  return s;
}

sockaddr_in6 sin6(const char* ip, std::uint16_t port) {
  sockaddr_in6 s{};
  s.sin6_family = AF_INET6;
  s.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &s.sin6_addr);
  return s;
}

Address numeric(const char* text, std::uint16_t port) {
  return *Address::parseNumeric(text, port);
}

TEST(Address, Ipv4Constructors) {
  const std::uint8_t o[4] = {192, 0, 2, 1};
  EXPECT_EQ(Address::ipv4(o, 80), Address::ipv4(0xC0000201u, 80));
  EXPECT_EQ(Address::ipv4(o, 80).toString(), "192.0.2.1:80");
}

TEST(Address, DomainName) {
  auto a = Address::domainName("example.org", 443);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->type, Address::Type::kDomain);
  EXPECT_EQ(a->domainView(), "example.org");
  EXPECT_EQ(a->toString(), "example.org:443");
  EXPECT_EQ(a->hostString(), "example.org");
  EXPECT_TRUE(Address::domainName(std::string(255, 'a'), 1).ok());
  EXPECT_EQ(Address::domainName("", 1).status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(Address::domainName(std::string(256, 'a'), 1).status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(Address::domainName(std::string_view("a\0b", 3), 1).status().code(),
            Errc::kInvalidArgument);
}

TEST(Address, ParseNumeric) {
  EXPECT_EQ(numeric("10.0.0.1", 1).type, Address::Type::kIPv4);
  EXPECT_EQ(numeric("::1", 1).type, Address::Type::kIPv6);
  EXPECT_EQ(numeric("[::1]", 1), numeric("::1", 1));
  EXPECT_EQ(numeric("[2001:db8::1]", 443).toString(), "[2001:db8::1]:443");
  for (const char* bad :
       {"", "[]", "[", "]", "example.org", "1.2.3", "1.2.3.4.5", "256.1.1.1", "[1.2.3.4]", "::1]",
        "[::1", " 1.2.3.4", "1.2.3.4 ", "fe80::1%eth0", "01.2.3.4x"}) {
    EXPECT_FALSE(Address::parseNumeric(bad, 1)) << bad;
  }
  EXPECT_FALSE(Address::parseNumeric(std::string_view("1.2.3.4\0", 8), 1));
  EXPECT_FALSE(Address::parseNumeric(std::string(200, '1'), 1));
}

TEST(Address, FromSockaddr) {
  sockaddr_in s4 = sin4("192.0.2.7", 8080);
  auto a = Address::fromSockaddr(reinterpret_cast<sockaddr*>(&s4), sizeof(s4));
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, numeric("192.0.2.7", 8080));

  sockaddr_in6 s6 = sin6("2001:db8::2", 443);
  a = Address::fromSockaddr(reinterpret_cast<sockaddr*>(&s6), sizeof(s6));
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, numeric("2001:db8::2", 443));

  // ::ffff:a.b.c.d becomes IPv4.
  sockaddr_in6 mapped = sin6("::ffff:198.51.100.9", 25);
  a = Address::fromSockaddr(reinterpret_cast<sockaddr*>(&mapped), sizeof(mapped));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->type, Address::Type::kIPv4);
  EXPECT_EQ(*a, numeric("198.51.100.9", 25));

  // Short lengths, other families, null.
  EXPECT_FALSE(Address::fromSockaddr(reinterpret_cast<sockaddr*>(&s4), sizeof(s4) - 1));
  EXPECT_FALSE(Address::fromSockaddr(reinterpret_cast<sockaddr*>(&s6), sizeof(s6) - 1));
  EXPECT_FALSE(Address::fromSockaddr(nullptr, sizeof(s4)));
  sockaddr_storage unix_sa{};
  unix_sa.ss_family = AF_UNIX;
  EXPECT_FALSE(Address::fromSockaddr(reinterpret_cast<sockaddr*>(&unix_sa), sizeof(unix_sa)));
}

TEST(Address, ToSockaddr) {
  sockaddr_storage ss;
  Address a = numeric("192.0.2.7", 8080);
  ASSERT_EQ(a.toSockaddr(ss), sizeof(sockaddr_in));
  sockaddr_in expect4 = sin4("192.0.2.7", 8080);
  EXPECT_EQ(std::memcmp(&ss, &expect4, sizeof(expect4)), 0);
  ASSERT_EQ(a.toSockaddr(ss, AF_INET), sizeof(sockaddr_in));

  // IPv4 into an AF_INET6 socket: v4-mapped.
  ASSERT_EQ(a.toSockaddr(ss, AF_INET6), sizeof(sockaddr_in6));
  sockaddr_in6 expect_mapped = sin6("::ffff:192.0.2.7", 8080);
  EXPECT_EQ(std::memcmp(&ss, &expect_mapped, sizeof(expect_mapped)), 0);

  Address b = numeric("2001:db8::2", 443);
  ASSERT_EQ(b.toSockaddr(ss), sizeof(sockaddr_in6));
  sockaddr_in6 expect6 = sin6("2001:db8::2", 443);
  EXPECT_EQ(std::memcmp(&ss, &expect6, sizeof(expect6)), 0);
  EXPECT_EQ(b.toSockaddr(ss, AF_INET), 0u);

  EXPECT_EQ(Address::domainName("x", 1)->toSockaddr(ss), 0u);
  EXPECT_EQ(Address().toSockaddr(ss), 0u);

  // Round trip.
  ASSERT_EQ(b.toSockaddr(ss), sizeof(sockaddr_in6));
  EXPECT_EQ(*Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), sizeof(sockaddr_in6)), b);
}

TEST(Address, LoopbackAndUnspecified) {
  EXPECT_TRUE(numeric("127.0.0.1", 0).isLoopback());
  EXPECT_TRUE(numeric("127.255.3.4", 0).isLoopback());
  EXPECT_TRUE(numeric("::1", 0).isLoopback());
  EXPECT_TRUE(numeric("::ffff:127.0.0.1", 0).isLoopback());
  EXPECT_FALSE(numeric("128.0.0.1", 0).isLoopback());
  EXPECT_FALSE(numeric("::2", 0).isLoopback());
  EXPECT_FALSE(Address::domainName("localhost", 0)->isLoopback());
  EXPECT_TRUE(numeric("0.0.0.0", 0).isUnspecified());
  EXPECT_TRUE(numeric("::", 0).isUnspecified());
  EXPECT_FALSE(numeric("0.0.0.1", 0).isUnspecified());
  EXPECT_FALSE(Address().isUnspecified());
  EXPECT_TRUE(numeric("1.2.3.4", 0).isIp());
  EXPECT_FALSE(Address::domainName("x", 0)->isIp());
}

TEST(Address, Format) {
  char buf[300];
  EXPECT_EQ(numeric("1.2.3.4", 80).format(buf, sizeof(buf)), 10u);
  EXPECT_STREQ(buf, "1.2.3.4:80");
  numeric("2001:db8::1", 443).format(buf, sizeof(buf));
  EXPECT_STREQ(buf, "[2001:db8::1]:443");
  Address().format(buf, sizeof(buf));
  EXPECT_STREQ(buf, "(none)");
  Address::domainName("a\nb c", 1)->format(buf, sizeof(buf));
  EXPECT_STREQ(buf, "a?b?c:1") << "control characters are not logged";
  EXPECT_EQ(Address::domainName("a\nb", 1)->hostString(), "a\nb") << "hostString is raw";
  const std::string longest(255, 'n');
  EXPECT_EQ(Address::domainName(longest, 65535)->toString(), longest + ":65535");
  EXPECT_EQ(numeric("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535).toString(),
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
  EXPECT_EQ(numeric("2001:db8::1", 1).hostString(), "2001:db8::1");
}

TEST(Address, FormatTruncates) {
  const Address a = numeric("2001:db8::1", 443);
  const std::string full = "[2001:db8::1]:443";
  for (std::size_t len = 1; len <= full.size() + 1; ++len) {
    char buf[64];
    std::memset(buf, 'Z', sizeof(buf));
    std::size_t n = a.format(buf, len);
    EXPECT_EQ(n, len - 1);
    EXPECT_EQ(std::string(buf), full.substr(0, len - 1));
    EXPECT_EQ(buf[len], 'Z');
  }
  char untouched = 'Z';
  EXPECT_EQ(a.format(&untouched, 0), 0u);
  EXPECT_EQ(untouched, 'Z');
}

TEST(Address, Equality) {
  EXPECT_EQ(numeric("1.2.3.4", 1), numeric("1.2.3.4", 1));
  EXPECT_FALSE(numeric("1.2.3.4", 1) == numeric("1.2.3.4", 2));
  EXPECT_FALSE(numeric("1.2.3.4", 1) == numeric("::ffff:1.2.3.4", 1));
  EXPECT_FALSE(*Address::domainName("a", 1) == *Address::domainName("A", 1));
  EXPECT_EQ(Address(), Address());
}

}  // namespace
}  // namespace socks
