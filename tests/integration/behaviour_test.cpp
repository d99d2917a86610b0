// CONNECT behaviour in network namespaces: authentication, chains, failures and
// their errno, timeouts, threads, fork, DNS leaks, logging, the bare LD_PRELOAD form.

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "harness.h"
#include "lab_fixture.h"

namespace sfy::it {
namespace {

using namespace std::chrono_literals;

class NetnsTest : public LabTest {
 protected:
  void SetUp() override { buildLab(1); }
  std::string url(const std::string& scheme, const std::string& hostPort, const std::string& cred = "") const {
    return scheme + "://" + (cred.empty() ? "" : cred + "@") + hostPort;
  }
  RunResult tcpClient(const std::vector<std::string>& proxies, Argv args, Env env = {}) {
    ClientOptions o = client(proxies);
    o.env = std::move(env);
    Argv argv = {helper("tcp_client")};
    argv.insert(argv.end(), args.begin(), args.end());
    return runSocksified(argv, o);
  }
};

// ---------------------------------------------------------------- authentication

struct AuthCase {
  ProxyKind kind;
  std::string user, password, urlCred;  // urlCred is percent-encoded as in a URL
};

void PrintTo(const AuthCase& c, std::ostream* os) { *os << kindName(c.kind) << " " << c.urlCred; }

class AuthTest : public NetnsTest, public ::testing::WithParamInterface<AuthCase> {};

TEST_P(AuthTest, RightCredentialsConnect) {
  const AuthCase& c = GetParam();
  if (kindTool(c.kind).empty()) GTEST_SKIP() << kindName(c.kind) << " is not installed";
  std::string proxy = startProxy(c.kind, 0, {c.user, c.password});
  ASSERT_FALSE(HasFailure());
  RunResult r = tcpClient({url("socks5h", proxy, c.urlCred)}, {NetLab::kRemoteName, "7", "--nonblocking"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out.rfind(peerViaProxy(), 0), 0u) << r.describe();
  EXPECT_FALSE(contains(r.err, c.password)) << "the password appears in a log line\n" << r.describe();
  expectDestSawOnlyProxy();
}

TEST_P(AuthTest, WrongPasswordIsEacces) {
  const AuthCase& c = GetParam();
  if (kindTool(c.kind).empty()) GTEST_SKIP() << kindName(c.kind) << " is not installed";
  std::string proxy = startProxy(c.kind, 0, {c.user, c.password});
  ASSERT_FALSE(HasFailure());
  for (const char* mode : {"--blocking", "--nonblocking"}) {
    RunResult r = tcpClient({url("socks5h", proxy, c.user + ":wrong-password")}, {NetLab::kRemoteName, "7", mode});
    EXPECT_EQ(r.exit_code, 1) << mode << "\n" << r.describe();
    EXPECT_TRUE(contains(r.err, "EACCES")) << mode << "\n" << r.describe();
    EXPECT_LT(r.seconds, 5.0) << r.describe();
  }
  std::string curl = findTool("curl");
  if (!curl.empty()) {
    RunResult r = runSocksified({curl, "-sS", "--max-time", "20", std::string("http://") + NetLab::kRemoteName + "/"},
                                client({url("socks5h", proxy, c.user + ":wrong-password")}));
    // curl sees connect() fail (it is not speaking SOCKS itself): "Couldn't connect", exit 7.
    EXPECT_EQ(r.exit_code, 7) << r.describe();
  }
  EXPECT_EQ(countOccurrences(dest_.proc->out(), "accepted from"), 0u) << dest_.proc->out();
}

TEST_P(AuthTest, NoCredentialsToAnAuthOnlyProxyIsEacces) {
  const AuthCase& c = GetParam();
  if (kindTool(c.kind).empty()) GTEST_SKIP() << kindName(c.kind) << " is not installed";
  std::string proxy = startProxy(c.kind, 0, {c.user, c.password});
  ASSERT_FALSE(HasFailure());
  RunResult r = tcpClient({url("socks5h", proxy)}, {NetLab::kRemoteName, "7"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "EACCES")) << r.describe();
}

INSTANTIATE_TEST_SUITE_P(Auth, AuthTest,
                         ::testing::Values(AuthCase{ProxyKind::kSocksd, "alice", "s3cret", "alice:s3cret"},
                                           AuthCase{ProxyKind::kMicrosocks, "bob", "hunter2", "bob:hunter2"},
                                           // Percent-encoding in the URL (curl's rules): "p@ss w:rd%".
                                           AuthCase{ProxyKind::kMicrosocks, "carol", "p@ss w:rd%",
                                                    "carol:p%40ss%20w%3Ard%25"}),
                         [](const auto& info) {
                           return std::string(kindName(info.param.kind)) + "_" + std::to_string(info.index);
                         });

// ---------------------------------------------------------------- chains

struct ChainCase {
  ProxyKind first, second;
  std::string firstScheme, secondScheme;
};

void PrintTo(const ChainCase& c, std::ostream* os) {
  *os << kindName(c.first) << " " << c.firstScheme << " -> " << kindName(c.second) << " " << c.secondScheme;
}

class ChainTest : public LabTest, public ::testing::WithParamInterface<ChainCase> {
 protected:
  void SetUp() override { buildLab(2); }
};

// client — proxy1 — proxy2 — dest: the client reaches only proxy1, proxy1 only proxy2,
// and only proxy2 reaches (and resolves) the destination. Success proves both hops.
TEST_P(ChainTest, BothHopsCarryTheConnection) {
  const ChainCase& c = GetParam();
  if (kindTool(c.first).empty() || kindTool(c.second).empty()) GTEST_SKIP() << "server not installed";
  std::string p1 = startProxy(c.first, 0);
  std::string p2 = startProxy(c.second, 1);
  ASSERT_FALSE(HasFailure());
  std::string host = remoteNames(c.secondScheme) ? NetLab::kRemoteName : lab_->destAddr();
  ClientOptions o = client({c.firstScheme + "://" + p1, c.secondScheme + "://" + p2});
  for (const char* mode : {"--blocking", "--nonblocking"}) {
    RunResult r = runSocksified({helper("tcp_client"), host, "7", mode, "--print-peer"}, o);
    ASSERT_EQ(r.exit_code, 0) << mode << "\n" << r.describe();
    EXPECT_TRUE(contains(r.out, peerViaProxy(1))) << r.describe();
    EXPECT_TRUE(contains(r.out, "\nhello\n")) << r.describe();
  }
  std::string curl = findTool("curl");
  if (!curl.empty()) {
    RunResult r = runSocksified({curl, "-sS", "--max-time", "20", "http://" + host + "/"}, o);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.out.rfind(peerViaProxy(1), 0), 0u) << r.describe();
  }
  expectDestSawOnlyProxy(1);
  if (remoteNames(c.secondScheme)) expectNoDnsLeak();
}

// The same chain given as SOCKSIFY_PROXY=URL,URL with the bare LD_PRELOAD form.
TEST_P(ChainTest, BareLdPreloadWithProxyList) {
  const ChainCase& c = GetParam();
  if (kindTool(c.first).empty() || kindTool(c.second).empty()) GTEST_SKIP() << "server not installed";
  std::string p1 = startProxy(c.first, 0);
  std::string p2 = startProxy(c.second, 1);
  ASSERT_FALSE(HasFailure());
  std::string host = remoteNames(c.secondScheme) ? NetLab::kRemoteName : lab_->destAddr();
  SpawnOptions so;
  so.netns = lab_->clientNs();
  so.env = {"LD_PRELOAD=" + shimPath(), "SOCKSIFY_PROXY=" + c.firstScheme + "://" + p1 + "," + c.secondScheme + "://" + p2};
  RunResult r = run({helper("tcp_client"), host, "7", "--epoll"}, so, 40s);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out.rfind(peerViaProxy(1), 0), 0u) << r.describe();
}

INSTANTIATE_TEST_SUITE_P(
    Chain, ChainTest,
    ::testing::Values(ChainCase{ProxyKind::kSocksd, ProxyKind::kSocksd, "socks5", "socks5h"},
                      ChainCase{ProxyKind::kSocksd, ProxyKind::kSocksd, "socks4", "socks4a"},
                      ChainCase{ProxyKind::kSocksd, ProxyKind::kDanted, "socks5", "socks5h"},
                      ChainCase{ProxyKind::kDanted, ProxyKind::kSocksd, "socks4", "socks5h"},
                      ChainCase{ProxyKind::kMicrosocks, ProxyKind::kDanted, "socks5", "socks4"},
                      ChainCase{ProxyKind::kDanted, ProxyKind::kMicrosocks, "socks5", "socks5h"}),
    [](const auto& info) {
      const ChainCase& c = info.param;
      return std::string(kindName(c.first)) + "_" + c.firstScheme + "__" + kindName(c.second) + "_" + c.secondScheme;
    });

// ---------------------------------------------------------------- failures

// Nothing listens where the proxy should be: ECONNREFUSED, fast, for every mode.
TEST_F(NetnsTest, ProxyDownFailsFastWithEconnrefused) {
  for (const char* scheme : {"socks4", "socks5", "socks5h"}) {
    for (const char* mode : {"--blocking", "--nonblocking", "--epoll"}) {
      std::string host = remoteNames(scheme) ? NetLab::kRemoteName : lab_->destAddr();
      RunResult r = tcpClient({url(scheme, lab_->proxyAddr(0) + ":1080")}, {host, "7", mode});
      EXPECT_EQ(r.exit_code, 1) << scheme << " " << mode << "\n" << r.describe();
      EXPECT_TRUE(contains(r.err, "ECONNREFUSED")) << scheme << " " << mode << "\n" << r.describe();
      EXPECT_LT(r.seconds, 2.5) << scheme << " " << mode << "\n" << r.describe();
    }
  }
  std::string curl = findTool("curl");
  if (!curl.empty()) {
    RunResult r = runSocksified({curl, "-sS", "--max-time", "20", std::string("http://") + NetLab::kRemoteName + "/"},
                                client({url("socks5h", lab_->proxyAddr(0) + ":1080")}));
    EXPECT_EQ(r.exit_code, 7) << r.describe();
    EXPECT_LT(r.seconds, 2.5) << r.describe();
  }
  expectNoDnsLeak();
}

// A proxy address that drops every packet: ETIMEDOUT within SOCKSIFY_CONNECT_TIMEOUT.
TEST_F(NetnsTest, BlackholedProxyTimesOutWithinConnectTimeout) {
  std::string hole = lab_->blackholeAddr();
  ASSERT_FALSE(HasFailure()) << lab_->error();
  for (const char* mode : {"--blocking", "--nonblocking", "--epoll"}) {
    RunResult r = tcpClient({url("socks5h", hole + ":1080")}, {NetLab::kRemoteName, "7", mode},
                            {"SOCKSIFY_CONNECT_TIMEOUT=1"});
    EXPECT_EQ(r.exit_code, 1) << mode << "\n" << r.describe();
    EXPECT_TRUE(contains(r.err, "ETIMEDOUT")) << mode << "\n" << r.describe();
    EXPECT_GE(r.seconds, 0.8) << mode << "\n" << r.describe();
    EXPECT_LT(r.seconds, 3.5) << mode << "\n" << r.describe();
  }
  // Fractional timeouts.
  RunResult r = tcpClient({url("socks5", hole + ":1080")}, {lab_->destAddr(), "7", "--nonblocking"},
                          {"SOCKSIFY_CONNECT_TIMEOUT=0.5"});
  EXPECT_TRUE(contains(r.err, "ETIMEDOUT")) << r.describe();
  EXPECT_LT(r.seconds, 2.5) << r.describe();
  std::string curl = findTool("curl");
  if (!curl.empty()) {
    ClientOptions o = client({url("socks5h", hole + ":1080")});
    o.env = {"SOCKSIFY_CONNECT_TIMEOUT=1"};
    RunResult c = runSocksified({curl, "-sS", "--max-time", "30", std::string("http://") + NetLab::kRemoteName + "/"}, o);
    EXPECT_NE(c.exit_code, 0) << c.describe();
    EXPECT_LT(c.seconds, 3.5) << c.describe();
  }
}

// A proxy that accepts TCP but never answers the greeting: ETIMEDOUT, not a hang, and
// a non-blocking caller must not see the socket as connected in the meantime.
TEST_F(NetnsTest, SilentProxyTimesOutWithinConnectTimeout) {
  DestServer silent = startTcpServer(lab_->proxyNs(0), {"--silent", lab_->proxyAddr(0) + ":1080"});
  ASSERT_FALSE(HasFailure());
  for (const char* scheme : {"socks4", "socks5h"}) {
    for (const char* mode : {"--blocking", "--nonblocking", "--epoll"}) {
      std::string host = remoteNames(scheme) ? NetLab::kRemoteName : lab_->destAddr();
      RunResult r = tcpClient({url(scheme, lab_->proxyAddr(0) + ":1080")}, {host, "7", mode},
                              {"SOCKSIFY_CONNECT_TIMEOUT=1"});
      EXPECT_EQ(r.exit_code, 1) << scheme << " " << mode << "\n" << r.describe();
      EXPECT_TRUE(contains(r.err, "ETIMEDOUT")) << scheme << " " << mode << "\n" << r.describe();
      EXPECT_LT(r.seconds, 3.5) << scheme << " " << mode << "\n" << r.describe();
    }
  }
}

// The proxy reaches the destination host but the port is closed: the proxy's refusal
// (SOCKS5 REP 0x05, SOCKS4 0x5B) becomes ECONNREFUSED.
TEST_F(NetnsTest, DestinationRefusedThroughProxyIsEconnrefused) {
  struct P {
    ProxyKind kind;
    const char* scheme;
  };
  for (P p : {P{ProxyKind::kSocksd, "socks5h"}, P{ProxyKind::kSocksd, "socks4"}, P{ProxyKind::kSocksd, "socks4a"},
              P{ProxyKind::kSocksd, "socks5"}, P{ProxyKind::kDanted, "socks5"}, P{ProxyKind::kMicrosocks, "socks5h"}}) {
    if (kindTool(p.kind).empty()) continue;
    servers_.clear();
    std::string proxy = startProxy(p.kind);
    ASSERT_FALSE(HasFailure());
    std::string host = remoteNames(p.scheme) ? NetLab::kRemoteName : lab_->destAddr();
    for (const char* mode : {"--blocking", "--nonblocking"}) {
      RunResult r = tcpClient({url(p.scheme, proxy)}, {host, "81", mode});
      EXPECT_EQ(r.exit_code, 1) << kindName(p.kind) << " " << p.scheme << " " << mode << "\n" << r.describe();
      if (p.kind == ProxyKind::kSocksd || std::string(p.scheme) != "socks4") {
        EXPECT_TRUE(contains(r.err, "ECONNREFUSED"))
            << kindName(p.kind) << " " << p.scheme << " " << mode << "\n" << r.describe();
      }
      EXPECT_LT(r.seconds, 5.0) << r.describe();
    }
  }
}

// A destination host that does not exist behind the proxy: SOCKS5 REP 0x04 (host
// unreachable) from socksd becomes EHOSTUNREACH.
TEST_F(NetnsTest, DestinationHostUnreachableThroughSocksd) {
  std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  RunResult r = tcpClient({url("socks5", proxy)}, {"198.51.100.3", "7", "--nonblocking"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "EHOSTUNREACH") || contains(r.err, "ETIMEDOUT")) << r.describe();
  EXPECT_LT(r.seconds, 12.0) << r.describe();
}

// A name the proxy cannot resolve: the proxy's host-unreachable reply becomes an error,
// and nothing is resolved on the client side.
TEST_F(NetnsTest, NameUnknownToTheProxyFails) {
  std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  RunResult r = tcpClient({url("socks5h", proxy)}, {"nowhere.socksify.test", "7"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "errno=")) << "connect (not getaddrinfo) must fail\n" << r.describe();
  EXPECT_LT(r.seconds, 10.0) << r.describe();
  expectNoDnsLeak();
}

// ---------------------------------------------------------------- concurrency

class ThreadsTest : public NetnsTest,
                    public ::testing::WithParamInterface<std::tuple<ProxyKind, std::string, std::string>> {};

TEST_P(ThreadsTest, SixteenThreadsTimesTenConnections) {
  const auto& [kind, scheme, mode] = GetParam();
  if (kindTool(kind).empty()) GTEST_SKIP() << kindName(kind) << " is not installed";
  std::string proxy = startProxy(kind);
  ASSERT_FALSE(HasFailure());
  ClientOptions o = client({scheme + "://" + proxy});
  o.timeout = 120s;
  RunResult r = runSocksified({helper("tcp_client"), targetFor(scheme), "7", "--" + mode, "--threads", "16", "--conns",
                               "10", "--send", "x"},
                              o);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "summary ok=160 failed=0")) << r.describe();
  EXPECT_EQ(countOccurrences(dest_.proc->out(), "accepted from " + lab_->proxyExternal(0) + ":"), 160u);
  expectDestSawOnlyProxy();
  if (remoteNames(scheme)) expectNoDnsLeak();
}

