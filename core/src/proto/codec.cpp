// codec.cpp — SOCKS4/4a, SOCKS5 (RFC 1928) and RFC 1929 codecs.
//
// All parsing goes through Reader and all encoding through Writer: both check
// every length against the span they wrap, so no function here indexes a raw
// pointer. Parsers validate each field as soon as it has arrived, so a bad
// version byte is reported after one byte, not after the whole message.
#include "socks/codec.h"

#include <algorithm>
#include <cstring>

namespace socks {
namespace {

// SOCKS5 ATYP values (RFC 1928 §4/§5) as wire bytes.
enum class Atyp : std::uint8_t { kIPv4 = 0x01, kDomain = 0x03, kIPv6 = 0x04 };

constexpr std::size_t kIPv4Len = 4;
constexpr std::size_t kIPv6Len = 16;
constexpr std::size_t kPortLen = 2;
constexpr std::uint8_t kReserved = 0x00;
// RFC 1928 §6: VER REP RSV ATYP + the first address byte (for a domain, its
// length) tell the size of a reply or request; every one is longer than this.
constexpr std::size_t kSocks5SizeKnownAt = 5;
// SOCKS4 request: VN CD DSTPORT(2) DSTIP(4) before USERID.
constexpr std::size_t kSocks4FixedLen = 8;
// SOCKS4A: DSTIP 0.0.0.x with x != 0 — we send x = 1.
constexpr std::uint8_t kSocks4aMarker[kIPv4Len] = {0, 0, 0, 1};
// RFC 1928 §3 / RFC 1929 §2: VER and a count or status byte.
constexpr std::size_t kTwoByteMessage = 2;
constexpr std::size_t kMaxField = 255;  // one length byte

constexpr Status kBufferTooSmall(Errc::kInvalidArgument, "output buffer too small");

// ---- reading ------------------------------------------------------------------

// A length-checked cursor over the received bytes. A read that does not fit
// returns false and remembers the total input size it would have needed.
class Reader {
 public:
  explicit Reader(Bytes in) : in_(in) {}

