// The launcher's configuration side: -c and the lookup order, --check against
// real proxies (socksd on loopback; danted and socksd chains in network
// namespaces), --explain, --import-proxychains, and that --help and
// socksify(1) document the same options and environment variables.
//
// --check output is a table per chain; rowOf() splits a hop's row into its
// columns (hop, proxy, address, tcp, method, auth, connect), which are
// separated by two or more spaces.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"
#include "lab_fixture.h"

namespace sfy::it {
namespace {

using namespace std::chrono_literals;

enum Column { kHop = 0, kProxy, kAddress, kTcp, kMethod, kAuth, kConnect };

std::vector<std::string> splitColumns(const std::string& line) {
  std::vector<std::string> cols;
  std::size_t i = line.find_first_not_of(' ');
  while (i != std::string::npos && i < line.size()) {
    std::size_t end = line.find("  ", i);
    cols.push_back(line.substr(i, end == std::string::npos ? std::string::npos : end - i));
    if (end == std::string::npos) break;
    i = line.find_first_not_of(' ', end);
  }
  return cols;
}

// The columns of hop `hop` (1-based) in the table of chain `chain` (1-based).
std::vector<std::string> rowOf(const std::string& out, int chain, int hop) {
  const auto ls = lines(out);
  const std::string head = "chain " + std::to_string(chain) + ":";
  for (std::size_t i = 0; i < ls.size(); ++i) {
    if (ls[i].rfind(head, 0) != 0) continue;
    for (std::size_t j = i + 1; j < ls.size() && !ls[j].empty(); ++j) {
      auto cols = splitColumns(ls[j]);
      if (cols.size() == 7 && cols[kHop] == std::to_string(hop)) return cols;
    }
  }
  return {};
}

RunResult launcher(const Argv& args, const SpawnOptions& so = {}, std::chrono::milliseconds timeout = 30s) {
  Argv argv = {launcherPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, so, timeout);
}

// A clean lookup: no user file, whatever the machine running the tests has.
SpawnOptions isolated(const TempDir& home, Env more = {}) {
  SpawnOptions so;
  so.env = {"HOME=" + home.path(), "XDG_CONFIG_HOME=" + home.path() + "/xdg"};
  so.env.insert(so.env.end(), more.begin(), more.end());
  return so;
}

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::set<std::string> allMatches(const std::string& text, const std::regex& re) {
  std::set<std::string> found;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
    found.insert(it->str());
  return found;
}

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += x + " ";
  return out;
}

// ---------------------------------------------------------------- documentation

TEST(LauncherDocs, HelpAndManPageDocumentTheSameOptionsAndVariables) {
  RunResult help = launcher({"--help"}, {}, 10s);
  ASSERT_EQ(help.exit_code, 0) << help.describe();
  std::string man = readFile(std::string(SOCKSIFY_SOURCE_DIR) + "/docs/socksify.1");
  ASSERT_FALSE(man.empty());
  // roff writes a minus as "\-".
  man = std::regex_replace(man, std::regex(R"(\\-)"), "-");
  const std::regex long_opt(R"(--[a-z][a-z-]*[a-z])");
  const std::regex variable(R"(SOCKSIFY_[A-Z_]+)");
  for (const std::regex* re : {&long_opt, &variable}) {
    const auto in_help = allMatches(help.out, *re);
    const auto in_man = allMatches(man, *re);
    EXPECT_FALSE(in_help.empty());
    for (const auto& o : in_help) EXPECT_TRUE(in_man.count(o)) << o << " is in --help but not in socksify.1";
    for (const auto& o : in_man) EXPECT_TRUE(in_help.count(o)) << o << " is in socksify.1 but not in --help";
    std::cerr << "documented in both: " << join(in_help) << "\n";
  }
  for (const char* opt : {"--config", "--check", "--target", "--explain", "--import-proxychains"})
    EXPECT_TRUE(contains(help.out, opt)) << opt;
  for (const char* section : {".SH FILES", ".SH EXIT STATUS", ".SH ENVIRONMENT", "/etc/socksify/socks.conf"})
    EXPECT_TRUE(contains(man, section)) << section;
}

// ---------------------------------------------------------------- -c and the lookup

TEST(LauncherConfig, InvalidFileExits2WithFileLineColumn) {
  TempDir d;
  const std::string path = d.write("bad.conf", "proxy a = socks5://192.0.2.1\nroute * -> tro\n");
  RunResult r = launcher({"-c", path, "--", "true"}, isolated(d), 10s);
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  const std::string expected =
      path + ":2:12: unknown proxy 'tro'; expected a name defined by 'proxy' (a) or direct/block";
  const auto ls = lines(r.err);
  ASSERT_FALSE(ls.empty()) << r.describe();
  EXPECT_EQ(ls[0], expected) << r.describe();
  // The same for --check and for a missing file.
  RunResult c = launcher({"-c", path, "--check"}, isolated(d), 10s);
  EXPECT_EQ(c.exit_code, 2) << c.describe();
  EXPECT_TRUE(contains(c.err, expected)) << c.describe();
  RunResult m = launcher({"-c", d.path() + "/missing.conf", "--", "true"}, isolated(d), 10s);
  EXPECT_EQ(m.exit_code, 2) << m.describe();
  EXPECT_TRUE(contains(m.err, d.path() + "/missing.conf: cannot read: No such file or directory")) << m.describe();
}

TEST(LauncherConfig, ProxyAndConfigExcludeEachOther) {
  TempDir d;
  const std::string path = d.write("ok.conf", "proxy a = socks5://192.0.2.1\n");
  RunResult r = launcher({"-x", "socks5://192.0.2.1", "-c", path, "--", "true"}, isolated(d), 10s);
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, "socksify: -x and -c exclude each other")) << r.describe();
  RunResult c = launcher({"-c", path, "-x", "socks5://192.0.2.1", "--check"}, isolated(d), 10s);
  EXPECT_EQ(c.exit_code, 2) << c.describe();
  EXPECT_TRUE(c.out.empty()) << c.describe();
}

