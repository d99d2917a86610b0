// Golden vectors for every SOCKS4/4a, SOCKS5 and RFC 1929 message, encoded and
// parsed, plus malformed variants. Each parse vector runs whole, by growing
// prefixes and ending at a guard page (proto_test_util.h).
#include "socks/codec.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "proto_test_util.h"

namespace socks {
namespace {

using test::ByteVec;
using test::cat;
using test::expectDone;
using test::expectMalformed;
using test::hex;
using test::text;
using test::view;

Address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
  const std::uint8_t o[4] = {a, b, c, d};
  return Address::ipv4(o, port);
}

Address v6Doc(std::uint16_t port) {  // 2001:db8::1
  const std::uint8_t o[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return Address::ipv6(o, port);
}

Address name(std::string_view n, std::uint16_t port) {
  return Address::domainName(n, port).value();
}

// Encodes with enc into a large buffer, checks the golden bytes, then checks
// that every smaller buffer fails with kInvalidArgument (never overflows).
template <class Enc>
void expectEncodes(Enc enc, const ByteVec& golden) {
  std::array<std::uint8_t, 1024> buf{};
  Result<std::size_t> n = enc(MutableBytes(buf.data(), buf.size()));
  ASSERT_TRUE(n.ok()) << n.status().reason();
  EXPECT_EQ(ByteVec(buf.begin(), buf.begin() + *n), golden);
  for (std::size_t cap = 0; cap < golden.size(); ++cap) {
    ByteVec small(cap + 8, 0xEE);
    Result<std::size_t> r = enc(MutableBytes(small.data(), cap));
    ASSERT_FALSE(r.ok()) << "capacity " << cap;
    EXPECT_EQ(r.status().code(), Errc::kInvalidArgument);
    for (std::size_t i = cap; i < small.size(); ++i) {
      ASSERT_EQ(small[i], 0xEE) << "wrote past capacity " << cap;
    }
  }
}

// SOCKS5 request/reply (msg is the whole message): 5 bytes until the size is
// known — after ATYP for IPv4/IPv6, after the length byte for a domain — then
// exactly the total.
test::NeedFn socks5Need(const ByteVec& msg) {
  const bool domain = msg.size() > 3 && msg[3] == 0x03;
  const std::size_t total = msg.size();
  return [domain, total](std::size_t k) -> std::size_t {
    if (k < 4 || (k == 4 && domain)) {
      return 5;
    }
    return total;
  };
}

// ---- SOCKS4 ---------------------------------------------------------------------

const ByteVec kS4Connect = cat({hex("04 01 0050 01020304"), text("alice"), hex("00")});
const ByteVec kS4aConnect = cat({hex("04 01 01BB 00000001 00"), text("example.org"), hex("00")});
const ByteVec kS4Bind = cat({hex("04 02 0015 0A000002 00")});

TEST(Socks4Request, EncodeConnect) {
  expectEncodes(
      [](MutableBytes out) {
        return encodeSocks4Request(out, Command::kConnect, v4(1, 2, 3, 4, 80), "alice");
      },
      kS4Connect);
}

TEST(Socks4Request, EncodeSocks4aForDomain) {
  expectEncodes(
      [](MutableBytes out) {
        return encodeSocks4Request(out, Command::kConnect, name("example.org", 443), "");
      },
      kS4aConnect);
}

TEST(Socks4Request, EncodeBind) {
  expectEncodes(
      [](MutableBytes out) {
        return encodeSocks4Request(out, Command::kBind, v4(10, 0, 0, 2, 21), "");
      },
      kS4Bind);
}

TEST(Socks4Request, EncodeRejects) {
  std::array<std::uint8_t, kMaxMessage> buf{};
  EXPECT_EQ(encodeSocks4Request(buf, Command::kConnect, v6Doc(80), "").status().code(),
            Errc::kInvalidArgument);
  EXPECT_EQ(
      encodeSocks4Request(buf, Command::kUdpAssociate, v4(1, 2, 3, 4, 80), "").status().code(),
      Errc::kInvalidArgument);
  EXPECT_EQ(encodeSocks4Request(buf, Command::kConnect, Address(), "").status().code(),
            Errc::kInvalidArgument);
  EXPECT_FALSE(
      encodeSocks4Request(buf, Command::kConnect, v4(1, 2, 3, 4, 80), std::string(256, 'u')).ok());
  EXPECT_FALSE(
      encodeSocks4Request(buf, Command::kConnect, v4(1, 2, 3, 4, 80), std::string_view("a\0b", 3))
          .ok());
  // The largest message fits kMaxMessage exactly.
  auto n = encodeSocks4Request(buf, Command::kConnect, name(std::string(255, 'n'), 1),
                               std::string(255, 'u'));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, kMaxMessage);
}

Parse parse4Req(Bytes in, Socks4Request* out = nullptr) {
  Socks4Request r;
  Parse p = parseSocks4Request(in, r);
  if (out != nullptr) {
    *out = r;
  }
  return p;
}

TEST(Socks4Request, ParseConnect) {
  // Fixed 8 bytes first, then one byte at a time while looking for the NUL.
  expectDone(
      kS4Connect, [](Bytes in) { return parse4Req(in); },
      [](std::size_t k) { return k < 8 ? std::size_t{8} : k + 1; });
  Socks4Request r;
  ASSERT_TRUE(parseSocks4Request(view(kS4Connect), r).isDone());
  EXPECT_EQ(r.cmd, Command::kConnect);
  EXPECT_EQ(r.dst, v4(1, 2, 3, 4, 80));
  EXPECT_EQ(r.userid, "alice");
}

TEST(Socks4Request, ParseSocks4a) {
  expectDone(
      kS4aConnect, [](Bytes in) { return parse4Req(in); },
      [](std::size_t k) { return k < 8 ? std::size_t{8} : k + 1; });
  Socks4Request r;
  ASSERT_TRUE(parseSocks4Request(view(kS4aConnect), r).isDone());
  EXPECT_EQ(r.dst, name("example.org", 443));
  EXPECT_EQ(r.userid, "");
}

TEST(Socks4Request, ParseBindAndAnyNonZeroLastOctet) {
  Socks4Request r;
  ASSERT_TRUE(parseSocks4Request(view(kS4Bind), r).isDone());
  EXPECT_EQ(r.cmd, Command::kBind);
  EXPECT_EQ(r.dst, v4(10, 0, 0, 2, 21));
  // 0.0.0.255 is SOCKS4a as well.
  ByteVec m = cat({hex("04 01 0050 000000FF"), text("u"), hex("00"), text("h"), hex("00")});
  ASSERT_TRUE(parseSocks4Request(view(m), r).isDone());
  EXPECT_EQ(r.dst, name("h", 80));
  // 0.0.0.0 is a plain (if useless) IPv4 destination, not 4a.
  ByteVec z = hex("04 01 0050 00000000 00");
  ASSERT_TRUE(parseSocks4Request(view(z), r).isDone());
  EXPECT_EQ(r.dst.type, Address::Type::kIPv4);
}

TEST(Socks4Request, LimitsAtTheEdges) {
  ByteVec ok = cat({hex("04 01 0050 01020304"), ByteVec(255, 'u'), hex("00")});
  expectDone(ok, [](Bytes in) { return parse4Req(in); });
  ByteVec ok4a =
      cat({hex("04 01 0050 00000001"), ByteVec(255, 'u'), hex("00"), ByteVec(255, 'n'), hex("00")});
  ASSERT_EQ(ok4a.size(), kMaxMessage);
  expectDone(ok4a, [](Bytes in) { return parse4Req(in); });
}

TEST(Socks4Request, Malformed) {
  auto p = [](Bytes in) { return parse4Req(in); };
  expectMalformed(hex("05 01 0050 01020304 00"), p);
  expectMalformed(hex("00 01 0050 01020304 00"), p);
  expectMalformed(hex("04 03 0050 01020304 00"), p, reason::kUnknownCommand);
  expectMalformed(hex("04 00 0050 01020304 00"), p, reason::kUnknownCommand);
  // USERID of 256 bytes: malformed once the 256th byte is not a NUL.
  expectMalformed(cat({hex("04 01 0050 01020304"), ByteVec(256, 'u'), hex("00")}), p);
  // SOCKS4a: empty name, name of 256 bytes.
  expectMalformed(hex("04 01 0050 00000001 00 00"), p);
  expectMalformed(cat({hex("04 01 0050 00000001 00"), ByteVec(256, 'n'), hex("00")}), p);
}

TEST(Socks4Request, MissingNulIsNeedMore) {
  Socks4Request r;
  ByteVec noNul = cat({hex("04 01 0050 01020304"), text("alice")});
  Parse p = parseSocks4Request(view(noNul), r);
  ASSERT_TRUE(p.isNeedMore());
  EXPECT_EQ(p.n, noNul.size() + 1);
  ByteVec noNameNul = cat({hex("04 01 0050 00000001 00"), text("example")});
  p = parseSocks4Request(view(noNameNul), r);
  ASSERT_TRUE(p.isNeedMore());
  EXPECT_EQ(p.n, noNameNul.size() + 1);
}

const ByteVec kS4Granted = hex("00 5A 0000 00000000");
const ByteVec kS4BindReply = hex("00 5A 1F90 0A000001");

TEST(Socks4Reply, Encode) {
  expectEncodes(
      [](MutableBytes out) { return encodeSocks4Reply(out, v4::Reply::kGranted, Address()); },
      kS4Granted);
  expectEncodes(
      [](MutableBytes out) {
        return encodeSocks4Reply(out, v4::Reply::kGranted, v4(10, 0, 0, 1, 8080));
      },
      kS4BindReply);
  expectEncodes(
      [](MutableBytes out) { return encodeSocks4Reply(out, v4::Reply::kRejected, Address()); },
      hex("00 5B 0000 00000000"));
  std::array<std::uint8_t, 8> buf{};
  EXPECT_FALSE(encodeSocks4Reply(buf, v4::Reply::kGranted, v6Doc(1)).ok());
  EXPECT_FALSE(encodeSocks4Reply(buf, v4::Reply::kGranted, name("x", 1)).ok());
}

Parse parse4Rep(Bytes in, Socks4Reply* out = nullptr) {
  Socks4Reply r;
  Parse p = parseSocks4Reply(in, r);
  if (out != nullptr) {
    *out = r;
  }
  return p;
}

TEST(Socks4Reply, Parse) {
  auto eight = [](std::size_t) { return std::size_t{8}; };
  expectDone(
      kS4Granted, [](Bytes in) { return parse4Rep(in); }, eight);
  expectDone(
      kS4BindReply, [](Bytes in) { return parse4Rep(in); }, eight);
  Socks4Reply r;
  ASSERT_TRUE(parseSocks4Reply(view(kS4BindReply), r).isDone());
  EXPECT_EQ(r.code, 90);
  EXPECT_EQ(r.bound, v4(10, 0, 0, 1, 8080));
  // Failure codes parse; the client decides.
  for (std::uint8_t code : {91, 92, 93, 0, 255}) {
    ByteVec m = hex("00 00 0000 00000000");
    m[1] = code;
    ASSERT_TRUE(parseSocks4Reply(view(m), r).isDone());
    EXPECT_EQ(r.code, code);
  }
}

TEST(Socks4Reply, ToleratesVersion4) {
  expectDone(hex("04 5A 0000 00000000"), [](Bytes in) { return parse4Rep(in); });
}

TEST(Socks4Reply, Malformed) {
  auto p = [](Bytes in) { return parse4Rep(in); };
  expectMalformed(hex("05 5A 0000 00000000"), p);
  expectMalformed(hex("01 5A 0000 00000000"), p);
  // An HTTP proxy answering a SOCKS4 request.
  expectMalformed(text("HTTP/1.1"), p);
}

// ---- SOCKS5 greeting and method selection (RFC 1928 §3) ----------------------------

TEST(Socks5Greeting, Encode) {
  const v5::Method one[] = {v5::Method::kNoAuth};
  const v5::Method two[] = {v5::Method::kNoAuth, v5::Method::kUserPass};
  expectEncodes([&](MutableBytes out) { return encodeSocks5Greeting(out, one); }, hex("05 01 00"));
  expectEncodes([&](MutableBytes out) { return encodeSocks5Greeting(out, two); },
                hex("05 02 00 02"));
  std::array<std::uint8_t, 512> buf{};
  EXPECT_FALSE(encodeSocks5Greeting(buf, std::span<const v5::Method>()).ok());
  std::array<v5::Method, 256> many{};
  EXPECT_FALSE(encodeSocks5Greeting(buf, many).ok());
  EXPECT_TRUE(encodeSocks5Greeting(buf, std::span<const v5::Method>(many.data(), 255)).ok());
}

TEST(Socks5Greeting, Parse) {
  auto p = [](Bytes in) {
    Socks5Greeting g;
    return parseSocks5Greeting(in, g);
  };
  expectDone(hex("05 01 00"), p,
             [](std::size_t k) { return k < 2 ? std::size_t{2} : std::size_t{3}; });
  expectDone(hex("05 02 00 02"), p,
             [](std::size_t k) { return k < 2 ? std::size_t{2} : std::size_t{4}; });
  expectDone(cat({hex("05 FF"), ByteVec(255, 0x80)}), p);
  Socks5Greeting g;
  ByteVec m = hex("05 03 00 01 02");
  ASSERT_TRUE(parseSocks5Greeting(view(m), g).isDone());
  EXPECT_EQ(ByteVec(g.methods.begin(), g.methods.end()), hex("00 01 02"));
  EXPECT_EQ(g.methods.data(), m.data() + 2) << "methods view points into the input";
}

TEST(Socks5Greeting, Malformed) {
  auto p = [](Bytes in) {
    Socks5Greeting g;
    return parseSocks5Greeting(in, g);
  };
  expectMalformed(hex("04 01 00"), p);
  expectMalformed(hex("05 00"), p);
  expectMalformed(text("GET / HTTP/1.1\r\n"), p);
}

TEST(Socks5MethodSelection, EncodeAndParse) {
  expectEncodes(
      [](MutableBytes out) { return encodeSocks5MethodSelection(out, v5::Method::kNoAuth); },
      hex("05 00"));
  expectEncodes(
      [](MutableBytes out) { return encodeSocks5MethodSelection(out, v5::Method::kUserPass); },
      hex("05 02"));
  expectEncodes(
      [](MutableBytes out) { return encodeSocks5MethodSelection(out, v5::Method::kNoAcceptable); },
      hex("05 FF"));
  for (const char* h : {"05 00", "05 02", "05 FF", "05 01", "05 80"}) {
    v5::Method m{};
    expectDone(
        hex(h), [&](Bytes in) { return parseSocks5MethodSelection(in, m); },
        [](std::size_t) { return std::size_t{2}; });
    ASSERT_TRUE(parseSocks5MethodSelection(view(hex(h)), m).isDone());
    EXPECT_EQ(static_cast<std::uint8_t>(m), hex(h)[1]);
  }
  v5::Method m{};
  expectMalformed(hex("04 00"), [&](Bytes in) { return parseSocks5MethodSelection(in, m); });
  expectMalformed(hex("00 5A"), [&](Bytes in) { return parseSocks5MethodSelection(in, m); });
}

// ---- RFC 1929 ---------------------------------------------------------------------

const ByteVec kAuthReq = cat({hex("01 05"), text("alice"), hex("06"), text("secret")});

TEST(Rfc1929Request, Encode) {
  expectEncodes([](MutableBytes out) { return encodeSocks5AuthRequest(out, "alice", "secret"); },
                kAuthReq);
  std::array<std::uint8_t, v5::kMaxAuthRequest> buf{};
  EXPECT_FALSE(encodeSocks5AuthRequest(buf, "", "x").ok());
  EXPECT_FALSE(encodeSocks5AuthRequest(buf, "x", "").ok());
  EXPECT_FALSE(encodeSocks5AuthRequest(buf, std::string(256, 'u'), "x").ok());
  EXPECT_FALSE(encodeSocks5AuthRequest(buf, "x", std::string(256, 'p')).ok());
  auto n = encodeSocks5AuthRequest(buf, std::string(255, 'u'), std::string(255, 'p'));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, v5::kMaxAuthRequest);
}

