// Tests that need no root: the launcher's usage contract, and proxied connections on
// loopback only. A proxied destination must not be loopback (loopback goes direct), so
// these use a name only socksd can resolve (--hosts maps it to 127.0.0.1): the client
// gets a fake 198.18.x.x address, and socksd --external 127.0.0.2 makes the destination
// see 127.0.0.2 — the proof that the connection went through the proxy.

#include <gtest/gtest.h>

#include <string>

#include "harness.h"

namespace sfy::it {
namespace {

using namespace std::chrono_literals;

constexpr const char* kName = "dest.socksify.test";

// ---------------------------------------------------------------- launcher usage

// A bad proxy URL: exit 2 and exactly one line "socksify: ..." (the issue's contract).
// Other usage errors may add a conventional "Try 'socksify --help'" line.
void expectUsageError(const Argv& args, bool oneLine = true) {
  Argv argv = {launcherPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = run(argv, {}, 10s);
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  auto ls = lines(r.err);
  ASSERT_GE(ls.size(), 1u) << r.describe();
  if (oneLine) {
    EXPECT_EQ(ls.size(), 1u) << "expected exactly one error line\n" << r.describe();
  } else {
    EXPECT_LE(ls.size(), 2u) << r.describe();
  }
  EXPECT_EQ(ls[0].rfind("socksify: ", 0), 0u) << r.describe();
  EXPECT_TRUE(r.out.empty()) << r.describe();
}

TEST(Launcher, BadSchemeExits2) { expectUsageError({"-x", "http://127.0.0.1:3128", "--", "true"}); }
TEST(Launcher, BadPortExits2) { expectUsageError({"-x", "socks5://127.0.0.1:99999", "--", "true"}); }
TEST(Launcher, MissingHostExits2) { expectUsageError({"-x", "socks5://", "--", "true"}); }
TEST(Launcher, GarbageUrlExits2) { expectUsageError({"-x", "not a url", "--", "true"}); }
TEST(Launcher, MissingProgramExits2) { expectUsageError({"-x", "socks5h://127.0.0.1:1080"}, false); }
TEST(Launcher, UnknownOptionExits2) { expectUsageError({"--no-such-option", "true"}, false); }
TEST(Launcher, MissingOptionArgumentExits2) { expectUsageError({"-x"}, false); }

TEST(Launcher, ExitStatusIsTheProgramsOwn) {
  RunResult r = run({launcherPath(), "-x", "socks5h://127.0.0.1:1080", "--", "sh", "-c", "exit 7"}, {}, 10s);
  EXPECT_EQ(r.exit_code, 7) << r.describe();
  RunResult t = run({launcherPath(), "-x", "socks5h://127.0.0.1:1080", "--", "true"}, {}, 10s);
  EXPECT_EQ(t.exit_code, 0) << t.describe();
}

TEST(Launcher, PreloadsTheLibraryKeepingExistingLdPreload) {
  SpawnOptions so;
  RunResult r = run({launcherPath(), "-x", "socks5h://127.0.0.1:1080", "--", "sh", "-c", "echo \"$LD_PRELOAD\""}, so, 10s);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "libsocksify.so")) << r.describe();
}

TEST(Launcher, MissingProgramIsNotFound) {
  RunResult r = run({launcherPath(), "-x", "socks5h://127.0.0.1:1080", "--", "/nonexistent/program"}, {}, 10s);
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.err, "socksify: ")) << r.describe();
}

// ---------------------------------------------------------------- loopback proxying

class LoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dest_ = startTcpServer("", {"--echo", "127.0.0.1:0", "--http", "127.0.0.1:0", "--banner", "127.0.0.1:0"});
    ASSERT_EQ(dest_.ports.size(), 3u);
    SocksdOptions o;
    o.listen = "127.0.0.1:0";
    o.external = "127.0.0.2";
    o.hosts = std::string("127.0.0.1 ") + kName + "\n";
    socksd_ = startSocksd(o);
    ASSERT_NE(socksd_.port, 0);
  }
  std::string echo() const { return std::to_string(dest_.ports[0]); }
  std::string http() const { return std::to_string(dest_.ports[1]); }
  std::string banner() const { return std::to_string(dest_.ports[2]); }
  ClientOptions client(const std::string& scheme) const {
    ClientOptions o;
    o.proxies = {scheme + "://" + socksd_.hostPort()};
    return o;
  }
  void expectOnlyViaProxy() const {
    std::string out = dest_.proc->out();
    EXPECT_GE(countOccurrences(out, "accepted from "), 1u) << out;
    EXPECT_EQ(countOccurrences(out, "accepted from "), countOccurrences(out, "accepted from 127.0.0.2:")) << out;
  }

  DestServer dest_;
  Server socksd_;
};

