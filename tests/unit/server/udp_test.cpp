// Tests of the pure UDP ASSOCIATE relay helpers (core/src/server/udp.cpp):
// UdpClientFilter, checkClientDatagram, UdpNameCache.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "socks/server.h"

namespace socks {
namespace {

using Vec = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

Address v4(std::uint32_t host_order, std::uint16_t port) { return Address::ipv4(host_order, port); }

Address v6(std::uint8_t last, std::uint16_t port) {
  const std::uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
  return Address::ipv6(ip, port);
}

const Address kClient = v4(0x7f000001u, 40000);  // the control connection's peer, 127.0.0.1:40000

// ---- UdpClientFilter ----------------------------------------------------------------

TEST(UdpClientFilter, ZeroDstTakesThePortOfTheFirstAcceptedDatagram) {
  auto f = UdpClientFilter::make(kClient, v4(0, 0));
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->portKnown());
  EXPECT_EQ(f->client(), v4(0x7f000001u, 0));  // the TCP port says nothing about UDP
  EXPECT_TRUE(f->admits(v4(0x7f000001u, 5000)));
  EXPECT_TRUE(f->admits(v4(0x7f000001u, 6000)));
  EXPECT_FALSE(f->admits(v4(0x7f000002u, 5000)));  // another IP, never
  f->fixPort(5000);
  EXPECT_TRUE(f->portKnown());
  EXPECT_EQ(f->client(), v4(0x7f000001u, 5000));
  EXPECT_TRUE(f->admits(v4(0x7f000001u, 5000)));
  EXPECT_FALSE(f->admits(v4(0x7f000001u, 6000)));  // another port of the same IP: dropped
  f->fixPort(6000);                                // fixed once, for good
  EXPECT_EQ(f->client().port, 5000);
}

TEST(UdpClientFilter, ZeroAddressWithPortMeansThatPortOfTheClientsIp) {
  auto f = UdpClientFilter::make(kClient, v4(0, 5353));
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->portKnown());
  EXPECT_EQ(f->client(), v4(0x7f000001u, 5353));
  EXPECT_TRUE(f->admits(v4(0x7f000001u, 5353)));
  EXPECT_FALSE(f->admits(v4(0x7f000001u, 5354)));  // even as the first datagram
  EXPECT_FALSE(f->admits(v4(0x7f000002u, 5353)));
}

TEST(UdpClientFilter, TheClientsOwnAddressGivenWithOrWithoutPort) {
  auto f = UdpClientFilter::make(kClient, v4(0x7f000001u, 0));
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->portKnown());
  EXPECT_TRUE(f->admits(v4(0x7f000001u, 1)));

  auto g = UdpClientFilter::make(kClient, v4(0x7f000001u, 7));
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->admits(v4(0x7f000001u, 7)));
  EXPECT_FALSE(g->admits(v4(0x7f000001u, 8)));
}

TEST(UdpClientFilter, AnotherAddressIsRefusedWith0x02) {
  const auto f = UdpClientFilter::make(kClient, v4(0x0a000001u, 5000));
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Errc::kRejected);
  EXPECT_EQ(f.status().reply(), static_cast<std::uint8_t>(v5::Reply::kNotAllowed));
  // Another family is another address too.
  EXPECT_FALSE(UdpClientFilter::make(kClient, v6(1, 5000)).ok());
}

TEST(UdpClientFilter, IPv6Client) {
  const Address client = v6(1, 40000);
  const std::uint8_t zero[16] = {};
  auto f = UdpClientFilter::make(client, Address::ipv6(zero, 0));
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->admits(v6(1, 9)));
  EXPECT_FALSE(f->admits(v6(2, 9)));
  EXPECT_FALSE(f->admits(v4(0x7f000001u, 9)));
  auto g = UdpClientFilter::make(client, v6(1, 9));
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->admits(v6(1, 9)));
  EXPECT_FALSE(g->admits(v6(1, 10)));
  // An IPv4 zero address from an IPv6 client is still "unknown": only its port counts.
  auto h = UdpClientFilter::make(client, v4(0, 9));
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->admits(v6(1, 9)));
}

TEST(UdpClientFilter, DomainDstCountsAsUnknownAddress) {
  auto f = UdpClientFilter::make(kClient, Address::domainName("client.example", 6000).value());
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->client(), v4(0x7f000001u, 6000));
  EXPECT_TRUE(f->admits(v4(0x7f000001u, 6000)));
  EXPECT_FALSE(f->admits(v4(0x7f000001u, 6001)));
}