TEST(Rfc1929Request, Parse) {
  auto p = [](Bytes in) {
    Socks5AuthRequest r;
    return parseSocks5AuthRequest(in, r);
  };
  // 2, then ULEN + PLEN byte, then the password.
  expectDone(kAuthReq, p, [](std::size_t k) -> std::size_t {
    if (k < 2) {
      return 2;
    }
    return k < 8 ? 8 : 14;
  });
  Socks5AuthRequest r;
  ASSERT_TRUE(parseSocks5AuthRequest(view(kAuthReq), r).isDone());
  EXPECT_EQ(r.user, "alice");
  EXPECT_EQ(r.password, "secret");
  // An empty password is accepted on parse.
  ByteVec empty = cat({hex("01 01"), text("u"), hex("00")});
  expectDone(empty, p);
  ASSERT_TRUE(parseSocks5AuthRequest(view(empty), r).isDone());
  EXPECT_EQ(r.password, "");
}

TEST(Rfc1929Request, Malformed) {
  auto p = [](Bytes in) {
    Socks5AuthRequest r;
    return parseSocks5AuthRequest(in, r);
  };
  expectMalformed(cat({hex("05 01"), text("u"), hex("01"), text("p")}), p);
  expectMalformed(cat({hex("02 01"), text("u"), hex("01"), text("p")}), p);
  expectMalformed(cat({hex("01 00 01"), text("p")}), p);
}

