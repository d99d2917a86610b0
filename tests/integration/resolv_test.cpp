// libresolv's query API (res_query, res_search, res_querydomain, res_nquery,
// the old __res_query, res_send) and getaddrinfo_a under the shim, in the
// namespace lab: no query leaves the client with a socks5h:// proxy, while
// getaddrinfo_a still yields a fake address that reaches the destination
// through the proxy; `dns system` hands the call to libc and `dns local` to
// c-ares (both reach the lab's dns_sink); without a configuration everything
// behaves exactly as libc.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness.h"
#include "lab_fixture.h"

namespace sfy::it {
namespace {

using namespace std::chrono_literals;

constexpr const char* kUnknown = "unknown.socksify.test";  // nobody resolves it: the sink says NXDOMAIN

class ResolvTest : public LabTest {
 protected:
  void SetUp() override { buildLab(1); }

  std::string proxyUrl(const std::string& scheme) const { return scheme + "://" + lab_->proxyAddr(0) + ":1080"; }

  RunResult socksified(const Argv& args, bool verbose = true) {
    ClientOptions o = client({proxyUrl("socks5h")});
    o.verbose = verbose;
    Argv argv = {helper("resolv_client")};
    argv.insert(argv.end(), args.begin(), args.end());
    return runSocksified(argv, o);
  }

  // LD_PRELOAD + SOCKSIFY_CONF (conf text), or LD_PRELOAD alone (conf empty:
  // no configuration anywhere, the shim is inert), or no shim at all.
  RunResult inClient(const Argv& args, const std::string& conf, bool preload = true,
                     const Env& more = {}) {
    SpawnOptions so;
    so.netns = lab_->clientNs();
    if (preload) {
      so.env = {"LD_PRELOAD=" + shimPath(), "XDG_CONFIG_HOME=/nonexistent", "HOME=/nonexistent"};
      if (!conf.empty()) so.env.push_back("SOCKSIFY_CONF=" + dir_.write("socks.conf", conf));
    }
    so.env.insert(so.env.end(), more.begin(), more.end());
    Argv argv = {helper("resolv_client")};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, so, 40s);
  }

  bool sinkSaw(const std::string& name) const {
    for (const auto& q : lab_->dnsQueries())
      if (contains(q, "name " + name)) return true;
    return false;
  }
  size_t sinkCount() const { return lab_->dnsQueries().size(); }

  TempDir dir_;
};

// socks5h://: every query entry point refuses to send (NO_RECOVERY, one info line).
TEST_F(ResolvTest, RemoteNamesAreNeverSentByTheQueryApi) {
  startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  const std::vector<std::pair<Argv, std::string>> calls = {
      {{"query", NetLab::kRemoteName}, "res_query"},
      {{"search", NetLab::kRemoteName}, "res_search"},
      {{"querydomain", "dest", "socksify.test"}, "res_querydomain"},
      {{"nquery", NetLab::kRemoteName}, "res_nquery"},
      {{"old-query", NetLab::kRemoteName}, "res_query"},
      {{"send", NetLab::kRemoteName}, "res_send"},
  };
  for (const auto& [args, fn] : calls) {
    SCOPED_TRACE(args.front());
    RunResult r = socksified(args);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, " rc=-1 h_errno=NO_RECOVERY")) << r.describe();
    EXPECT_TRUE(contains(r.err, fn + " " + NetLab::kRemoteName + ": not sent (dns remote)")) << r.describe();
  }
  expectNoDnsLeak();
}

// getaddrinfo_a with socks5h://: the fake address, no query, and a connection
// to it reaches the destination through the proxy; each notification kind
// is delivered; gai_suspend/gai_cancel see completed requests.
TEST_F(ResolvTest, GetaddrinfoAGivesAFakeAddressThatReachesTheDestination) {
  startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  for (const char* mode : {"wait", "none", "thread", "signal"}) {
    SCOPED_TRACE(mode);
    RunResult r = socksified({"gai-a", NetLab::kRemoteName, "7", mode, "--connect"}, false);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, "gai_error=0 addr=198.18.")) << r.describe();
    EXPECT_TRUE(contains(r.out, "echo ok")) << r.describe();
    EXPECT_TRUE(contains(r.out, peerViaProxy())) << r.describe();
    EXPECT_TRUE(contains(r.out, "gai_cancel=-103")) << "EAI_ALLDONE expected\n" << r.describe();
    if (std::string(mode) == "thread") {
      EXPECT_TRUE(contains(r.out, "notified thread value=17")) << r.describe();
    }
    if (std::string(mode) == "signal") {
      EXPECT_TRUE(contains(r.out, "notified signal value=23")) << r.describe();
    }
  }
  expectNoDnsLeak();
  expectDestSawOnlyProxy();
}