  bool u8(std::uint8_t& v) {
    if (!ensure(1)) {
      return false;
    }
    v = in_[pos_++];
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (!ensure(2)) {
      return false;
    }
    v = static_cast<std::uint16_t>((in_[pos_] << 8) | in_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  // Succeeds when n more bytes are present; reads nothing.
  bool require(std::size_t n) { return ensure(n); }
  bool take(std::size_t n, Bytes& v) {
    if (!ensure(n)) {
      return false;
    }
    v = in_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  template <std::size_t N>
  bool copy(std::uint8_t (&dst)[N]) {
    Bytes b;
    if (!take(N, b)) {
      return false;
    }
    std::copy(b.begin(), b.end(), dst);
    return true;
  }

  enum class Scan : std::uint8_t { kFound, kShort, kTooLong };
  // A NUL-terminated string of at most max_len bytes (the NUL excluded). On
  // kFound the cursor is past the NUL; kShort records need() as one byte more
  // than we have (the terminator cannot be predicted further ahead).
  Scan cString(std::size_t max_len, std::string_view& v) {
    const std::size_t avail = in_.size() - pos_;
    const std::size_t limit = std::min(avail, max_len + 1);
    for (std::size_t i = 0; i < limit; ++i) {
      if (in_[pos_ + i] == 0) {
        v = std::string_view(reinterpret_cast<const char*>(in_.data() + pos_), i);
        pos_ += i + 1;
        return Scan::kFound;
      }
    }
    if (limit == max_len + 1) {
      return Scan::kTooLong;
    }
    need_ = in_.size() + 1;
    return Scan::kShort;
  }

  std::size_t pos() const { return pos_; }
  // The total number of bytes the last failed read needed, at least floor.
  Parse needMore(std::size_t floor = 0) const { return Parse::needMore(std::max(need_, floor)); }

 private:
  bool ensure(std::size_t n) {
    if (in_.size() - pos_ < n) {
      need_ = pos_ + n;
      return false;
    }
    return true;
  }

  Bytes in_;
  std::size_t pos_ = 0;
  std::size_t need_ = 0;
};

std::string_view asText(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

enum class Step : std::uint8_t { kOk, kShort, kBad };

// RFC 1928 §5: ATYP, DST.ADDR and DST.PORT (the ATYP byte already read).
// kBad sets why.
Step readAddress(Reader& r, std::uint8_t atyp, Address& out, const char*& why) {
  switch (static_cast<Atyp>(atyp)) {
    case Atyp::kIPv4: {
      std::uint8_t ip[kIPv4Len];
      std::uint16_t port;
      if (!r.require(kIPv4Len + kPortLen) || !r.copy(ip) || !r.u16(port)) {
        return Step::kShort;
      }
      out = Address::ipv4(ip, port);
      return Step::kOk;
    }
    case Atyp::kIPv6: {
      std::uint8_t ip[kIPv6Len];
      std::uint16_t port;
      if (!r.require(kIPv6Len + kPortLen) || !r.copy(ip) || !r.u16(port)) {
        return Step::kShort;
      }
      out = Address::ipv6(ip, port);
      return Step::kOk;
    }
    case Atyp::kDomain: {
      std::uint8_t len;
      if (!r.u8(len)) {
        return Step::kShort;
      }
      if (len == 0) {
        why = "zero-length domain name";
        return Step::kBad;
      }
      Bytes name;
      std::uint16_t port;
      if (!r.require(len + kPortLen) || !r.take(len, name) || !r.u16(port)) {
        return Step::kShort;
      }
      auto addr = Address::domainName(asText(name), port);
      if (!addr.ok()) {
        why = "domain name contains a NUL byte";
        return Step::kBad;
      }
      out = *addr;
      return Step::kOk;
    }
  }
  why = reason::kUnknownAddressType;
  return Step::kBad;
}

// RFC 1928 §4 (request) and §6 (reply) share one layout:
//   | VER=5 | CMD or REP | RSV=0 | ATYP | ADDR | PORT |
// validate_code checks the second byte (requests: a known CMD).
template <class CodeCheck>
Parse parseSocks5Message(Bytes in, std::uint8_t& code, Address& addr, CodeCheck validate_code) {
  Reader r(in);
  std::uint8_t ver;
  std::uint8_t rsv;
  std::uint8_t atyp;
  if (!r.u8(ver)) {
    return r.needMore(kSocks5SizeKnownAt);
  }
  if (ver != v5::kVersion) {
    return Parse::malformed("SOCKS5 version byte is not 5");
  }
  if (!r.u8(code)) {
    return r.needMore(kSocks5SizeKnownAt);
  }
  if (const char* why = validate_code(code); why != nullptr) {
    return Parse::malformed(why);
  }
  if (!r.u8(rsv)) {
    return r.needMore(kSocks5SizeKnownAt);
  }
  if (rsv != kReserved) {
    return Parse::malformed("SOCKS5 reserved byte is not 0");
  }
  if (!r.u8(atyp)) {
    return r.needMore(kSocks5SizeKnownAt);
  }
  const char* why = "";
  switch (readAddress(r, atyp, addr, why)) {
    case Step::kOk:
      return Parse::done(r.pos());
    case Step::kShort:
      return r.needMore(kSocks5SizeKnownAt);
    case Step::kBad:
      break;
  }
  return Parse::malformed(why);
}

bool isSocks4Command(std::uint8_t cd) {
  return cd == static_cast<std::uint8_t>(Command::kConnect) ||
         cd == static_cast<std::uint8_t>(Command::kBind);
}

bool isSocks5Command(std::uint8_t cmd) {
  return isSocks4Command(cmd) || cmd == static_cast<std::uint8_t>(Command::kUdpAssociate);
}

// ---- writing ------------------------------------------------------------------

// A length-checked cursor over the caller's output buffer. Writes past the end
// are dropped and remembered; finish() then reports the buffer as too small.
class Writer {
 public:
  explicit Writer(MutableBytes out) : out_(out) {}

  void u8(std::uint8_t v) {
    if (room(1)) {
      out_[pos_++] = v;
    }
  }
  void u16(std::uint16_t v) {
    u8(static_cast<std::uint8_t>(v >> 8));
    u8(static_cast<std::uint8_t>(v & 0xff));
  }
  void bytes(const std::uint8_t* p, std::size_t n) {
    if (n != 0 && room(n)) {  // n == 0: p may be null (an empty view)
      std::memcpy(out_.data() + pos_, p, n);
      pos_ += n;
    }
  }
  void text(std::string_view s) {
    bytes(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  }

  Result<std::size_t> finish() const {
    if (overflow_) {
      return kBufferTooSmall;
    }
    return pos_;
  }

 private:
  bool room(std::size_t n) {
    if (overflow_ || out_.size() - pos_ < n) {
      overflow_ = true;
      return false;
    }
    return true;
  }

  MutableBytes out_;
  std::size_t pos_ = 0;
  bool overflow_ = false;
};

// RFC 1928 §5: ATYP DST.ADDR DST.PORT. kNone is written as 0.0.0.0 with the
// given port (RFC 1928 §6/§7 use all-zero addresses for "unknown").
Status writeAddress(Writer& w, const Address& a) {
  switch (a.type) {
    case Address::Type::kNone:
    case Address::Type::kIPv4:
      w.u8(static_cast<std::uint8_t>(Atyp::kIPv4));
      w.bytes(a.ip.data(), kIPv4Len);  // all zero for kNone
      break;
    case Address::Type::kIPv6:
      w.u8(static_cast<std::uint8_t>(Atyp::kIPv6));
      w.bytes(a.ip.data(), kIPv6Len);
      break;
    case Address::Type::kDomain:
      if (a.domain_len == 0) {
        return Status(Errc::kInvalidArgument, "empty host name");
      }
      if (std::find(a.domain.begin(), a.domain.begin() + a.domain_len, '\0') !=
          a.domain.begin() + a.domain_len) {
        return Status(Errc::kInvalidArgument, "host name contains a NUL byte");
      }
      w.u8(static_cast<std::uint8_t>(Atyp::kDomain));
      w.u8(a.domain_len);
      w.text(a.domainView());
      break;
    default:
      return Status(Errc::kInvalidArgument, "unknown address type");
  }
  w.u16(a.port);
  return Status();
}

}  // namespace

// ---- client side ----------------------------------------------------------------

// SOCKS4: | VN=4 | CD | DSTPORT | DSTIP | USERID | NUL |, and SOCKS4A:
// DSTIP = 0.0.0.1 and | NAME | NUL | after the USERID.
Result<std::size_t> encodeSocks4Request(MutableBytes out, Command cmd, const Address& dst,
                                        std::string_view userid) {
  if (cmd != Command::kConnect && cmd != Command::kBind) {
    return Status(Errc::kInvalidArgument, "SOCKS4 has only CONNECT and BIND");
  }
  if (userid.size() > v4::kMaxUserId) {
    return Status(Errc::kInvalidArgument, "SOCKS4 USERID longer than 255 bytes");
  }
  if (userid.find('\0') != std::string_view::npos) {
    return Status(Errc::kInvalidArgument, "SOCKS4 USERID contains a NUL byte");
  }
  const bool socks4a = dst.type == Address::Type::kDomain;
  if (dst.type == Address::Type::kIPv6) {
    return Status(Errc::kInvalidArgument, "SOCKS4 cannot carry an IPv6 address");
  }
  if (dst.type == Address::Type::kNone) {
    return Status(Errc::kInvalidArgument, "no destination address");
  }
  if (socks4a && (dst.domain_len == 0 || dst.domainView().find('\0') != std::string_view::npos)) {
    return Status(Errc::kInvalidArgument, "SOCKS4a host name is empty or contains a NUL byte");
  }
  Writer w(out);
  w.u8(v4::kVersion);
  w.u8(static_cast<std::uint8_t>(cmd));
  w.u16(dst.port);
  w.bytes(socks4a ? kSocks4aMarker : dst.ip.data(), kIPv4Len);
  w.text(userid);
  w.u8(0);
  if (socks4a) {
    w.text(dst.domainView());
    w.u8(0);
  }
  return w.finish();
}

// SOCKS4 reply: | VN=0 | CD | DSTPORT | DSTIP |, 8 bytes.
Parse parseSocks4Reply(Bytes in, Socks4Reply& out) {
  Reader r(in);
  std::uint8_t vn;
  std::uint8_t cd;
  std::uint16_t port;
  std::uint8_t ip[kIPv4Len];
  if (!r.u8(vn)) {
    return r.needMore(v4::kReplySize);
  }
  // The reply VN is 0; some servers echo 4, which we tolerate.
  if (vn != v4::kReplyVersion && vn != v4::kVersion) {
    return Parse::malformed("SOCKS4 reply version byte is not 0");
  }
  if (!r.u8(cd) || !r.u16(port) || !r.copy(ip)) {
    return r.needMore(v4::kReplySize);
  }
  out.code = cd;
  out.bound = Address::ipv4(ip, port);
  return Parse::done(r.pos());
}

// RFC 1928 §3: | VER=5 | NMETHODS | METHODS |
Result<std::size_t> encodeSocks5Greeting(MutableBytes out, std::span<const v5::Method> methods) {
  if (methods.empty() || methods.size() > kMaxField) {
    return Status(Errc::kInvalidArgument, "a SOCKS5 greeting offers 1 to 255 methods");
  }
  Writer w(out);
  w.u8(v5::kVersion);
  w.u8(static_cast<std::uint8_t>(methods.size()));
  for (v5::Method m : methods) {
    w.u8(static_cast<std::uint8_t>(m));
  }
  return w.finish();
}

// RFC 1928 §3: | VER=5 | METHOD |
Parse parseSocks5MethodSelection(Bytes in, v5::Method& out) {
  Reader r(in);
  std::uint8_t ver;
  std::uint8_t method;
  if (!r.u8(ver)) {
    return r.needMore(kTwoByteMessage);
  }
  if (ver != v5::kVersion) {
    return Parse::malformed("SOCKS5 version byte is not 5");
  }
  if (!r.u8(method)) {
    return r.needMore(kTwoByteMessage);
  }
  out = static_cast<v5::Method>(method);
  return Parse::done(r.pos());
}

// RFC 1929 §2: | VER=1 | ULEN | UNAME | PLEN | PASSWD |
Result<std::size_t> encodeSocks5AuthRequest(MutableBytes out, std::string_view user,
                                            std::string_view password) {
  if (user.empty() || user.size() > kMaxField) {
    return Status(Errc::kInvalidArgument, "RFC 1929 user name must be 1 to 255 bytes");
  }
  if (password.empty() || password.size() > kMaxField) {
    return Status(Errc::kInvalidArgument, "RFC 1929 password must be 1 to 255 bytes");
  }
  Writer w(out);
  w.u8(v5::kAuthVersion);
  w.u8(static_cast<std::uint8_t>(user.size()));
  w.text(user);
  w.u8(static_cast<std::uint8_t>(password.size()));
  w.text(password);
  return w.finish();
}

// RFC 1929 §2: | VER=1 | STATUS |. VER 5 is accepted as curl does.
Parse parseSocks5AuthReply(Bytes in, std::uint8_t& status) {
  Reader r(in);
  std::uint8_t ver;
  if (!r.u8(ver)) {
    return r.needMore(kTwoByteMessage);
  }
  if (ver != v5::kAuthVersion && ver != v5::kVersion) {
    return Parse::malformed("RFC 1929 reply version byte is not 1");
  }
  if (!r.u8(status)) {
    return r.needMore(kTwoByteMessage);
  }
  return Parse::done(r.pos());
}

// RFC 1928 §4: | VER=5 | CMD | RSV=0 | ATYP | DST.ADDR | DST.PORT |
Result<std::size_t> encodeSocks5Request(MutableBytes out, Command cmd, const Address& dst) {
  if (!isSocks5Command(static_cast<std::uint8_t>(cmd))) {
    return Status(Errc::kInvalidArgument, "unknown SOCKS5 command");
  }
  Writer w(out);
  w.u8(v5::kVersion);
  w.u8(static_cast<std::uint8_t>(cmd));
  w.u8(kReserved);
  if (Status s = writeAddress(w, dst); !s.ok()) {
    return s;
  }
  return w.finish();
}

// RFC 1928 §6: | VER=5 | REP | RSV=0 | ATYP | BND.ADDR | BND.PORT |
Parse parseSocks5Reply(Bytes in, Socks5Reply& out) {
  std::uint8_t code = 0;
  Address bound;
  Parse p =
      parseSocks5Message(in, code, bound, [](std::uint8_t) -> const char* { return nullptr; });
  if (p.isDone()) {
    out.code = code;
    out.bound = bound;
  }
  return p;
}

// ---- server side ----------------------------------------------------------------

Parse parseSocks4Request(Bytes in, Socks4Request& out) {
  Reader r(in);
  std::uint8_t vn;
  std::uint8_t cd;
  std::uint16_t port;
  std::uint8_t ip[kIPv4Len];
  if (!r.u8(vn)) {
    return r.needMore(kSocks4FixedLen);
  }
  if (vn != v4::kVersion) {
    return Parse::malformed("SOCKS4 version byte is not 4");
  }
  if (!r.u8(cd)) {
    return r.needMore(kSocks4FixedLen);
  }
  if (!isSocks4Command(cd)) {
    return Parse::malformed(reason::kUnknownCommand);
  }
  if (!r.u16(port) || !r.copy(ip)) {
    return r.needMore(kSocks4FixedLen);
  }
  std::string_view userid;
  switch (r.cString(v4::kMaxUserId, userid)) {
    case Reader::Scan::kFound:
      break;
    case Reader::Scan::kShort:
      return r.needMore();
    case Reader::Scan::kTooLong:
      return Parse::malformed("SOCKS4 USERID longer than 255 bytes");
  }
  // SOCKS4A: DSTIP 0.0.0.x with x != 0 means a host name follows the USERID.
  const bool socks4a = ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0;
  Address dst;
  if (socks4a) {
    std::string_view name;
    switch (r.cString(Address::kMaxDomain, name)) {
      case Reader::Scan::kFound:
        break;
      case Reader::Scan::kShort:
        return r.needMore();
      case Reader::Scan::kTooLong:
        return Parse::malformed("SOCKS4a host name longer than 255 bytes");
    }
    auto named = Address::domainName(name, port);
    if (!named.ok()) {
      return Parse::malformed("SOCKS4a host name is empty");
    }
    dst = *named;
  } else {
    dst = Address::ipv4(ip, port);
  }
  out.cmd = static_cast<Command>(cd);
  out.dst = dst;
  out.userid = userid;
  return Parse::done(r.pos());
}

// RFC 1928 §3: | VER=5 | NMETHODS | METHODS |
Parse parseSocks5Greeting(Bytes in, Socks5Greeting& out) {
  Reader r(in);
  std::uint8_t ver;
  std::uint8_t nmethods;
  if (!r.u8(ver)) {
    return r.needMore(kTwoByteMessage);
  }
  if (ver != v5::kVersion) {
    return Parse::malformed("SOCKS5 version byte is not 5");
  }
  if (!r.u8(nmethods)) {
    return r.needMore();
  }
  if (nmethods == 0) {
    return Parse::malformed("SOCKS5 greeting offers no methods");
  }
  Bytes methods;
  if (!r.take(nmethods, methods)) {
    return r.needMore();
  }
  out.methods = methods;
  return Parse::done(r.pos());
}

// RFC 1929 §2: | VER=1 | ULEN | UNAME | PLEN | PASSWD |
Parse parseSocks5AuthRequest(Bytes in, Socks5AuthRequest& out) {
  Reader r(in);
  std::uint8_t ver;
  std::uint8_t ulen;
  std::uint8_t plen;
  Bytes user;
  Bytes password;
  if (!r.u8(ver)) {
    return r.needMore(kTwoByteMessage);
  }
  if (ver != v5::kAuthVersion) {
    return Parse::malformed("RFC 1929 version byte is not 1");
  }
  if (!r.u8(ulen)) {
    return r.needMore();
  }
  if (ulen == 0) {
    return Parse::malformed("RFC 1929 empty user name");
  }
  // PLEN may be 0: some clients send an empty password.
  if (!r.require(ulen + 1u) || !r.take(ulen, user) || !r.u8(plen) || !r.take(plen, password)) {
    return r.needMore();
  }
  out.user = asText(user);
  out.password = asText(password);
  return Parse::done(r.pos());
}

// RFC 1928 §4: | VER=5 | CMD | RSV=0 | ATYP | DST.ADDR | DST.PORT |
Parse parseSocks5Request(Bytes in, Socks5Request& out) {
  std::uint8_t cmd = 0;
  Address dst;
  Parse p = parseSocks5Message(in, cmd, dst, [](std::uint8_t c) -> const char* {
    return isSocks5Command(c) ? nullptr : reason::kUnknownCommand;
  });
  if (p.isDone()) {
    out.cmd = static_cast<Command>(cmd);
    out.dst = dst;
  }
  return p;
}

// SOCKS4 reply: | VN=0 | CD | DSTPORT | DSTIP |
Result<std::size_t> encodeSocks4Reply(MutableBytes out, v4::Reply code, const Address& bound) {
  if (bound.type != Address::Type::kIPv4 && bound.type != Address::Type::kNone) {
    return Status(Errc::kInvalidArgument, "a SOCKS4 reply carries only IPv4");
  }
  Writer w(out);
  w.u8(v4::kReplyVersion);
  w.u8(static_cast<std::uint8_t>(code));
  w.u16(bound.type == Address::Type::kNone ? 0 : bound.port);
  w.bytes(bound.ip.data(), kIPv4Len);
  return w.finish();
}

// RFC 1928 §3: | VER=5 | METHOD |
Result<std::size_t> encodeSocks5MethodSelection(MutableBytes out, v5::Method method) {
  Writer w(out);
  w.u8(v5::kVersion);
  w.u8(static_cast<std::uint8_t>(method));
  return w.finish();
}

// RFC 1929 §2: | VER=1 | STATUS |
Result<std::size_t> encodeSocks5AuthReply(MutableBytes out, std::uint8_t status) {
  Writer w(out);
  w.u8(v5::kAuthVersion);
  w.u8(status);
  return w.finish();
}

// RFC 1928 §6: | VER=5 | REP | RSV=0 | ATYP | BND.ADDR | BND.PORT |
Result<std::size_t> encodeSocks5Reply(MutableBytes out, v5::Reply code, const Address& bound) {
  Writer w(out);
  w.u8(v5::kVersion);
  w.u8(static_cast<std::uint8_t>(code));
  w.u8(kReserved);
  if (bound.type == Address::Type::kNone) {
    if (Status s = writeAddress(w, Address()); !s.ok()) {  // 0.0.0.0:0
      return s;
    }
  } else if (Status s = writeAddress(w, bound); !s.ok()) {
    return s;
  }
  return w.finish();
}

// ---- UDP (RFC 1928 §7) ------------------------------------------------------------

// | RSV(2)=0 | FRAG=0 | ATYP | DST.ADDR | DST.PORT |
Result<std::size_t> encodeUdpHeader(MutableBytes out, const Address& addr) {
  Writer w(out);
  w.u16(kReserved);
  w.u8(0);  // FRAG: a whole datagram
  if (Status s = writeAddress(w, addr); !s.ok()) {
    return s;
  }
  return w.finish();
}

Parse parseUdpHeader(Bytes datagram, UdpHeader& out) {
  Reader r(datagram);
  std::uint16_t rsv;
  std::uint8_t frag;
  std::uint8_t atyp;
  if (!r.u16(rsv) || !r.u8(frag) || !r.u8(atyp)) {
    return Parse::malformed("UDP datagram shorter than its SOCKS5 header");
  }
  if (rsv != kReserved) {
    return Parse::malformed("UDP header reserved bytes are not 0");
  }
  Address addr;
  const char* why = "";
  switch (readAddress(r, atyp, addr, why)) {
    case Step::kOk:
      break;
    case Step::kShort:
      return Parse::malformed("UDP datagram shorter than its SOCKS5 header");
    case Step::kBad:
      return Parse::malformed(why);
  }
  out.frag = frag;
  out.addr = addr;
  out.header_len = r.pos();
  return Parse::done(r.pos());
}

}  // namespace socks