INSTANTIATE_TEST_SUITE_P(Threads, ThreadsTest,
                         ::testing::Values(std::make_tuple(ProxyKind::kSocksd, "socks5h", "blocking"),
                                           std::make_tuple(ProxyKind::kSocksd, "socks5h", "nonblocking"),
                                           std::make_tuple(ProxyKind::kSocksd, "socks4a", "epoll"),
                                           std::make_tuple(ProxyKind::kSocksd, "socks4", "blocking"),
                                           std::make_tuple(ProxyKind::kDanted, "socks5", "nonblocking"),
                                           std::make_tuple(ProxyKind::kDanted, "socks5h", "blocking"),
                                           std::make_tuple(ProxyKind::kMicrosocks, "socks5h", "epoll")),
                         [](const auto& info) {
                           return std::string(kindName(std::get<0>(info.param))) + "_" + std::get<1>(info.param) +
                                  "_" + std::get<2>(info.param);
                         });

// The parent resolves a proxy-only name, forks; the child connects to that fake
// address (the map is shared), then the parent does too.
TEST_F(NetnsTest, ForkedChildUsesTheParentsFakeAddress) {
  for (ProxyKind kind : {ProxyKind::kSocksd, ProxyKind::kMicrosocks}) {
    if (kindTool(kind).empty()) continue;
    servers_.clear();
    std::string proxy = startProxy(kind);
    ASSERT_FALSE(HasFailure());
    for (const char* mode : {"--blocking", "--nonblocking"}) {
      RunResult r = tcpClient({url("socks5h", proxy)}, {NetLab::kRemoteName, "7", mode, "--fork"});
      ASSERT_EQ(r.exit_code, 0) << kindName(kind) << " " << mode << "\n" << r.describe();
      EXPECT_TRUE(contains(r.out, "child:\n" + peerViaProxy())) << r.describe();
      EXPECT_TRUE(contains(r.out, "parent:\n" + peerViaProxy())) << r.describe();
      EXPECT_TRUE(contains(r.out, "child-hello\n")) << r.describe();
      EXPECT_TRUE(contains(r.out, "parent-hello\n")) << r.describe();
    }
  }
  expectDestSawOnlyProxy();
  expectNoDnsLeak();
}

