// probeChain (socksify --check) against scripted fake proxies on socketpairs:
// the SocketOps given hands out the client end of a socketpair for socket()
// and answers connect() as the test says, so every stage and its failure is
// driven byte by byte without any network.
#include "socks/probe.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fake_io.h"

namespace socks {
namespace {

using namespace std::chrono_literals;
using testing::Bytes8;
using testing::readN;
using testing::writeAll;
using Outcome = StageResult::Outcome;

// The fake's state: function pointers cannot capture, and one test runs at a
// time.
int g_client_fd = -1;
int g_connect_errno = 0;
int g_sockets = 0;
int g_closed = -1;

int fakeSocket(int, int, int) {
  ++g_sockets;
  return g_client_fd;
}
int fakeConnect(int, const sockaddr*, socklen_t) {
  if (g_connect_errno != 0) {
    errno = g_connect_errno;
    return -1;
  }
  return 0;
}
int fakeClose(int fd) {
  g_closed = fd;
  return ::close(fd);
}

SocketOps fakeOps() {
  SocketOps ops = libcSocketOps();
  ops.socket = fakeSocket;
  ops.connect = fakeConnect;
  ops.close = fakeClose;
  return ops;
}

// A socketpair whose client end the fake ops hand out (and the probe closes).
class ProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    g_client_fd = sv[0];
    server_ = sv[1];
    const timeval bound{5, 0};  // a wrong script must fail, not hang
    ::setsockopt(server_, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
    g_connect_errno = 0;
    g_sockets = 0;
    g_closed = -1;
  }
  void TearDown() override {
    if (g_closed != g_client_fd) {
      ::close(g_client_fd);
    }
    ::close(server_);
  }

  static ProxyUrl url(const std::string& text) {
    auto u = parseProxyUrl(text);
    EXPECT_TRUE(u.ok()) << text;
    return u.ok() ? *u : ProxyUrl{};
  }

  ChainReport probe(const std::vector<ProxyUrl>& chain, std::optional<Address> target,
                    std::chrono::milliseconds timeout = 5s) {
    ProbeOptions o;
    o.timeout = timeout;
    o.target = target;
    o.resolve = resolve_;
    const SocketOps ops = fakeOps();
    return probeChain(ops, chain, o);
  }

  static Address target() {
    const std::uint8_t ip[4] = {198, 51, 100, 2};
    return Address::ipv4(ip, 80);
  }