TEST_F(LoopbackTest, RemoteNameThroughSocksdAllModes) {
  for (const char* scheme : {"socks5h", "socks4a"}) {
    for (const char* mode : {"--blocking", "--nonblocking", "--epoll"}) {
      RunResult r = runSocksified({helper("tcp_client"), kName, echo(), mode, "--print-peer"}, client(scheme));
      ASSERT_EQ(r.exit_code, 0) << scheme << " " << mode << "\n" << r.describe();
      auto ls = lines(r.out);
      ASSERT_EQ(ls.size(), 4u) << r.describe();
      EXPECT_EQ(ls[0].rfind("connected-to 198.1", 0), 0u) << r.describe();
      EXPECT_EQ(ls[0].substr(13), ls[1].substr(12)) << "getpeername must be the destination\n" << r.describe();
      EXPECT_EQ(ls[2].rfind("peer 127.0.0.2:", 0), 0u) << r.describe();
      EXPECT_EQ(ls[3], "hello") << r.describe();
    }
  }
  expectOnlyViaProxy();
}

TEST_F(LoopbackTest, ServerSpeaksFirstBannerIntact) {
  for (const char* mode : {"--nonblocking", "--epoll", "--blocking"}) {
    RunResult r = runSocksified({helper("tcp_client"), kName, banner(), mode, "--read-first"}, client("socks5h"));
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.out.rfind("SSH-2.0-SocksifyTestBanner\r\npeer 127.0.0.2:", 0), 0u) << r.describe();
  }
}

TEST_F(LoopbackTest, CurlAndPython) {
  std::string curl = findTool("curl");
  if (!curl.empty()) {
    RunResult r = runSocksified({curl, "-sS", "--max-time", "20", "http://" + std::string(kName) + ":" + http() + "/"},
                                client("socks5h"));
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.out.rfind("peer 127.0.0.2:", 0), 0u) << r.describe();
  }
  std::string py = python3Path();
  if (!py.empty()) {
    const char* script =
        "import asyncio, sys\n"
        "async def main():\n"
        "    r, w = await asyncio.wait_for(asyncio.open_connection(sys.argv[1], int(sys.argv[2])), 20)\n"
        "    w.write(b'hello\\n'); await w.drain(); w.write_eof()\n"
        "    sys.stdout.write((await asyncio.wait_for(r.read(), 20)).decode())\n"
        "asyncio.run(main())\n";
    RunResult r = runSocksified({py, "-c", script, kName, echo()}, client("socks4a"));
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.out, "peer " + r.out.substr(5, r.out.find('\n') - 5) + "\nhello\n") << r.describe();
    EXPECT_EQ(r.out.rfind("peer 127.0.0.2:", 0), 0u) << r.describe();
  }
  expectOnlyViaProxy();
}

TEST_F(LoopbackTest, ThreadsAndFork) {
  ClientOptions o = client("socks5h");
  o.timeout = 120s;
  RunResult t = runSocksified(
      {helper("tcp_client"), kName, echo(), "--nonblocking", "--threads", "16", "--conns", "10"}, o);
  ASSERT_EQ(t.exit_code, 0) << t.describe();
  EXPECT_TRUE(contains(t.out, "summary ok=160 failed=0")) << t.describe();
  RunResult f = runSocksified({helper("tcp_client"), kName, echo(), "--fork"}, o);
  ASSERT_EQ(f.exit_code, 0) << f.describe();
  EXPECT_TRUE(contains(f.out, "child:\npeer 127.0.0.2:")) << f.describe();
  EXPECT_TRUE(contains(f.out, "parent:\npeer 127.0.0.2:")) << f.describe();
  expectOnlyViaProxy();
}

TEST_F(LoopbackTest, BareLdPreloadAndVerbose) {
  SpawnOptions so;
  so.env = {"LD_PRELOAD=" + shimPath(), "SOCKSIFY_PROXY=socks5h://" + socksd_.hostPort()};
  RunResult r = run({helper("tcp_client"), kName, echo()}, so, 30s);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out.rfind("peer 127.0.0.2:", 0), 0u) << r.describe();

  ClientOptions o = client("socks5h");
  o.verbose = true;
  RunResult v = runSocksified({helper("tcp_client"), kName, echo(), "--conns", "2"}, o);
  ASSERT_EQ(v.exit_code, 0) << v.describe();
  size_t routed = 0;
  for (const auto& l : lines(v.err)) {
    EXPECT_EQ(l.rfind("socksify: ", 0), 0u) << l;
    if (contains(l, kName)) ++routed;
  }
  EXPECT_EQ(routed, 2u) << v.describe();
}

