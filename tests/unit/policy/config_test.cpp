// socks.conf(5): every construct, every error as a golden FILE:LINE:COLUMN
// string, warnings, the format() round trip, credentials, the lookup order,
// and socks.conf.example from the source tree.
#include "socks/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace socks {
namespace {

Config parseOk(std::string_view text) {
  auto r = parseConfig(text, "socks.conf");
  EXPECT_TRUE(r.ok()) << r.error().text();
  return r.ok() ? r.value() : Config{};
}

std::string errorOf(std::string_view text) {
  auto r = parseConfig(text, "socks.conf");
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? std::string("(parsed)") : r.error().text();
}

std::vector<std::string> warningsOf(std::string_view text) {
  auto r = parseConfig(text, "socks.conf");
  EXPECT_TRUE(r.ok()) << r.error().text();
  std::vector<std::string> out;
  for (const Diagnostic& d : r.warnings) {
    out.push_back(d.text());
  }
  return out;
}

void expectRoundTrip(const Config& c) {
  const std::string text = format(c);
  auto back = parseConfig(text, c.file);
  ASSERT_TRUE(back.ok()) << back.error().text() << "\n" << text;
  EXPECT_TRUE(*back == c) << text;
  EXPECT_EQ(format(*back), text);
}

TEST(ConfigParse, EmptyAndComments) {
  const Config c = parseOk("\n# only a comment\n   \t\n  # indented\n");
  EXPECT_TRUE(c.proxies.empty());
  EXPECT_TRUE(c.routes.empty());
  EXPECT_EQ(c.connect_timeout, Config::kDefaultTimeout);
  EXPECT_FALSE(c.dns.has_value());
  EXPECT_EQ(c.bind, BindMode::kAuto);
  EXPECT_TRUE(c.udp);
  EXPECT_EQ(c.log_level, log::Level::kWarn);
  EXPECT_EQ(c.log_to, LogTarget::kStderr);
  EXPECT_EQ(c.file, "socks.conf");
}

TEST(ConfigParse, Proxies) {
  const Config c = parseOk(
      "proxy tor   = socks5h://127.0.0.1:9050\n"
      "proxy corp=socks5://alice@proxy.corp.example:1080  password-env CORP_PASS\n"
      "proxy jump =socks4a://jump.example\r\n"
      "proxy f = socks5://u@[2001:db8::1]:1081 password-file /run/pass # comment\n"
      "proxy inl = socks5://u:p%40ss@h\n");
  ASSERT_EQ(c.proxies.size(), 5u);
  EXPECT_EQ(c.proxies[0].name, "tor");
  EXPECT_EQ(c.proxies[0].url.kind, ProxyKind::kSocks5h);
  EXPECT_EQ(c.proxies[0].url.host, "127.0.0.1");
  EXPECT_EQ(c.proxies[0].url.port, 9050);
  EXPECT_EQ(c.proxies[0].pos.line, 1u);
  EXPECT_EQ(c.proxies[0].pos.column, 7u);
  EXPECT_EQ(c.proxies[1].name, "corp");
  EXPECT_EQ(c.proxies[1].url.user, "alice");
  EXPECT_FALSE(c.proxies[1].url.has_password);
  EXPECT_EQ(c.proxies[1].password_env, "CORP_PASS");
  EXPECT_EQ(c.proxies[1].secret_pos.column, 65u);
  EXPECT_EQ(c.proxies[2].url.kind, ProxyKind::kSocks4a);
  EXPECT_EQ(c.proxies[2].url.port, 1080);
  EXPECT_EQ(c.proxies[3].url.host, "2001:db8::1");
  EXPECT_EQ(c.proxies[3].password_file, "/run/pass");
  EXPECT_EQ(c.proxies[4].url.password, "p@ss");
  EXPECT_TRUE(c.proxies[4].password_in_url);
  expectRoundTrip(c);
}

TEST(ConfigParse, Settings) {
  const Config c = parseOk(
      "timeout 2.5\n"
      "dns local\n"
      "bind all\n"
      "udp off\n"
      "log debug\n"
      "log-to file /var/log/socksify.log\n"
      "exclude sshd socksd\n"
      "exclude ssh-agent\n");
  EXPECT_EQ(c.connect_timeout.count(), 2500);
  EXPECT_EQ(c.dns, DnsMode::kLocal);
  EXPECT_EQ(c.bind, BindMode::kAll);
  EXPECT_FALSE(c.udp);
  EXPECT_EQ(c.log_level, log::Level::kDebug);
  EXPECT_EQ(c.log_to, LogTarget::kFile);
  EXPECT_EQ(c.log_file, "/var/log/socksify.log");
  EXPECT_EQ(c.excludes, (std::vector<std::string>{"sshd", "socksd", "ssh-agent"}));
  expectRoundTrip(c);

  const std::map<std::string, std::int64_t> timeouts = {
      {"10", 10000}, {"10s", 10000}, {"500ms", 500}, {"0.001", 1},   {"1.5ms", 2},
      {".5", 500},   {"86400", 86400000}, {"0.0004s", 0}, {"3.14159", 3142}};
  for (const auto& [text, ms] : timeouts) {
    auto r = parseConfig("timeout " + text + "\n");
    if (ms == 0) {
      EXPECT_FALSE(r.ok()) << text;
      continue;
    }
    ASSERT_TRUE(r.ok()) << text << ": " << r.error().text();
    EXPECT_EQ(r->connect_timeout.count(), ms) << text;
  }
  for (const char* mode : {"system", "remote"}) {
    EXPECT_EQ(dnsModeName(*parseOk(std::string("dns ") + mode).dns), std::string(mode));
  }
  EXPECT_EQ(parseOk("bind off").bind, BindMode::kOff);
  EXPECT_EQ(parseOk("log-to syslog").log_to, LogTarget::kSyslog);
  EXPECT_EQ(parseOk("log quiet").log_level, log::Level::kQuiet);
}

TEST(ConfigParse, RouteMatches) {
  const Config c = parseOk(
      "proxy a = socks5://192.0.2.1\n"
      "route *, 10.0.0.0/8, 192.0.2.7, [2001:db8::1], 2001:db8::/32, [2001:db8::/32]:443 -> a\n"
      "route Example.ORG., *.Corp.Example:8000-8999, :22, *:80, host_1:1-65535 -> a\n");
  ASSERT_EQ(c.routes.size(), 2u);
  const auto& m = c.routes[0].matches;
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m[0].kind, Match::Kind::kAny);
  EXPECT_TRUE(m[0].anyPort());
  EXPECT_EQ(m[1].kind, Match::Kind::kNetwork);
  EXPECT_EQ(m[1].family, Address::Type::kIPv4);
  EXPECT_EQ(m[1].prefix, 8);
  EXPECT_EQ(m[1].pos.column, 10u);
  EXPECT_EQ(m[2].prefix, 32);
  EXPECT_EQ(m[3].family, Address::Type::kIPv6);
  EXPECT_EQ(m[3].prefix, 128);
  EXPECT_EQ(m[4].prefix, 32);
  EXPECT_TRUE(m[4].anyPort());
  EXPECT_EQ(m[5].port_low, 443);
  EXPECT_EQ(m[5].port_high, 443);
  const auto& n = c.routes[1].matches;
  ASSERT_EQ(n.size(), 5u);
  EXPECT_EQ(n[0].kind, Match::Kind::kHost);
  EXPECT_EQ(n[0].name, "example.org");
  EXPECT_EQ(n[1].kind, Match::Kind::kWildcard);
  EXPECT_EQ(n[1].name, "corp.example");
  EXPECT_EQ(n[1].port_low, 8000);
  EXPECT_EQ(n[1].port_high, 8999);
  EXPECT_EQ(n[2].kind, Match::Kind::kAny);
  EXPECT_EQ(n[2].port_low, 22);
  EXPECT_EQ(n[3].kind, Match::Kind::kAny);
  EXPECT_EQ(n[3].port_low, 80);
  EXPECT_EQ(n[4].name, "host_1");
  EXPECT_TRUE(n[4].anyPort());
  expectRoundTrip(c);
}