// `dns system`: the real functions, whose queries reach the client's resolver.
TEST_F(ResolvTest, DnsSystemRouteHandsTheQueryToLibc) {
  const std::string conf = "proxy p = " + proxyUrl("socks5h") + "\nroute *.socksify.test -> p dns system\n";
  for (const char* cmd : {"query", "send", "old-query"}) {
    SCOPED_TRACE(cmd);
    const size_t before = sinkCount();
    RunResult r = inClient({cmd, kUnknown}, conf);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    if (std::string(cmd) == "send") {
      EXPECT_TRUE(contains(r.out, "rcode=3")) << r.describe();
      EXPECT_TRUE(contains(r.out, "id=ok")) << r.describe();
    } else {
      EXPECT_TRUE(contains(r.out, "rc=-1 h_errno=HOST_NOT_FOUND")) << r.describe();
    }
    EXPECT_GT(sinkCount(), before) << "the query did not reach the resolver\n" << r.describe();
  }
  const size_t before = sinkCount();
  RunResult g = inClient({"gai-a", kUnknown, "7", "thread"}, conf);
  ASSERT_EQ(g.exit_code, 0) << g.describe();
  EXPECT_TRUE(contains(g.out, "gai_error=-2 ")) << "EAI_NONAME expected\n" << g.describe();
  EXPECT_GT(sinkCount(), before) << g.describe();
}

// `dns local`: c-ares with the real sockets asks the client's resolver.
TEST_F(ResolvTest, DnsLocalRouteAsksThroughCares) {
  const std::string conf = "proxy p = " + proxyUrl("socks5") + "\nroute *.socksify.test -> p dns local\n";
  const Env debug = {"SOCKSIFY_LOG=debug"};
  {
    RunResult r = inClient({"query", kUnknown}, conf, true, debug);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, "res_query rc=-1 h_errno=HOST_NOT_FOUND")) << r.describe();
    EXPECT_TRUE(contains(r.err, std::string("res_query ") + kUnknown + ": asking through c-ares")) << r.describe();
  }
  {
    RunResult r = inClient({"search", kUnknown}, conf, true, debug);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, "res_search rc=-1 h_errno=HOST_NOT_FOUND")) << r.describe();
  }
  {
    RunResult r = inClient({"send", kUnknown}, conf, true, debug);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    // The sink's NXDOMAIN comes back whole, with the program's own ID.
    EXPECT_TRUE(contains(r.out, "res_send rc=")) << r.describe();
    EXPECT_TRUE(contains(r.out, "rcode=3 ancount=0 id=ok")) << r.describe();
    EXPECT_TRUE(contains(r.err, "res_send " + std::string(kUnknown) + ": asking through c-ares")) << r.describe();
  }
  {
    RunResult r = inClient({"gai-a", kUnknown, "7", "signal"}, conf, true, debug);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.out, "notified signal value=23")) << r.describe();
    EXPECT_TRUE(contains(r.out, "gai_error=-2 ")) << r.describe();
  }
  EXPECT_TRUE(sinkSaw(kUnknown)) << "c-ares did not ask the client's resolver";
}

// No configuration: the shim is inert and every call is exactly libc's.
TEST_F(ResolvTest, InertShimBehavesExactlyAsLibc) {
  for (const Argv& args : std::vector<Argv>{{"query", kUnknown},
                                            {"search", kUnknown},
                                            {"old-query", kUnknown},
                                            {"send", kUnknown},
                                            {"gai-a", kUnknown, "7", "wait"},
                                            {"gai-a", kUnknown, "7", "thread"},
                                            {"gai-a", NetLab::kLocalName, "7", "wait"}}) {
    SCOPED_TRACE(args.front() + " " + args.back());
    const size_t before = sinkCount();
    RunResult plain = inClient(args, "", false);
    const size_t plain_queries = sinkCount() - before;
    RunResult shim = inClient(args, "", true);
    const size_t shim_queries = sinkCount() - before - plain_queries;
    ASSERT_EQ(plain.exit_code, 0) << plain.describe();
    EXPECT_EQ(shim.exit_code, plain.exit_code) << shim.describe();
    EXPECT_EQ(shim.out, plain.out) << shim.describe() << "\n" << plain.describe();
    EXPECT_EQ(shim.err, "") << shim.describe();
    EXPECT_EQ(shim_queries, plain_queries);
  }
}

// gethostent needs no hook: glibc's DNS module has no enumeration functions
// (libc exports _nss_dns_gethostbyname*_r and _nss_dns_gethostbyaddr*_r but
// no _nss_dns_gethostent_r), so walking the hosts database reads only the
// files. Checked here without the shim: `getent hosts` (no key: sethostent,
// gethostent, endhostent) sends the resolver nothing.
TEST_F(ResolvTest, GethostentSendsNoDnsQuery) {
  const std::string getent = findTool("getent");
  if (getent.empty()) GTEST_SKIP() << "getent not installed";
  SpawnOptions so;
  so.netns = lab_->clientNs();
  const size_t before = sinkCount();
  RunResult r = run({getent, "hosts"}, so, 20s);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, NetLab::kLocalName)) << r.describe();
  EXPECT_EQ(sinkCount(), before) << "gethostent asked the nameserver";
}

}  // namespace
}  // namespace sfy::it
