// Routes from socks.conf(5), end to end, with the library reading the file
// itself (bare LD_PRELOAD + SOCKSIFY_CONF): one destination direct and
// another proxied in the same program, a two-hop chain, failover when the
// first proxy is down, excluded programs, per-route DNS, an invalid file that
// blocks instead of leaking, and log-to file.
//
// The namespace lab proves every path: the client reaches the destination
// network only through the proxy namespace, and the destination reports the
// address each connection came from.
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "lab_fixture.h"

namespace sfy::it {
namespace {

using namespace std::chrono_literals;

class RoutesTest : public LabTest {
 protected:
  void SetUp() override { buildLab(); }

  // Runs `program` in the client namespace under the library, configured by
  // socks.conf text `conf` (and nothing from the test machine's own files).
  RunResult runWithConf(const std::string& conf, const Argv& program, const Env& more = {},
                        std::chrono::milliseconds timeout = 40s) {
    const std::string path = dir_.write("socks.conf", conf);
    SpawnOptions so;
    so.netns = lab_->clientNs();
    so.env = {"LD_PRELOAD=" + shimPath(), "SOCKSIFY_CONF=" + path,
              "XDG_CONFIG_HOME=/nonexistent", "HOME=/nonexistent"};
    so.env.insert(so.env.end(), more.begin(), more.end());
    return run(program, so, timeout);
  }

  // A server the client reaches directly: on the proxy's side of the client link.
  int startDirectServer() {
    direct_ = startTcpServer(lab_->proxyNs(0), {"--echo", lab_->proxyAddr(0) + ":0"});
    return direct_.ports.empty() ? 0 : direct_.ports[0];
  }

  std::string proxyUrl(const std::string& scheme, int index = 0) const {
    return scheme + "://" + lab_->proxyAddr(index) + ":1080";
  }