TEST(LauncherConfig, ConfigFileIsHandedToTheProgramAndProxyVariableRemoved) {
  TempDir d;
  d.write("ok.conf", "proxy a = socks5://192.0.2.1\n");
  // A relative path becomes absolute (the program may change directory), and
  // SOCKSIFY_PROXY, which the library would prefer, is removed.
  const std::string script = "cd '" + d.path() + "' && exec '" + launcherPath() +
                             "' -c ok.conf -- sh -c 'echo \"conf=$SOCKSIFY_CONF proxy=${SOCKSIFY_PROXY-unset}\"'";
  RunResult r = run({"sh", "-c", script}, isolated(d, {"SOCKSIFY_PROXY=socks5://192.0.2.9"}), 10s);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "conf=" + d.path() + "/ok.conf proxy=unset")) << r.describe();
}

TEST(LauncherConfig, LookupValidatesTheUserFile) {
  TempDir d;
  ::mkdir((d.path() + "/xdg").c_str(), 0700);
  ::mkdir((d.path() + "/xdg/socksify").c_str(), 0700);
  const std::string path = d.write("xdg/socksify/socks.conf", "timeout forever\n");
  RunResult r = launcher({"--", "true"}, isolated(d), 10s);
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, path + ":1:9: ")) << r.describe();
  // A valid one runs the program, and SOCKSIFY_CONF (earlier in the order) wins over it.
  const std::string good = d.write("good.conf", "proxy a = socks5://192.0.2.1\n");
  RunResult g = launcher({"--", "true"}, isolated(d, {"SOCKSIFY_CONF=" + good}), 10s);
  EXPECT_EQ(g.exit_code, 0) << g.describe();
  // SOCKSIFY_PROXY takes precedence over any file.
  RunResult p = launcher({"--", "true"}, isolated(d, {"SOCKSIFY_PROXY=socks5://192.0.2.1"}), 10s);
  EXPECT_EQ(p.exit_code, 0) << p.describe();
}

