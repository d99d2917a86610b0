// socks/codec.h — pure SOCKS4/4a/5 and RFC 1929 codecs over byte spans.
//
// No I/O, no allocation, no exceptions, no globals. Parsers are incremental:
// given the bytes received so far (always from the start of the message) they
// answer
//   Parse::done(consumed)      the message is complete and used `consumed` bytes
//   Parse::needMore(at_least)  the message needs at least `at_least` bytes in
//                              total; read exactly at_least - have more, never
//                              beyond: the bytes after a reply belong to the
//                              application (server-speaks-first protocols)
//   Parse::malformed(reason)   the bytes violate the protocol (static string)
// A parser never reads past in.size(). Views in parsed structs (userid, user,
// password, methods) point into the input span.
//
// Encoders write into the caller's buffer and return the number of bytes
// written, or kInvalidArgument when the input cannot be encoded (buffer too
// small, name or credential over 255 bytes, IPv6 over SOCKS4, ...).
//
// Wire formats: ../../../shared/PROTOCOL.md; SOCKS4 and the SOCKS4A extension
// (Ying-Da Lee), RFC 1928 (SOCKS5), RFC 1929 (username/password).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "socks/address.h"
#include "socks/status.h"

namespace socks {

using Bytes = std::span<const std::uint8_t>;
using MutableBytes = std::span<std::uint8_t>;

enum class Command : std::uint8_t { kConnect = 1, kBind = 2, kUdpAssociate = 3 };

namespace v4 {
inline constexpr std::uint8_t kVersion = 4;
inline constexpr std::uint8_t kReplyVersion = 0;  // the reply's VN is 0, not 4
enum class Reply : std::uint8_t {
  kGranted = 90,
  kRejected = 91,
  kNoIdentd = 92,
  kIdentMismatch = 93,
};
inline constexpr std::size_t kReplySize = 8;
inline constexpr std::size_t kMaxUserId = 255;  // our limit; the protocol has none
}  // namespace v4

namespace v5 {
inline constexpr std::uint8_t kVersion = 5;
enum class Method : std::uint8_t {
  kNoAuth = 0x00,
  kGssapi = 0x01,
  kUserPass = 0x02,
  kNoAcceptable = 0xFF,
};
enum class Reply : std::uint8_t {
  kSucceeded = 0x00,
  kGeneralFailure = 0x01,
  kNotAllowed = 0x02,
  kNetworkUnreachable = 0x03,
  kHostUnreachable = 0x04,
  kConnectionRefused = 0x05,
  kTtlExpired = 0x06,
  kCommandNotSupported = 0x07,
  kAddressTypeNotSupported = 0x08,
};
// The RFC 1928 §6 name of a reply code ("connection refused", ...), for logs;
// "unassigned reply code" for 0x09-0xFF.
const char* replyName(Reply reply) noexcept;
inline constexpr std::uint8_t kAuthVersion = 1;  // RFC 1929 sub-negotiation VER
// Largest messages, for buffer sizing.
inline constexpr std::size_t kMaxReply = 4 + 1 + 255 + 2;     // domain BND
inline constexpr std::size_t kMaxRequest = 4 + 1 + 255 + 2;
inline constexpr std::size_t kMaxAuthRequest = 1 + 1 + 255 + 1 + 255;
inline constexpr std::size_t kMaxGreeting = 2 + 255;
}  // namespace v5

// Largest message either side sends during a handshake (SOCKS4a request with
// a 255-byte USERID and a 255-byte name).
inline constexpr std::size_t kMaxMessage = 8 + v4::kMaxUserId + 1 + Address::kMaxDomain + 1;

struct Parse {
  enum class Kind : std::uint8_t { kDone, kNeedMore, kMalformed };
  Kind kind = Kind::kMalformed;
  std::size_t n = 0;         // done: bytes consumed; need-more: total bytes needed
  const char* reason = "";  // malformed: why