TEST(ConfigParse, RouteTargets) {
  const Config c = parseOk(
      "route 127.0.0.0/8->direct\n"
      "route 192.0.2.0/24 -> block\n"
      "route :22 -> jump>tor dns local\n"
      "route *.x.example -> tor|corp | direct dns system\n"
      "route *.y.example -> socks5h://u:pw@192.0.2.9:9050 > jump\n"
      "route * -> tor | jump > corp dns remote\n"
      "proxy tor = socks5h://127.0.0.1:9050\n"  // defined after use: fine
      "proxy corp = socks5://corp.example\n"
      "proxy jump = socks4a://jump.example\n");
  ASSERT_EQ(c.routes.size(), 6u);
  ASSERT_EQ(c.proxies.size(), 4u);  // three named, then the inline URL
  EXPECT_EQ(c.proxies[3].name, "");
  EXPECT_EQ(c.proxies[3].url.password, "pw");
  EXPECT_EQ(c.routes[0].alternatives, (std::vector<Target>{{Target::Kind::kDirect, {}}}));
  EXPECT_EQ(c.routes[1].alternatives, (std::vector<Target>{{Target::Kind::kBlock, {}}}));
  EXPECT_EQ(c.routes[2].alternatives, (std::vector<Target>{{Target::Kind::kChain, {2, 0}}}));
  EXPECT_EQ(c.routes[2].dns, DnsMode::kLocal);
  EXPECT_EQ(c.routes[3].alternatives,
            (std::vector<Target>{{Target::Kind::kChain, {0}},
                                 {Target::Kind::kChain, {1}},
                                 {Target::Kind::kDirect, {}}}));
  EXPECT_EQ(c.routes[3].dns, DnsMode::kSystem);
  EXPECT_EQ(c.routes[4].alternatives, (std::vector<Target>{{Target::Kind::kChain, {3, 2}}}));
  EXPECT_EQ(c.routes[5].alternatives,
            (std::vector<Target>{{Target::Kind::kChain, {0}}, {Target::Kind::kChain, {2, 1}}}));
  EXPECT_EQ(c.routes[5].pos.line, 6u);
  EXPECT_FALSE(c.routes[0].dns.has_value());
  expectRoundTrip(c);
}