TEST(Rfc1929Reply, EncodeAndParse) {
  expectEncodes([](MutableBytes out) { return encodeSocks5AuthReply(out, 0); }, hex("01 00"));
  expectEncodes([](MutableBytes out) { return encodeSocks5AuthReply(out, 1); }, hex("01 01"));
  // VER 1, and VER 5 as curl tolerates.
  for (const char* h : {"01 00", "01 01", "01 FF", "05 00", "05 01"}) {
    std::uint8_t status = 0xAA;
    expectDone(
        hex(h), [&](Bytes in) { return parseSocks5AuthReply(in, status); },
        [](std::size_t) { return std::size_t{2}; });
    ASSERT_TRUE(parseSocks5AuthReply(view(hex(h)), status).isDone());
    EXPECT_EQ(status, hex(h)[1]);
  }
  std::uint8_t status = 0;
  for (const char* h : {"00 00", "02 00", "04 00", "FF 00"}) {
    expectMalformed(hex(h), [&](Bytes in) { return parseSocks5AuthReply(in, status); });
  }
}

// ---- SOCKS5 requests (RFC 1928 §4) ------------------------------------------------

const ByteVec kS5ConnectV4 = hex("05 01 00 01 7F000001 0050");
const ByteVec kS5ConnectName = cat({hex("05 01 00 03 0B"), text("example.org"), hex("01BB")});
const ByteVec kS5ConnectV6 = hex("05 01 00 04 20010DB8000000000000000000000001 01BB");
const ByteVec kS5Bind = hex("05 02 00 01 0A000002 0015");
const ByteVec kS5Udp = hex("05 03 00 01 00000000 0000");

