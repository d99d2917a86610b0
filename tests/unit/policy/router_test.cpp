// The router: precedence, CIDR edges, wildcard domains, ports, IPv6 with
// ports, IPv4-mapped addresses, the implicit defaults, DNS modes, explain().
#include "socks/router.h"

#include <gtest/gtest.h>

#include <string>

namespace socks {
namespace {

Config conf(std::string_view text) {
  auto r = parseConfig(text, "socks.conf");
  EXPECT_TRUE(r.ok()) << r.error().text();
  return r.ok() ? r.value() : Config{};
}

Address dst(const char* host, std::uint16_t port = 443) {
  if (auto a = Address::parseNumeric(host, port)) {
    return *a;
  }
  return Address::domainName(host, port).value();
}

// "route N" (1-based) or the rule's name, for compact expectations.
std::string which(const Config& c, const char* host, std::uint16_t port = 443) {
  const Decision d = route(c, dst(host, port));
  switch (d.rule) {
    case Decision::Rule::kRoute:
      return "route " + std::to_string(d.route + 1);
    case Decision::Rule::kProxyItself:
      return "proxy itself";
    case Decision::Rule::kLoopback:
      return "loopback";
    case Decision::Rule::kDefaultProxy:
      return "default proxy";
    case Decision::Rule::kDefaultDirect:
      return "default direct";
  }
  return "?";
}

TEST(Router, FirstMatchWins) {
  const Config c = conf(
      "proxy a = socks5h://192.0.2.1\nproxy b = socks5://192.0.2.2\n"
      "route 10.1.0.0/16 -> a\n"
      "route 10.0.0.0/8 -> b\n"
      "route 10.1.2.3 -> block\n");
  EXPECT_EQ(which(c, "10.1.2.3"), "route 1");
  EXPECT_EQ(which(c, "10.2.0.1"), "route 2");
  EXPECT_EQ(which(c, "11.0.0.1"), "default proxy");
  const Decision d = route(c, dst("10.2.0.1"));
  ASSERT_EQ(d.alternatives.size(), 1u);
  EXPECT_EQ(d.alternatives[0].hops, (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(d.match, 0u);
}

TEST(Router, CidrEdges) {
  const Config c = conf(
      "route 192.0.2.128/25 -> block\n"      // 1
      "route 192.0.2.7/32 -> block\n"        // 2
      "route 2001:db8::1/128 -> block\n"     // 3
      "route [2001:db8::/32]:80 -> block\n"  // 4
      "route 0.0.0.0/0 -> direct\n"          // 5
      "route ::/0 -> direct\n");             // 6
  EXPECT_EQ(which(c, "192.0.2.128"), "route 1");
  EXPECT_EQ(which(c, "192.0.2.255"), "route 1");
  EXPECT_EQ(which(c, "192.0.2.127"), "route 5");
  EXPECT_EQ(which(c, "192.0.2.7"), "route 2");
  EXPECT_EQ(which(c, "192.0.2.8"), "route 5");
  EXPECT_EQ(which(c, "2001:db8::1"), "route 3");
  EXPECT_EQ(which(c, "2001:db8::2", 80), "route 4");
  EXPECT_EQ(which(c, "2001:db8::2", 81), "route 6");
  EXPECT_EQ(which(c, "2001:db9::2", 80), "route 6");
  EXPECT_EQ(which(c, "255.255.255.255"), "route 5");
  // v4 networks never take v6 destinations and the other way round...
  const Config v6only = conf("route ::/0 -> block\n");
  EXPECT_EQ(which(v6only, "192.0.2.1"), "default direct");
  // ...except IPv4-mapped IPv6: matched as the IPv4 address and as itself.
  const Config v4only = conf("route 192.0.2.0/24 -> block\n");
  EXPECT_EQ(which(v4only, "::ffff:192.0.2.9"), "route 1");
  EXPECT_EQ(which(v4only, "::ffff:192.0.3.9"), "default direct");
  EXPECT_EQ(which(v6only, "::ffff:192.0.2.9"), "route 1");
  const Config mapped = conf("route ::ffff:0:0/96 -> block\n");
  EXPECT_EQ(which(mapped, "::ffff:192.0.2.9"), "route 1");
  EXPECT_EQ(which(mapped, "192.0.2.9"), "default direct");
}

TEST(Router, OddPrefixes) {
  const Config c = conf("route 10.128.0.0/9 -> block\nroute 2001:db8:8000::/33 -> block\n");
  EXPECT_EQ(which(c, "10.128.0.1"), "route 1");
  EXPECT_EQ(which(c, "10.255.255.255"), "route 1");
  EXPECT_EQ(which(c, "10.127.255.255"), "default direct");
  EXPECT_EQ(which(c, "2001:db8:8000::1"), "route 2");
  EXPECT_EQ(which(c, "2001:db8:ffff::1"), "route 2");
  EXPECT_EQ(which(c, "2001:db8:7fff::1"), "default direct");
}

TEST(Router, NamesAndWildcards) {
  const Config c = conf(
      "route *.corp.example -> block\n"  // 1
      "route Example.ORG -> block\n"     // 2
      "route host. -> block\n"           // 3
      "route 10.0.0.0/8 -> block\n");    // 4
  EXPECT_EQ(which(c, "a.corp.example"), "route 1");
  EXPECT_EQ(which(c, "A.B.CORP.Example"), "route 1");
  EXPECT_EQ(which(c, "a.corp.example."), "route 1");
  EXPECT_EQ(which(c, "corp.example"), "default direct");  // not the bare domain
  EXPECT_EQ(which(c, "xcorp.example"), "default direct");
  EXPECT_EQ(which(c, "example.org"), "route 2");
  EXPECT_EQ(which(c, "EXAMPLE.org."), "route 2");
  EXPECT_EQ(which(c, "www.example.org"), "default direct");
  EXPECT_EQ(which(c, "host"), "route 3");
  // Networks never match names, names never match addresses; a name that
  // spells a number is that number.
  EXPECT_EQ(which(c, "10.0.0.1"), "route 4");
  Address numeric_name = Address::domainName("10.0.0.1", 80).value();
  EXPECT_EQ(route(c, numeric_name).route, 3u);
}

TEST(Router, Ports) {
  const Config c = conf(
      "route example.org:443 -> block\n"         // 1
      "route :22, :8000-8999 -> block\n"         // 2
      "route [2001:db8::1]:53 -> block\n"        // 3
      "route 192.0.2.0/24:1-1024 -> block\n"     // 4
      "route *.example.net:65535 -> block\n");   // 5
  EXPECT_EQ(which(c, "example.org", 443), "route 1");
  EXPECT_EQ(which(c, "example.org", 80), "default direct");
  EXPECT_EQ(which(c, "anything.example", 22), "route 2");
  EXPECT_EQ(which(c, "192.0.2.1", 22), "route 2");
  EXPECT_EQ(which(c, "198.51.100.1", 8000), "route 2");
  EXPECT_EQ(which(c, "198.51.100.1", 8999), "route 2");
  EXPECT_EQ(which(c, "198.51.100.1", 9000), "default direct");
  EXPECT_EQ(which(c, "198.51.100.1", 7999), "default direct");
  EXPECT_EQ(which(c, "2001:db8::1", 53), "route 3");
  EXPECT_EQ(which(c, "2001:db8::1", 54), "default direct");
  EXPECT_EQ(which(c, "192.0.2.9", 1024), "route 4");
  EXPECT_EQ(which(c, "192.0.2.9", 1025), "default direct");
  EXPECT_EQ(which(c, "a.example.net", 65535), "route 5");
}

TEST(Router, ImplicitDefaults) {
  // No proxies: direct. Loopback: direct unless a route names it.
  EXPECT_EQ(which(conf(""), "192.0.2.1"), "default direct");
  const Config c = conf("proxy first = socks5h://192.0.2.1\nproxy second = socks5://192.0.2.2\n"
                        "route * -> second\n");
  EXPECT_EQ(which(c, "198.51.100.1"), "route 1");
  EXPECT_EQ(which(c, "127.0.0.1"), "loopback");
  EXPECT_EQ(which(c, "127.255.0.1"), "loopback");
  EXPECT_EQ(which(c, "::1"), "loopback");
  EXPECT_EQ(which(c, "::ffff:127.0.0.1"), "loopback");
  EXPECT_EQ(which(c, "localhost"), "loopback");
  EXPECT_EQ(which(c, "db.LOCALHOST."), "loopback");
  const Config none = conf("proxy first = socks5h://192.0.2.1\nroute :22 -> block\n");
  EXPECT_EQ(which(none, "198.51.100.1"), "default proxy");
  EXPECT_EQ(which(none, "127.0.0.1", 22), "loopback");  // a bare port does not name it
  const Decision d = route(none, dst("198.51.100.1"));
  ASSERT_EQ(d.alternatives.size(), 1u);
  EXPECT_EQ(d.alternatives[0].kind, Target::Kind::kChain);
  EXPECT_EQ(d.alternatives[0].hops, (std::vector<std::uint32_t>{0}));
  EXPECT_EQ(d.dns, DnsMode::kRemote);
  // An explicit route naming loopback wins.
  const Config named = conf("proxy p = socks5://192.0.2.1\nroute 127.0.0.0/8, localhost -> p\n");
  EXPECT_EQ(which(named, "127.0.0.1"), "route 1");
  EXPECT_EQ(which(named, "localhost"), "route 1");
  // Only inline proxies: no named proxy, so unmatched goes direct.
  const Config inl = conf("route *.onion -> socks5h://127.0.0.1:9050\n");
  EXPECT_EQ(which(inl, "example.org"), "default direct");
  EXPECT_EQ(which(inl, "x.onion"), "route 1");
}

TEST(Router, ProxyItselfGoesDirect) {
  const Config c = conf(
      "proxy a = socks5h://192.0.2.1:1080\nproxy b = socks5://proxy.example:1081\n"
      "proxy c = socks5://[2001:db8::9]:1080\nroute * -> block\n");
  EXPECT_EQ(which(c, "192.0.2.1", 1080), "proxy itself");
  EXPECT_EQ(which(c, "::ffff:192.0.2.1", 1080), "proxy itself");
  EXPECT_EQ(which(c, "192.0.2.1", 1081), "route 1");
  EXPECT_EQ(which(c, "Proxy.Example.", 1081), "proxy itself");
  EXPECT_EQ(which(c, "2001:db8::9", 1080), "proxy itself");
}

TEST(Router, DnsModes) {
  const Config c = conf(
      "proxy h = socks5h://192.0.2.1\nproxy l = socks5://192.0.2.2\nproxy four = socks4://192.0.2.3\n"
      "route *.remote.example -> l > h\n"        // last hop 5h: remote
      "route *.local.example -> h > l\n"         // last hop 5: local
      "route *.four.example -> four\n"           // socks4: local
      "route *.direct.example -> direct\n"       // system
      "route *.block.example -> block\n"         // remote (nothing leaves)
      "route *.set.example -> h dns system\n"    // explicit
      "route *.ports.example:443 -> l\n");
  EXPECT_EQ(route(c, dst("a.remote.example")).dns, DnsMode::kRemote);
  EXPECT_EQ(route(c, dst("a.local.example")).dns, DnsMode::kLocal);
  EXPECT_EQ(route(c, dst("a.four.example")).dns, DnsMode::kLocal);
  EXPECT_EQ(route(c, dst("a.direct.example")).dns, DnsMode::kSystem);
  EXPECT_EQ(route(c, dst("a.block.example")).dns, DnsMode::kRemote);
  EXPECT_EQ(route(c, dst("a.set.example")).dns, DnsMode::kSystem);
  EXPECT_EQ(route(c, dst("other.example")).dns, DnsMode::kRemote);  // default: first proxy h
  EXPECT_EQ(dnsModeFor(c, "x.local.example"), DnsMode::kLocal);
  EXPECT_EQ(dnsModeFor(c, "x.direct.example."), DnsMode::kSystem);
  EXPECT_EQ(dnsModeFor(c, "x.ports.example"), DnsMode::kLocal);  // ports do not count
  EXPECT_EQ(dnsModeFor(c, "elsewhere.example"), DnsMode::kRemote);
  // The global mode applies where a route has none.
  const Config g = conf("dns local\nproxy h = socks5h://192.0.2.1\nroute :22 -> h\n"
                        "route *.x.example -> h dns remote\nroute * -> h\n");
  EXPECT_EQ(route(g, dst("a.example")).dns, DnsMode::kLocal);
  EXPECT_EQ(route(g, dst("a.x.example")).dns, DnsMode::kRemote);
  EXPECT_EQ(dnsModeFor(g, "a.x.example"), DnsMode::kRemote);
  EXPECT_EQ(dnsModeFor(g, "a.example"), DnsMode::kLocal);  // the bare :22 is skipped, * counts
  EXPECT_EQ(dnsModeFor(conf(""), "a.example"), DnsMode::kSystem);
}

TEST(Router, Failover) {
  const Config c = conf("proxy tor = socks5h://127.0.0.1:9050\nproxy corp = socks5://192.0.2.1\n"
                        "route * -> tor | corp | direct\n");
  const Decision d = route(c, dst("example.org"));
  ASSERT_EQ(d.alternatives.size(), 3u);
  EXPECT_EQ(describeTarget(c, d.alternatives[0]), "tor");
  EXPECT_EQ(describeTarget(c, d.alternatives[1]), "corp");
  EXPECT_EQ(describeTarget(c, d.alternatives[2]), "direct");
}

TEST(Router, Explain) {
  const Config c = conf(
      "proxy corp = socks5://u:s3cret@192.0.2.1\n"
      "route 10.0.0.0/8 -> direct\n"
      "route *.corp.example -> corp | socks5h://v:other-s3cret@192.0.2.2\n");
  EXPECT_EQ(explain(c, dst("corp.example", 80)),
            "destination corp.example:80 (a host name: networks do not apply)\n"
            "  route 1 (socks.conf:2):\n"
            "    10.0.0.0/8: a network never matches a host name\n"
            "  route 2 (socks.conf:3):\n"
            "    *.corp.example: not below corp.example (a wildcard does not match the bare "
            "domain)\n"
            "=> no route matched; the default is the first proxy: corp\n"
            "   dns local\n");
  const std::string e = explain(c, dst("www.corp.example", 80));
  EXPECT_NE(e.find("=> route 2 (socks.conf:3): corp | socks5h://v:***@192.0.2.2:1080\n"),
            std::string::npos)
      << e;
  EXPECT_EQ(e.find("s3cret"), std::string::npos);
  EXPECT_EQ(explain(c, dst("127.0.0.1", 80)),
            "destination 127.0.0.1:80 (IPv4), loopback\n"
            "  route 1 (socks.conf:2):\n"
            "    10.0.0.0/8: not in that network\n"
            "  route 2 (socks.conf:3):\n"
            "    *.corp.example: a wildcard never matches an IP address\n"
            "=> no route names this loopback destination: direct\n"
            "   dns system\n");
  EXPECT_NE(explain(c, dst("192.0.2.1", 1080)).find("it is a configured proxy"),
            std::string::npos);
}

}  // namespace
}  // namespace socks