TEST(ConfigParse, Errors) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      // keywords
      {"frobnicate 1", "socks.conf:1:1: unknown keyword 'frobnicate'; expected proxy, route, "
                       "timeout, dns, bind, udp, log, log-to or exclude"},
      {"\n  Proxy a = socks5://h",
       "socks.conf:2:3: unknown keyword 'Proxy'; expected proxy, route, timeout, dns, bind, udp, "
       "log, log-to or exclude"},
      {"[ProxyList]",
       "socks.conf:1:1: unknown keyword '[ProxyList]' (this looks like proxychains.conf: convert "
       "it with 'socksify --import-proxychains FILE'); expected proxy, route, timeout, dns, "
       "bind, udp, log, log-to or exclude"},
      {"dns remote\x01", "socks.conf:1:11: control character in the line; expected printable text"},
      // proxies
      {"proxy", "socks.conf:1:6: missing proxy name; expected 'proxy NAME = URL'"},
      {"proxy a socks5://h", "socks.conf:1:9: expected '=' after the proxy name"},
      {"proxy tor socks5h://127.0.0.1:9050", "socks.conf:1:11: expected '=' after the proxy name"},
      {"proxy a! = socks5://h",
       "socks.conf:1:8: invalid character in proxy name 'a!'; expected letters, digits, '-', '_' "
       "and '.'"},
      {"proxy direct = socks5://h",
       "socks.conf:1:7: proxy name 'direct' is reserved; expected another name"},
      {"proxy a =", "socks.conf:1:10: missing URL; expected 'proxy NAME = socks5://HOST:PORT'"},
      {"proxy a = socks5://h\nproxy a = socks5://g",
       "socks.conf:2:7: duplicate proxy 'a' (first defined at line 1); expected a new name"},
      {"proxy a = http://h",
       "socks.conf:1:11: invalid proxy URL; expected scheme socks4, socks4a, socks5 or socks5h"},
      {"proxy a = socks5://h:99999",
       "socks.conf:1:22: invalid proxy URL; expected a port number from 1 to 65535"},
      {"proxy a = socks5://u@h passwrd-env X",
       "socks.conf:1:24: unknown proxy option 'passwrd-env'; expected password-env VAR or "
       "password-file PATH"},
      {"proxy a = socks5://u:p@h password-env X",
       "socks.conf:1:26: a second password for proxy 'a'; expected one of: a password in the URL, "
       "password-env or password-file"},
      {"proxy a = socks5://u@h password-env X password-file /f",
       "socks.conf:1:39: a second password for proxy 'a'; expected one of: a password in the URL, "
       "password-env or password-file"},
      {"proxy a = socks5://h password-env X",
       "socks.conf:1:22: password-env needs a user name in the URL; expected socks5://USER@HOST"},
      {"proxy a = socks4://u@h password-env X",
       "socks.conf:1:24: socks4 proxies take no password; expected a socks5:// or socks5h:// URL"},
      {"proxy a = socks5://u@h password-env 1X",
       "socks.conf:1:37: invalid variable name '1X'; expected letters, digits and '_'"},
      {"proxy a = socks5://u@h password-file",
       "socks.conf:1:37: missing path; expected 'password-file PATH'"},
      {"proxy a = socks5://u@h password-env",
       "socks.conf:1:36: missing variable; expected 'password-env VAR'"},
      {"proxy a = socks5://h\nroute * -> a > a > a > a > a > a > a > a > a > a > a > a > a > a > a > a > a",
       "socks.conf:2:76: chain longer than 16 proxies; expected at most 16"},
      // settings
      {"timeout", "socks.conf:1:8: missing timeout; expected seconds such as 10, 2.5, 10s or 500ms"},
      {"timeout abc",
       "socks.conf:1:9: invalid timeout 'abc'; expected seconds such as 10, 2.5, 10s or 500ms"},
      {"timeout 10m", "socks.conf:1:11: unknown unit 'm' in the timeout; expected s or ms"},
      {"timeout 0", "socks.conf:1:9: timeout out of range; expected 1ms to 86400s"},
      {"timeout 86401", "socks.conf:1:9: timeout out of range; expected 1ms to 86400s"},
      {"timeout 1.", "socks.conf:1:9: invalid timeout '1.'; expected seconds such as 10, 2.5, 10s "
                     "or 500ms"},
      {"timeout 10 20", "socks.conf:1:12: unexpected '20'; expected the end of the line"},
      {"dns tunnel", "socks.conf:1:5: unknown DNS mode 'tunnel'; expected remote, local or system"},
      {"dns", "socks.conf:1:4: missing DNS mode; expected remote, local or system"},
      {"bind some", "socks.conf:1:6: unknown bind mode 'some'; expected auto, all or off"},
      {"udp yes", "socks.conf:1:5: unknown udp setting 'yes'; expected on or off"},
      {"log loud",
       "socks.conf:1:5: unknown log level 'loud'; expected quiet, error, warn, info or debug"},
      {"log-to console",
       "socks.conf:1:8: unknown log destination 'console'; expected stderr, syslog or file"},
      {"log-to file", "socks.conf:1:12: missing path; expected 'log-to file PATH'"},
      {"dns local\n\ndns remote",
       "socks.conf:3:1: duplicate setting 'dns' (first set at line 1); expected each setting once"},
      {"exclude", "socks.conf:1:8: missing program name; expected 'exclude NAME...'"},
      {"exclude /usr/sbin/sshd",
       "socks.conf:1:9: path '/usr/sbin/sshd' in exclude; expected an executable name without '/'"},
      // routes
      {"route", "socks.conf:1:6: missing destination; expected 'route MATCH[, MATCH...] -> TARGET'"},
      {"route * direct", "socks.conf:1:9: expected ',' and another destination, or '->' and a "
                         "target"},
      {"route 10.0.0.0/8, -> direct",
       "socks.conf:1:19: missing destination after ','; expected *, a network, a host name, "
       "*.DOMAIN or :PORT"},
      {"route * ->", "socks.conf:1:11: missing target; expected direct, block or proxy names after "
                     "'->'"},
      {"route * -> direct |",
       "socks.conf:1:20: missing target; expected a proxy name, direct or block"},
      {"proxy tor = socks5h://h\nproxy corp = socks5://h\nproxy jump = socks4a://h\n"
       "route 10.0.0.0/8  -> tro",
       "socks.conf:4:22: unknown proxy 'tro'; expected a name defined by 'proxy' (tor, corp, jump) "
       "or direct/block"},
      {"route * -> tor",
       "socks.conf:1:12: unknown proxy 'tor'; expected a name defined by 'proxy' (there is none), "
       "an inline URL, or direct/block"},
      {"proxy a = socks5://h\nroute * -> a > direct",
       "socks.conf:2:16: 'direct' cannot be part of a chain; expected proxy names joined by '>'"},
      {"proxy a = socks5://h\nroute * -> block > a",
       "socks.conf:2:12: 'block' cannot be part of a chain; expected proxy names joined by '>'"},
      {"route * -> socks5://h:0",
       "socks.conf:1:23: invalid proxy URL; expected a port number from 1 to 65535"},
      {"route * -> direct dns",
       "socks.conf:1:22: missing DNS mode; expected remote, local or system"},
      {"route * -> direct dns fake",
       "socks.conf:1:23: unknown DNS mode 'fake'; expected remote, local or system"},
      {"route * -> direct via x",
       "socks.conf:1:19: unexpected 'via'; expected '>' and a proxy, '|' and another target, 'dns "
       "MODE' or the end of the line"},
      {"route * -> direct dns local x",
       "socks.conf:1:29: unexpected 'x'; expected the end of the line"},
      // matches
      {"route 10.0.0.0/33 -> direct",
       "socks.conf:1:16: invalid prefix length '33'; expected 0 to 32"},
      {"route 2001:db8::/129 -> direct",
       "socks.conf:1:18: invalid prefix length '129'; expected 0 to 128"},
      {"route 10.0.0.0/x -> direct",
       "socks.conf:1:16: invalid prefix length 'x'; expected 0 to 32"},
      {"route 10.0.0.256 -> direct",
       "socks.conf:1:7: invalid IP address '10.0.0.256'; expected an IPv4 or IPv6 address"},
      {"route 10.0.0.0/8:70000 -> direct",
       "socks.conf:1:18: invalid port '70000'; expected a number from 1 to 65535"},
      {"route :0 -> direct", "socks.conf:1:8: invalid port '0'; expected a number from 1 to 65535"},
      {"route :9000-8000 -> direct",
       "socks.conf:1:8: empty port range '9000-8000'; expected LOW-HIGH with LOW <= HIGH"},
      {"route :80-x -> direct",
       "socks.conf:1:11: invalid port 'x'; expected a number from 1 to 65535"},
      {"route example.org: -> direct",
       "socks.conf:1:19: missing port; expected PORT or LOW-HIGH after ':'"},
      {"route [2001:db8::1 -> direct",
       "socks.conf:1:7: missing ']'; expected [IPv6] or [IPv6/PREFIX]"},
      {"route [10.0.0.1] -> direct",
       "socks.conf:1:8: IPv4 address in brackets; expected brackets only around IPv6"},
      {"route [::1]x -> direct",
       "socks.conf:1:12: unexpected 'x' after ']'; expected ':PORT' or nothing"},
      {"route [zz::1] -> direct",
       "socks.conf:1:8: invalid IP address 'zz::1'; expected an IPv6 address or network in "
       "brackets"},
      {"route *foo.example -> direct",
       "socks.conf:1:7: invalid wildcard '*foo.example'; expected '*' alone or '*.DOMAIN'"},
      {"route *. -> direct",
       "socks.conf:1:9: invalid domain '' after '*.'; expected a name like corp.example"},
      {"route *.a..b -> direct",
       "socks.conf:1:9: invalid domain 'a..b' after '*.'; expected a name like corp.example"},
      {"route foo$bar -> direct",
       "socks.conf:1:7: invalid host name 'foo$bar'; expected letters, digits, '-', '_' and dots, "
       "or *.DOMAIN"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(errorOf(c.text), c.error) << c.text;
  }
}

