// Byte-level tests of socks::ServerSession (core/src/server/session.cpp).
//
// Every client script is run three ways: whole, one byte at a time, and split
// at every position; inputs end at a PROT_NONE guard page, so a read past the
// end crashes the test.
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "socks/server.h"

namespace socks {
namespace {

using Vec = std::vector<std::uint8_t>;

Vec concat(std::initializer_list<Vec> parts) {
  Vec out;
  for (const Vec& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

Vec text(std::string_view s) { return Vec(s.begin(), s.end()); }

// A copy of bytes whose last byte sits just before a PROT_NONE page.
class Guarded {
 public:
  explicit Guarded(const Vec& bytes) {
    page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    len_ = ((bytes.size() + page_ - 1) / page_ + 1) * page_;
    void* m = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(m, MAP_FAILED);
    base_ = static_cast<std::uint8_t*>(m);
    EXPECT_EQ(mprotect(base_ + len_ - page_, page_, PROT_NONE), 0);
    data_ = base_ + len_ - page_ - bytes.size();
    if (!bytes.empty()) {
      std::memcpy(data_, bytes.data(), bytes.size());
    }
    size_ = bytes.size();
  }
  ~Guarded() { munmap(base_, len_); }
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;

  Bytes span(std::size_t from = 0, std::size_t n = SIZE_MAX) const {
    return Bytes(data_ + from, std::min(n, size_ - from));
  }
  std::size_t size() const { return size_; }

 private:
  std::size_t page_ = 0;
  std::size_t len_ = 0;
  std::uint8_t* base_ = nullptr;
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

// Collects everything the session wants to send.
Vec drain(ServerSession& s) {
  Bytes out = s.pendingOutput();
  Vec v(out.begin(), out.end());
  s.markSent(out.size());
  return v;
}

class FixedUsers : public Authenticator {
 public:
  bool check(std::string_view user, std::string_view password) const override {
    ++calls;
    last_password_len = password.size();
    return user == "bob" && password == "s3cret";
  }
  mutable int calls = 0;
  mutable std::size_t last_password_len = 0;
};

enum class Split { kWhole, kBytewise, kEverySplit };

struct Outcome {
  std::size_t consumed = 0;
  Vec output;
  ServerSession::State state = ServerSession::State::kReading;
};

// Feeds `input` as a client would deliver it, in the given way, draining the
// output after each feed; for kEverySplit, at position `at`.
Outcome run(ServerSession& s, const Vec& input, Split split, std::size_t at = 0) {
  Guarded g(input);
  Outcome o;
  auto feedRange = [&](std::size_t from, std::size_t n) {
    const std::size_t used = s.feed(g.span(from, n));
    EXPECT_LE(used, n);
    o.consumed += used;
    Vec part = drain(s);
    o.output.insert(o.output.end(), part.begin(), part.end());
    return used;
  };
  switch (split) {
    case Split::kWhole:
      feedRange(0, input.size());
      break;
    case Split::kBytewise:
      for (std::size_t i = 0; i < input.size(); ++i) {
        if (feedRange(i, 1) == 0) {
          break;  // the handshake took no more: the rest is relay data
        }
      }
      break;
    case Split::kEverySplit: {
      const std::size_t first = feedRange(0, at);
      if (first == at && at < input.size()) {
        feedRange(at, input.size() - at);
      }
      break;
    }
  }
  o.state = s.state();
  return o;
}

// Runs `input` every way and checks each gives the same outcome.
template <class Check>
void everyWay(const ServerOptions& options, const Vec& input, Check check) {
  {
    SCOPED_TRACE("whole");
    ServerSession s(options);
    check(s, run(s, input, Split::kWhole));
  }
  {
    SCOPED_TRACE("byte by byte");
    ServerSession s(options);
    check(s, run(s, input, Split::kBytewise));
  }
  for (std::size_t at = 0; at <= input.size(); ++at) {
    SCOPED_TRACE("split at " + std::to_string(at));
    ServerSession s(options);
    check(s, run(s, input, Split::kEverySplit, at));
  }
}

const Vec kGreetNoAuth = {5, 1, 0};
const Vec kConnect4 = {5, 1, 0, 1, 10, 0, 0, 1, 0, 80};  // CONNECT 10.0.0.1:80
const Vec kAuthBob = concat({{1, 3}, text("bob"), {6}, text("s3cret")});
const Address kBound = Address::ipv4(0x7f000001u, 0x1234);
const Vec kBoundReply5 = {5, 0, 0, 1, 127, 0, 0, 1, 0x12, 0x34};

// ---- SOCKS4 / 4a ----------------------------------------------------------------

TEST(ServerSession4, ConnectGrantedEveryWay) {
  const Vec req = concat({{4, 1, 0, 80, 10, 0, 0, 1}, text("alice"), {0}});
  everyWay({}, req, [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, req.size());
    EXPECT_TRUE(o.output.empty());
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().version, 4);
    EXPECT_EQ(s.request().cmd, Command::kConnect);
    EXPECT_EQ(s.request().dst, Address::ipv4(0x0a000001u, 80));
    EXPECT_EQ(s.request().user, "alice");
    s.grant(kBound);
    EXPECT_EQ(drain(s), (Vec{0, 90, 0x12, 0x34, 127, 0, 0, 1}));
    EXPECT_EQ(s.state(), ServerSession::State::kEstablished);
    EXPECT_TRUE(s.status().ok());
  });
}

TEST(ServerSession4, Socks4aDomainEveryWay) {
  const Vec req = concat({{4, 1, 0x01, 0xbb, 0, 0, 0, 7}, {0}, text("example.org"), {0}});
  everyWay({}, req, [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, req.size());
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().dst.type, Address::Type::kDomain);
    EXPECT_EQ(s.request().dst.domainView(), "example.org");
    EXPECT_EQ(s.request().dst.port, 443);
    EXPECT_TRUE(s.request().user.empty());
  });
}

TEST(ServerSession4, PipelinedDataIsNotConsumed) {
  const Vec req = concat({{4, 1, 0, 80, 10, 0, 0, 1}, {0}});
  const Vec input = concat({req, text("GET / HTTP/1.0\r\n\r\n")});
  everyWay({}, input, [&](ServerSession&, const Outcome& o) {
    EXPECT_EQ(o.consumed, req.size());
    EXPECT_EQ(o.state, ServerSession::State::kAwaitingDecision);
  });
}

TEST(ServerSession4, RefusedIs91) {
  ServerSession s;
  run(s, concat({{4, 1, 0, 80, 10, 0, 0, 1}, {0}}), Split::kWhole);
  s.refuse(v5::Reply::kConnectionRefused);
  EXPECT_EQ(drain(s), (Vec{0, 91, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(s.state(), ServerSession::State::kFailed);
  EXPECT_EQ(s.status().code(), Errc::kRejected);
  EXPECT_EQ(s.status().socksVersion(), 4);
  EXPECT_EQ(s.status().reply(), 91);
}

TEST(ServerSession4, GrantWithIPv6BoundSendsZeroAddressAndPort) {
  ServerSession s;
  run(s, concat({{4, 1, 0, 80, 0, 0, 0, 1}, {0}, text("v6.example"), {0}}), Split::kWhole);
  const std::uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  s.grant(Address::ipv6(ip6, 4000));
  EXPECT_EQ(drain(s), (Vec{0, 90, 0x0f, 0xa0, 0, 0, 0, 0}));
}

TEST(ServerSession4, BindNotEnabledIs91WithoutAskingTheOwner) {
  ServerSession s;
  const Outcome o = run(s, concat({{4, 2, 0, 21, 10, 0, 0, 1}, {0}}), Split::kWhole);
  EXPECT_EQ(o.output, (Vec{0, 91, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(o.state, ServerSession::State::kFailed);
  EXPECT_EQ(s.status().code(), Errc::kUnsupported);
}

TEST(ServerSession4, UnknownCommandIs91) {
  ServerSession s;
  const Outcome o = run(s, {4, 3, 0, 80, 10, 0, 0, 1, 0}, Split::kWhole);
  EXPECT_EQ(o.output, (Vec{0, 91, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(o.state, ServerSession::State::kFailed);
  EXPECT_EQ(s.status().code(), Errc::kMalformed);
}

TEST(ServerSession4, RefusedWhenAuthenticationIsRequired) {
  FixedUsers users;
  ServerOptions options;
  options.authenticator = &users;
  ServerSession s(options);
  const Outcome o = run(s, concat({{4, 1, 0, 80, 10, 0, 0, 1}, text("bob"), {0}}), Split::kWhole);
  EXPECT_EQ(o.output, (Vec{0, 91, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(o.state, ServerSession::State::kFailed);
  EXPECT_EQ(users.calls, 0);
}

TEST(ServerSession4, OverlongUserIdIsRefused) {
  ServerSession s;
  Vec req = {4, 1, 0, 80, 10, 0, 0, 1};
  req.insert(req.end(), 300, 'u');
  const Outcome o = run(s, req, Split::kWhole);
  EXPECT_EQ(o.output, (Vec{0, 91, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(o.state, ServerSession::State::kFailed);
  EXPECT_EQ(s.status().code(), Errc::kMalformed);
}

TEST(ServerSession4, EmptySocks4aNameIsRefused) {
  ServerSession s;
  const Outcome o = run(s, {4, 1, 0, 80, 0, 0, 0, 1, 0, 0}, Split::kWhole);
  EXPECT_EQ(o.output, (Vec{0, 91, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(o.state, ServerSession::State::kFailed);
}

// ---- SOCKS5 without authentication -------------------------------------------------

TEST(ServerSession5, ConnectIPv4EveryWay) {
  const Vec input = concat({kGreetNoAuth, kConnect4});
  everyWay({}, input, [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, input.size());
    EXPECT_EQ(o.output, (Vec{5, 0}));
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.method(), v5::Method::kNoAuth);
    EXPECT_EQ(s.request().version, 5);
    EXPECT_EQ(s.request().cmd, Command::kConnect);
    EXPECT_EQ(s.request().dst, Address::ipv4(0x0a000001u, 80));
    EXPECT_TRUE(s.request().user.empty());
    s.grant(kBound);
    EXPECT_EQ(drain(s), kBoundReply5);
    EXPECT_EQ(s.state(), ServerSession::State::kEstablished);
  });
}

TEST(ServerSession5, ConnectDomainAndIPv6) {
  {
    ServerSession s;
    const Vec req = concat({{5, 1, 0, 3, 11}, text("example.org"), {0x1f, 0x90}});
    const Outcome o = run(s, concat({kGreetNoAuth, req}), Split::kWhole);
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().dst.domainView(), "example.org");
    EXPECT_EQ(s.request().dst.port, 8080);
  }
  {
    ServerSession s;
    const Vec req = {5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 22};
    const Outcome o = run(s, concat({kGreetNoAuth, req}), Split::kWhole);
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().dst.type, Address::Type::kIPv6);
    EXPECT_TRUE(s.request().dst.isLoopback());
    EXPECT_EQ(s.request().dst.port, 22);
  }
}

TEST(ServerSession5, PipelinedDataAfterRequestIsKept) {
  const Vec handshake = concat({kGreetNoAuth, kConnect4});
  const Vec input = concat({handshake, text("GET / HTTP/1.1\r\n")});
  everyWay({}, input, [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, handshake.size());
    EXPECT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    // Nothing more is taken, before or after the decision.
    const std::uint8_t more[] = {'x'};
    EXPECT_EQ(s.feed(more), 0u);
    s.grant(kBound);
    EXPECT_EQ(s.feed(more), 0u);
  });
}

TEST(ServerSession5, GreetingOfferingManyMethodsPicksNoAuth) {
  ServerSession s;
  const Outcome o = run(s, concat({{5, 3, 0x80, 2, 0}, kConnect4}), Split::kWhole);
  EXPECT_EQ(o.output, (Vec{5, 0}));
  EXPECT_EQ(o.state, ServerSession::State::kAwaitingDecision);
}

TEST(ServerSession5, NoAcceptableMethodWhenOnlyUserPassOffered) {
  ServerSession s;
  const Outcome o = run(s, concat({{5, 1, 2}, kConnect4}), Split::kWhole);
  EXPECT_EQ(o.consumed, 3u);
  EXPECT_EQ(o.output, (Vec{5, 0xff}));
  EXPECT_EQ(o.state, ServerSession::State::kFailed);
  EXPECT_EQ(s.status().code(), Errc::kNoAcceptableMethod);
}

TEST(ServerSession5, RefusalRepliesCarryTheCode) {
  const struct {
    v5::Reply reply;
    std::uint8_t wire;
  } cases[] = {
      {v5::Reply::kGeneralFailure, 1},     {v5::Reply::kNotAllowed, 2},
      {v5::Reply::kNetworkUnreachable, 3}, {v5::Reply::kHostUnreachable, 4},
      {v5::Reply::kConnectionRefused, 5},  {v5::Reply::kTtlExpired, 6},
      {v5::Reply::kSucceeded, 1},  // a refusal is never "succeeded"
  };
  for (const auto& c : cases) {
    ServerSession s;
    run(s, concat({kGreetNoAuth, kConnect4}), Split::kWhole);
    s.refuse(c.reply);
    EXPECT_EQ(drain(s), (Vec{5, c.wire, 0, 1, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(s.state(), ServerSession::State::kFailed);
    EXPECT_EQ(s.status().code(), Errc::kRejected);
    EXPECT_EQ(s.status().socksVersion(), 5);
    EXPECT_EQ(s.status().reply(), c.wire);
  }
}

TEST(ServerSession5, GrantWithIPv6AndDomainBound) {
  {
    ServerSession s;
    run(s, concat({kGreetNoAuth, kConnect4}), Split::kWhole);
    const std::uint8_t ip6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    s.grant(Address::ipv6(ip6, 1080));
    EXPECT_EQ(drain(s), (Vec{5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x04, 0x38}));
  }
  {
    ServerSession s;
    run(s, concat({kGreetNoAuth, kConnect4}), Split::kWhole);
    s.grant(*Address::domainName("px", 1));
    EXPECT_EQ(drain(s), (Vec{5, 0, 0, 3, 2, 'p', 'x', 0, 1}));
  }
}

TEST(ServerSession5, PartialWritesKeepTheRest) {
  ServerSession s;
  const std::uint8_t greet[] = {5, 1, 0};
  s.feed(greet);
  s.markSent(1);
  EXPECT_EQ(Vec(s.pendingOutput().begin(), s.pendingOutput().end()), (Vec{0}));
  s.feed(kConnect4);
  s.grant(kBound);
  // The unsent selection byte comes first, then the reply.
  EXPECT_EQ(drain(s), concat({{0}, kBoundReply5}));
}

TEST(ServerSession5, CommandsNotEnabledAre0x07) {
  for (std::uint8_t cmd : {2, 3}) {
    ServerSession s;
    const Outcome o = run(s, concat({kGreetNoAuth, {5, cmd, 0, 1, 10, 0, 0, 1, 0, 80}}), Split::kWhole);
    EXPECT_EQ(o.output, (Vec{5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(o.state, ServerSession::State::kFailed);
    EXPECT_EQ(s.status().code(), Errc::kUnsupported);
  }
}

TEST(ServerSession5, BindSendsTwoReplies) {
  ServerOptions options;
  options.allow_bind = true;
  ServerSession s(options);
  run(s, concat({kGreetNoAuth, {5, 2, 0, 1, 10, 0, 0, 1, 0, 21}}), Split::kWhole);
  ASSERT_EQ(s.state(), ServerSession::State::kAwaitingDecision);
  EXPECT_EQ(s.request().cmd, Command::kBind);
  s.grant(kBound);
  EXPECT_EQ(drain(s), kBoundReply5);
  ASSERT_EQ(s.state(), ServerSession::State::kAwaitingSecond);
  s.grant(Address::ipv4(0x0a000001u, 20));
  EXPECT_EQ(drain(s), (Vec{5, 0, 0, 1, 10, 0, 0, 1, 0, 20}));
  EXPECT_EQ(s.state(), ServerSession::State::kEstablished);
}

TEST(ServerSession5, BindSecondReplyCanFail) {
  ServerOptions options;
  options.allow_bind = true;
  ServerSession s(options);
  run(s, concat({kGreetNoAuth, {5, 2, 0, 1, 10, 0, 0, 1, 0, 21}}), Split::kWhole);
  s.grant(kBound);
  drain(s);
  s.refuse(v5::Reply::kTtlExpired);
  EXPECT_EQ(drain(s), (Vec{5, 6, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(s.state(), ServerSession::State::kFailed);
}

TEST(ServerSession5, UdpAssociateWhenEnabled) {
  ServerOptions options;
  options.allow_udp_associate = true;
  ServerSession s(options);
  run(s, concat({kGreetNoAuth, {5, 3, 0, 1, 0, 0, 0, 0, 0, 0}}), Split::kWhole);
  ASSERT_EQ(s.state(), ServerSession::State::kAwaitingDecision);
  EXPECT_EQ(s.request().cmd, Command::kUdpAssociate);
  s.grant(kBound);
  EXPECT_EQ(drain(s), kBoundReply5);
  EXPECT_EQ(s.state(), ServerSession::State::kEstablished);
}

TEST(ServerSession5, Socks4BindStillNeedsAllowBind) {
  ServerOptions options;
  options.allow_udp_associate = true;  // irrelevant to SOCKS4
  ServerSession s(options);
  const Outcome o = run(s, {4, 2, 0, 21, 10, 0, 0, 1, 0}, Split::kWhole);
  EXPECT_EQ(o.state, ServerSession::State::kFailed);
}

TEST(ServerSession5, DecisionCallsOutsideTheirStateAreIgnored) {
  ServerSession s;
  s.grant(kBound);
  s.refuse(v5::Reply::kGeneralFailure);
  EXPECT_EQ(s.state(), ServerSession::State::kReading);
  EXPECT_TRUE(s.pendingOutput().empty());
  run(s, concat({kGreetNoAuth, kConnect4}), Split::kWhole);
  s.grant(kBound);
  drain(s);
  s.refuse(v5::Reply::kGeneralFailure);
  s.grant(kBound);
  EXPECT_EQ(s.state(), ServerSession::State::kEstablished);
  EXPECT_TRUE(s.pendingOutput().empty());
}

// ---- UDP ASSOCIATE (RFC 1928 §4, §6, §7) ---------------------------------------------

ServerOptions udpOptions() {
  ServerOptions options;
  options.allow_udp_associate = true;
  return options;
}

// The relay's address in a reply: never the wildcard (the client sends there).
const Address kRelay4 = Address::ipv4(0x7f000001u, 0xc350);  // 127.0.0.1:50000
const Vec kRelayReply4 = {5, 0, 0, 1, 127, 0, 0, 1, 0xc3, 0x50};

TEST(ServerSession5Udp, ZeroDstEveryWay) {
  // DST 0.0.0.0:0: the client does not know where it will send from.
  const Vec req = {5, 3, 0, 1, 0, 0, 0, 0, 0, 0};
  const Vec input = concat({kGreetNoAuth, req});
  everyWay(udpOptions(), input, [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, input.size());
    EXPECT_EQ(o.output, (Vec{5, 0}));
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().version, 5);
    EXPECT_EQ(s.request().cmd, Command::kUdpAssociate);
    EXPECT_EQ(s.request().dst.type, Address::Type::kIPv4);
    EXPECT_TRUE(s.request().dst.isUnspecified());
    EXPECT_EQ(s.request().dst.port, 0);
    s.grant(kRelay4);
    EXPECT_EQ(drain(s), kRelayReply4);
    EXPECT_EQ(s.state(), ServerSession::State::kEstablished);
  });
}

TEST(ServerSession5Udp, NonZeroDstEveryWay) {
  // DST 192.0.2.7:5353: the address and port the client will send from.
  const Vec req = {5, 3, 0, 1, 192, 0, 2, 7, 0x14, 0xe9};
  const Vec input = concat({kGreetNoAuth, req});
  everyWay(udpOptions(), input, [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, input.size());
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().dst, Address::ipv4(0xc0000207u, 5353));
    s.grant(kRelay4);
    EXPECT_EQ(drain(s), kRelayReply4);
  });
}

TEST(ServerSession5Udp, ZeroAddressWithPortAndIPv6AndDomainDst) {
  {
    ServerSession s(udpOptions());
    run(s, concat({kGreetNoAuth, {5, 3, 0, 1, 0, 0, 0, 0, 0x30, 0x39}}), Split::kWhole);
    ASSERT_EQ(s.state(), ServerSession::State::kAwaitingDecision);
    EXPECT_TRUE(s.request().dst.isUnspecified());
    EXPECT_EQ(s.request().dst.port, 12345);
  }
  {
    ServerSession s(udpOptions());
    const Vec req = {5, 3, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x04, 0xd2};
    run(s, concat({kGreetNoAuth, req}), Split::kWhole);
    ASSERT_EQ(s.state(), ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().dst.type, Address::Type::kIPv6);
    EXPECT_TRUE(s.request().dst.isLoopback());
    EXPECT_EQ(s.request().dst.port, 1234);
    // An IPv6 relay address (::1 port 50000) in the reply.
    const std::uint8_t loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    s.grant(Address::ipv6(loop6, 50000));
    EXPECT_EQ(drain(s), (Vec{5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xc3, 0x50}));
    EXPECT_EQ(s.state(), ServerSession::State::kEstablished);
  }
  {
    ServerSession s(udpOptions());
    run(s, concat({kGreetNoAuth, {5, 3, 0, 3, 4}, text("host"), {0, 53}}), Split::kWhole);
    ASSERT_EQ(s.state(), ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().dst.domainView(), "host");
    EXPECT_EQ(s.request().dst.port, 53);
  }
}

TEST(ServerSession5Udp, WithUserPassEveryWay) {
  ServerOptions options = udpOptions();
  FixedUsers users;
  options.authenticator = &users;
  const Vec input = concat({{5, 1, 2}, kAuthBob, {5, 3, 0, 1, 0, 0, 0, 0, 0, 0}});
  everyWay(options, input, [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, input.size());
    EXPECT_EQ(o.output, (Vec{5, 2, 1, 0}));
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().cmd, Command::kUdpAssociate);
    EXPECT_EQ(s.request().user, "bob");
  });
}

TEST(ServerSession5Udp, BytesAfterTheRequestAreNotConsumed) {
  const Vec handshake = concat({kGreetNoAuth, {5, 3, 0, 1, 0, 0, 0, 0, 0, 0}});
  const Vec input = concat({handshake, text("junk")});
  everyWay(udpOptions(), input, [&](ServerSession&, const Outcome& o) {
    EXPECT_EQ(o.consumed, handshake.size());
    EXPECT_EQ(o.state, ServerSession::State::kAwaitingDecision);
  });
}

TEST(ServerSession5Udp, RefusalsCarryTheCode) {
  // The request's address is not the client's (0x02); no relay socket (0x01).
  for (const v5::Reply reply : {v5::Reply::kNotAllowed, v5::Reply::kGeneralFailure}) {
    ServerSession s(udpOptions());
    run(s, concat({kGreetNoAuth, {5, 3, 0, 1, 10, 0, 0, 9, 0, 0}}), Split::kWhole);
    s.refuse(reply);
    EXPECT_EQ(drain(s), (Vec{5, static_cast<std::uint8_t>(reply), 0, 1, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(s.state(), ServerSession::State::kFailed);
    EXPECT_EQ(s.status().code(), Errc::kRejected);
    EXPECT_EQ(s.status().reply(), static_cast<std::uint8_t>(reply));
  }
}

TEST(ServerSession5Udp, NotEnabledIs0x07WithoutAskingTheOwner) {
  ServerOptions options;
  options.allow_bind = true;  // irrelevant to UDP ASSOCIATE
  ServerSession s(options);
  const Outcome o = run(s, concat({kGreetNoAuth, {5, 3, 0, 1, 0, 0, 0, 0, 0, 0}}), Split::kWhole);
  EXPECT_EQ(o.output, (Vec{5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(o.state, ServerSession::State::kFailed);
  EXPECT_EQ(s.status().code(), Errc::kUnsupported);
}

TEST(ServerSession5Udp, Socks4HasNoUdpAssociate) {
  // SOCKS4 knows commands 1 and 2 only: CD 3 is an unknown command, 91.
  ServerSession s(udpOptions());
  const Outcome o = run(s, {4, 3, 0, 53, 127, 0, 0, 1, 0}, Split::kWhole);
  EXPECT_EQ(o.output, (Vec{0, 91, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(o.state, ServerSession::State::kFailed);
}

TEST(ServerSession5Udp, GrantIsOneReplyNotTwo) {
  ServerSession s(udpOptions());
  run(s, concat({kGreetNoAuth, {5, 3, 0, 1, 0, 0, 0, 0, 0, 0}}), Split::kWhole);
  s.grant(kRelay4);
  EXPECT_EQ(s.state(), ServerSession::State::kEstablished);
  s.grant(kRelay4);  // ignored: UDP ASSOCIATE has no second reply
  s.refuse(v5::Reply::kGeneralFailure);
  EXPECT_EQ(drain(s), kRelayReply4);
  EXPECT_EQ(s.state(), ServerSession::State::kEstablished);
}

// ---- BIND: two replies (SOCKS4 document; RFC 1928 §4, §6) ---------------------------

ServerOptions bindOptions() {
  ServerOptions options;
  options.allow_bind = true;
  return options;
}

const Address kListening = Address::ipv4(0xc0000201u, 0xa1b2);  // 192.0.2.1:41394
const Address kPeer = Address::ipv4(0x0a000001u, 20);           // 10.0.0.1:20

// SOCKS4 BIND for 10.0.0.1:21, USERID "ftp", then the client's first bytes.
const Vec kBind4 = concat({{4, 2, 0, 21, 10, 0, 0, 1}, text("ftp"), {0}});
const Vec kBind5 = {5, 2, 0, 1, 10, 0, 0, 1, 0, 21};

TEST(ServerSession4Bind, TwoRepliesEveryWay) {
  const Vec input = concat({kBind4, text("PIPELINED")});
  everyWay(bindOptions(), input, [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, kBind4.size());
    EXPECT_TRUE(o.output.empty());
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().version, 4);
    EXPECT_EQ(s.request().cmd, Command::kBind);
    EXPECT_EQ(s.request().dst, Address::ipv4(0x0a000001u, 21));
    EXPECT_EQ(s.request().user, "ftp");
    // First reply: VN 0, CD 90, DSTPORT and DSTIP of the listening socket.
    s.grant(kListening);
    EXPECT_EQ(drain(s), (Vec{0, 90, 0xa1, 0xb2, 192, 0, 2, 1}));
    ASSERT_EQ(s.state(), ServerSession::State::kAwaitingSecond);
    EXPECT_FALSE(s.finished());
    // Bytes the client sends while it waits are relay data, never handshake.
    const std::uint8_t more[] = {'x', 'y'};
    EXPECT_EQ(s.feed(more), 0u);
    EXPECT_TRUE(s.pendingOutput().empty());
    // Second reply: the connecting host.
    s.grant(kPeer);
    EXPECT_EQ(drain(s), (Vec{0, 90, 0, 20, 10, 0, 0, 1}));
    EXPECT_EQ(s.state(), ServerSession::State::kEstablished);
    EXPECT_TRUE(s.status().ok());
    EXPECT_EQ(s.feed(more), 0u);
  });
}

TEST(ServerSession4Bind, Socks4aNameEveryWay) {
  const Vec req = concat({{4, 2, 0, 21, 0, 0, 0, 1}, {0}, text("ftp.example"), {0}});
  everyWay(bindOptions(), req, [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, req.size());
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().cmd, Command::kBind);
    EXPECT_EQ(s.request().dst.domainView(), "ftp.example");
    EXPECT_EQ(s.request().dst.port, 21);
    s.grant(Address::ipv4(0x7f000001u, 40000));
    EXPECT_EQ(drain(s), (Vec{0, 90, 0x9c, 0x40, 127, 0, 0, 1}));
    EXPECT_EQ(s.state(), ServerSession::State::kAwaitingSecond);
  });
}

TEST(ServerSession4Bind, SecondReplyRefusalsAre91) {
  // Peer mismatch (0x02), timeout (0x06), anything else: SOCKS4 has only 91.
  for (v5::Reply reply : {v5::Reply::kNotAllowed, v5::Reply::kTtlExpired, v5::Reply::kGeneralFailure}) {
    SCOPED_TRACE(static_cast<int>(reply));
    ServerSession s(bindOptions());
    run(s, kBind4, Split::kWhole);
    s.grant(kListening);
    drain(s);
    s.refuse(reply);
    EXPECT_EQ(drain(s), (Vec{0, 91, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(s.state(), ServerSession::State::kFailed);
    EXPECT_EQ(s.status().code(), Errc::kRejected);
    EXPECT_EQ(s.status().socksVersion(), 4);
    EXPECT_EQ(s.status().reply(), 91);
    // Nothing after a failure.
    s.grant(kPeer);
    EXPECT_TRUE(s.pendingOutput().empty());
  }
}

TEST(ServerSession4Bind, FirstReplyRefusalIs91AndThereIsNoSecond) {
  ServerSession s(bindOptions());
  run(s, kBind4, Split::kWhole);
  s.refuse(v5::Reply::kNotAllowed);  // --deny-dest, say
  EXPECT_EQ(drain(s), (Vec{0, 91, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(s.state(), ServerSession::State::kFailed);
  s.grant(kListening);
  s.refuse(v5::Reply::kTtlExpired);
  EXPECT_TRUE(s.pendingOutput().empty());
  EXPECT_EQ(s.state(), ServerSession::State::kFailed);
}

TEST(ServerSession4Bind, BothRepliesQueuedWithoutWritesKeepTheirOrder) {
  ServerSession s(bindOptions());
  run(s, kBind4, Split::kWhole);
  s.grant(kListening);
  s.markSent(3);
  s.grant(kPeer);
  EXPECT_EQ(drain(s), (Vec{0xb2, 192, 0, 2, 1, 0, 90, 0, 20, 10, 0, 0, 1}));
}

TEST(ServerSession5Bind, TwoRepliesEveryWay) {
  const Vec handshake = concat({kGreetNoAuth, kBind5});
  const Vec input = concat({handshake, text("EPRT |1|10.0.0.2|2000|\r\n")});
  everyWay(bindOptions(), input, [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, handshake.size());
    EXPECT_EQ(o.output, (Vec{5, 0}));
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().version, 5);
    EXPECT_EQ(s.request().cmd, Command::kBind);
    EXPECT_EQ(s.request().dst, Address::ipv4(0x0a000001u, 21));
    s.grant(kListening);
    EXPECT_EQ(drain(s), (Vec{5, 0, 0, 1, 192, 0, 2, 1, 0xa1, 0xb2}));
    ASSERT_EQ(s.state(), ServerSession::State::kAwaitingSecond);
    const std::uint8_t more[] = {'x'};
    EXPECT_EQ(s.feed(more), 0u);
    s.grant(kPeer);
    EXPECT_EQ(drain(s), (Vec{5, 0, 0, 1, 10, 0, 0, 1, 0, 20}));
    EXPECT_EQ(s.state(), ServerSession::State::kEstablished);
    EXPECT_EQ(s.feed(more), 0u);
  });
}

TEST(ServerSession5Bind, IPv6EveryWay) {
  const Vec req = {5, 2, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x21, 0, 21};
  const Vec input = concat({kGreetNoAuth, req});
  const std::uint8_t listen6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
  const std::uint8_t peer6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x21};
  everyWay(bindOptions(), input, [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, input.size());
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().dst, Address::ipv6(peer6, 21));
    s.grant(Address::ipv6(listen6, 0xc350));
    EXPECT_EQ(drain(s), (Vec{5, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0xc3, 0x50}));
    s.grant(Address::ipv6(peer6, 20));
    EXPECT_EQ(drain(s), (Vec{5, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x21, 0, 20}));
    EXPECT_EQ(s.state(), ServerSession::State::kEstablished);
  });
}

TEST(ServerSession5Bind, DomainEveryWay) {
  const Vec req = concat({{5, 2, 0, 3, 11}, text("ftp.example"), {0, 21}});
  const Vec input = concat({kGreetNoAuth, req, text("rest")});
  everyWay(bindOptions(), input, [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, kGreetNoAuth.size() + req.size());
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().dst.domainView(), "ftp.example");
    EXPECT_EQ(s.request().dst.port, 21);
    s.grant(kListening);
    EXPECT_EQ(drain(s), (Vec{5, 0, 0, 1, 192, 0, 2, 1, 0xa1, 0xb2}));
    EXPECT_EQ(s.state(), ServerSession::State::kAwaitingSecond);
  });
}

TEST(ServerSession5Bind, SecondReplyRefusalsCarryTheCode) {
  const struct {
    v5::Reply reply;
    std::uint8_t wire;
  } cases[] = {
      {v5::Reply::kNotAllowed, 0x02},      // the peer is not DST
      {v5::Reply::kTtlExpired, 0x06},      // --bind-timeout
      {v5::Reply::kGeneralFailure, 0x01},  // accept() failed
      {v5::Reply::kSucceeded, 0x01},       // a refusal is never "succeeded"
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.wire));
    ServerSession s(bindOptions());
    run(s, concat({kGreetNoAuth, kBind5}), Split::kWhole);
    s.grant(kListening);
    drain(s);
    s.refuse(c.reply);
    EXPECT_EQ(drain(s), (Vec{5, c.wire, 0, 1, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(s.state(), ServerSession::State::kFailed);
    EXPECT_EQ(s.status().code(), Errc::kRejected);
    EXPECT_EQ(s.status().socksVersion(), 5);
    EXPECT_EQ(s.status().reply(), c.wire);
    s.grant(kPeer);
    s.refuse(v5::Reply::kGeneralFailure);
    EXPECT_TRUE(s.pendingOutput().empty());
  }
}

TEST(ServerSession5Bind, WithUserPassEveryWay) {
  FixedUsers users;
  ServerOptions options = bindOptions();
  options.authenticator = &users;
  const Vec input = concat({{5, 1, 2}, kAuthBob, kBind5});
  everyWay(options, input, [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, input.size());
    EXPECT_EQ(o.output, (Vec{5, 2, 1, 0}));
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.request().user, "bob");
    s.grant(kListening);
    s.grant(kPeer);
    EXPECT_EQ(drain(s), (Vec{5, 0, 0, 1, 192, 0, 2, 1, 0xa1, 0xb2, 5, 0, 0, 1, 10, 0, 0, 1, 0, 20}));
    EXPECT_EQ(s.state(), ServerSession::State::kEstablished);
  });
}

TEST(ServerSession5Bind, NothingWrittenYetEveryMessageStillFits) {
  // The worst case for the output buffer: selection, RFC 1929 status and two
  // replies with 255-byte names, none of them written yet.
  FixedUsers users;
  ServerOptions options = bindOptions();
  options.authenticator = &users;
  ServerSession s(options);
  s.feed(concat({{5, 1, 2}, kAuthBob, kBind5}));
  ASSERT_EQ(s.state(), ServerSession::State::kAwaitingDecision);
  const std::string name(255, 'n');
  s.grant(*Address::domainName(name, 1));
  s.grant(*Address::domainName(name, 2));
  const Vec reply_head = concat({{5, 0, 0, 3, 255}, text(name)});
  EXPECT_EQ(drain(s), concat({{5, 2, 1, 0}, reply_head, {0, 1}, reply_head, {0, 2}}));
  EXPECT_EQ(s.state(), ServerSession::State::kEstablished);
}

TEST(ServerSession5Bind, NotEnabledIs0x07WithoutAskingTheOwner) {
  // socksd --no-bind.
  ServerSession s;
  const Outcome o = run(s, concat({kGreetNoAuth, kBind5}), Split::kWhole);
  EXPECT_EQ(o.output, (Vec{5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(o.state, ServerSession::State::kFailed);
  EXPECT_EQ(s.status().code(), Errc::kUnsupported);
}

// ---- SOCKS5 with RFC 1929 username/password --------------------------------------

TEST(ServerSession5Auth, UserPassAcceptedEveryWay) {
  FixedUsers users;
  ServerOptions options;
  options.authenticator = &users;
  const Vec handshake = concat({{5, 2, 0, 2}, kAuthBob, kConnect4});
  const Vec input = concat({handshake, text("hello")});
  everyWay(options, input, [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, handshake.size());
    EXPECT_EQ(o.output, (Vec{5, 2, 1, 0}));
    ASSERT_EQ(o.state, ServerSession::State::kAwaitingDecision);
    EXPECT_EQ(s.method(), v5::Method::kUserPass);
    EXPECT_EQ(s.request().user, "bob");
    EXPECT_EQ(s.request().dst, Address::ipv4(0x0a000001u, 80));
  });
}

TEST(ServerSession5Auth, WrongPasswordFails) {
  FixedUsers users;
  ServerOptions options;
  options.authenticator = &users;
  const Vec bad = concat({{1, 3}, text("bob"), {5}, text("wrong")});
  everyWay(options, concat({{5, 1, 2}, bad, kConnect4}), [&](ServerSession& s, const Outcome& o) {
    EXPECT_EQ(o.consumed, 3 + bad.size());
    EXPECT_EQ(o.output, (Vec{5, 2, 1, 1}));
    EXPECT_EQ(o.state, ServerSession::State::kFailed);
    EXPECT_EQ(s.status().code(), Errc::kAuthFailed);
  });
}

TEST(ServerSession5Auth, EmptyPasswordReachesTheAuthenticator) {
  FixedUsers users;
  ServerOptions options;
  options.authenticator = &users;
  ServerSession s(options);
  const Outcome o = run(s, concat({{5, 1, 2, 1, 3}, text("bob"), {0}}), Split::kWhole);
  EXPECT_EQ(users.calls, 1);
  EXPECT_EQ(users.last_password_len, 0u);
  EXPECT_EQ(o.output, (Vec{5, 2, 1, 1}));
}

TEST(ServerSession5Auth, NoAcceptableMethodWhenClientOffersOnlyNoAuth) {
  FixedUsers users;
  ServerOptions options;
  options.authenticator = &users;
  ServerSession s(options);
  const Outcome o = run(s, concat({kGreetNoAuth, kConnect4}), Split::kWhole);
  EXPECT_EQ(o.consumed, kGreetNoAuth.size());
  EXPECT_EQ(o.output, (Vec{5, 0xff}));
  EXPECT_EQ(o.state, ServerSession::State::kFailed);
  EXPECT_EQ(s.status().code(), Errc::kNoAcceptableMethod);
  EXPECT_EQ(users.calls, 0);
}

TEST(ServerSession5Auth, MalformedAuthRequestClosesWithoutReply) {
  FixedUsers users;
  ServerOptions options;
  options.authenticator = &users;
  for (const Vec& auth : {Vec{5, 3, 'b', 'o', 'b', 1, 'x'}, Vec{1, 0, 1, 'x'}}) {
    ServerSession s(options);
    const Outcome o = run(s, concat({{5, 1, 2}, auth}), Split::kWhole);
    EXPECT_EQ(o.output, (Vec{5, 2}));
    EXPECT_EQ(o.state, ServerSession::State::kFailed);
    EXPECT_EQ(s.status().code(), Errc::kMalformed);
    EXPECT_EQ(users.calls, 0);
  }
}

// ---- malformed input --------------------------------------------------------------

TEST(ServerSessionMalformed, NotSocksAtAll) {
  ServerSession s;
  const Outcome o = run(s, text("GET / HTTP/1.1\r\n"), Split::kWhole);
  EXPECT_EQ(o.consumed, 0u);
  EXPECT_TRUE(o.output.empty());
  EXPECT_EQ(o.state, ServerSession::State::kFailed);
  EXPECT_EQ(s.status().code(), Errc::kMalformed);
  const std::uint8_t more[] = {5, 1, 0};
  EXPECT_EQ(s.feed(more), 0u);
}

TEST(ServerSessionMalformed, GreetingWithoutMethodsClosesWithoutReply) {
  ServerSession s;
  const Outcome o = run(s, {5, 0}, Split::kWhole);
  EXPECT_TRUE(o.output.empty());
  EXPECT_EQ(o.state, ServerSession::State::kFailed);
}

TEST(ServerSessionMalformed, RequestProblemsGetTheirReplies) {
  const struct {
    Vec request;
    std::uint8_t wire;
  } cases[] = {
      {{5, 9, 0, 1, 10, 0, 0, 1, 0, 80}, 0x07},  // unknown CMD
      {{5, 1, 0, 7, 10, 0, 0, 1, 0, 80}, 0x08},  // unknown ATYP
      {{4, 1, 0, 1, 10, 0, 0, 1, 0, 80}, 0x01},  // wrong VER
      {{5, 1, 1, 1, 10, 0, 0, 1, 0, 80}, 0x01},  // RSV not 0
      {{5, 1, 0, 3, 0, 0, 80}, 0x01},            // empty domain name
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.wire));
    ServerSession s;
    const Outcome o = run(s, concat({kGreetNoAuth, c.request}), Split::kWhole);
    EXPECT_EQ(o.output, (Vec{5, 0, 5, c.wire, 0, 1, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(o.state, ServerSession::State::kFailed);
    EXPECT_EQ(s.status().code(), Errc::kMalformed);
  }
}

TEST(ServerSessionMalformed, TruncatedInputJustWaits) {
  const Vec full = concat({kGreetNoAuth, {5, 1, 0, 3, 11}, text("example.org"), {0, 80}});
  for (std::size_t n = 0; n < full.size(); ++n) {
    ServerSession s;
    const Outcome o = run(s, Vec(full.begin(), full.begin() + static_cast<long>(n)), Split::kWhole);
    EXPECT_EQ(o.consumed, n);
    EXPECT_EQ(o.state, ServerSession::State::kReading);
  }
}

// ---- errno mapping ------------------------------------------------------------------

TEST(ReplyForErrno, Table) {
  EXPECT_EQ(replyForErrno(ECONNREFUSED), v5::Reply::kConnectionRefused);
  EXPECT_EQ(replyForErrno(ENETUNREACH), v5::Reply::kNetworkUnreachable);
  EXPECT_EQ(replyForErrno(ENETDOWN), v5::Reply::kNetworkUnreachable);
  EXPECT_EQ(replyForErrno(EHOSTUNREACH), v5::Reply::kHostUnreachable);
  EXPECT_EQ(replyForErrno(EHOSTDOWN), v5::Reply::kHostUnreachable);
  EXPECT_EQ(replyForErrno(ETIMEDOUT), v5::Reply::kTtlExpired);
  EXPECT_EQ(replyForErrno(EACCES), v5::Reply::kNotAllowed);
  EXPECT_EQ(replyForErrno(EPERM), v5::Reply::kNotAllowed);
  EXPECT_EQ(replyForErrno(EADDRNOTAVAIL), v5::Reply::kGeneralFailure);
  EXPECT_EQ(replyForErrno(0), v5::Reply::kGeneralFailure);
  EXPECT_STREQ(replyName(v5::Reply::kConnectionRefused), "connection refused");
  EXPECT_STREQ(replyName(static_cast<v5::Reply>(0x42)), "unassigned reply code");
}

}  // namespace
}  // namespace socks