  int server_ = -1;
  std::function<Result<Address>(const std::string&, int)> resolve_;
};

TEST_F(ProbeTest, Socks5NoAuthAllStagesPass) {
  std::thread server([&] {
    EXPECT_EQ(readN(server_, 3), (Bytes8{5, 1, 0}));
    writeAll(server_, {5, 0});
    EXPECT_EQ(readN(server_, 10), (Bytes8{5, 1, 0, 1, 198, 51, 100, 2, 0, 80}));
    writeAll(server_, {5, 0, 0, 1, 0, 0, 0, 0, 0, 0});
  });
  const ChainReport r = probe({url("socks5h://127.0.0.1:1080")}, target());
  server.join();
  ASSERT_EQ(r.hops.size(), 1u);
  const HopReport& h = r.hops[0];
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(h.resolve.outcome, Outcome::kOk);
  EXPECT_EQ(h.tcp.outcome, Outcome::kOk);
  EXPECT_EQ(h.negotiate.outcome, Outcome::kOk);
  EXPECT_EQ(h.method, v5::Method::kNoAuth);
  EXPECT_EQ(h.auth.outcome, Outcome::kNotRun);
  EXPECT_EQ(h.connect.outcome, Outcome::kOk);
  EXPECT_EQ(h.next.toString(), "198.51.100.2:80");
  EXPECT_EQ(h.addr.toString(), "127.0.0.1:1080");
  EXPECT_EQ(g_sockets, 1);
  EXPECT_EQ(g_closed, g_client_fd) << "the probe closes its socket";
}

TEST_F(ProbeTest, WrongPasswordFailsTheAuthStage) {
  std::thread server([&] {
    EXPECT_EQ(readN(server_, 4), (Bytes8{5, 2, 0, 2}));
    writeAll(server_, {5, 2});
    EXPECT_EQ(readN(server_, 2 + 5 + 1 + 5), (Bytes8{1, 5, 'a', 'l', 'i', 'c', 'e', 5, 'w', 'r',
                                                     'o', 'n', 'g'}));
    writeAll(server_, {1, 1});
  });
  const ChainReport r = probe({url("socks5://alice:wrong@127.0.0.1:1080")}, target());
  server.join();
  const HopReport& h = r.hops.at(0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(h.negotiate.outcome, Outcome::kOk);
  EXPECT_EQ(h.method, v5::Method::kUserPass);
  ASSERT_EQ(h.auth.outcome, Outcome::kFailed);
  EXPECT_EQ(probeFailureText(h.auth.status, 5s), "auth rejected");
  EXPECT_EQ(h.connect.outcome, Outcome::kNotRun);
  EXPECT_EQ(h.label, "socks5://alice:***@127.0.0.1:1080") << "never the password";
}

TEST_F(ProbeTest, MethodRejectedFailsTheNegotiateStage) {
  std::thread server([&] {
    readN(server_, 3);
    writeAll(server_, {5, 0xFF});
  });
  const ChainReport r = probe({url("socks5://127.0.0.1:1080")}, target());
  server.join();
  const HopReport& h = r.hops.at(0);
  ASSERT_EQ(h.negotiate.outcome, Outcome::kFailed);
  EXPECT_EQ(probeFailureText(h.negotiate.status, 5s), "method rejected (0xFF)");
  EXPECT_EQ(h.auth.outcome, Outcome::kNotRun);
  EXPECT_EQ(h.connect.outcome, Outcome::kNotRun);
}

TEST_F(ProbeTest, RefusedTcpConnectFailsTheTcpStage) {
  g_connect_errno = ECONNREFUSED;
  const ChainReport r = probe({url("socks5://127.0.0.1:1")}, target());
  const HopReport& h = r.hops.at(0);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(h.tcp.outcome, Outcome::kFailed);
  EXPECT_EQ(probeFailureText(h.tcp.status, 5s), "connection refused");
  EXPECT_EQ(h.negotiate.outcome, Outcome::kNotRun);
}

TEST_F(ProbeTest, SilentProxyTimesOutWithinTheBudget) {
  const auto start = std::chrono::steady_clock::now();
  const ChainReport r = probe({url("socks5://127.0.0.1:1080")}, target(), 200ms);
  const auto took = std::chrono::steady_clock::now() - start;
  const HopReport& h = r.hops.at(0);
  ASSERT_EQ(h.negotiate.outcome, Outcome::kFailed);
  EXPECT_EQ(probeFailureText(h.negotiate.status, 200ms), "timeout after 200ms");
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 3s);
}

TEST_F(ProbeTest, RefusedConnectFailsTheConnectStageWithTheReply) {
  std::thread server([&] {
    readN(server_, 3);
    writeAll(server_, {5, 0});
    readN(server_, 10);
    writeAll(server_, {5, 5, 0, 1, 0, 0, 0, 0, 0, 0});
  });
  const ChainReport r = probe({url("socks5://127.0.0.1:1080")}, target());
  server.join();
  const HopReport& h = r.hops.at(0);
  EXPECT_EQ(h.negotiate.outcome, Outcome::kOk);
  ASSERT_EQ(h.connect.outcome, Outcome::kFailed);
  EXPECT_EQ(probeFailureText(h.connect.status, 5s), "reply 0x05 connection refused");
}

TEST_F(ProbeTest, Socks4RejectionNamesTheReplyCode) {
  std::thread server([&] {
    readN(server_, 9);
    writeAll(server_, {0, 91, 0, 0, 0, 0, 0, 0});
  });
  const ChainReport r = probe({url("socks4://127.0.0.1:1080")}, target());
  server.join();
  const HopReport& h = r.hops.at(0);
  EXPECT_EQ(h.negotiate.outcome, Outcome::kNotRun) << "SOCKS4 has no method negotiation";
  ASSERT_EQ(h.connect.outcome, Outcome::kFailed);
  EXPECT_EQ(probeFailureText(h.connect.status, 5s), "reply 91 rejected or failed");
}

TEST_F(ProbeTest, TwoHopsAreProbedHopByHop) {
  std::thread server([&] {
    // Hop 1 (SOCKS5) is asked for hop 2, 10.0.0.2:1081 ...
    EXPECT_EQ(readN(server_, 3), (Bytes8{5, 1, 0}));
    writeAll(server_, {5, 0});
    EXPECT_EQ(readN(server_, 10), (Bytes8{5, 1, 0, 1, 10, 0, 0, 2, 0x04, 0x39}));
    writeAll(server_, {5, 0, 0, 1, 0, 0, 0, 0, 0, 0});
    // ... then hop 2 (SOCKS4a, USERID "ops") for the target.
    EXPECT_EQ(readN(server_, 8 + 4), (Bytes8{4, 1, 0, 80, 198, 51, 100, 2, 'o', 'p', 's', 0}));
    writeAll(server_, {0, 90, 0, 0, 0, 0, 0, 0});
  });
  const ChainReport r =
      probe({url("socks5://127.0.0.1:1080"), url("socks4a://ops@10.0.0.2:1081")}, target());
  server.join();
  ASSERT_EQ(r.hops.size(), 2u);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.hops[0].next.toString(), "10.0.0.2:1081");
  EXPECT_EQ(r.hops[0].connect.outcome, Outcome::kOk);
  EXPECT_EQ(r.hops[1].tcp.outcome, Outcome::kNotRun) << "reached through hop 1's CONNECT";
  EXPECT_EQ(r.hops[1].connect.outcome, Outcome::kOk);
  EXPECT_EQ(r.hops[1].next.toString(), "198.51.100.2:80");
}