TEST(ConfigParse, ErrorsUseTheFileName) {
  auto r = parseConfig("udp maybe\n", "/etc/socksify/socks.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, "/etc/socksify/socks.conf");
  EXPECT_EQ(r.error().line, 1u);
  EXPECT_EQ(r.error().column, 5u);
  EXPECT_EQ(r.error().text(),
            "/etc/socksify/socks.conf:1:5: unknown udp setting 'maybe'; expected on or off");
}

TEST(ConfigParse, ErrorsNeverShowPasswords) {
  for (const char* text : {"proxy a = socks5://u:s3cret@h:0", "route * -> socks5://u:s3cret@h:x",
                           "proxy a = socks5://u:s3cret@h password-env X",
                           "proxy a = socks5://u:s3cret@h\nproxy a = socks5://h"}) {
    const std::string e = errorOf(text);
    EXPECT_EQ(e.find("s3cret"), std::string::npos) << e;
  }
}

TEST(ConfigParse, Warnings) {
  EXPECT_EQ(warningsOf("route 10.1.2.3/8 -> direct"),
            (std::vector<std::string>{"socks.conf:1:7: '10.1.2.3/8' has host bits set; it stands "
                                      "for 10.0.0.0/8 (write that)"}));
  EXPECT_EQ(parseOk("route 10.1.2.3/8 -> direct").routes[0].matches[0].network[1], 0);
  EXPECT_EQ(warningsOf("proxy a = socks5://h\nroute * -> a\nroute :22 -> direct\n"
                       "route 127.0.0.0/8 -> direct\nroute localhost -> a\n"),
            (std::vector<std::string>{"socks.conf:3:1: this route can never match: the route at "
                                      "line 2 matches every destination first; expected it "
                                      "before that route"}));
  EXPECT_TRUE(warningsOf("route :22 -> direct\nroute *:80 -> block\nroute * -> direct").empty());
  // A failed parse still reports the warnings met before the error.
  auto r = parseConfig("route 10.1.2.3/8 -> direct\nbogus\n");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.warnings.size(), 1u);
}