  static constexpr Parse done(std::size_t consumed) { return {Kind::kDone, consumed, ""}; }
  static constexpr Parse needMore(std::size_t at_least) { return {Kind::kNeedMore, at_least, ""}; }
  static constexpr Parse malformed(const char* why) { return {Kind::kMalformed, 0, why}; }
  constexpr bool isDone() const { return kind == Kind::kDone; }
  constexpr bool isNeedMore() const { return kind == Kind::kNeedMore; }
  constexpr bool isMalformed() const { return kind == Kind::kMalformed; }
};

// Malformed reasons a server must tell apart to pick its reply: compare
// Parse::reason with these by pointer. RFC 1928 §6: an unknown CMD is answered
// with REP 0x07, an unknown ATYP with REP 0x08 (SOCKS4: CD 91 for both).
namespace reason {
inline constexpr char kUnknownCommand[] = "unknown command";
inline constexpr char kUnknownAddressType[] = "unknown address type";
}  // namespace reason

// ---- messages ----------------------------------------------------------------

struct Socks4Request {
  Command cmd = Command::kConnect;  // kConnect or kBind
  Address dst;                      // IPv4, or a domain for SOCKS4a (DSTIP 0.0.0.x, x != 0)
  std::string_view userid;          // may be empty
};

struct Socks4Reply {
  std::uint8_t code = 0;  // v4::Reply
  Address bound;          // IPv4 (DSTIP/DSTPORT of the reply)
};

struct Socks5Greeting {
  Bytes methods;  // 1..255 method bytes
};

struct Socks5AuthRequest {
  std::string_view user;      // 1..255 bytes
  std::string_view password;  // 1..255 bytes (0 accepted on parse: some clients send it)
};

struct Socks5Request {
  Command cmd = Command::kConnect;
  Address dst;
};

struct Socks5Reply {
  std::uint8_t code = 0;  // v5::Reply
  Address bound;
};

// RFC 1928 §7: | RSV(2)=0 | FRAG | ATYP | DST.ADDR | DST.PORT | DATA |
struct UdpHeader {
  std::uint8_t frag = 0;
  Address addr;
  std::size_t header_len = 0;  // DATA starts here
};

// ---- client side: encode requests, parse replies ----------------------------

// SOCKS4 request; a domain dst makes it SOCKS4a (DSTIP 0.0.0.1, name after USERID).
Result<std::size_t> encodeSocks4Request(MutableBytes out, Command cmd, const Address& dst,
                                        std::string_view userid);
// Version 0 expected (version 4 is tolerated: some servers send it); reserved
// bytes of a failure reply are not checked.
Parse parseSocks4Reply(Bytes in, Socks4Reply& out);

Result<std::size_t> encodeSocks5Greeting(MutableBytes out, std::span<const v5::Method> methods);
Parse parseSocks5MethodSelection(Bytes in, v5::Method& out);

Result<std::size_t> encodeSocks5AuthRequest(MutableBytes out, std::string_view user,
                                            std::string_view password);
// Accepts VER 1 and, like curl, VER 5. status: 0 success, anything else failure.
Parse parseSocks5AuthReply(Bytes in, std::uint8_t& status);

Result<std::size_t> encodeSocks5Request(MutableBytes out, Command cmd, const Address& dst);
// Size known after 5 bytes; a failure reply is still parsed whole.
Parse parseSocks5Reply(Bytes in, Socks5Reply& out);

// ---- server side: parse requests, encode replies ----------------------------

// The first byte decides the protocol: 4 or 5.
Parse parseSocks4Request(Bytes in, Socks4Request& out);
Parse parseSocks5Greeting(Bytes in, Socks5Greeting& out);
Parse parseSocks5AuthRequest(Bytes in, Socks5AuthRequest& out);
Parse parseSocks5Request(Bytes in, Socks5Request& out);

// bound must be IPv4 (or kNone for 0.0.0.0:0).
Result<std::size_t> encodeSocks4Reply(MutableBytes out, v4::Reply code, const Address& bound);
Result<std::size_t> encodeSocks5MethodSelection(MutableBytes out, v5::Method method);
Result<std::size_t> encodeSocks5AuthReply(MutableBytes out, std::uint8_t status);
// bound of type kNone encodes as IPv4 0.0.0.0:0.
Result<std::size_t> encodeSocks5Reply(MutableBytes out, v5::Reply code, const Address& bound);

// ---- UDP (RFC 1928 §7) -------------------------------------------------------

Result<std::size_t> encodeUdpHeader(MutableBytes out, const Address& addr);
// A datagram is whole or nothing: truncation is malformed, never need-more.
Parse parseUdpHeader(Bytes datagram, UdpHeader& out);

}  // namespace socks
