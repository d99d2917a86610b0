// socks::queryRaw / sendRaw (res_query / res_send through c-ares) against the
// loopback mock DNS server: the answer bytes, the outcome per RCODE, the
// caller's message ID restored, the timeout bound, and argument errors.
#include <arpa/inet.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "socks/dns_message.h"
#include "socks/resolver.h"
#include "unit/dns/mock_dns_server.h"

namespace socks {
namespace {

using testing::MockDnsServer;
using Clock = std::chrono::steady_clock;

constexpr int kClassIn = 1;
constexpr int kTypeA = 1;
constexpr int kTypeAaaa = 28;

ResolveOptions optionsFor(const MockDnsServer& server, int timeout_ms = 3000) {
  ResolveOptions o;
  o.timeout_ms = timeout_ms;
  o.servers = server.servers();
  return o;
}

int rcode(const std::vector<std::uint8_t>& m) { return m.size() >= 4 ? (m[3] & 0x0F) : -1; }
int ancount(const std::vector<std::uint8_t>& m) { return m.size() >= 8 ? (m[6] << 8) | m[7] : -1; }

std::vector<std::uint8_t> queryFor(const std::string& name, std::uint16_t id, int type) {
  std::vector<std::uint8_t> q = {static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id), 0x01, 0, 0, 1,
                                 0, 0, 0, 0, 0, 0};
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<std::uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.insert(q.end(), {0, 0, static_cast<std::uint8_t>(type), 0, 1});
  return q;
}

TEST(RawQuery, AnswerIsTheServersMessage) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  server.addA("known.test", "192.0.2.7");
  Result<RawAnswer> r = queryRaw(libcSocketOps(), "known.test", kClassIn, kTypeA, false, optionsFor(server));
  ASSERT_TRUE(r.ok()) << r.status().reason();
  EXPECT_EQ(r->outcome, DnsOutcome::kAnswer);
  EXPECT_EQ(rcode(r->message), 0);
  ASSERT_EQ(ancount(r->message), 1);
  const std::uint8_t want[4] = {192, 0, 2, 7};
  ASSERT_GE(r->message.size(), 4u);
  EXPECT_TRUE(std::equal(want, want + 4, r->message.end() - 4));
  Result<DnsQuestion> q = parseDnsQuestion(r->message);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->name, "known.test");
  EXPECT_EQ(server.names(), std::vector<std::string>{"known.test"});
}

TEST(RawQuery, NxdomainAndNodataKeepTheMessage) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  server.addA("known.test", "192.0.2.7");
  Result<RawAnswer> nx = queryRaw(libcSocketOps(), "unknown.test", kClassIn, kTypeA, false, optionsFor(server));
  ASSERT_TRUE(nx.ok());
  EXPECT_EQ(nx->outcome, DnsOutcome::kNameError);
  EXPECT_EQ(rcode(nx->message), 3);
  Result<RawAnswer> nodata = queryRaw(libcSocketOps(), "known.test", kClassIn, kTypeAaaa, false, optionsFor(server));
  ASSERT_TRUE(nodata.ok());
  EXPECT_EQ(nodata->outcome, DnsOutcome::kNoData);
  EXPECT_EQ(ancount(nodata->message), 0);
}

TEST(RawQuery, SearchWithAnAbsoluteNameAsksForItAsIs) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  server.addA("known.test", "192.0.2.7");
  Result<RawAnswer> r = queryRaw(libcSocketOps(), "known.test.", kClassIn, kTypeA, true, optionsFor(server));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, DnsOutcome::kAnswer);
}

TEST(RawQuery, SilentServerIsTryAgainWithinTheBound) {
  MockDnsServer server(/*answer=*/false);
  ASSERT_TRUE(server.ok());
  const auto start = Clock::now();
  Result<RawAnswer> r = queryRaw(libcSocketOps(), "known.test", kClassIn, kTypeA, false, optionsFor(server, 400));
  const auto took = Clock::now() - start;
  ASSERT_TRUE(r.ok()) << r.status().reason();
  EXPECT_EQ(r->outcome, DnsOutcome::kTryAgain);
  EXPECT_TRUE(r->message.empty());
  EXPECT_LT(took, std::chrono::milliseconds(2000));
  EXPECT_GE(server.queries(), 1);
}

TEST(RawQuery, BadArguments) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(queryRaw(libcSocketOps(), "", kClassIn, kTypeA, false, optionsFor(server)).status().code(),
            Errc::kInvalidArgument);
  EXPECT_EQ(queryRaw(libcSocketOps(), std::string("a\0b", 3), kClassIn, kTypeA, false, optionsFor(server))
                .status()
                .code(),
            Errc::kInvalidArgument);
  ResolveOptions bad = optionsFor(server);
  bad.servers = "not an address";
  EXPECT_EQ(queryRaw(libcSocketOps(), "x.test", kClassIn, kTypeA, false, bad).status().code(),
            Errc::kInvalidArgument);
  const std::uint8_t shorty[11] = {};
  EXPECT_EQ(sendRaw(libcSocketOps(), shorty, optionsFor(server)).status().code(), Errc::kInvalidArgument);
  EXPECT_EQ(server.queries(), 0);
}

TEST(RawSend, AnswerCarriesTheCallersId) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  server.addA("known.test", "192.0.2.7");
  for (const std::uint16_t id : {0x0000, 0x4242, 0xfffe}) {
    const std::vector<std::uint8_t> q = queryFor("known.test", id, kTypeA);
    Result<RawAnswer> r = sendRaw(libcSocketOps(), q, optionsFor(server));
    ASSERT_TRUE(r.ok()) << r.status().reason();
    EXPECT_EQ(r->outcome, DnsOutcome::kAnswer);
    ASSERT_GE(r->message.size(), 12u);
    EXPECT_EQ(r->message[0], q[0]);
    EXPECT_EQ(r->message[1], q[1]);
    EXPECT_EQ(ancount(r->message), 1);
  }
}

TEST(RawSend, NxdomainIsStillAnAnswer) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  Result<RawAnswer> r = sendRaw(libcSocketOps(), queryFor("nobody.test", 7, kTypeA), optionsFor(server));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, DnsOutcome::kAnswer);  // res_send does not read the RCODE
  EXPECT_EQ(rcode(r->message), 3);
}

TEST(RawSend, SilentServerIsTryAgain) {
  MockDnsServer server(/*answer=*/false);
  ASSERT_TRUE(server.ok());
  Result<RawAnswer> r = sendRaw(libcSocketOps(), queryFor("x.test", 1, kTypeA), optionsFor(server, 300));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, DnsOutcome::kTryAgain);
}

}  // namespace
}  // namespace socks