TEST(Socks5Request, Encode) {
  expectEncodes(
      [](MutableBytes out) {
        return encodeSocks5Request(out, Command::kConnect, v4(127, 0, 0, 1, 80));
      },
      kS5ConnectV4);
  expectEncodes(
      [](MutableBytes out) {
        return encodeSocks5Request(out, Command::kConnect, name("example.org", 443));
      },
      kS5ConnectName);
  expectEncodes(
      [](MutableBytes out) { return encodeSocks5Request(out, Command::kConnect, v6Doc(443)); },
      kS5ConnectV6);
  expectEncodes(
      [](MutableBytes out) {
        return encodeSocks5Request(out, Command::kBind, v4(10, 0, 0, 2, 21));
      },
      kS5Bind);
  // kNone is "unknown": 0.0.0.0:0 (RFC 1928 §7 UDP ASSOCIATE).
  expectEncodes(
      [](MutableBytes out) { return encodeSocks5Request(out, Command::kUdpAssociate, Address()); },
      kS5Udp);
  std::array<std::uint8_t, v5::kMaxRequest> buf{};
  EXPECT_FALSE(encodeSocks5Request(buf, static_cast<Command>(9), v4(1, 1, 1, 1, 1)).ok());
  auto n = encodeSocks5Request(buf, Command::kConnect, name(std::string(255, 'n'), 1));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, v5::kMaxRequest);
}

