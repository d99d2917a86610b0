// toErrno: one test per row of the table in docs/errors.md; describe() texts.
#include "socks/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "socks/codec.h"

namespace socks {
namespace {

Status v5Reject(v5::Reply r) {
  return Status::rejected(v5::kVersion, static_cast<std::uint8_t>(r), "r");
}
Status v4Reject(std::uint8_t cd) {
  return Status::rejected(v4::kVersion, cd, "r");
}

std::string describeStr(const Status& s) {
  char buf[256];
  return describe(s, buf, sizeof(buf));
}

TEST(ToErrno, Ok) {
  EXPECT_EQ(toErrno(Status()), 0);
}
TEST(ToErrno, SystemGivesItsOwnErrno) {
  EXPECT_EQ(toErrno(Status::system(ENETDOWN, "connect")), ENETDOWN);
  EXPECT_EQ(toErrno(Status::system(EMFILE, "socket")), EMFILE);
}
TEST(ToErrno, Timeout) {
  EXPECT_EQ(toErrno(Status(Errc::kTimeout, "handshake")), ETIMEDOUT);
}
TEST(ToErrno, Closed) {
  EXPECT_EQ(toErrno(Status(Errc::kClosed, "eof")), ECONNRESET);
}
TEST(ToErrno, Malformed) {
  EXPECT_EQ(toErrno(Status(Errc::kMalformed, "x")), EPROTO);
}
TEST(ToErrno, NoAcceptableMethod) {
  EXPECT_EQ(toErrno(Status(Errc::kNoAcceptableMethod, "x")), EACCES);
}
TEST(ToErrno, AuthFailed) {
  EXPECT_EQ(toErrno(Status(Errc::kAuthFailed, "x")), EACCES);
}
TEST(ToErrno, Unsupported) {
  EXPECT_EQ(toErrno(Status(Errc::kUnsupported, "x")), EAFNOSUPPORT);
}
TEST(ToErrno, InvalidArgument) {
  EXPECT_EQ(toErrno(Status(Errc::kInvalidArgument, "x")), EINVAL);
  EXPECT_EQ(toErrno(Status::at(3, "x")), EINVAL);
}
TEST(ToErrno, NotFound) {
  EXPECT_EQ(toErrno(Status(Errc::kNotFound, "x")), EHOSTUNREACH);
}

// RFC 1928 §6 REP codes.
TEST(ToErrno, Socks5GeneralFailure) {
  EXPECT_EQ(toErrno(v5Reject(v5::Reply::kGeneralFailure)), ECONNREFUSED);
}
TEST(ToErrno, Socks5NotAllowed) {
  EXPECT_EQ(toErrno(v5Reject(v5::Reply::kNotAllowed)), EACCES);
}
TEST(ToErrno, Socks5NetworkUnreachable) {
  EXPECT_EQ(toErrno(v5Reject(v5::Reply::kNetworkUnreachable)), ENETUNREACH);
}
TEST(ToErrno, Socks5HostUnreachable) {
  EXPECT_EQ(toErrno(v5Reject(v5::Reply::kHostUnreachable)), EHOSTUNREACH);
}
TEST(ToErrno, Socks5ConnectionRefused) {
  EXPECT_EQ(toErrno(v5Reject(v5::Reply::kConnectionRefused)), ECONNREFUSED);
}
TEST(ToErrno, Socks5TtlExpired) {
  EXPECT_EQ(toErrno(v5Reject(v5::Reply::kTtlExpired)), ETIMEDOUT);
}
TEST(ToErrno, Socks5CommandNotSupported) {
  EXPECT_EQ(toErrno(v5Reject(v5::Reply::kCommandNotSupported)), EOPNOTSUPP);
}
TEST(ToErrno, Socks5AddressTypeNotSupported) {
  EXPECT_EQ(toErrno(v5Reject(v5::Reply::kAddressTypeNotSupported)), EAFNOSUPPORT);
}
TEST(ToErrno, Socks5OtherCodes) {
  for (int code = 0x09; code <= 0xFF; ++code) {
    EXPECT_EQ(toErrno(Status::rejected(5, static_cast<std::uint8_t>(code), "r")), ECONNREFUSED)
        << code;
  }
  EXPECT_EQ(toErrno(Status::rejected(5, 0, "r")), ECONNREFUSED);
}

// SOCKS4 CD codes.
TEST(ToErrno, Socks4Rejected) {
  EXPECT_EQ(toErrno(v4Reject(91)), ECONNREFUSED);
}
TEST(ToErrno, Socks4NoIdentd) {
  EXPECT_EQ(toErrno(v4Reject(92)), EACCES);
}
TEST(ToErrno, Socks4IdentMismatch) {
  EXPECT_EQ(toErrno(v4Reject(93)), EACCES);
}
TEST(ToErrno, Socks4OtherCodes) {
  for (int code : {0, 1, 90, 94, 255}) {
    EXPECT_EQ(toErrno(v4Reject(static_cast<std::uint8_t>(code))), ECONNREFUSED) << code;
  }
}

TEST(Describe, Texts) {
  EXPECT_EQ(describeStr(v5Reject(v5::Reply::kConnectionRefused)),
            "proxy refused: connection refused (SOCKS5 reply 0x05)");
  EXPECT_EQ(describeStr(v5Reject(v5::Reply::kNotAllowed)),
            "proxy refused: connection not allowed by ruleset (SOCKS5 reply 0x02)");
  EXPECT_EQ(describeStr(Status::rejected(5, 0xAB, "r")),
            "proxy refused: unassigned reply code (SOCKS5 reply 0xAB)");
  EXPECT_EQ(describeStr(v4Reject(91)),
            "proxy refused: request rejected or failed (SOCKS4 reply 91)");
  EXPECT_EQ(describeStr(Status(Errc::kAuthFailed, "x")), "proxy rejected the username/password");
  EXPECT_EQ(describeStr(Status(Errc::kClosed, "x")),
            "proxy closed the connection during the handshake");
  EXPECT_EQ(describeStr(Status(Errc::kMalformed, "SOCKS5 reserved byte is not 0")),
            "malformed reply from proxy: SOCKS5 reserved byte is not 0");
  EXPECT_EQ(describeStr(Status::system(ECONNREFUSED, "connect to proxy")),
            "connect to proxy: Connection refused");
  EXPECT_EQ(describeStr(Status::at(12, "expected a port number")),
            "invalid argument: expected a port number (column 12)");
  EXPECT_EQ(describeStr(Status(Errc::kTimeout, "")), "timed out");
  EXPECT_EQ(describeStr(Status()), "success");
  EXPECT_EQ(describeStr(Status(Errc::kNoAcceptableMethod, "x")),
            "proxy accepts none of the offered authentication methods");
}

TEST(Describe, TruncatesAndTerminates) {
  const Status s = v5Reject(v5::Reply::kConnectionRefused);
  const std::size_t full = describeStr(s).size();
  for (std::size_t len = 1; len <= full + 1; ++len) {
    char buf[64];
    std::memset(buf, 'Z', sizeof(buf));
    EXPECT_EQ(describe(s, buf, len), buf);
    EXPECT_EQ(std::strlen(buf), len - 1);
    EXPECT_EQ(buf[len], 'Z') << "wrote past len " << len;
  }
  char untouched = 'Z';
  describe(s, &untouched, 0);
  EXPECT_EQ(untouched, 'Z');
}

}  // namespace
}  // namespace socks