TEST_F(ProbeTest, SecondHopFailurePinsTheFirstHopAsOk) {
  std::thread server([&] {
    readN(server_, 3);
    writeAll(server_, {5, 0});
    readN(server_, 10);
    writeAll(server_, {5, 0, 0, 1, 0, 0, 0, 0, 0, 0});
    readN(server_, 3);  // hop 2's greeting, and then the "proxy" goes away
    ::shutdown(server_, SHUT_WR);
  });
  const ChainReport r =
      probe({url("socks5://127.0.0.1:1080"), url("socks5://10.0.0.2:1081")}, target());
  server.join();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.hops.at(0).connect.outcome, Outcome::kOk);
  ASSERT_EQ(r.hops.at(1).negotiate.outcome, Outcome::kFailed);
  EXPECT_EQ(probeFailureText(r.hops[1].negotiate.status, 5s), "connection closed by proxy");
}

TEST_F(ProbeTest, WithoutATargetTheLastRequestIsNeverSent) {
  std::thread server([&] {
    EXPECT_EQ(readN(server_, 3), (Bytes8{5, 1, 0}));
    writeAll(server_, {5, 0});
    // Nothing more: the probe closes the connection instead of asking.
    EXPECT_EQ(readN(server_, 1), Bytes8{});
  });
  const ChainReport r = probe({url("socks5h://127.0.0.1:1080")}, std::nullopt);
  server.join();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.hops.at(0).negotiate.outcome, Outcome::kOk);
  EXPECT_EQ(r.hops.at(0).connect.outcome, Outcome::kNotRun);
  EXPECT_EQ(r.hops.at(0).next.type, Address::Type::kNone);
}

TEST_F(ProbeTest, HostNamesGoThroughTheResolverWithTheUrlsPort) {
  std::vector<std::string> asked;
  resolve_ = [&](const std::string& host, int ms) -> Result<Address> {
    asked.push_back(host);
    EXPECT_GT(ms, 0);
    if (host == "proxy.test") {
      const std::uint8_t ip[4] = {127, 0, 0, 9};
      return Address::ipv4(ip, 0);
    }
    return Status(Errc::kNotFound, "no such name");
  };
  const ChainReport r =
      probe({url("socks5://proxy.test:1090"), url("socks5://nowhere.test")}, target());
  EXPECT_EQ(asked, (std::vector<std::string>{"proxy.test", "nowhere.test"}));
  EXPECT_EQ(r.hops.at(0).addr.toString(), "127.0.0.9:1090");
  ASSERT_EQ(r.hops.at(1).resolve.outcome, Outcome::kFailed);
  EXPECT_EQ(probeFailureText(r.hops[1].resolve.status, 5s), "cannot resolve: no such name");
  EXPECT_FALSE(r.ok());
}

TEST(DurationText, ReadsLikeTheConfigurationFile) {
  EXPECT_EQ(durationText(10000ms), "10s");
  EXPECT_EQ(durationText(500ms), "500ms");
  EXPECT_EQ(durationText(2500ms), "2.5s");
  EXPECT_EQ(durationText(1250ms), "1.25s");
}

}  // namespace
}  // namespace socks