TEST(ConfigFormat, CanonicalText) {
  const Config c = parseOk(
      "proxy a = SOCKS5H://User:P%20w@[2001:db8::5]\n"
      "timeout 1500ms\n"
      "route [2001:db8::/32]:443, *.b.example:1-100, :8080 -> a | direct dns local\n");
  EXPECT_EQ(format(c),
            "# socks.conf(5)\n"
            "timeout 1500ms\n"
            "bind auto\n"
            "udp on\n"
            "log warn\n"
            "log-to stderr\n"
            "proxy a = socks5h://User:P%20w@[2001:db8::5]:1080\n"
            "route [2001:db8::/32]:443, *.b.example:1-100, :8080 -> a | direct dns local\n");
  expectRoundTrip(c);
}

TEST(ConfigFormat, RoundTripEverything) {
  expectRoundTrip(Config{});
  expectRoundTrip(configFromProxyList({}));
  auto urls = parseProxyList("socks5h://u:p@192.0.2.1:1080,socks4://198.51.100.2");
  ASSERT_TRUE(urls.ok());
  expectRoundTrip(configFromProxyList(*urls));
  Config c = parseOk(
      "timeout 0.25\ndns system\nbind off\nudp off\nlog info\nlog-to syslog\nexclude a b\n"
      "proxy x = socks4://id@h.example:1\nproxy y = socks5://u@h password-file /p\n"
      "route * -> x > y | socks5://a:b%3Ac@[::1]:2 | block dns remote\n");
  expectRoundTrip(c);
}