Parse parse5Req(Bytes in, Socks5Request* out = nullptr) {
  Socks5Request r;
  Parse p = parseSocks5Request(in, r);
  if (out != nullptr) {
    *out = r;
  }
  return p;
}

TEST(Socks5Request, Parse) {
  struct Case {
    const ByteVec* msg;
    Command cmd;
    Address dst;
  };
  const Case cases[] = {
      {&kS5ConnectV4, Command::kConnect, v4(127, 0, 0, 1, 80)},
      {&kS5ConnectName, Command::kConnect, name("example.org", 443)},
      {&kS5ConnectV6, Command::kConnect, v6Doc(443)},
      {&kS5Bind, Command::kBind, v4(10, 0, 0, 2, 21)},
      {&kS5Udp, Command::kUdpAssociate, v4(0, 0, 0, 0, 0)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.msg->size());
    expectDone(
        *c.msg, [](Bytes in) { return parse5Req(in); }, socks5Need(*c.msg));
    Socks5Request r;
    ASSERT_TRUE(parse5Req(view(*c.msg), &r).isDone());
    EXPECT_EQ(r.cmd, c.cmd);
    EXPECT_EQ(r.dst, c.dst);
  }
  ByteVec longest = cat({hex("05 01 00 03 FF"), ByteVec(255, 'n'), hex("0001")});
  expectDone(
      longest, [](Bytes in) { return parse5Req(in); }, socks5Need(longest));
}

