// Proxy URLs: every scheme, credentials with %-escapes, IPv6, default port,
// and every error with its 1-based column.
#include "socks/proxy.h"

#include <gtest/gtest.h>

#include <string>

namespace socks {
namespace {

TEST(ProxyUrl, Schemes) {
  struct Case {
    const char* url;
    ProxyKind kind;
  };
  for (const Case& c :
       {Case{"socks4://h", ProxyKind::kSocks4}, Case{"socks4a://h", ProxyKind::kSocks4a},
        Case{"socks5://h", ProxyKind::kSocks5}, Case{"socks5h://h", ProxyKind::kSocks5h},
        Case{"SOCKS5H://h", ProxyKind::kSocks5h}, Case{"Socks4A://h", ProxyKind::kSocks4a}}) {
    auto u = parseProxyUrl(c.url);
    ASSERT_TRUE(u.ok()) << c.url << ": " << u.status().reason();
    EXPECT_EQ(u->kind, c.kind);
    EXPECT_EQ(u->host, "h");
    EXPECT_EQ(u->port, 1080);
    EXPECT_FALSE(u->has_user);
  }
  EXPECT_STREQ(schemeName(ProxyKind::kSocks4), "socks4");
  EXPECT_STREQ(schemeName(ProxyKind::kSocks4a), "socks4a");
  EXPECT_STREQ(schemeName(ProxyKind::kSocks5), "socks5");
  EXPECT_STREQ(schemeName(ProxyKind::kSocks5h), "socks5h");
}

TEST(ProxyUrl, HostsAndPorts) {
  auto u = parseProxyUrl("socks5://proxy.example.org:1081");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "proxy.example.org");
  EXPECT_EQ(u->port, 1081);
  u = parseProxyUrl("socks5h://10.0.0.1:9050/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "10.0.0.1");
  EXPECT_EQ(u->port, 9050);
  u = parseProxyUrl("socks5://[::1]:1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 1);
  u = parseProxyUrl("socks5://[2001:db8::1]");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "2001:db8::1");
  EXPECT_EQ(u->port, 1080);
  u = parseProxyUrl("socks5://h:65535");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 65535);
  u = parseProxyUrl("socks5://my_proxy-1:00080");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
}

TEST(ProxyUrl, Credentials) {
  auto u = parseProxyUrl("socks5h://alice:s%40cret@proxy:1080");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->has_user);
  EXPECT_TRUE(u->has_password);
  EXPECT_EQ(u->user, "alice");
  EXPECT_EQ(u->password, "s@cret");
  u = parseProxyUrl("socks5://a%3Ab%2f:p%3a%2F%25%20x@h");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->user, "a:b/");
  EXPECT_EQ(u->password, "p:/% x");
  // An unescaped '@' in the password: the last '@' ends the user info.
  u = parseProxyUrl("socks5://u:p@ss@h");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->password, "p@ss");
  EXPECT_EQ(u->host, "h");
  u = parseProxyUrl("socks4a://bob@h");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->user, "bob");
  EXPECT_FALSE(u->has_password);
  u = parseProxyUrl("socks4://bob@h");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->user, "bob");
  u = parseProxyUrl("socks5://u@h");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->has_user);
  EXPECT_FALSE(u->has_password);
  EXPECT_TRUE(
      parseProxyUrl("socks5://" + std::string(255, 'u') + ":" + std::string(255, 'p') + "@h").ok());
}

struct ErrorCase {
  std::string url;
  std::uint32_t column;
};

void expectError(const ErrorCase& c) {
  auto u = parseProxyUrl(c.url);
  ASSERT_FALSE(u.ok()) << c.url;
  EXPECT_EQ(u.status().code(), Errc::kInvalidArgument) << c.url;
  EXPECT_EQ(u.status().column(), c.column) << c.url << ": " << u.status().reason();
  EXPECT_EQ(std::string(u.status().reason()).rfind("expected", 0), 0u) << u.status().reason();
}

