// importProxychains: a realistic proxychains.conf, every chain type, and the
// errors with their line and column.
#include <gtest/gtest.h>

#include <string>

#include "socks/config.h"
#include "socks/router.h"

namespace socks {
namespace {

// Close to the file proxychains-ng installs, with two proxies of our own.
constexpr const char* kRealistic = R"(# proxychains.conf  VER 4.x
#
#        HTTP, SOCKS4a, SOCKS5 tunneling proxifier with DNS.

# The option below identifies how the ProxyList is treated.
#dynamic_chain
strict_chain
#random_chain
#chain_len = 2

# Quiet mode (no output from library)
quiet_mode

# Proxy DNS requests - no leak for DNS data
proxy_dns
remote_dns_subnet 224

# Some timeouts in milliseconds
tcp_read_time_out 15000
tcp_connect_time_out 8000

## Exclude connections to 192.168.1.0/24 with port 80
localnet 192.168.1.0:80/255.255.255.0
## RFC1918 and loopback
localnet 10.0.0.0/255.0.0.0
localnet 127.0.0.0/255.0.0.0
localnet ::1/128

dnat 1.1.1.1:1234  1.1.1.2:443

[ProxyList]
# add proxy here ...
socks5 	192.0.2.10 1080 lamer secret
socks4  198.51.100.20  1080  ident
socks5	tor.example 9050
)";

TEST(ImportProxychains, Realistic) {
  auto r = importProxychains(kRealistic);
  ASSERT_TRUE(r.ok()) << r.error().text();
  EXPECT_EQ(*r,
            "# socks.conf converted from proxychains.conf by socksify --import-proxychains.\n"
            "# See socks.conf(5).\n"
            "# remote_dns_subnet ignored: socksify chooses its own fake-address range\n"
            "# tcp_read_time_out ignored: socksify has no read timeout\n"
            "# dnat not supported: dnat 1.1.1.1:1234  1.1.1.2:443\n"
            "timeout 8000ms\n"
            "dns remote\n"
            "log error\n"
            "proxy p1 = socks5h://lamer:secret@192.0.2.10:1080   # line 33\n"
            "proxy p2 = socks4a://ident@198.51.100.20:1080   # line 34\n"
            "proxy p3 = socks5h://tor.example:9050   # line 35\n"
            "# Passwords were copied from proxychains.conf: keep this file mode 0600, or move\n"
            "# them to password-env / password-file.\n"
            "route 192.168.1.0/24:80 -> direct   # localnet\n"
            "route 10.0.0.0/8 -> direct   # localnet\n"
            "route 127.0.0.0/8 -> direct   # localnet\n"
            "route [::1/128] -> direct   # localnet\n"
            "# strict_chain: every connection goes through all the proxies, in order.\n"
            "route * -> p1 > p2 > p3\n");
  auto c = parseConfig(*r, "imported.conf");
  ASSERT_TRUE(c.ok()) << c.error().text();
  EXPECT_EQ(c->connect_timeout.count(), 8000);
  EXPECT_EQ(c->dns, DnsMode::kRemote);
  EXPECT_EQ(c->log_level, log::Level::kError);
  const Decision d = route(*c, Address::parseNumeric("198.51.100.99", 443).value());
  ASSERT_EQ(d.alternatives.size(), 1u);
  EXPECT_EQ(d.alternatives[0].hops, (std::vector<std::uint32_t>{0, 1, 2}));
  EXPECT_EQ(route(*c, Address::parseNumeric("192.168.1.5", 80).value()).route, 0u);
  EXPECT_EQ(route(*c, Address::parseNumeric("192.168.1.5", 81).value()).rule,
            Decision::Rule::kRoute);
  EXPECT_EQ(route(*c, Address::parseNumeric("10.9.9.9", 81).value()).route, 1u);
}

std::string lastLine(const std::string& text) {
  const std::size_t end = text.find_last_not_of('\n');
  const std::size_t begin = text.rfind('\n', end);
  return text.substr(begin + 1, end - begin);
}

TEST(ImportProxychains, ChainTypes) {
  const std::string list = "[ProxyList]\nsocks5 192.0.2.1 1080\nsocks5 192.0.2.2 1080\n"
                           "socks4 192.0.2.3 1080\n";
  // Without a chain type proxychains uses dynamic_chain; without proxy_dns names
  // are resolved locally.
  auto dyn = importProxychains(list);
  ASSERT_TRUE(dyn.ok()) << dyn.error().text();
  EXPECT_EQ(lastLine(*dyn), "route * -> p1 > p2 > p3 | p2 > p3 | p1 > p3 | p1 > p2");
  EXPECT_NE(dyn->find("dns local\n"), std::string::npos);
  EXPECT_NE(dyn->find("proxy p1 = socks5://192.0.2.1:1080"), std::string::npos);
  EXPECT_NE(dyn->find("proxy p3 = socks4://192.0.2.3:1080"), std::string::npos);
  auto rr = importProxychains("round_robin_chain\nchain_len = 2\n" + list);
  ASSERT_TRUE(rr.ok());
  EXPECT_EQ(lastLine(*rr), "route * -> p1 > p2 | p2 > p3 | p3 > p1");
  auto rnd = importProxychains("random_chain\n" + list);
  ASSERT_TRUE(rnd.ok());
  EXPECT_EQ(lastLine(*rnd), "route * -> p1 | p2 | p3");
  auto one = importProxychains("dynamic_chain\n[ProxyList]\nsocks5 192.0.2.1 1080\n");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(lastLine(*one), "route * -> p1");
  for (const auto* r : {&dyn, &rr, &rnd, &one}) {
    EXPECT_TRUE(parseConfig(r->value()).ok());
  }
}

TEST(ImportProxychains, Errors) {
  struct Case {
    std::string text;
    const char* error;
  };
  const Case cases[] = {
      {"strict_chain\n", "proxychains.conf: no proxy in [ProxyList]; expected lines such as "
                         "'socks5 192.0.2.1 1080'"},
      {"[ProxyList]\nhttp 192.0.2.1 8080\n",
       "proxychains.conf:2:1: 'http' proxies are not supported (socksify speaks SOCKS only); "
       "expected socks4 or socks5 (remove or replace this proxy)"},
      {"[ProxyList]\nsocks6 192.0.2.1 8080\n",
       "proxychains.conf:2:1: unknown proxy type 'socks6'; expected socks4 or socks5"},
      {"[ProxyList]\nsocks5 192.0.2.1\n",
       "proxychains.conf:2:17: missing host or port; expected 'TYPE HOST PORT [USER PASS]'"},
      {"[ProxyList]\nsocks5 192.0.2.1 0\n",
       "proxychains.conf:2:18: invalid port '0'; expected 1 to 65535"},
      {"[ProxyList]\nsocks5 bad$host 1080\n",
       "proxychains.conf:2:8: invalid host 'bad$host'; expected an IP address or a host name"},
      {"[ProxyList]\nsocks4 192.0.2.1 1080 u p\n",
       "proxychains.conf:2:25: a password for a socks4 proxy; expected only a user id"},
      {"[ProxyList]\nsocks5 192.0.2.1 1080 u p extra\n",
       "proxychains.conf:2:27: unexpected 'extra'; expected at most 'TYPE HOST PORT USER PASS'"},
      {"fancy_chain\n",
       "proxychains.conf:1:1: unknown directive 'fancy_chain'; expected a proxychains.conf "
       "directive or [ProxyList]"},
      {"chain_len 2\n", "proxychains.conf:1:1: missing '='; expected 'chain_len = N'"},
      {"chain_len = 0\n", "proxychains.conf:1:12: invalid chain_len; expected a number from 1 to 16"},
      {"tcp_connect_time_out soon\n",
       "proxychains.conf:1:22: invalid tcp_connect_time_out; expected milliseconds from 1 to "
       "86400000"},
      {"localnet 10.0.0.0\n",
       "proxychains.conf:1:10: missing '/'; expected 'localnet ADDR[:PORT]/NETMASK'"},
      {"localnet 10.0.0.0/255.0.255.0\n",
       "proxychains.conf:1:19: non-contiguous netmask '255.0.255.0'; expected ones then zeros, "
       "such as 255.255.0.0"},
      {"localnet 10.0.0.x/8\n",
       "proxychains.conf:1:10: invalid address '10.0.0.x'; expected an IP address"},
      {"[Other]\n", "proxychains.conf:1:1: unknown section '[Other]'; expected [ProxyList]"},
  };
  for (const Case& c : cases) {
    auto r = importProxychains(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().text(), c.error) << c.text;
  }
}

TEST(ImportProxychains, PrefixLocalnetAndCredentialsEncoding) {
  auto r = importProxychains(
      "proxy_dns\nlocalnet 172.16.0.0/12\n[ProxyList]\nsocks5 2001:db8::1 1080 us:er p@ss\n");
  ASSERT_TRUE(r.ok()) << r.error().text();
  EXPECT_NE(r->find("proxy p1 = socks5h://us%3Aer:p%40ss@[2001:db8::1]:1080"), std::string::npos)
      << *r;
  EXPECT_NE(r->find("route 172.16.0.0/12 -> direct"), std::string::npos);
  auto c = parseConfig(*r);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->proxies[0].url.user, "us:er");
  EXPECT_EQ(c->proxies[0].url.password, "p@ss");
}

}  // namespace
}  // namespace socks