TEST(ConfigFromProxyList, IsAChain) {
  auto urls = parseProxyList("socks5://192.0.2.1,socks5h://u:pw@198.51.100.2:9050");
  ASSERT_TRUE(urls.ok());
  const Config c = configFromProxyList(*urls);
  const Config expected = parseOk(
      "proxy p1 = socks5://192.0.2.1\n"
      "proxy p2 = socks5h://u:pw@198.51.100.2:9050\n"
      "route * -> p1 > p2\n");
  EXPECT_TRUE(c.proxies == expected.proxies);
  EXPECT_TRUE(c.routes == expected.routes);
  EXPECT_TRUE(configFromProxyList({}).routes.empty());
}

// ---- credentials ----------------------------------------------------------------------

struct FakeWorld {
  std::map<std::string, std::string> env;
  std::map<std::string, FileRead> files;

  CredentialSources sources(bool config_world_readable = false) {
    CredentialSources s;
    s.getenv = [this](const char* name) -> const char* {
      auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    };
    s.read_file = [this](const std::string& path) {
      auto it = files.find(path);
      if (it == files.end()) {
        FileRead r;
        r.sys_errno = ENOENT;
        return r;
      }
      return it->second;
    };
    s.config_world_readable = config_world_readable;
    return s;
  }
};