TEST(LauncherConfig, NothingConfiguredSaysHowToConfigure) {
  struct stat st {};
  if (::stat("/etc/socksify/socks.conf", &st) == 0) GTEST_SKIP() << "this machine has /etc/socksify/socks.conf";
  TempDir d;
  RunResult r = launcher({"--", "true"}, isolated(d), 10s);
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  for (const char* how : {"-x", "-c", "SOCKSIFY_PROXY", "socks.conf"})
    EXPECT_TRUE(contains(r.err, how)) << how << "\n" << r.describe();
}

// ---------------------------------------------------------------- --explain, --import-proxychains

TEST(LauncherExplain, ExplainsDestinations) {
  TempDir d;
  // password-env need not be set for --explain: it reads no secret.
  const std::string path = d.write("routes.conf",
                                   "proxy corp = socks5://alice@192.0.2.10:1080 password-env NOT_SET_ANYWHERE\n"
                                   "proxy tor = socks5h://127.0.0.1:9050\n"
                                   "route 10.0.0.0/8, *.corp.example -> corp\n"
                                   "route 2001:db8::/32 -> block\n"
                                   "route * -> tor | direct\n");
  struct Case {
    std::string dest, decision;
  };
  const std::vector<Case> cases = {
      {"10.1.2.3:80", "=> route 1 (" + path + ":3): corp"},
      {"git.corp.example:22", "=> route 1 (" + path + ":3): corp"},
      {"[2001:db8::1]:443", "=> route 2 (" + path + ":4): block"},
      {"example.org:443", "=> route 3 (" + path + ":5): tor | direct"},
      {"127.0.0.1:631", "=> no route names this loopback destination: direct"},
      {"192.0.2.10:1080", "=> proxy itself: direct"},
  };
  for (const Case& c : cases) {
    RunResult r = launcher({"-c", path, "--explain", c.dest}, isolated(d), 10s);
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, c.decision)) << c.dest << "\n" << r.describe();
  }
  RunResult named = launcher({"-c", path, "--explain", "git.corp.example:22"}, isolated(d), 10s);
  EXPECT_TRUE(contains(named.out, "*.corp.example: matched")) << named.describe();
  for (const char* bad : {"2001:db8::1:443", "example.org", "example.org:0", "[10.0.0.1]:80", ":80"}) {
    RunResult r = launcher({"-c", path, "--explain", bad}, isolated(d), 10s);
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.describe();
    EXPECT_TRUE(r.out.empty()) << r.describe();
  }
  // -x works too: the chain is `route * -> p1`.
  RunResult x = launcher({"-x", "socks5h://192.0.2.1:1080", "--explain", "example.org:80"}, isolated(d), 10s);
  EXPECT_EQ(x.exit_code, 0) << x.describe();
  EXPECT_TRUE(contains(x.out, "=> route 1 (")) << x.describe();
  EXPECT_TRUE(contains(x.out, "): p1\n")) << x.describe();
}

TEST(LauncherImport, ConvertsAProxychainsFile) {
  TempDir d;
  const std::string path = d.write("proxychains.conf",
                                   "# a sample\n"
                                   "strict_chain\n"
                                   "proxy_dns\n"
                                   "tcp_connect_time_out 8000\n"
                                   "[ProxyList]\n"
                                   "socks5 192.0.2.1 1080 alice secret\n"
                                   "socks4 192.0.2.2 1081\n");
  RunResult r = launcher({"--import-proxychains", path}, isolated(d), 10s);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "proxy p1 = socks5h://alice:secret@192.0.2.1:1080")) << r.describe();
  EXPECT_TRUE(contains(r.out, "proxy p2 = socks4a://192.0.2.2:1081")) << r.describe();
  EXPECT_TRUE(contains(r.out, "route * -> p1 > p2")) << r.describe();
  EXPECT_TRUE(contains(r.out, "timeout 8000ms")) << r.describe();
  // The output is a configuration socksify accepts.
  const std::string converted = d.write("converted.conf", r.out);
  RunResult e = launcher({"-c", converted, "--explain", "example.org:80"}, isolated(d), 10s);
  EXPECT_EQ(e.exit_code, 0) << e.describe();
  EXPECT_TRUE(contains(e.out, "p1 > p2")) << e.describe();

  const std::string bad = d.write("bad.conf", "[ProxyList]\nhttp 192.0.2.1 3128\n");
  RunResult b = launcher({"--import-proxychains", bad}, isolated(d), 10s);
  EXPECT_EQ(b.exit_code, 2) << b.describe();
  EXPECT_EQ(lines(b.err).at(0).rfind(bad + ":2:1: ", 0), 0u) << b.describe();
  EXPECT_TRUE(b.out.empty()) << b.describe();
}