// ---------------------------------------------------------------- DNS

// The sink works: without the shim, the same lookup does reach it.
TEST_F(NetnsTest, DnsSinkSeesDirectLookups) {
  SpawnOptions so;
  so.netns = lab_->clientNs();
  RunResult r = run({findTool("getent"), "hosts", NetLab::kRemoteName}, so, 20s);
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_FALSE(lab_->dnsQueries().empty()) << "dns_sink saw nothing: the leak tests would prove nothing";
}

TEST_F(NetnsTest, RemoteNamesSendNoDnsQuery) {
  std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  for (const char* scheme : {"socks5h", "socks4a"}) {
    ClientOptions o = client({url(scheme, proxy)});
    RunResult g = runSocksified({findTool("getent"), "hosts", NetLab::kRemoteName}, o);
    EXPECT_EQ(g.exit_code, 0) << g.describe();
    RunResult r = runSocksified({helper("tcp_client"), NetLab::kRemoteName, "7", "--nonblocking"}, o);
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    std::string py = python3Path();
    if (!py.empty()) {
      RunResult p = runSocksified(
          {py, "-c", "import socket; print(socket.getaddrinfo('dest.socksify.test', 80, type=socket.SOCK_STREAM)[0][4][0])"},
          o);
      EXPECT_EQ(p.exit_code, 0) << p.describe();
      EXPECT_EQ(p.out.rfind("198.1", 0), 0u) << p.describe();
    }
  }
  expectNoDnsLeak();
}

