// ClientHandshake driven by scripted server bytes: SOCKS4, 4a, SOCKS5 with and
// without RFC 1929, every failure path, BIND's two replies, and application
// bytes after the reply. Every script runs whole and byte by byte.
#include "socks/client.h"

#include <gtest/gtest.h>

#include <string>

#include "proto_test_util.h"

namespace socks {
namespace {

using test::ByteVec;
using test::cat;
using test::hex;
using test::text;
using test::view;

using State = ClientHandshake::State;

Address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
  const std::uint8_t o[4] = {a, b, c, d};
  return Address::ipv4(o, port);
}

Address name(std::string_view n, std::uint16_t port) {
  return Address::domainName(n, port).value();
}

// One exchange: what the client must send, then what the server answers.
struct Exchange {
  ByteVec client;
  ByteVec server;
};

enum class Mode { kWhole, kByteByByte };

// Drives hs through the script. The server's bytes of each exchange are put in
// one stream, read exactly as a careful driver would (wantRead() at a time, or
// one byte at a time); whatever the handshake leaves is returned in `rest`.
void drive(ClientHandshake& hs, const std::vector<Exchange>& script, Mode mode,
           ByteVec* rest = nullptr) {
  for (std::size_t step = 0; step < script.size(); ++step) {
    SCOPED_TRACE("exchange " + std::to_string(step));
    const Exchange& ex = script[step];
    if (!ex.client.empty()) {
      ASSERT_EQ(hs.state(), State::kSending) << hs.status().reason();
      EXPECT_EQ(hs.wantRead(), 0u);
      EXPECT_EQ(hs.feed(view(ex.server)), 0u) << "fed while sending";
      Bytes out = hs.pendingOutput();
      ASSERT_EQ(ByteVec(out.begin(), out.end()), ex.client);
      if (mode == Mode::kByteByByte) {
        for (std::size_t i = 0; i < ex.client.size(); ++i) {
          ASSERT_EQ(hs.pendingOutput().size(), ex.client.size() - i);
          ASSERT_EQ(hs.pendingOutput()[0], ex.client[i]);
          hs.markSent(1);
        }
      } else {
        hs.markSent(out.size());
      }
      EXPECT_TRUE(hs.pendingOutput().empty());
    }
    std::size_t pos = 0;
    // Bounded: each pass consumes at least one byte or stops.
    while (pos < ex.server.size() && hs.wantRead() > 0) {
      const std::size_t want = hs.wantRead();
      ASSERT_TRUE(hs.state() == State::kReceiving || hs.state() == State::kAwaitingSecond);
      std::size_t n = mode == Mode::kByteByByte ? 1 : std::min(want, ex.server.size() - pos);
      std::size_t used = hs.feed(Bytes(ex.server.data() + pos, n));
      ASSERT_EQ(used, n) << "handshake refused bytes it asked for";
      pos += used;
    }
    if (rest != nullptr) {
      rest->assign(ex.server.begin() + static_cast<std::ptrdiff_t>(pos), ex.server.end());
    } else if (hs.state() != State::kFailed) {
      EXPECT_EQ(pos, ex.server.size()) << "bytes left unread";
    }
  }
}

void driveBoth(const std::function<ClientHandshake()>& make, const std::vector<Exchange>& script,
               const std::function<void(const ClientHandshake&)>& check) {
  for (Mode mode : {Mode::kWhole, Mode::kByteByByte}) {
    SCOPED_TRACE(mode == Mode::kWhole ? "whole" : "byte by byte");
    ClientHandshake hs = make();
    drive(hs, script, mode);
    check(hs);
  }
}

// ---- golden conversations -------------------------------------------------------------

const ByteVec kGreetNoAuth = hex("05 01 00");
const ByteVec kGreetBoth = hex("05 02 00 02");
const ByteVec kConnect4 = hex("05 01 00 01 0A000001 0050");
const ByteVec kOkReply = hex("05 00 00 01 C0A80001 D431");

TEST(ClientHandshake, Socks4Connect) {
  driveBoth(
      [] {
        return ClientHandshake(ProxyKind::kSocks4, Command::kConnect, v4(10, 0, 0, 1, 80), "alice");
      },
      {{cat({hex("04 01 0050 0A000001"), text("alice"), hex("00")}), hex("00 5A 0000 00000000")}},
      [](const ClientHandshake& hs) {
        EXPECT_EQ(hs.state(), State::kDone);
        EXPECT_TRUE(hs.status().ok());
        EXPECT_EQ(hs.bound(), v4(0, 0, 0, 0, 0));
      });
}

TEST(ClientHandshake, Socks4aConnectSendsTheName) {
  for (ProxyKind kind : {ProxyKind::kSocks4a, ProxyKind::kSocks4}) {
    driveBoth([&] { return ClientHandshake(kind, Command::kConnect, name("example.org", 443)); },
              {{cat({hex("04 01 01BB 00000001 00"), text("example.org"), hex("00")}),
                hex("00 5A 0000 00000000")}},
              [](const ClientHandshake& hs) { EXPECT_EQ(hs.state(), State::kDone); });
  }
}

TEST(ClientHandshake, Socks4ToleratesReplyVersion4) {
  driveBoth(
      [] { return ClientHandshake(ProxyKind::kSocks4, Command::kConnect, v4(10, 0, 0, 1, 80)); },
      {{hex("04 01 0050 0A000001 00"), hex("04 5A 0000 00000000")}},
      [](const ClientHandshake& hs) { EXPECT_EQ(hs.state(), State::kDone); });
}

TEST(ClientHandshake, Socks4RejectCodes) {
  for (std::uint8_t code : {91, 92, 93, 0, 1, 94, 255}) {
    SCOPED_TRACE(int(code));
    ByteVec reply = hex("00 00 0000 00000000");
    reply[1] = code;
    driveBoth(
        [] { return ClientHandshake(ProxyKind::kSocks4, Command::kConnect, v4(10, 0, 0, 1, 80)); },
        {{hex("04 01 0050 0A000001 00"), reply}},
        [&](const ClientHandshake& hs) {
          ASSERT_EQ(hs.state(), State::kFailed);
          EXPECT_EQ(hs.status().code(), Errc::kRejected);
          EXPECT_EQ(hs.status().socksVersion(), 4);
          EXPECT_EQ(hs.status().reply(), code);
        });
  }
}

TEST(ClientHandshake, Socks4Ipv6IsUnsupportedAtOnce) {
  const std::uint8_t o[16] = {0x20, 0x01, 0x0d, 0xb8};
  for (ProxyKind kind : {ProxyKind::kSocks4, ProxyKind::kSocks4a}) {
    ClientHandshake hs(kind, Command::kConnect, Address::ipv6(o, 80));
    EXPECT_EQ(hs.state(), State::kFailed);
    EXPECT_TRUE(hs.finished());
    EXPECT_EQ(hs.status().code(), Errc::kUnsupported);
    EXPECT_TRUE(hs.pendingOutput().empty());
    EXPECT_EQ(hs.wantRead(), 0u);
  }
  ClientHandshake udp(ProxyKind::kSocks4, Command::kUdpAssociate, v4(0, 0, 0, 0, 0));
  EXPECT_EQ(udp.status().code(), Errc::kUnsupported);
}

TEST(ClientHandshake, Socks4OverlongUserIdFails) {
  const std::string user(256, 'u');
  ClientHandshake hs(ProxyKind::kSocks4, Command::kConnect, v4(10, 0, 0, 1, 80), user);
  EXPECT_EQ(hs.state(), State::kFailed);
  EXPECT_EQ(hs.status().code(), Errc::kInvalidArgument);
}

TEST(ClientHandshake, Socks5NoAuthConnect) {
  driveBoth(
      [] { return ClientHandshake(ProxyKind::kSocks5h, Command::kConnect, v4(10, 0, 0, 1, 80)); },
      {{kGreetNoAuth, hex("05 00")}, {kConnect4, kOkReply}},
      [](const ClientHandshake& hs) {
        EXPECT_EQ(hs.state(), State::kDone);
        EXPECT_EQ(hs.method(), v5::Method::kNoAuth);
        EXPECT_EQ(hs.bound(), v4(192, 168, 0, 1, 54321));
      });
}

TEST(ClientHandshake, Socks5DomainConnect) {
  ByteVec req = cat({hex("05 01 00 03 0B"), text("example.org"), hex("01BB")});
  ByteVec reply = cat({hex("05 00 00 03 05"), text("proxy"), hex("0438")});
  driveBoth(
      [] {
        return ClientHandshake(ProxyKind::kSocks5, Command::kConnect, name("example.org", 443));
      },
      {{kGreetNoAuth, hex("05 00")}, {req, reply}},
      [](const ClientHandshake& hs) {
        EXPECT_EQ(hs.state(), State::kDone);
        EXPECT_EQ(hs.bound(), name("proxy", 1080));
      });
}

TEST(ClientHandshake, Socks5UserPassAccepted) {
  ByteVec auth = cat({hex("01 05"), text("alice"), hex("06"), text("secret")});
  for (const char* auth_reply : {"01 00", "05 00"}) {
    SCOPED_TRACE(auth_reply);
    driveBoth(
        [] {
          return ClientHandshake(ProxyKind::kSocks5, Command::kConnect, v4(10, 0, 0, 1, 80),
                                 "alice", "secret", true);
        },
        {{kGreetBoth, hex("05 02")}, {auth, hex(auth_reply)}, {kConnect4, kOkReply}},
        [](const ClientHandshake& hs) {
          EXPECT_EQ(hs.state(), State::kDone);
          EXPECT_EQ(hs.method(), v5::Method::kUserPass);
        });
  }
}

TEST(ClientHandshake, Socks5CredentialsButServerPicksNoAuth) {
  driveBoth(
      [] {
        return ClientHandshake(ProxyKind::kSocks5, Command::kConnect, v4(10, 0, 0, 1, 80), "a", "b",
                               true);
      },
      {{kGreetBoth, hex("05 00")}, {kConnect4, kOkReply}},
      [](const ClientHandshake& hs) { EXPECT_EQ(hs.state(), State::kDone); });
}

TEST(ClientHandshake, Socks5UserPassRejected) {
  ByteVec auth = cat({hex("01 05"), text("alice"), hex("03"), text("bad")});
  for (const char* auth_reply : {"01 01", "01 FF", "05 01"}) {
    driveBoth(
        [] {
          return ClientHandshake(ProxyKind::kSocks5, Command::kConnect, v4(10, 0, 0, 1, 80),
                                 "alice", "bad", true);
        },
        {{kGreetBoth, hex("05 02")}, {auth, hex(auth_reply)}},
        [](const ClientHandshake& hs) {
          ASSERT_EQ(hs.state(), State::kFailed);
          EXPECT_EQ(hs.status().code(), Errc::kAuthFailed);
          EXPECT_TRUE(hs.pendingOutput().empty());
        });
  }
}

TEST(ClientHandshake, Socks5NoAcceptableMethod) {
  driveBoth(
      [] { return ClientHandshake(ProxyKind::kSocks5, Command::kConnect, v4(10, 0, 0, 1, 80)); },
      {{kGreetNoAuth, hex("05 FF")}},
      [](const ClientHandshake& hs) {
        ASSERT_EQ(hs.state(), State::kFailed);
        EXPECT_EQ(hs.status().code(), Errc::kNoAcceptableMethod);
      });
}

TEST(ClientHandshake, Socks5MethodWeDidNotOffer) {
  for (const char* sel : {"05 02", "05 01", "05 03", "05 80", "05 FE"}) {
    SCOPED_TRACE(sel);
    driveBoth(
        [] { return ClientHandshake(ProxyKind::kSocks5, Command::kConnect, v4(10, 0, 0, 1, 80)); },
        {{kGreetNoAuth, hex(sel)}},
        [](const ClientHandshake& hs) {
          ASSERT_EQ(hs.state(), State::kFailed);
          EXPECT_EQ(hs.status().code(), Errc::kMalformed);
          EXPECT_STREQ(hs.status().reason(), "server chose a method we did not offer");
        });
  }
}

TEST(ClientHandshake, Socks5BadCredentialsFailAtConstruction) {
  const std::string long_one(256, 'x');
  struct Case {
    std::string_view user, password;
  };
  for (const Case& c : {Case{"", "p"}, Case{"u", ""}, Case{long_one, "p"}, Case{"u", long_one}}) {
    ClientHandshake hs(ProxyKind::kSocks5, Command::kConnect, v4(10, 0, 0, 1, 80), c.user,
                       c.password, true);
    EXPECT_EQ(hs.state(), State::kFailed);
    EXPECT_EQ(hs.status().code(), Errc::kInvalidArgument);
  }
  // Without has_credentials, user/password are ignored for SOCKS5.
  ClientHandshake hs(ProxyKind::kSocks5, Command::kConnect, v4(10, 0, 0, 1, 80), "", "", false);
  EXPECT_EQ(hs.state(), State::kSending);
}

TEST(ClientHandshake, Socks5ReplyCodes) {
  for (int code = 1; code <= 0xFF; ++code) {
    ByteVec reply = hex("05 00 00 01 00000000 0000");
    reply[1] = static_cast<std::uint8_t>(code);
    ClientHandshake hs(ProxyKind::kSocks5, Command::kConnect, v4(10, 0, 0, 1, 80));
    drive(hs, {{kGreetNoAuth, hex("05 00")}, {kConnect4, reply}}, Mode::kWhole);
    ASSERT_EQ(hs.state(), State::kFailed) << code;
    EXPECT_EQ(hs.status().code(), Errc::kRejected);
    EXPECT_EQ(hs.status().socksVersion(), 5);
    EXPECT_EQ(hs.status().reply(), code);
  }
}

TEST(ClientHandshake, MalformedReplies) {
  struct Case {
    ProxyKind kind;
    std::vector<Exchange> script;
  };
  const ByteVec s4req = hex("04 01 0050 0A000001 00");
  const std::vector<Case> cases = {
      {ProxyKind::kSocks5, {{kGreetNoAuth, hex("04 00")}}},
      {ProxyKind::kSocks5, {{kGreetNoAuth, text("HTTP/1.1 400")}}},
      {ProxyKind::kSocks5,
       {{kGreetNoAuth, hex("05 00")}, {kConnect4, hex("05 00 01 01 00000000 0000")}}},
      {ProxyKind::kSocks5,
       {{kGreetNoAuth, hex("05 00")}, {kConnect4, hex("05 00 00 02 00000000 0000")}}},
      {ProxyKind::kSocks5, {{kGreetNoAuth, hex("05 00")}, {kConnect4, hex("05 00 00 03 00 0000")}}},
      {ProxyKind::kSocks5,
       {{kGreetNoAuth, hex("05 00")}, {kConnect4, hex("04 00 00 01 00000000 0000")}}},
      {ProxyKind::kSocks4, {{s4req, hex("05 5A 0000 00000000")}}},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    driveBoth(
        [&] { return ClientHandshake(cases[i].kind, Command::kConnect, v4(10, 0, 0, 1, 80)); },
        cases[i].script,
        [](const ClientHandshake& hs) {
          ASSERT_EQ(hs.state(), State::kFailed);
          EXPECT_EQ(hs.status().code(), Errc::kMalformed);
          EXPECT_EQ(hs.wantRead(), 0u);
          ClientHandshake copy = hs;
          EXPECT_EQ(copy.feed(view(hex("00"))), 0u);
        });
  }
  // The auth reply is malformed too when its version is wrong.
  driveBoth(
      [] {
        return ClientHandshake(ProxyKind::kSocks5, Command::kConnect, v4(10, 0, 0, 1, 80), "u", "p",
                               true);
      },
      {{kGreetBoth, hex("05 02")},
       {cat({hex("01 01"), text("u"), hex("01"), text("p")}), hex("02 00")}},
      [](const ClientHandshake& hs) { EXPECT_EQ(hs.status().code(), Errc::kMalformed); });
}

TEST(ClientHandshake, Socks5BindTwoReplies) {
  const ByteVec bind_req = hex("05 02 00 01 0A000001 0015");
  const ByteVec first = hex("05 00 00 01 C0A80001 9C40");
  const ByteVec second = hex("05 00 00 01 0A000001 0014");
  for (Mode mode : {Mode::kWhole, Mode::kByteByByte}) {
    ClientHandshake hs(ProxyKind::kSocks5, Command::kBind, v4(10, 0, 0, 1, 21));
    drive(hs, {{kGreetNoAuth, hex("05 00")}, {bind_req, first}}, mode);
    ASSERT_EQ(hs.state(), State::kAwaitingSecond);
    EXPECT_FALSE(hs.finished());
    EXPECT_EQ(hs.bound(), v4(192, 168, 0, 1, 40000));
    EXPECT_EQ(hs.wantRead(), 5u);
    drive(hs, {{{}, second}}, mode);
    ASSERT_EQ(hs.state(), State::kDone);
    EXPECT_EQ(hs.bound(), v4(192, 168, 0, 1, 40000));
    EXPECT_EQ(hs.peer(), v4(10, 0, 0, 1, 20));
  }
}

TEST(ClientHandshake, BindSecondReplyFailure) {
  ClientHandshake hs(ProxyKind::kSocks5, Command::kBind, v4(10, 0, 0, 1, 21));
  drive(hs,
        {{kGreetNoAuth, hex("05 00")},
         {hex("05 02 00 01 0A000001 0015"), hex("05 00 00 01 C0A80001 9C40")},
         {{}, hex("05 04 00 01 00000000 0000")}},
        Mode::kByteByByte);
  ASSERT_EQ(hs.state(), State::kFailed);
  EXPECT_EQ(hs.status().reply(), 4);
}

TEST(ClientHandshake, Socks4BindTwoReplies) {
  for (Mode mode : {Mode::kWhole, Mode::kByteByByte}) {
    ClientHandshake hs(ProxyKind::kSocks4, Command::kBind, v4(10, 0, 0, 1, 21), "u");
    drive(hs,
          {{cat({hex("04 02 0015 0A000001"), text("u"), hex("00")}), hex("00 5A 9C40 00000000")}},
          mode);
    ASSERT_EQ(hs.state(), State::kAwaitingSecond);
    EXPECT_EQ(hs.bound(), v4(0, 0, 0, 0, 40000));
    EXPECT_EQ(hs.wantRead(), 8u);
    drive(hs, {{{}, hex("00 5A 0014 0A000001")}}, mode);
    ASSERT_EQ(hs.state(), State::kDone);
    EXPECT_EQ(hs.peer(), v4(10, 0, 0, 1, 20));
  }
  // Second reply 91: the peer was not the expected host.
  ClientHandshake hs(ProxyKind::kSocks4, Command::kBind, v4(10, 0, 0, 1, 21));
  drive(hs,
        {{hex("04 02 0015 0A000001 00"), hex("00 5A 9C40 00000000")},
         {{}, hex("00 5B 0000 00000000")}},
        Mode::kWhole);
  EXPECT_EQ(hs.status().code(), Errc::kRejected);
  EXPECT_EQ(hs.status().reply(), 91);
}

// A malformed second reply is an error, never an over-read or a success.
TEST(ClientHandshake, BindMalformedSecondReplies) {
  const struct {
    const char* second;
    const char* why;
  } cases[] = {
      {"04 00 00 01 0A000001 0014", "SOCKS5 second reply with version 4"},
      {"05 00 01 01 0A000001 0014", "reserved byte not zero"},
      {"05 00 00 02 0A000001 0014", "unknown address type"},
      {"05 00 00 03 00 0014", "empty domain name"},
  };
  for (const auto& c : cases) {
    for (Mode mode : {Mode::kWhole, Mode::kByteByByte}) {
      ClientHandshake hs(ProxyKind::kSocks5, Command::kBind, v4(10, 0, 0, 1, 21));
      drive(hs,
            {{kGreetNoAuth, hex("05 00")},
             {hex("05 02 00 01 0A000001 0015"), hex("05 00 00 01 C0A80001 9C40")},
             {{}, hex(c.second)}},
            mode);
      EXPECT_EQ(hs.state(), State::kFailed) << c.why;
      EXPECT_EQ(hs.status().code(), Errc::kMalformed) << c.why;
    }
  }
  // SOCKS4: the second reply's version byte must be 0 (4 is tolerated).
  ClientHandshake hs(ProxyKind::kSocks4, Command::kBind, v4(10, 0, 0, 1, 21));
  drive(hs,
        {{hex("04 02 0015 0A000001 00"), hex("00 5A 9C40 00000000")},
         {{}, hex("05 5A 0014 0A000001")}},
        Mode::kWhole);
  EXPECT_EQ(hs.status().code(), Errc::kMalformed);
}

TEST(ClientHandshake, BindBothRepliesInOneFeed) {
  ClientHandshake hs(ProxyKind::kSocks5, Command::kBind, v4(10, 0, 0, 1, 21));
  drive(hs, {{kGreetNoAuth, hex("05 00")}}, Mode::kWhole);
  hs.markSent(hs.pendingOutput().size());
  ByteVec both =
      cat({hex("05 00 00 01 C0A80001 9C40"), hex("05 00 00 01 0A000001 0014"), text("DATA")});
  EXPECT_EQ(hs.feed(view(both)), 20u);
  EXPECT_EQ(hs.state(), State::kDone);
  EXPECT_EQ(hs.peer(), v4(10, 0, 0, 1, 20));
}

// The destination speaks first (SMTP, FTP, SSH): its bytes may arrive with the
// reply. A driver reading wantRead() never takes them, and feed() never eats them.
TEST(ClientHandshake, ApplicationBytesAfterTheReplyAreNeverWanted) {
  const ByteVec banner = text("220 smtp.example ESMTP\r\n");
  struct Case {
    ProxyKind kind;
    Address dst;
    std::vector<Exchange> script;
  };
  const ByteVec name_reply = cat({hex("05 00 00 03 05"), text("proxy"), hex("0438")});
  const std::vector<Case> cases = {
      {ProxyKind::kSocks4,
       v4(10, 0, 0, 1, 80),
       {{hex("04 01 0050 0A000001 00"), cat({hex("00 5A 0000 00000000"), banner})}}},
      {ProxyKind::kSocks5,
       v4(10, 0, 0, 1, 80),
       {{kGreetNoAuth, hex("05 00")}, {kConnect4, cat({kOkReply, banner})}}},
      {ProxyKind::kSocks5,
       v4(10, 0, 0, 1, 80),
       {{kGreetNoAuth, hex("05 00")},
        {kConnect4, cat({hex("05 00 00 04 20010DB8000000000000000000000001 0050"), banner})}}},
      {ProxyKind::kSocks5,
       v4(10, 0, 0, 1, 80),
       {{kGreetNoAuth, hex("05 00")}, {kConnect4, cat({name_reply, banner})}}},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    for (Mode mode : {Mode::kWhole, Mode::kByteByByte}) {
      SCOPED_TRACE(i);
      ClientHandshake hs(cases[i].kind, Command::kConnect, cases[i].dst);
      ByteVec rest;
      drive(hs, cases[i].script, mode, &rest);
      ASSERT_EQ(hs.state(), State::kDone) << hs.status().reason();
      EXPECT_EQ(rest, banner);
      EXPECT_EQ(hs.wantRead(), 0u);
    }
    // feed() given everything at once consumes just the reply.
    ClientHandshake hs(cases[i].kind, Command::kConnect, cases[i].dst);
    for (const Exchange& ex : cases[i].script) {
      hs.markSent(hs.pendingOutput().size());
      EXPECT_EQ(hs.feed(view(ex.server)),
                ex.server.size() - (&ex == &cases[i].script.back() ? banner.size() : 0));
    }
    EXPECT_EQ(hs.state(), State::kDone);
    EXPECT_EQ(hs.feed(view(banner)), 0u);
  }
}

TEST(ClientHandshake, WantReadIsExact) {
  ClientHandshake hs(ProxyKind::kSocks5, Command::kConnect, v4(10, 0, 0, 1, 80));
  EXPECT_EQ(hs.wantRead(), 0u);
  hs.markSent(1);  // partial write
  EXPECT_EQ(hs.state(), State::kSending);
  EXPECT_EQ(hs.pendingOutput().size(), 2u);
  hs.markSent(100);  // more than pending is clamped
  ASSERT_EQ(hs.state(), State::kReceiving);
  EXPECT_EQ(hs.wantRead(), 2u);
  EXPECT_EQ(hs.feed(view(hex("05"))), 1u);
  EXPECT_EQ(hs.wantRead(), 1u);
  EXPECT_EQ(hs.feed(view(hex("00"))), 1u);
  hs.markSent(hs.pendingOutput().size());
  EXPECT_EQ(hs.wantRead(), 5u);  // VER REP RSV ATYP + first address byte
  EXPECT_EQ(hs.feed(view(hex("05 00 00 03"))), 4u);
  EXPECT_EQ(hs.wantRead(), 1u);
  EXPECT_EQ(hs.feed(view(hex("0A"))), 1u);
  EXPECT_EQ(hs.wantRead(), 12u);  // 10 name bytes + port
  EXPECT_EQ(hs.feed(view(text("0123456789"))), 10u);
  EXPECT_EQ(hs.wantRead(), 2u);
  EXPECT_EQ(hs.feed(view(hex("0050 FF"))), 2u);
  EXPECT_EQ(hs.state(), State::kDone);
  EXPECT_EQ(hs.bound(), name("0123456789", 80));
}

TEST(ClientHandshake, FeedBeforeSendingConsumesNothing) {
  ClientHandshake hs(ProxyKind::kSocks5, Command::kConnect, v4(10, 0, 0, 1, 80));
  EXPECT_EQ(hs.feed(view(hex("05 00"))), 0u);
  EXPECT_EQ(hs.state(), State::kSending);
  EXPECT_EQ(hs.feed(Bytes()), 0u);
}

TEST(ClientHandshake, UdpAssociate) {
  driveBoth([] { return ClientHandshake(ProxyKind::kSocks5, Command::kUdpAssociate, Address()); },
            {{kGreetNoAuth, hex("05 00")},
             {hex("05 03 00 01 00000000 0000"), hex("05 00 00 01 7F000001 2710")}},
            [](const ClientHandshake& hs) {
              ASSERT_EQ(hs.state(), State::kDone);
              EXPECT_EQ(hs.bound(), v4(127, 0, 0, 1, 10000));
            });
}

TEST(ClientHandshake, WorksAgainstTheServerEncoders) {
  // The client's parser accepts what our own server encoders produce.
  std::array<std::uint8_t, v5::kMaxReply> buf{};
  auto sel = encodeSocks5MethodSelection(buf, v5::Method::kNoAuth);
  ByteVec sel_bytes(buf.begin(), buf.begin() + *sel);
  auto rep = encodeSocks5Reply(buf, v5::Reply::kSucceeded, name("relay.example", 1080));
  ByteVec rep_bytes(buf.begin(), buf.begin() + *rep);
  driveBoth(
      [] {
        return ClientHandshake(ProxyKind::kSocks5h, Command::kConnect, name("example.org", 443));
      },
      {{kGreetNoAuth, sel_bytes},
       {cat({hex("05 01 00 03 0B"), text("example.org"), hex("01BB")}), rep_bytes}},
      [](const ClientHandshake& hs) {
        ASSERT_EQ(hs.state(), State::kDone);
        EXPECT_EQ(hs.bound(), name("relay.example", 1080));
      });
}

}  // namespace
}  // namespace socks