// Loopback destinations go direct even with a proxy configured, and -v says so.
TEST_F(LoopbackTest, LoopbackGoesDirectAndVerboseSaysSo) {
  DestServer dest = startTcpServer("", {"--echo", "127.0.0.1:0"});
  ASSERT_EQ(dest.ports.size(), 1u);
  ClientOptions o = client("socks5h");
  o.verbose = true;
  const std::string port = std::to_string(dest.ports[0]);
  RunResult r = runSocksified({helper("tcp_client"), "127.0.0.1", port, "--print-peer"}, o);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "peer 127.0.0.1:")) << "the destination must see the client itself\n"
                                                   << r.describe();
  EXPECT_TRUE(contains(r.err, "socksify: connect 127.0.0.1:" + port + ": direct (local destination)"))
      << r.describe();
}

// The proxy itself is down (its port closed): ECONNREFUSED, fast.
TEST_F(LoopbackTest, ProxyDownIsEconnrefusedFast) {
  int closed = freeLoopbackPort();
  for (const char* mode : {"--blocking", "--nonblocking", "--epoll"}) {
    ClientOptions o;
    o.proxies = {"socks5h://127.0.0.1:" + std::to_string(closed)};
    RunResult r = runSocksified({helper("tcp_client"), kName, echo(), mode}, o);
    EXPECT_EQ(r.exit_code, 1) << mode << "\n" << r.describe();
    EXPECT_TRUE(contains(r.err, "ECONNREFUSED")) << mode << "\n" << r.describe();
    EXPECT_LT(r.seconds, 2.5) << r.describe();
  }
}

// A proxy that accepts but never answers: ETIMEDOUT within the connect timeout.
TEST_F(LoopbackTest, SilentProxyTimesOut) {
  DestServer silent = startTcpServer("", {"--silent", "127.0.0.1:0"});
  ASSERT_EQ(silent.ports.size(), 1u);
  for (const char* mode : {"--blocking", "--nonblocking"}) {
    ClientOptions o;
    o.proxies = {"socks5h://127.0.0.1:" + std::to_string(silent.ports[0])};
    o.env = {"SOCKSIFY_CONNECT_TIMEOUT=1"};
    RunResult r = runSocksified({helper("tcp_client"), kName, echo(), mode}, o);
    EXPECT_EQ(r.exit_code, 1) << mode << "\n" << r.describe();
    EXPECT_TRUE(contains(r.err, "ETIMEDOUT")) << mode << "\n" << r.describe();
    EXPECT_LT(r.seconds, 3.5) << r.describe();
  }
}

// Authentication on loopback (socksd users file).
TEST(LoopbackAuth, RightAndWrongPassword) {
  DestServer dest = startTcpServer("", {"--echo", "127.0.0.1:0"});
  ASSERT_EQ(dest.ports.size(), 1u);
  SocksdOptions so;
  so.external = "127.0.0.2";
  so.hosts = std::string("127.0.0.1 ") + kName + "\n";
  so.users = "alice:s3cret\n";
  Server s = startSocksd(so);
  ASSERT_NE(s.port, 0);
  ClientOptions ok;
  ok.proxies = {"socks5h://alice:s3cret@" + s.hostPort()};
  RunResult r = runSocksified({helper("tcp_client"), kName, std::to_string(dest.ports[0]), "--nonblocking"}, ok);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out.rfind("peer 127.0.0.2:", 0), 0u) << r.describe();
  ClientOptions bad;
  bad.proxies = {"socks5h://alice:wrong@" + s.hostPort()};
  RunResult b = runSocksified({helper("tcp_client"), kName, std::to_string(dest.ports[0])}, bad);
  EXPECT_EQ(b.exit_code, 1) << b.describe();
  EXPECT_TRUE(contains(b.err, "EACCES")) << b.describe();
}

// Inert without configuration: a direct loopback connection works unchanged.
TEST(LoopbackInert, NoConfigurationMeansDirect) {
  DestServer dest = startTcpServer("", {"--echo", "127.0.0.1:0"});
  ASSERT_EQ(dest.ports.size(), 1u);
  SpawnOptions so;
  so.env = {"LD_PRELOAD=" + shimPath(), "XDG_CONFIG_HOME=/nonexistent", "HOME=/nonexistent"};
  for (const char* mode : {"--blocking", "--nonblocking", "--epoll"}) {
    RunResult r = run({helper("tcp_client"), "127.0.0.1", std::to_string(dest.ports[0]), mode, "--print-peer"}, so, 20s);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, "peer 127.0.0.1:")) << r.describe();
    EXPECT_FALSE(contains(r.err, "socksify:")) << r.describe();
  }
}

}  // namespace
}  // namespace sfy::it