TEST(ProxyUrl, Errors) {
  const ErrorCase cases[] = {
      {"", 1},
      {"proxy:1080", 1},
      {"http://proxy", 1},
      {"socks6://proxy", 1},
      {"socks5:/proxy", 1},
      {"socks5://", 10},
      {"socks5://:1080", 10},
      {"socks5://proxy:", 16},
      {"socks5://proxy:0", 16},
      {"socks5://proxy:65536", 16},
      {"socks5://proxy:99999999999999999999", 16},
      {"socks5://proxy:80a", 18},
      {"socks5://proxy:-1", 16},
      {"socks5://proxy/path", 16},
      {"socks5://proxy//", 16},
      {"socks5://proxy?x=1", 15},
      {"socks5://proxy#frag", 15},
      {"socks5://proxy:80/x", 19},
      {"socks5://pro xy", 13},
      {"socks5://pr%41xy", 12},
      {"socks5://[::1", 10},
      {"socks5://[zz]", 11},
      {"socks5://[]", 11},
      {"socks5://[1.2.3.4]", 11},
      {"socks5://[::1]x", 15},
      {"socks5://[::1]:", 16},
      {"socks5://::1", 10},
      {"socks5://us%4gr@h", 12},
      {"socks5://u%@h", 11},
      {"socks5://u%4@h", 11},
      {"socks5://u:p%zz@h", 13},
      {"socks5://u%00@h", 11},
      {std::string("socks5://u\0x@h", 14), 11},
      {"socks5://u:p w@h", 13},
      {"socks5://u\t:p@h", 11},
      {"socks5://@h", 10},
      {"socks5://:p@h", 10},
      {"socks5://u:@h", 12},
      {"socks4://u:p@h", 11},
      {"socks4a://u:p@h", 12},
      {"socks5://u@", 12},
      {"socks5://u@:1", 12},
      {"socks5://" + std::string(256, 'u') + "@h", 10},
      {"socks5://u:" + std::string(256, 'p') + "@h", 12},
      {"socks5://" + std::string(256, 'h'), 10},
  };
  for (const ErrorCase& c : cases) {
    expectError(c);
  }
}

TEST(ProxyList, Chains) {
  auto l = parseProxyList("socks5://a:1,socks4a://b, socks5h://u:p@[::1]:3 ");
  ASSERT_TRUE(l.ok()) << l.status().reason();
  ASSERT_EQ(l->size(), 3u);
  EXPECT_EQ((*l)[0].host, "a");
  EXPECT_EQ((*l)[0].port, 1);
  EXPECT_EQ((*l)[1].kind, ProxyKind::kSocks4a);
  EXPECT_EQ((*l)[2].host, "::1");
  EXPECT_EQ((*l)[2].password, "p");
  l = parseProxyList("socks5h://one");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->size(), 1u);
}

TEST(ProxyList, ErrorColumnsCountFromTheWholeList) {
  struct Case {
    const char* list;
    std::uint32_t column;
  };
  for (const Case& c : {Case{"", 1}, Case{",socks5://a", 1}, Case{"socks5://a,", 12},
                        Case{"socks5://a,,socks5://b", 12}, Case{"socks5://a,socks5://b:0", 23},
                        Case{"socks5://a, http://b", 13}, Case{"socks5://a,  socks5://b:x", 25},
                        Case{"socks5://a, ", 13}}) {
    auto l = parseProxyList(c.list);
    ASSERT_FALSE(l.ok()) << c.list;
    EXPECT_EQ(l.status().column(), c.column) << c.list << ": " << l.status().reason();
  }
}

TEST(ProxyUrl, Redacted) {
  EXPECT_EQ(parseProxyUrl("socks5h://alice:secret@proxy")->redacted(),
            "socks5h://alice:***@proxy:1080");
  EXPECT_EQ(parseProxyUrl("SOCKS5://proxy:9")->redacted(), "socks5://proxy:9");
  EXPECT_EQ(parseProxyUrl("socks4a://bob@10.0.0.1")->redacted(), "socks4a://bob@10.0.0.1:1080");
  EXPECT_EQ(parseProxyUrl("socks5://a%40b:p@[::1]:5")->redacted(), "socks5://a%40b:***@[::1]:5");
  const std::string r = parseProxyUrl("socks5://u:hunter2@h")->redacted();
  EXPECT_EQ(r.find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace socks