// socks5:// resolves names locally (c-ares, asking the configured nameserver): a name
// that is not in the client's hosts file is asked of the client's resolver.
TEST_F(NetnsTest, Socks5ResolvesLocally) {
  std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  RunResult r = tcpClient({url("socks5", proxy)}, {"unknown.socksify.test", "7"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "getaddrinfo")) << r.describe();
  bool asked = false;
  for (const auto& q : lab_->dnsQueries()) asked = asked || contains(q, "unknown.socksify.test");
  EXPECT_TRUE(asked) << "socks5:// should resolve locally through the client's nameserver";
  // And a name the client knows (hosts) is sent to the proxy as an address.
  RunResult ok = tcpClient({url("socks5", proxy)}, {NetLab::kLocalName, "7", "--print-peer"});
  ASSERT_EQ(ok.exit_code, 0) << ok.describe();
  EXPECT_TRUE(contains(ok.out, "getpeername " + lab_->destAddr() + ":7")) << ok.describe();
}

// ---------------------------------------------------------------- the user's contract

TEST_F(NetnsTest, VerbosePrintsOneLinePerRoutedConnection) {
  std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  ClientOptions o = client({url("socks5h", proxy)});
  o.verbose = true;
  RunResult r = runSocksified({helper("tcp_client"), NetLab::kRemoteName, "7", "--conns", "3"}, o);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  size_t logLines = 0;
  for (const auto& l : lines(r.err)) {
    EXPECT_EQ(l.rfind("socksify: ", 0), 0u) << "stderr line without the prefix: " << l;
    if (contains(l, NetLab::kRemoteName)) ++logLines;
  }
  EXPECT_EQ(logLines, 3u) << "expected one line per routed connection naming the destination\n" << r.describe();
  // Quiet by default: no log lines at all on success.
  o.verbose = false;
  RunResult q = runSocksified({helper("tcp_client"), NetLab::kRemoteName, "7"}, o);
  ASSERT_EQ(q.exit_code, 0) << q.describe();
  EXPECT_FALSE(contains(q.err, "socksify:")) << q.describe();
}