TEST(Socks5Request, Malformed) {
  auto p = [](Bytes in) { return parse5Req(in); };
  expectMalformed(hex("04 01 00 01 7F000001 0050"), p);
  expectMalformed(hex("05 00 00 01 7F000001 0050"), p, reason::kUnknownCommand);
  expectMalformed(hex("05 04 00 01 7F000001 0050"), p, reason::kUnknownCommand);
  expectMalformed(hex("05 01 01 01 7F000001 0050"), p);
  expectMalformed(hex("05 01 00 02 7F000001 0050"), p, reason::kUnknownAddressType);
  expectMalformed(hex("05 01 00 05 7F000001 0050"), p, reason::kUnknownAddressType);
  expectMalformed(hex("05 01 00 00 7F000001 0050"), p, reason::kUnknownAddressType);
  expectMalformed(hex("05 01 00 03 00 0050"), p);
  expectMalformed(cat({hex("05 01 00 03 03"), hex("61 00 62"), hex("0050")}), p);
}

// ---- SOCKS5 replies (RFC 1928 §6) -------------------------------------------------

const ByteVec kS5OkV4 = hex("05 00 00 01 0A000001 1F90");
const ByteVec kS5OkV6 = hex("05 00 00 04 20010DB8000000000000000000000001 0050");
const ByteVec kS5OkName = cat({hex("05 00 00 03 05"), text("proxy"), hex("0438")});
const ByteVec kS5Refused = hex("05 05 00 01 00000000 0000");