  TempDir dir_;
  DestServer direct_;
};

// "route NET -> direct" and "route NET -> proxy" in one program: the proxied
// destination sees the proxy's address, the direct one the client's own.
TEST_F(RoutesTest, OneProgramGoesDirectToOneNetworkAndThroughTheProxyToAnother) {
  for (ProxyKind kind : {ProxyKind::kSocksd, ProxyKind::kDanted}) {
    if (kindTool(kind).empty()) continue;
    SCOPED_TRACE(kindName(kind));
    servers_.clear();
    startProxy(kind);
    ASSERT_FALSE(HasFailure());
    const int direct_port = startDirectServer();
    ASSERT_NE(direct_port, 0);
    const std::string conf = "proxy office = " + proxyUrl("socks5") +
                             "\n"
                             "route 192.0.2.0/24 -> direct\n"
                             "route 198.51.100.0/24 -> office\n"
                             "route * -> block\n";
    RunResult r = runWithConf(conf,
                              {helper("tcp_client"), lab_->destAddr(), "7", "--after",
                               lab_->proxyAddr(0) + ":" + std::to_string(direct_port)},
                              {"SOCKSIFY_LOG=info"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    const std::size_t after = r.out.find("after:");
    ASSERT_NE(after, std::string::npos) << r.describe();
    EXPECT_TRUE(contains(r.out.substr(0, after), peerViaProxy())) << r.describe();
    EXPECT_TRUE(contains(r.out.substr(after), "peer " + lab_->clientAddr() + ":")) << r.describe();
    EXPECT_TRUE(contains(r.err, "via office: ok")) << r.describe();
    EXPECT_TRUE(contains(r.err, "direct (" + dir_.path() + "/socks.conf:2)")) << r.describe();
    expectDestSawOnlyProxy();
    // `route * -> block` refuses the rest, with EACCES.
    RunResult b = runWithConf(conf, {helper("tcp_client"), "203.0.113.9", "7"});
    EXPECT_EQ(b.exit_code, 1) << b.describe();
    EXPECT_TRUE(contains(b.err, "EACCES")) << b.describe();
  }
}

// "route * -> first > second": the second proxy is reachable only through the
// first, and the destination only through the second, so the connection
// arriving from the second proxy's address proves both hops.
TEST_F(RoutesTest, TwoHopChainFromTheFileUsesBothProxies) {
  lab_.reset();
  dest_ = {};
  static const std::string reason = NetLab::unavailableReason();
  if (!reason.empty()) GTEST_SKIP() << reason;
  lab_ = std::make_unique<NetLab>(2);
  ASSERT_TRUE(lab_->ok()) << lab_->error();
  dest_ = startTcpServer(lab_->destNs(), {"--echo", "0.0.0.0:7"});
  ASSERT_EQ(dest_.ports.size(), 1u);
  const std::vector<std::pair<ProxyKind, ProxyKind>> pairs = {
      {ProxyKind::kSocksd, ProxyKind::kDanted}, {ProxyKind::kSocksd, ProxyKind::kSocksd}};
  for (const auto& [first, second] : pairs) {
    if (kindTool(first).empty() || kindTool(second).empty()) continue;
    SCOPED_TRACE(std::string(kindName(first)) + " > " + kindName(second));
    servers_.clear();
    startProxy(first, 0);
    startProxy(second, 1);
    ASSERT_FALSE(HasFailure());
    const std::string conf = "proxy first = " + proxyUrl("socks5", 0) +
                             "\n"
                             "proxy second = " + proxyUrl("socks5h", 1) +
                             "\n"
                             "route * -> first > second\n";
    RunResult r = runWithConf(conf, {helper("tcp_client"), NetLab::kRemoteName, "7"},
                              {"SOCKSIFY_LOG=info"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, peerViaProxy(1))) << r.describe();
    EXPECT_TRUE(contains(r.err, "via first > second: ok")) << r.describe();
    expectDestSawOnlyProxy(1);
    expectNoDnsLeak();
  }
}

// "route * -> dead | live": the first proxy refuses connections, the second
// carries the connection; a black-holed first proxy costs one timeout.
TEST_F(RoutesTest, FailoverToTheNextAlternativeWhenTheFirstProxyIsDown) {
  startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  const std::string refused = "socks5h://" + lab_->proxyAddr(0) + ":1081";  // nobody listens
  const std::string hole = "socks5h://" + lab_->blackholeAddr() + ":1080";
  {
    const std::string conf = "proxy dead = " + refused + "\nproxy live = " +
                             proxyUrl("socks5h") + "\nroute * -> dead | live\n";
    RunResult r = runWithConf(conf, {helper("tcp_client"), NetLab::kRemoteName, "7"},
                              {"SOCKSIFY_LOG=info"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, peerViaProxy())) << r.describe();
    EXPECT_TRUE(contains(r.err, "via dead: failed at hop 1")) << r.describe();
    EXPECT_TRUE(contains(r.err, "trying the next alternative (2 of 2)")) << r.describe();
    EXPECT_TRUE(contains(r.err, "via live: ok")) << r.describe();
  }
  {
    const std::string conf = "timeout 1s\nproxy hole = " + hole + "\nproxy live = " +
                             proxyUrl("socks5h") + "\nroute * -> hole | live\n";
    RunResult r = runWithConf(conf, {helper("tcp_client"), NetLab::kRemoteName, "7", "--nonblocking"},
                              {"SOCKSIFY_LOG=info"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, peerViaProxy())) << r.describe();
    EXPECT_TRUE(contains(r.err, "via hole: failed at hop 1")) << r.describe();
  }
  {
    // Every alternative down: the errno of the last attempt.
    const std::string conf = "timeout 1s\nproxy hole = " + hole + "\nproxy dead = " + refused +
                             "\nroute * -> hole | dead\n";
    RunResult r = runWithConf(conf, {helper("tcp_client"), NetLab::kRemoteName, "7"});
    EXPECT_EQ(r.exit_code, 1) << r.describe();
    EXPECT_TRUE(contains(r.err, "ECONNREFUSED")) << r.describe();
  }
  expectDestSawOnlyProxy();
  expectNoDnsLeak();
}

// "exclude NAME": that program runs unproxied (and here cannot reach the
// destination network at all), while another program with the same file is
// proxied.
TEST_F(RoutesTest, ExcludedProgramIsNotSocksified) {
  startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  const std::string conf = "proxy p = " + proxyUrl("socks5h") +
                           "\n"
                           "route * -> p\n"
                           "log info\n"
                           "exclude tcp_client sshd\n";
  RunResult excluded = runWithConf(conf, {helper("tcp_client"), lab_->destAddr(), "7"});
  EXPECT_EQ(excluded.exit_code, 1) << excluded.describe();
  EXPECT_TRUE(contains(excluded.err, "ENETUNREACH")) << excluded.describe();
  EXPECT_FALSE(contains(excluded.err, "socksify:")) << excluded.describe();

  const std::string py = python3Path();
  if (py.empty()) GTEST_SKIP() << "python3 not installed";
  RunResult proxied = runWithConf(
      conf, {py, "-c",
             "import socket; s = socket.create_connection(('" + lab_->destAddr() +
                 "', 7), timeout=20); print(s.recv(100).decode().strip())"});
  ASSERT_EQ(proxied.exit_code, 0) << proxied.describe();
  EXPECT_TRUE(contains(proxied.out, peerViaProxy())) << proxied.describe();
  EXPECT_TRUE(contains(proxied.err, "via p: ok")) << proxied.describe();
}

// Per-route DNS: names under a `dns system` route are asked of the system
// resolver (the client namespace's DNS sink sees them); names under the
// socks5h route never leave the machine (fake addresses).
TEST_F(RoutesTest, PerRouteDnsModes) {
  startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  const std::string getent = findTool("getent");
  if (getent.empty()) GTEST_SKIP() << "getent not installed";
  const std::string conf = "proxy p = " + proxyUrl("socks5h") +
                           "\n"
                           "route *.sys.socksify.test -> direct dns system\n"
                           "route *.loc.socksify.test -> p dns local\n"
                           "route * -> p\n";
  RunResult remote = runWithConf(conf, {getent, "ahostsv4", "www.remote.socksify.test"});
  EXPECT_EQ(remote.exit_code, 0) << remote.describe();
  EXPECT_TRUE(contains(remote.out, "198.18.")) << remote.describe();  // a fake address
  (void)runWithConf(conf, {getent, "ahostsv4", "www.sys.socksify.test"});
  (void)runWithConf(conf, {getent, "ahostsv4", "www.loc.socksify.test"});
  bool sys = false;
  bool loc = false;
  std::string all;
  for (const std::string& q : lab_->dnsQueries()) {
    all += q + "\n";
    EXPECT_FALSE(contains(q, "remote.socksify.test")) << all;
    sys = sys || contains(q, "www.sys.socksify.test");
    loc = loc || contains(q, "www.loc.socksify.test");
  }
  EXPECT_TRUE(sys) << "the dns system name was not asked of the system resolver:\n" << all;
  EXPECT_TRUE(loc) << "the dns local name was not resolved here:\n" << all;
}

// An invalid file is reported once, with FILE:LINE:COLUMN, and never half
// applied: what would have been proxied fails with EACCES instead of
// leaking; loopback still works.
TEST_F(RoutesTest, InvalidFileBlocksInsteadOfLeaking) {
  const std::string conf = "proxy p = socks5h://192.0.2.2:1080\n"
                           "route 198.51.100.0/24 -> direct\n"
                           "route * -> tro\n";
  RunResult r = runWithConf(conf, {helper("tcp_client"), lab_->destAddr(), "7"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "EACCES")) << r.describe();
  const std::string where = dir_.path() + "/socks.conf:3:12: unknown proxy 'tro'";
  EXPECT_EQ(countOccurrences(r.err, where), 1u) << r.describe();

  DestServer local = startTcpServer(lab_->clientNs(), {"--echo", "127.0.0.1:0"});
  ASSERT_EQ(local.ports.size(), 1u);
  RunResult l = runWithConf(conf, {helper("tcp_client"), "127.0.0.1", std::to_string(local.ports[0])});
  EXPECT_EQ(l.exit_code, 0) << l.describe();
  EXPECT_TRUE(contains(l.out, "peer 127.0.0.1:")) << l.describe();
}

// "log info" + "log-to file PATH": the trace goes to the file, nothing to
// the program's stderr.
TEST_F(RoutesTest, LogToFile) {
  startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  const std::string log = dir_.path() + "/socksify.log";
  const std::string conf = "proxy p = " + proxyUrl("socks5h") +
                           "\n"
                           "log info\n"
                           "log-to file " + log + "\n";
  RunResult r = runWithConf(conf, {helper("tcp_client"), NetLab::kRemoteName, "7"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, peerViaProxy())) << r.describe();
  EXPECT_FALSE(contains(r.err, "socksify:")) << r.describe();
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(contains(text.str(), "socksify: connect dest.socksify.test:7 via p: ok"))
      << text.str();
}

// UDP follows routes too: through the route's chain (the destination sees
// the proxy's relay), and with `udp off` a proxied destination is refused
// (ENETUNREACH) rather than sent directly.
TEST_F(RoutesTest, UdpFollowsTheRouteAndUdpOffRefusesInsteadOfLeaking) {
  startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  SpawnOptions dso;
  dso.netns = lab_->destNs();
  Process udp_dest({helper("udp_server"), "--echo", "0.0.0.0:7"}, dso);
  ASSERT_TRUE(udp_dest.waitForLine("udp_server: listening on ", 10s)) << udp_dest.err();
  const std::string conf = "proxy p = " + proxyUrl("socks5h") + "\nroute 198.51.100.0/24 -> p\n";
  RunResult on = runWithConf(conf, {helper("udp_client"), lab_->destAddr(), "7", "--timeout", "5"});
  ASSERT_EQ(on.exit_code, 0) << on.describe();
  EXPECT_TRUE(contains(on.out, "saw " + lab_->proxyExternal(0) + ":")) << on.describe();

  RunResult off = runWithConf(conf + "udp off\n",
                              {helper("udp_client"), lab_->destAddr(), "7", "--timeout", "2"});
  EXPECT_EQ(off.exit_code, 1) << off.describe();
  EXPECT_TRUE(contains(off.err, "ENETUNREACH")) << off.describe();
  const std::string from_client = "from " + lab_->clientAddr() + ":";
  EXPECT_FALSE(contains(udp_dest.out(), from_client)) << udp_dest.out();
}

// socks.conf.example is the documentation's whole example: the library and
// the launcher read it as it is, and its routes decide as its comments say.
TEST_F(RoutesTest, TheExampleFileRoutesAsItsCommentsSay) {
  const std::string example = std::string(SOCKSIFY_SOURCE_DIR) + "/socks.conf.example";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"127.0.0.1:631", "route 1 (" + example + ":41): direct"},
      {"192.0.2.7:80", "route 2 (" + example + ":42): direct"},
      {"git.corp.example:443", "route 3 (" + example + ":46): corp"},
      {"10.1.2.3:22", "route 3 (" + example + ":46): corp"},
      {"abcdef.onion:80", "route 4 (" + example + ":49): tor"},
      {"198.51.100.20:22", "route 5 (" + example + ":53): jump > partner"},
      {"203.0.113.5:80", "route 6 (" + example + ":56): block"},
      {"www.example.org:443", "route 8 (" + example + ":62): tor | corp"},
  };
  SpawnOptions so;
  so.env = {"XDG_CONFIG_HOME=/nonexistent", "HOME=/nonexistent"};
  for (const auto& [dst, want] : cases) {
    RunResult r = run({launcherPath(), "-c", example, "--explain", dst}, so, 10s);
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, "=> " + want)) << dst << "\n" << r.describe();
  }
  // The library loads it too (with the partner's password file made real):
  // 203.0.113.0/24 is blocked by its route (EACCES, no proxy tried), and the
  // file is applied, not replaced by the all-blocking fallback.
  std::ifstream in(example);
  std::stringstream text;
  text << in.rdbuf();
  std::string conf = text.str();
  const std::string pass_file = dir_.write("partner.pass", "secret\n");
  const std::string old_path = "/etc/socksify/partner.pass";
  conf.replace(conf.find(old_path), old_path.size(), pass_file);
  RunResult blocked = runWithConf(conf, {helper("tcp_client"), "203.0.113.5", "80"},
                                  {"CORP_PASS=secret", "SOCKSIFY_LOG=info"});
  EXPECT_FALSE(contains(blocked.err, "not applied")) << blocked.describe();
  EXPECT_TRUE(contains(blocked.err, "connect 203.0.113.5:80: blocked")) << blocked.describe();
  EXPECT_EQ(blocked.exit_code, 1) << blocked.describe();
  EXPECT_TRUE(contains(blocked.err, "EACCES")) << blocked.describe();
}