TEST_F(NetnsTest, BareLdPreloadForm) {
  std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  for (const char* scheme : {"socks4a", "socks5h"}) {
    SpawnOptions so;
    so.netns = lab_->clientNs();
    so.env = {"LD_PRELOAD=" + shimPath(), std::string("SOCKSIFY_PROXY=") + scheme + "://" + proxy};
    RunResult r = run({helper("tcp_client"), NetLab::kRemoteName, "7", "--nonblocking"}, so, 40s);
    ASSERT_EQ(r.exit_code, 0) << scheme << "\n" << r.describe();
    EXPECT_EQ(r.out.rfind(peerViaProxy(), 0), 0u) << r.describe();
    std::string curl = findTool("curl");
    if (!curl.empty()) {
      RunResult c = run({curl, "-sS", "--max-time", "20", std::string("http://") + NetLab::kRemoteName + "/"}, so, 40s);
      ASSERT_EQ(c.exit_code, 0) << c.describe();
      EXPECT_EQ(c.out.rfind(peerViaProxy(), 0), 0u) << c.describe();
    }
  }
  expectNoDnsLeak();
}

// Preloaded without any configuration the shim is inert: connections go direct (and
// the destination network is unreachable from the client namespace, as it is without
// the shim).
TEST_F(NetnsTest, InertWithoutConfiguration) {
  SpawnOptions so;
  so.netns = lab_->clientNs();
  so.env = {"LD_PRELOAD=" + shimPath(), "XDG_CONFIG_HOME=/nonexistent", "HOME=/nonexistent"};
  RunResult r = run({helper("tcp_client"), lab_->destAddr(), "7", "--nonblocking"}, so, 20s);
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "ENETUNREACH")) << r.describe();
  EXPECT_TRUE(r.err.find("socksify:") == std::string::npos) << r.describe();
  // A local server in the client namespace works through the inert shim.
  DestServer local = startTcpServer(lab_->clientNs(), {"--echo", "127.0.0.1:0"});
  ASSERT_EQ(local.ports.size(), 1u);
  RunResult l = run({helper("tcp_client"), "127.0.0.1", std::to_string(local.ports[0]), "--print-peer"}, so, 20s);
  ASSERT_EQ(l.exit_code, 0) << l.describe();
  EXPECT_TRUE(contains(l.out, "getpeername 127.0.0.1:" + std::to_string(local.ports[0]))) << l.describe();
  EXPECT_TRUE(contains(l.out, "\nhello\n")) << l.describe();
}