TEST(Socks5Reply, Encode) {
  expectEncodes(
      [](MutableBytes out) {
        return encodeSocks5Reply(out, v5::Reply::kSucceeded, v4(10, 0, 0, 1, 8080));
      },
      kS5OkV4);
  expectEncodes(
      [](MutableBytes out) { return encodeSocks5Reply(out, v5::Reply::kSucceeded, v6Doc(80)); },
      kS5OkV6);
  expectEncodes(
      [](MutableBytes out) {
        return encodeSocks5Reply(out, v5::Reply::kSucceeded, name("proxy", 1080));
      },
      kS5OkName);
  expectEncodes(
      [](MutableBytes out) {
        return encodeSocks5Reply(out, v5::Reply::kConnectionRefused, Address());
      },
      kS5Refused);
  // kNone ignores its port: 0.0.0.0:0.
  Address none;
  none.port = 99;
  expectEncodes(
      [&](MutableBytes out) { return encodeSocks5Reply(out, v5::Reply::kGeneralFailure, none); },
      hex("05 01 00 01 00000000 0000"));
}

Parse parse5Rep(Bytes in, Socks5Reply* out = nullptr) {
  Socks5Reply r;
  Parse p = parseSocks5Reply(in, r);
  if (out != nullptr) {
    *out = r;
  }
  return p;
}

TEST(Socks5Reply, Parse) {
  struct Case {
    const ByteVec* msg;
    std::uint8_t code;
    Address bound;
  };
  const Case cases[] = {
      {&kS5OkV4, 0, v4(10, 0, 0, 1, 8080)},
      {&kS5OkV6, 0, v6Doc(80)},
      {&kS5OkName, 0, name("proxy", 1080)},
      {&kS5Refused, 5, v4(0, 0, 0, 0, 0)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.msg->size());
    expectDone(
        *c.msg, [](Bytes in) { return parse5Rep(in); }, socks5Need(*c.msg));
    Socks5Reply r;
    ASSERT_TRUE(parse5Rep(view(*c.msg), &r).isDone());
    EXPECT_EQ(r.code, c.code);
    EXPECT_EQ(r.bound, c.bound);
  }
  // Every code parses, assigned or not; a failure reply is parsed whole.
  for (int code = 0; code <= 0xFF; ++code) {
    ByteVec m = kS5OkName;
    m[1] = static_cast<std::uint8_t>(code);
    Socks5Reply r;
    Parse p = parse5Rep(view(m), &r);
    ASSERT_TRUE(p.isDone());
    EXPECT_EQ(p.n, m.size());
    EXPECT_EQ(r.code, code);
  }
  ByteVec longest = cat({hex("05 00 00 03 FF"), ByteVec(255, 'n'), hex("0001")});
  ASSERT_EQ(longest.size(), v5::kMaxReply);
  expectDone(
      longest, [](Bytes in) { return parse5Rep(in); }, socks5Need(longest));
}

TEST(Socks5Reply, Malformed) {
  auto p = [](Bytes in) { return parse5Rep(in); };
  expectMalformed(hex("04 00 00 01 0A000001 1F90"), p);
  expectMalformed(hex("00 5A 00 01 0A000001 1F90"), p);  // a SOCKS4 reply
  expectMalformed(hex("05 00 01 01 0A000001 1F90"), p);
  expectMalformed(hex("05 00 FF 01 0A000001 1F90"), p);
  expectMalformed(hex("05 00 00 02 0A000001 1F90"), p, reason::kUnknownAddressType);
  expectMalformed(hex("05 00 00 06 0A000001 1F90"), p, reason::kUnknownAddressType);
  expectMalformed(hex("05 00 00 03 00 1F90"), p);
  expectMalformed(cat({hex("05 00 00 03 02"), hex("00 61"), hex("1F90")}), p);
  expectMalformed(text("HTTP/1.0 400 Bad Request\r\n"), p);
}