TEST(UdpClientFilter, PortZeroNeverFixesAndDomainsNeverPass) {
  auto f = UdpClientFilter::make(kClient, Address());
  ASSERT_TRUE(f.ok());
  f->fixPort(0);
  EXPECT_FALSE(f->portKnown());
  EXPECT_FALSE(f->admits(Address::domainName("localhost", 1).value()));
  EXPECT_FALSE(f->admits(Address()));
}

TEST(UdpClientFilter, UnknownControlPeerAdmitsNothing) {
  auto f = UdpClientFilter::make(Address(), v4(0, 0));
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->admits(v4(0x7f000001u, 5000)));
  EXPECT_FALSE(f->admits(v4(0, 5000)));
}

// ---- checkClientDatagram ------------------------------------------------------------

TEST(CheckClientDatagram, WholeDatagramsPass) {
  const Vec d = {0, 0, 0, 1, 192, 0, 2, 1, 0, 53, 'h', 'i'};
  UdpHeader h;
  EXPECT_EQ(checkClientDatagram(d, h), nullptr);
  EXPECT_EQ(h.addr, v4(0xc0000201u, 53));
  EXPECT_EQ(h.header_len, 10u);
  const Vec empty = {0, 0, 0, 3, 4, 'h', 'o', 's', 't', 0, 7};  // a name, no payload
  EXPECT_EQ(checkClientDatagram(empty, h), nullptr);
  EXPECT_EQ(h.addr.domainView(), "host");
  EXPECT_EQ(h.header_len, empty.size());
  const Vec six = {0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 9, 'x'};
  EXPECT_EQ(checkClientDatagram(six, h), nullptr);
  EXPECT_TRUE(h.addr.isLoopback());
  EXPECT_EQ(h.header_len, 22u);
}

TEST(CheckClientDatagram, FragmentsAreDropped) {
  for (std::uint8_t frag : {1, 2, 0x7f, 0x80, 0x81, 0xff}) {
    const Vec d = {0, 0, frag, 1, 192, 0, 2, 1, 0, 53, 'h', 'i'};
    UdpHeader h;
    const char* why = checkClientDatagram(d, h);
    ASSERT_NE(why, nullptr);
    EXPECT_NE(std::string(why).find("FRAG"), std::string::npos);
  }
}

TEST(CheckClientDatagram, MalformedHeadersAreDropped) {
  const std::vector<Vec> bad = {
      {},
      {0, 0, 0},
      {0, 0, 0, 1, 192, 0, 2},            // truncated address
      {0, 0, 0, 1, 192, 0, 2, 1, 0},      // truncated port
      {0, 1, 0, 1, 192, 0, 2, 1, 0, 53},  // RSV != 0
      {0, 0, 0, 9, 192, 0, 2, 1, 0, 53},  // unknown ATYP
      {0, 0, 0, 3, 0, 0, 53},             // empty name
      {0, 0, 0, 3, 5, 'h', 'o'},          // truncated name
  };
  for (const Vec& d : bad) {
    UdpHeader h;
    EXPECT_NE(checkClientDatagram(d, h), nullptr) << d.size();
  }
}

// ---- UdpNameCache -------------------------------------------------------------------

using TimePoint = UdpNameCache::Clock::time_point;
const TimePoint kT0 = TimePoint() + 1000s;