// ---------------------------------------------------------------- --check on loopback (socksd)

class LauncherCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    dest_ = startTcpServer("", {"--echo", "127.0.0.1:0"});
    ASSERT_EQ(dest_.ports.size(), 1u);
  }
  Server socksd(const std::string& users = "") {
    SocksdOptions o;
    o.users = users;
    Server s = startSocksd(o);
    EXPECT_NE(s.port, 0);
    return s;
  }
  std::string echo() const { return "127.0.0.1:" + std::to_string(dest_.ports[0]); }

  TempDir home_;
  DestServer dest_;
};

TEST_F(LauncherCheck, AllStagesPassAgainstSocksdWithAuth) {
  Server s = socksd("alice:s3cret\n");
  ASSERT_NE(s.port, 0);
  // The password in a file only its owner can read: no warning.
  const std::string path = home_.write("check.conf", "timeout 5s\nproxy corp = socks5h://alice:s3cret@" + s.hostPort() +
                                                         "\nroute 10.0.0.0/8 -> direct\n");
  ::chmod(path.c_str(), 0600);
  RunResult r = launcher({"-c", path, "--check", "--target", echo()}, isolated(home_));
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  auto row = rowOf(r.out, 1, 1);
  ASSERT_EQ(row.size(), 7u) << r.describe();
  EXPECT_EQ(row[kAddress], s.hostPort());
  EXPECT_EQ(row[kTcp], "ok");
  EXPECT_EQ(row[kMethod], "ok (user/password)");
  EXPECT_EQ(row[kAuth], "ok");
  EXPECT_EQ(row[kConnect], "ok (to " + echo() + ")");
  EXPECT_TRUE(contains(r.out, "direct (not probed)")) << r.describe();
  // No route takes every destination: the implicit default is the first proxy, chain 1.
  EXPECT_TRUE(contains(r.out, "default (no route matched; loopback goes direct): chain 1 (corp)")) << r.describe();
  EXPECT_TRUE(contains(r.out, "all 1 chain passed")) << r.describe();
  EXPECT_FALSE(contains(r.out + r.err, "s3cret")) << "a password in the output\n" << r.describe();
  EXPECT_TRUE(r.err.empty()) << r.describe();
  // The destination was really reached through the proxy.
  EXPECT_TRUE(contains(dest_.proc->out(), "accepted from")) << dest_.proc->out();
}

TEST_F(LauncherCheck, DeadProxyFailsTheTcpStage) {
  const int port = freeLoopbackPort();  // nothing listens there
  RunResult r = launcher({"-x", "socks5://127.0.0.1:" + std::to_string(port), "--check"}, isolated(home_));
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  auto row = rowOf(r.out, 1, 1);
  ASSERT_EQ(row.size(), 7u) << r.describe();
  EXPECT_EQ(row[kTcp], "FAILED (connection refused)") << r.describe();
  EXPECT_EQ(row[kMethod], "-");
  EXPECT_EQ(row[kAuth], "-");
  EXPECT_EQ(row[kConnect], "-");
  EXPECT_TRUE(contains(r.out, "1 of 1 chain FAILED")) << r.describe();
}

TEST_F(LauncherCheck, WrongPasswordFailsTheAuthStage) {
  Server s = socksd("alice:s3cret\n");
  ASSERT_NE(s.port, 0);
  RunResult r = launcher({"-x", "socks5://alice:wrong-one@" + s.hostPort(), "--check", "--target", echo()},
                         isolated(home_));
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  auto row = rowOf(r.out, 1, 1);
  ASSERT_EQ(row.size(), 7u) << r.describe();
  EXPECT_EQ(row[kTcp], "ok");
  EXPECT_EQ(row[kMethod], "ok (user/password)");
  EXPECT_EQ(row[kAuth], "FAILED (auth rejected)") << r.describe();
  EXPECT_EQ(row[kConnect], "-");
  EXPECT_FALSE(contains(r.out + r.err, "wrong-one")) << r.describe();
  // Without credentials, the proxy accepts none of our methods.
  RunResult n = launcher({"-x", "socks5://" + s.hostPort(), "--check"}, isolated(home_));
  EXPECT_EQ(n.exit_code, 1) << n.describe();
  EXPECT_EQ(rowOf(n.out, 1, 1).at(kMethod), "FAILED (method rejected (0xFF))") << n.describe();
}