TEST(Socks5Reply, NeverAsksBeyondTheReply) {
  // A minimal domain reply is 8 bytes; the 5-byte probe is always safe.
  ByteVec m = cat({hex("05 00 00 03 01"), text("x"), hex("0001")});
  expectDone(
      m, [](Bytes in) { return parse5Rep(in); }, socks5Need(m));
}

// ---- UDP (RFC 1928 §7) --------------------------------------------------------------

TEST(UdpHeader, Encode) {
  expectEncodes([](MutableBytes out) { return encodeUdpHeader(out, v4(8, 8, 8, 8, 53)); },
                hex("0000 00 01 08080808 0035"));
  expectEncodes([](MutableBytes out) { return encodeUdpHeader(out, name("example.org", 53)); },
                cat({hex("0000 00 03 0B"), text("example.org"), hex("0035")}));
  expectEncodes([](MutableBytes out) { return encodeUdpHeader(out, v6Doc(53)); },
                hex("0000 00 04 20010DB8000000000000000000000001 0035"));
}

TEST(UdpHeader, Parse) {
  test::GuardPage guard;
  struct Case {
    ByteVec header;
    Address addr;
  };
  const Case cases[] = {
      {hex("0000 00 01 08080808 0035"), v4(8, 8, 8, 8, 53)},
      {cat({hex("0000 00 03 0B"), text("example.org"), hex("0035")}), name("example.org", 53)},
      {hex("0000 00 04 20010DB8000000000000000000000001 0035"), v6Doc(53)},
  };
  for (const Case& c : cases) {
    ByteVec dgram = cat({c.header, text("payload")});
    for (const ByteVec* m :
         {static_cast<const ByteVec*>(&c.header), static_cast<const ByteVec*>(&dgram)}) {
      UdpHeader h;
      Parse p = parseUdpHeader(guard.place(view(*m)), h);
      ASSERT_TRUE(p.isDone());
      EXPECT_EQ(p.n, c.header.size());
      EXPECT_EQ(h.header_len, c.header.size());
      EXPECT_EQ(h.addr, c.addr);
      EXPECT_EQ(h.frag, 0);
    }
    // Truncation is malformed, never need-more (a datagram is whole).
    for (std::size_t k = 0; k < c.header.size(); ++k) {
      UdpHeader h;
      Parse p = parseUdpHeader(guard.place(Bytes(c.header.data(), k)), h);
      ASSERT_TRUE(p.isMalformed()) << "prefix " << k;
    }
  }
  // FRAG != 0 parses; the caller drops it.
  UdpHeader h;
  ASSERT_TRUE(parseUdpHeader(view(hex("0000 03 01 08080808 0035")), h).isDone());
  EXPECT_EQ(h.frag, 3);
}

TEST(UdpHeader, Malformed) {
  UdpHeader h;
  for (const char* bad :
       {"0001 00 01 08080808 0035", "0100 00 01 08080808 0035", "0000 00 02 08080808 0035",
        "0000 00 03 00 0035", "0000 00 03 01 00 0035"}) {
    EXPECT_TRUE(parseUdpHeader(view(hex(bad)), h).isMalformed()) << bad;
  }
}

}  // namespace
}  // namespace socks

namespace socks {
namespace {

// The guard page really faults one byte past the placed input, so the
// vectors above would crash on any over-read.
TEST(GuardPageDeathTest, ReadingPastTheInputFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  test::GuardPage guard;
  const test::ByteVec msg = test::hex("05 00");
  Bytes placed = guard.place(test::view(msg));
  EXPECT_EQ(placed[1], 0x00);
  EXPECT_DEATH(
      {
        const volatile std::uint8_t* p = placed.data();
        std::uint8_t past = p[placed.size()];
        (void)past;
      },
      "");
}

}  // namespace
}  // namespace socks