// A program that half-closes (shutdown(SHUT_WR)) and then reads to EOF gets every byte:
// socksd and danted relay the half-close (microsocks closes the whole relay, so it is
// not part of this test).
TEST_F(NetnsTest, HalfCloseIsRelayed) {
  for (ProxyKind kind : {ProxyKind::kSocksd, ProxyKind::kDanted}) {
    if (kindTool(kind).empty()) continue;
    servers_.clear();
    std::string proxy = startProxy(kind);
    ASSERT_FALSE(HasFailure());
    for (const char* mode : {"--blocking", "--nonblocking"}) {
      RunResult r = tcpClient({url("socks5", proxy)}, {lab_->destAddr(), "7", mode, "--half-close"});
      ASSERT_EQ(r.exit_code, 0) << kindName(kind) << " " << mode << "\n" << r.describe();
      EXPECT_EQ(r.out.rfind(peerViaProxy(), 0), 0u) << r.describe();
      EXPECT_TRUE(contains(r.out, "\nhello\n")) << r.describe();
    }
  }
}

// TCP Fast Open (sendto(MSG_FASTOPEN) on an unconnected socket, as curl
// --tcp-fastopen does) is a connect with data: it goes through the proxy like
// connect(), the handshake first and the data after it. A direct (loopback)
// destination keeps the kernel's Fast Open.
TEST_F(NetnsTest, TcpFastOpenGoesThroughTheProxy) {
  for (ProxyKind kind : {ProxyKind::kSocksd, ProxyKind::kDanted}) {
    if (kindTool(kind).empty()) continue;
    servers_.clear();
    std::string proxy = startProxy(kind);
    ASSERT_FALSE(HasFailure());
    RunResult r = tcpClient({url("socks5h", proxy)}, {NetLab::kRemoteName, "7", "--fastopen"});
    ASSERT_EQ(r.exit_code, 0) << kindName(kind) << "\n" << r.describe();
    EXPECT_EQ(r.out.rfind(peerViaProxy(), 0), 0u) << r.describe();
    EXPECT_TRUE(contains(r.out, "\nhello\n")) << r.describe();
  }
  expectDestSawOnlyProxy();
  expectNoDnsLeak();
  DestServer local = startTcpServer(lab_->clientNs(), {"--echo", "127.0.0.1:0"});
  ASSERT_EQ(local.ports.size(), 1u);
  RunResult l = tcpClient({url("socks5h", servers_.back().hostPort())},
                          {"127.0.0.1", std::to_string(local.ports[0]), "--fastopen"});
  ASSERT_EQ(l.exit_code, 0) << l.describe();
  EXPECT_TRUE(contains(l.out, "peer 127.0.0.1:")) << l.describe();
}