// Passwords kept out of the file: password-env and password-file reach the
// proxy (RFC 1929); a missing variable makes the whole file invalid (EACCES,
// and the message names the variable, never a password).
TEST_F(RoutesTest, PasswordsFromTheEnvironmentOrAFile) {
  ProxyStart ps;
  ps.user = "alice";
  ps.password = "s3cret-pw";
  startProxy(ProxyKind::kSocksd, 0, ps);
  ASSERT_FALSE(HasFailure());
  const std::string url = "socks5h://alice@" + lab_->proxyAddr(0) + ":1080";
  const std::string by_env = "proxy p = " + url + " password-env P_PASS\n";
  RunResult env = runWithConf(by_env, {helper("tcp_client"), NetLab::kRemoteName, "7"},
                              {"P_PASS=s3cret-pw", "SOCKSIFY_LOG=debug"});
  ASSERT_EQ(env.exit_code, 0) << env.describe();
  EXPECT_TRUE(contains(env.out, peerViaProxy())) << env.describe();
  EXPECT_FALSE(contains(env.err, "s3cret")) << env.describe();

  const std::string file = dir_.write("p.pass", "s3cret-pw\n");
  chmod(file.c_str(), 0600);
  RunResult by_file = runWithConf("proxy p = " + url + " password-file " + file + "\n",
                                  {helper("tcp_client"), NetLab::kRemoteName, "7"});
  ASSERT_EQ(by_file.exit_code, 0) << by_file.describe();
  EXPECT_TRUE(contains(by_file.out, peerViaProxy())) << by_file.describe();
  EXPECT_FALSE(contains(by_file.err, "readable by every user")) << by_file.describe();

  RunResult unset = runWithConf(by_env, {helper("tcp_client"), NetLab::kRemoteName, "7"});
  EXPECT_EQ(unset.exit_code, 1) << unset.describe();
  EXPECT_TRUE(contains(unset.err, "environment variable P_PASS is not set")) << unset.describe();
  EXPECT_TRUE(contains(unset.err, "EACCES")) << unset.describe();

  RunResult wrong = runWithConf(by_env, {helper("tcp_client"), NetLab::kRemoteName, "7"},
                                {"P_PASS=wrong"});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.describe();
  EXPECT_TRUE(contains(wrong.err, "EACCES")) << wrong.describe();
}