TEST_F(LauncherCheck, RefusedTargetFailsTheConnectStage) {
  Server s = socksd();
  ASSERT_NE(s.port, 0);
  const std::string closed = "127.0.0.1:" + std::to_string(freeLoopbackPort());
  RunResult r = launcher({"-x", "socks5://" + s.hostPort(), "--check", "--target", closed}, isolated(home_));
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  auto row = rowOf(r.out, 1, 1);
  ASSERT_EQ(row.size(), 7u) << r.describe();
  EXPECT_EQ(row[kMethod], "ok (no auth)");
  EXPECT_EQ(row[kConnect], "FAILED (reply 0x05 connection refused)") << r.describe();
  // Without --target the same proxy passes: nothing is asked of it.
  RunResult ok = launcher({"-x", "socks5://" + s.hostPort(), "--check"}, isolated(home_));
  EXPECT_EQ(ok.exit_code, 0) << ok.describe();
  EXPECT_EQ(rowOf(ok.out, 1, 1).at(kConnect), "-") << ok.describe();
}

TEST_F(LauncherCheck, TwoHopChainIsProbedHopByHop) {
  Server a = socksd("alice:s3cret\n");
  Server b = socksd();
  ASSERT_NE(a.port, 0);
  ASSERT_NE(b.port, 0);
  RunResult r = launcher({"-x", "socks5://alice:s3cret@" + a.hostPort(), "-x", "socks4a://" + b.hostPort(), "--check",
                          "--target", echo()},
                         isolated(home_));
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  auto first = rowOf(r.out, 1, 1);
  auto second = rowOf(r.out, 1, 2);
  ASSERT_EQ(first.size(), 7u) << r.describe();
  ASSERT_EQ(second.size(), 7u) << r.describe();
  EXPECT_EQ(first[kAuth], "ok");
  EXPECT_EQ(first[kConnect], "ok (to " + b.hostPort() + ")");
  EXPECT_EQ(second[kTcp], "-") << "hop 2 is reached through hop 1";
  EXPECT_EQ(second[kMethod], "-") << "SOCKS4a has no method negotiation";
  EXPECT_EQ(second[kConnect], "ok (to " + echo() + ")");
  // `route * -> p1 > p2` takes everything: the implicit default is never used, nor probed.
  EXPECT_TRUE(rowOf(r.out, 2, 1).empty()) << r.describe();
  EXPECT_TRUE(contains(r.out, "all 1 chain passed")) << r.describe();

  // The second hop dead: hop 1 passes, its CONNECT to hop 2 fails.
  const std::string dead = "127.0.0.1:" + std::to_string(freeLoopbackPort());
  RunResult d = launcher({"-x", "socks5://alice:s3cret@" + a.hostPort(), "-x", "socks5://" + dead, "--check"},
                         isolated(home_));
  EXPECT_EQ(d.exit_code, 1) << d.describe();
  auto h1 = rowOf(d.out, 1, 1);
  ASSERT_EQ(h1.size(), 7u) << d.describe();
  EXPECT_EQ(h1[kAuth], "ok");
  EXPECT_EQ(h1[kConnect], "FAILED (reply 0x05 connection refused)") << d.describe();
  EXPECT_EQ(rowOf(d.out, 1, 2).at(kMethod), "-") << d.describe();
}