// The fd table follows copies: after dup/dup2/dup3/fcntl(F_DUPFD) and closing the
// original, the copy is the proxied connection and getpeername still answers with the
// destination. A new socket that reuses the closed descriptor number is not mistaken
// for the old connection (--after: a direct loopback connection).
TEST_F(NetnsTest, DupAndDescriptorReuse) {
  std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  DestServer local = startTcpServer(lab_->clientNs(), {"--echo", "127.0.0.1:0"});
  ASSERT_EQ(local.ports.size(), 1u);
  const std::string after = "127.0.0.1:" + std::to_string(local.ports[0]);
  for (const char* how : {"dup", "dup2", "dup3", "fcntl"}) {
    RunResult r = tcpClient({url("socks5h", proxy)},
                            {NetLab::kRemoteName, "7", "--nonblocking", "--print-peer", "--dup", how, "--after", after});
    ASSERT_EQ(r.exit_code, 0) << how << "\n" << r.describe();
    auto ls = lines(r.out);
    ASSERT_EQ(ls.size(), 9u) << how << "\n" << r.describe();
    EXPECT_EQ(ls[0].substr(13), ls[1].substr(12)) << how << "\n" << r.describe();
    EXPECT_EQ(ls[2].rfind(peerViaProxy(), 0), 0u) << how << "\n" << r.describe();
    EXPECT_EQ(ls[3], "hello") << r.describe();
    EXPECT_EQ(ls[4], "after:") << r.describe();
    EXPECT_EQ(ls[6], "getpeername " + after) << "a reused descriptor number kept the old connection's state\n"
                                               << r.describe();
    EXPECT_EQ(ls[7].rfind("peer 127.0.0.1:", 0), 0u) << r.describe();
  }
}