Bytes bytes(const std::string& s) { return Bytes(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }

TEST(UdpNameCache, QueuesWhileResolvingThenCaches) {
  UdpNameCache cache;
  EXPECT_EQ(cache.find("dns.test", kT0), nullptr);
  EXPECT_EQ(cache.enqueue("dns.test", 53, bytes("one")), UdpNameCache::Queued::kStartResolving);
  EXPECT_TRUE(cache.resolving("dns.test"));
  // One resolution per name at a time: the next waits, whatever the case.
  EXPECT_EQ(cache.enqueue("DNS.test.", 54, bytes("two")), UdpNameCache::Queued::kWaiting);
  EXPECT_EQ(cache.enqueue("other.test", 1, bytes("three")), UdpNameCache::Queued::kStartResolving);
  EXPECT_EQ(cache.queued(), 3u);
  EXPECT_EQ(cache.queuedBytes(), 11u);

  const auto waiting = cache.complete("dns.test", {v4(0xc0000201u, 0)}, kT0);
  ASSERT_EQ(waiting.size(), 2u);
  EXPECT_EQ(waiting[0].port, 53);
  EXPECT_EQ(waiting[0].payload, (Vec{'o', 'n', 'e'}));
  EXPECT_EQ(waiting[1].port, 54);
  EXPECT_EQ(cache.queued(), 1u);
  EXPECT_EQ(cache.queuedBytes(), 5u);
  EXPECT_FALSE(cache.resolving("dns.test"));
  EXPECT_TRUE(cache.resolving("other.test"));

  const auto* found = cache.find("Dns.Test", kT0 + 59s);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(*found, (std::vector<Address>{v4(0xc0000201u, 0)}));
  EXPECT_EQ(cache.find("dns.test", kT0 + 60s), nullptr);  // 60 s by default
}

TEST(UdpNameCache, FailuresAreRememberedBriefly) {
  UdpNameCache cache;
  cache.enqueue("nx.test", 53, bytes("q"));
  const auto waiting = cache.complete("nx.test", {}, kT0);
  EXPECT_EQ(waiting.size(), 1u);  // the owner drops them
  const auto* found = cache.find("nx.test", kT0 + 4s);
  ASSERT_NE(found, nullptr);
  EXPECT_TRUE(found->empty());
  EXPECT_EQ(cache.find("nx.test", kT0 + 5s), nullptr);
}

TEST(UdpNameCache, TheQueueIsBounded) {
  UdpNameCache::Limits limits;
  limits.max_queued = 3;
  limits.max_queued_bytes = 10;
  UdpNameCache cache(limits);
  EXPECT_EQ(cache.enqueue("a.test", 1, bytes("1234")), UdpNameCache::Queued::kStartResolving);
  EXPECT_EQ(cache.enqueue("a.test", 1, bytes("1234")), UdpNameCache::Queued::kWaiting);
  EXPECT_EQ(cache.enqueue("b.test", 1, bytes("123")), UdpNameCache::Queued::kFull);  // 11 bytes
  EXPECT_FALSE(cache.resolving("b.test"));  // nothing queued, nothing to resolve
  EXPECT_EQ(cache.enqueue("b.test", 1, bytes("12")), UdpNameCache::Queued::kStartResolving);
  EXPECT_EQ(cache.enqueue("b.test", 1, Bytes()), UdpNameCache::Queued::kFull);  // 3 datagrams
  cache.complete("a.test", {v4(1, 0)}, kT0);
  EXPECT_EQ(cache.queued(), 1u);
  EXPECT_EQ(cache.enqueue("b.test", 1, bytes("1234")), UdpNameCache::Queued::kWaiting);
}

TEST(UdpNameCache, OldestEntriesGoWhenFull) {
  UdpNameCache::Limits limits;
  limits.max_names = 2;
  UdpNameCache cache(limits);
  cache.complete("a.test", {v4(1, 0)}, kT0);
  cache.complete("b.test", {v4(2, 0)}, kT0 + 1s);
  cache.complete("c.test", {v4(3, 0)}, kT0 + 2s);  // a.test expires first: it goes
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.find("a.test", kT0 + 2s), nullptr);
  EXPECT_NE(cache.find("b.test", kT0 + 2s), nullptr);
  EXPECT_NE(cache.find("c.test", kT0 + 2s), nullptr);
  // Expired entries are forgotten first.
  cache.complete("d.test", {v4(4, 0)}, kT0 + 61s);  // b.test has expired; c.test stays
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_NE(cache.find("c.test", kT0 + 61s), nullptr);
  EXPECT_NE(cache.find("d.test", kT0 + 61s), nullptr);
  // A name already cached is refreshed in place.
  cache.complete("d.test", {v4(5, 0)}, kT0 + 62s);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.find("d.test", kT0 + 62s)->front(), v4(5, 0));
}

TEST(UdpNameCache, CompleteWithoutWaitersJustCaches) {
  UdpNameCache cache;
  EXPECT_TRUE(cache.complete("x.test", {v4(1, 0)}, kT0).empty());
  EXPECT_NE(cache.find("x.test", kT0), nullptr);
  EXPECT_EQ(cache.queued(), 0u);
}

}  // namespace
}  // namespace socks