FileRead fileWith(std::string contents, bool world_readable) {
  FileRead r;
  r.ok = true;
  r.contents = std::move(contents);
  r.world_readable = world_readable;
  return r;
}

TEST(Credentials, FromEnvironmentAndFiles) {
  Config c = parseOk(
      "proxy a = socks5://alice@h password-env A_PASS\n"
      "proxy b = socks5://bob@h password-file /etc/b.pass\n"
      "proxy c = socks5://carol@h password-file /etc/b.pass\n"
      "proxy d = socks5://dave:inline@h\n");
  FakeWorld w;
  w.env["A_PASS"] = "env-secret";
  w.files["/etc/b.pass"] = fileWith("file-secret\r\nsecond line\n", true);
  auto r = resolveCredentials(c, w.sources());
  ASSERT_TRUE(r.ok()) << r.error().text();
  EXPECT_EQ(c.proxies[0].url.password, "env-secret");
  EXPECT_TRUE(c.proxies[0].url.has_password);
  EXPECT_EQ(c.proxies[1].url.password, "file-secret");
  EXPECT_EQ(c.proxies[2].url.password, "file-secret");
  // One warning for the one world-readable password file.
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].text(),
            "socks.conf:2:40: password file /etc/b.pass is readable by every user; expected mode "
            "0600 (chmod o-r /etc/b.pass)");
  // A resolved secret never reaches format().
  const std::string text = format(c);
  EXPECT_EQ(text.find("env-secret"), std::string::npos);
  EXPECT_EQ(text.find("file-secret"), std::string::npos);
  EXPECT_NE(text.find("password-env A_PASS"), std::string::npos);
}

TEST(Credentials, ConfigFileWorldReadable) {
  Config c = parseOk(
      "proxy a = socks5://u:one@h\nproxy b = socks5://u:two@h\nproxy n = socks5://h\n");
  FakeWorld w;
  auto r = resolveCredentials(c, w.sources(true));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].text(),
            "socks.conf:1:7: this file holds a password and is readable by every user; expected "
            "mode 0600, or password-env/password-file");
  EXPECT_TRUE(resolveCredentials(c, w.sources(false)).warnings.empty());
  Config none = parseOk("proxy n = socks5://h\n");
  EXPECT_TRUE(resolveCredentials(none, w.sources(true)).warnings.empty());
}