// IPv6 (2001:db8:L::/64 in the lab). A proxy reached only over IPv6 and a program
// that looks the name up with AF_UNSPEC: the fake address it gets must be IPv6, so
// the socket it makes from the answer can reach the proxy.
TEST_F(NetnsTest, Ipv6ProxyGetsIpv6FakesForUnspecifiedLookups) {
  if (!lab_->hasIpv6()) GTEST_SKIP() << "IPv6 is not available in network namespaces here";
  std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  const std::string proxy6 = "[" + lab_->proxyAddr6(0) + "]:1080";
  for (const char* mode : {"--blocking", "--nonblocking"}) {
    RunResult a = tcpClient({url("socks5h", proxy6)}, {NetLab::kRemoteName, "7", mode, "--print-peer"});
    ASSERT_EQ(a.exit_code, 0) << mode << "\n" << a.describe();
    EXPECT_TRUE(contains(a.out, "\n" + peerViaProxy())) << a.describe();
  }
  expectNoDnsLeak();
}

// An IPv6 proxy and an IPv6 socket (AF_INET6 lookup of a remote name: a fake address
// in fd53:6f63:6b73::/48 that connect turns back into the name).
TEST_F(NetnsTest, Ipv6ProxyAndFakeIpv6Address) {
  if (!lab_->hasIpv6()) GTEST_SKIP() << "IPv6 is not available in network namespaces here";
  std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  for (const std::string& p : {proxy, "[" + lab_->proxyAddr6(0) + "]:1080"}) {
    RunResult c = tcpClient({url("socks5h", p)}, {NetLab::kRemoteName, "7", "--family", "6", "--print-peer"});
    ASSERT_EQ(c.exit_code, 0) << p << "\n" << c.describe();
    EXPECT_TRUE(contains(c.out, "connected-to [fd53:6f63:6b73:")) << c.describe();
    auto ls = lines(c.out);
    ASSERT_GE(ls.size(), 2u) << c.describe();
    EXPECT_EQ(ls[0].substr(13), ls[1].substr(12)) << c.describe();
    EXPECT_TRUE(contains(c.out, "\n" + peerViaProxy())) << c.describe();
  }
  expectDestSawOnlyProxy();
  expectNoDnsLeak();
}

// An IPv6 destination address (SOCKS5 ATYP 4) through an IPv4 and an IPv6 proxy address.
TEST_F(NetnsTest, Ipv6Destination) {
  if (!lab_->hasIpv6()) GTEST_SKIP() << "IPv6 is not available in network namespaces here";
  std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  for (const std::string& p : {"[" + lab_->proxyAddr6(0) + "]:1080", proxy}) {
    RunResult b = tcpClient({url("socks5", p)}, {lab_->destAddr6(), "7", "--epoll", "--print-peer"});
    ASSERT_EQ(b.exit_code, 0) << p << "\n" << b.describe();
    EXPECT_TRUE(contains(b.out, "getpeername [" + lab_->destAddr6() + "]:7")) << b.describe();
    EXPECT_TRUE(contains(b.out, "peer [" + lab_->proxyExternal6(0) + "]:")) << b.describe();
  }
  std::string curl = findTool("curl");
  if (!curl.empty()) {
    RunResult r = runSocksified({curl, "-sS", "--max-time", "20", "http://[" + lab_->destAddr6() + "]/"},
                                client({url("socks5h", "[" + lab_->proxyAddr6(0) + "]:1080")}));
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.out.rfind("peer [" + lab_->proxyExternal6(0) + "]:", 0), 0u) << r.describe();
  }
}

// Loopback destinations go direct even with a proxy configured.
TEST_F(NetnsTest, LoopbackGoesDirect) {
  std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  DestServer local = startTcpServer(lab_->clientNs(), {"--echo", "127.0.0.1:0"});
  ASSERT_EQ(local.ports.size(), 1u);
  RunResult r = tcpClient({url("socks5h", proxy)}, {"127.0.0.1", std::to_string(local.ports[0]), "--nonblocking"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out.rfind("peer 127.0.0.1:", 0), 0u) << r.describe();
}

}  // namespace
}  // namespace sfy::it