TEST_F(LauncherCheck, TimeoutIsTheConfiguredOne) {
  // A listener that accepts (the kernel does) and never answers.
  DestServer silent = startTcpServer("", {"--silent", "127.0.0.1:0"});
  ASSERT_EQ(silent.ports.size(), 1u);
  const std::string port = std::to_string(silent.ports[0]);
  RunResult r = launcher({"-x", "socks5://127.0.0.1:" + port, "--check"},
                         isolated(home_, {"SOCKSIFY_CONNECT_TIMEOUT=0.5"}));
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_EQ(rowOf(r.out, 1, 1).at(kMethod), "FAILED (timeout after 500ms)") << r.describe();
  EXPECT_LT(r.seconds, 10) << r.describe();
}

// ---------------------------------------------------------------- --check in network namespaces

class LauncherCheckLab : public LabTest {
 protected:
  RunResult check(const Argv& args) {
    Argv argv = {launcherPath()};
    argv.insert(argv.end(), args.begin(), args.end());
    SpawnOptions so;
    so.netns = lab_->clientNs();
    return run(argv, so, 60s);
  }
};

TEST_F(LauncherCheckLab, DantedPassesEveryStage) {
  buildLab(1);
  if (IsSkipped() || HasFatalFailure()) return;
  if (findTool("danted").empty()) GTEST_SKIP() << "danted not installed";
  const std::string proxy = startProxy(ProxyKind::kDanted);
  ASSERT_FALSE(proxy.empty());
  const std::string target = lab_->destAddr() + ":" + std::to_string(kEchoPort);
  for (const char* scheme : {"socks5", "socks4"}) {
    RunResult r = check({"-x", std::string(scheme) + "://" + proxy, "--check", "--target", target});
    EXPECT_EQ(r.exit_code, 0) << scheme << "\n" << r.describe();
    auto row = rowOf(r.out, 1, 1);
    ASSERT_EQ(row.size(), 7u) << r.describe();
    EXPECT_EQ(row[kTcp], "ok");
    EXPECT_EQ(row[kMethod], std::string(scheme) == "socks5" ? "ok (no auth)" : "-");
    EXPECT_EQ(row[kConnect], "ok (to " + target + ")");
  }
  expectDestSawOnlyProxy();
  // A destination port nothing listens on: danted's refusal is the CONNECT stage's.
  RunResult refused = check({"-x", "socks5://" + proxy, "--check", "--target", lab_->destAddr() + ":9"});
  EXPECT_EQ(refused.exit_code, 1) << refused.describe();
  EXPECT_EQ(rowOf(refused.out, 1, 1).at(kConnect).rfind("FAILED (reply 0x", 0), 0u) << refused.describe();
}

TEST_F(LauncherCheckLab, TwoSocksdHopsAcrossNamespaces) {
  buildLab(2);
  if (IsSkipped() || HasFatalFailure()) return;
  const std::string p1 = startProxy(ProxyKind::kSocksd, 0, {"alice", "s3cret"});
  const std::string p2 = startProxy(ProxyKind::kSocksd, 1);
  ASSERT_FALSE(p1.empty());
  ASSERT_FALSE(p2.empty());
  const std::string target = std::string(NetLab::kRemoteName) + ":" + std::to_string(kEchoPort);
  RunResult r = check({"-x", "socks5://alice:s3cret@" + p1, "-x", "socks5h://" + p2, "--check", "--target", target});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  auto h1 = rowOf(r.out, 1, 1);
  auto h2 = rowOf(r.out, 1, 2);
  ASSERT_EQ(h1.size(), 7u) << r.describe();
  ASSERT_EQ(h2.size(), 7u) << r.describe();
  EXPECT_EQ(h1[kAuth], "ok");
  EXPECT_EQ(h1[kConnect], "ok (to " + p2 + ")");
  EXPECT_EQ(h2[kConnect], "ok (to " + target + ")") << "the name only the last proxy resolves is sent to it";
  expectDestSawOnlyProxy(1);
  expectNoDnsLeak();

  RunResult wrong = check({"-x", "socks5://alice:nope@" + p1, "-x", "socks5h://" + p2, "--check"});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.describe();
  EXPECT_EQ(rowOf(wrong.out, 1, 1).at(kAuth), "FAILED (auth rejected)") << wrong.describe();
}

}  // namespace
}  // namespace sfy::it