TEST(Credentials, Errors) {
  FakeWorld w;
  w.env["EMPTY"] = "";
  w.files["/empty"] = fileWith("\nx\n", false);
  struct Case {
    const char* text;
    const char* error;
  };
  for (const Case& k : {
           Case{"proxy a = socks5://u@h password-env NOPE",
                "socks.conf:1:37: environment variable NOPE is not set; expected the password of "
                "proxy 'a'"},
           Case{"proxy a = socks5://u@h password-env EMPTY",
                "socks.conf:1:37: environment variable EMPTY is empty; expected the password of "
                "proxy 'a'"},
           Case{"proxy a = socks5://u@h password-file /nope",
                "socks.conf:1:38: cannot read password file /nope: No such file or directory; "
                "expected a readable file"},
           Case{"proxy a = socks5://u@h password-file /empty",
                "socks.conf:1:38: password file /empty has an empty first line; expected the "
                "password there"},
       }) {
    Config c = parseOk(std::string("proxy ok = socks5://u@h password-file /f\n") + k.text);
    w.files["/f"] = fileWith("good", false);
    const Config before = c;
    auto r = resolveCredentials(c, w.sources());
    ASSERT_FALSE(r.ok()) << k.text;
    Diagnostic d = r.error();
    d.line -= 1;  // the case text starts on line 2
    EXPECT_EQ(d.text(), k.error);
    EXPECT_TRUE(c == before) << "half-applied";
    EXPECT_FALSE(c.proxies[0].url.has_password);
  }
}

// ---- lookup ---------------------------------------------------------------------------

struct Lookup {
  std::map<std::string, std::string> env;
  std::vector<std::string> files;
  bool secure = false;
  std::optional<ConfigLocation> find(std::string_view explicit_path = {}) {
    LookupEnv e;
    e.getenv = [this](const char* name) -> const char* {
      auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    };
    e.exists = [this](const std::string& p) {
      return std::find(files.begin(), files.end(), p) != files.end();
    };
    e.secure = secure;
    return findConfigFile(explicit_path, e);
  }
};

TEST(Lookup, Order) {
  Lookup l;
  EXPECT_FALSE(l.find().has_value());
  l.files.push_back("/etc/socksify/socks.conf");
  EXPECT_EQ(l.find()->path, "/etc/socksify/socks.conf");
  EXPECT_EQ(l.find()->source, ConfigLocation::Source::kSystem);
  l.env["HOME"] = "/home/a";
  l.files.push_back("/home/a/.config/socksify/socks.conf");
  EXPECT_EQ(l.find()->path, "/home/a/.config/socksify/socks.conf");
  EXPECT_EQ(l.find()->source, ConfigLocation::Source::kUser);
  l.env["XDG_CONFIG_HOME"] = "/xdg";  // exists not: falls through to /etc
  EXPECT_EQ(l.find()->path, "/etc/socksify/socks.conf");
  l.files.push_back("/xdg/socksify/socks.conf");
  EXPECT_EQ(l.find()->path, "/xdg/socksify/socks.conf");
  l.env["XDG_CONFIG_HOME"] = "relative";  // not absolute: ignored
  EXPECT_EQ(l.find()->path, "/home/a/.config/socksify/socks.conf");
  l.env["SOCKSIFY_CONF"] = "/missing.conf";  // explicit: returned even if absent
  EXPECT_EQ(l.find()->path, "/missing.conf");
  EXPECT_EQ(l.find()->source, ConfigLocation::Source::kEnvironment);
  EXPECT_EQ(l.find("/c.conf")->path, "/c.conf");
  EXPECT_EQ(l.find("/c.conf")->source, ConfigLocation::Source::kExplicit);
  l.secure = true;
  EXPECT_EQ(l.find("/c.conf")->path, "/etc/socksify/socks.conf");
  l.files.clear();
  EXPECT_FALSE(l.find("/c.conf").has_value());
}

// ---- socks.conf.example ---------------------------------------------------------------

TEST(Example, ParsesAndRoundTrips) {
  const std::filesystem::path here(__FILE__);
  const auto path = here.parent_path().parent_path().parent_path().parent_path() /
                    "socks.conf.example";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::stringstream buf;
  buf << in.rdbuf();
  auto r = parseConfig(buf.str(), "socks.conf.example");
  ASSERT_TRUE(r.ok()) << r.error().text();
  EXPECT_TRUE(r.warnings.empty()) << r.warnings[0].text();
  EXPECT_GE(r->proxies.size(), 4u);
  EXPECT_GE(r->routes.size(), 6u);
  EXPECT_FALSE(r->excludes.empty());
  expectRoundTrip(*r);
}

}  // namespace
}  // namespace socks