// A proxy written as a host name is resolved at its first use, not when a
// program starts: a program that never uses that route never asks for the
// proxy's name (what makes a system-wide file with such proxies cheap), and
// one that does gets EHOSTUNREACH when the name does not resolve.
TEST_F(RoutesTest, ProxyHostNamesAreResolvedAtFirstUse) {
  const int direct_port = startDirectServer();
  ASSERT_NE(direct_port, 0);
  const std::string conf =
      "proxy far = socks5h://proxy.unknown.socksify.test:1080\n"
      "route 192.0.2.0/24 -> direct\n"
      "route * -> far\n";
  RunResult direct = runWithConf(
      conf, {helper("tcp_client"), lab_->proxyAddr(0), std::to_string(direct_port)});
  ASSERT_EQ(direct.exit_code, 0) << direct.describe();
  EXPECT_TRUE(lab_->dnsQueries().empty()) << "the unused proxy's name was looked up";

  RunResult far = runWithConf(conf, {helper("tcp_client"), lab_->destAddr(), "7"});
  EXPECT_EQ(far.exit_code, 1) << far.describe();
  EXPECT_TRUE(contains(far.err, "EHOSTUNREACH")) << far.describe();
  EXPECT_TRUE(contains(far.err, "cannot resolve proxy host proxy.unknown.socksify.test"))
      << far.describe();
  bool asked = false;
  for (const std::string& q : lab_->dnsQueries()) {
    asked = asked || contains(q, "proxy.unknown.socksify.test");
  }
  EXPECT_TRUE(asked);
}

// Failover remembers: once the first alternative's proxy has failed, the
// next connections of the process try the working one first (and the dead
// one only after it), instead of waiting out a timeout every time.
TEST_F(RoutesTest, FailoverTriesARecentlyDeadProxyLast) {
  startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  const std::string conf = "timeout 1s\nproxy hole = socks5h://" + lab_->blackholeAddr() +
                           ":1080\nproxy live = " + proxyUrl("socks5h") +
                           "\nroute * -> hole | live\n";
  RunResult r = runWithConf(conf,
                            {helper("tcp_client"), NetLab::kRemoteName, "7", "--threads", "1",
                             "--conns", "4"},
                            {"SOCKSIFY_LOG=info"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "summary ok=4 failed=0")) << r.describe();
  // The black hole is tried once; later connections go to `live` first.
  EXPECT_EQ(countOccurrences(r.err, "via hole: failed at hop 1"), 1u) << r.describe();
  EXPECT_EQ(countOccurrences(r.err, "via live: ok"), 4u) << r.describe();
  EXPECT_EQ(countOccurrences(r.err, "trying the next alternative"), 1u) << r.describe();
  expectDestSawOnlyProxy();
}

}  // namespace
}  // namespace sfy::it
