// client.cpp — ClientHandshake, the sans-I/O SOCKS4/4a/5 client session.
//
// Message order (one proxy):
//   SOCKS4/4a: request -> reply [-> second reply for BIND]
//   SOCKS5:    greeting -> method selection [-> RFC 1929 request -> status]
//              -> request -> reply [-> second reply for BIND]
// Every message is built in out_ and every reply collected in in_, both fixed
// arrays: the handshake never allocates. The number of bytes a reply still
// needs always comes from the codec's needMore(at_least), so wantRead() never
// asks for a byte past the end of the current reply.
#include "socks/client.h"

#include <algorithm>
#include <cstring>

namespace socks {
namespace {

constexpr std::size_t kMaxCredential = 255;  // RFC 1929 §2: ULEN/PLEN are one byte

bool validCredential(std::string_view s) {
  return !s.empty() && s.size() <= kMaxCredential;
}

}  // namespace

ClientHandshake::ClientHandshake(ProxyKind kind, Command cmd, const Address& dst,
                                 std::string_view user, std::string_view password,
                                 bool has_credentials)
    : kind_(kind),
      cmd_(cmd),
      dst_(dst),
      user_(user),
      password_(password),
      has_credentials_(has_credentials) {
  if (!isSocks5(kind_)) {
    if (dst_.type == Address::Type::kIPv6) {
      fail(Status(Errc::kUnsupported, "SOCKS4 cannot carry an IPv6 destination"));
      return;
    }
    if (cmd_ == Command::kUdpAssociate) {
      fail(Status(Errc::kUnsupported, "SOCKS4 has no UDP ASSOCIATE"));
      return;
    }
    // SOCKS4 has no greeting: the request goes first, the USERID in it.
    startRequest();
    return;
  }
  if (has_credentials_ && (!validCredential(user_) || !validCredential(password_))) {
    fail(Status(Errc::kInvalidArgument, "SOCKS5 user name and password must be 1 to 255 bytes"));
    return;
  }
  // RFC 1928 §3: offer "no authentication", plus RFC 1929 when we have credentials.
  const v5::Method with_auth[] = {v5::Method::kNoAuth, v5::Method::kUserPass};
  const std::span<const v5::Method> methods(with_auth, has_credentials_ ? 2 : 1);
  auto n = encodeSocks5Greeting(out_, methods);
  if (!n.ok()) {
    fail(n.status());
    return;
  }
  out_len_ = *n;
  phase_ = Phase::kGreeting;
  state_ = State::kSending;
}

Bytes ClientHandshake::pendingOutput() const {
  if (state_ != State::kSending) {
    return {};
  }
  return Bytes(out_.data() + out_sent_, out_len_ - out_sent_);
}

void ClientHandshake::markSent(std::size_t n) {
  if (state_ != State::kSending) {
    return;
  }
  out_sent_ += std::min(n, out_len_ - out_sent_);
  if (out_sent_ < out_len_) {
    return;
  }
  // The whole message is out: wait for its answer.
  out_len_ = 0;
  out_sent_ = 0;
  if (phase_ == Phase::kRequest) {
    phase_ = Phase::kFirstReply;
  }
  state_ = State::kReceiving;
  in_len_ = 0;
  in_need_ = 0;
  // Ask the codec how much an empty reply needs (the fixed prefix).
  Parse p = parseCurrent();
  in_need_ = p.isNeedMore() ? p.n : 0;
}

std::size_t ClientHandshake::wantRead() const {
  if (state_ != State::kReceiving && state_ != State::kAwaitingSecond) {
    return 0;
  }
  return in_need_ > in_len_ ? in_need_ - in_len_ : 0;
}

std::size_t ClientHandshake::feed(Bytes in) {
  std::size_t consumed = 0;
  // Each pass either consumes at least one byte or stops: bounded by in.size().
  while (consumed < in.size()) {
    const std::size_t want = wantRead();
    if (want == 0) {
      break;
    }
    const std::size_t take = std::min(want, in.size() - consumed);
    std::memcpy(in_.data() + in_len_, in.data() + consumed, take);
    in_len_ += take;
    consumed += take;
    Parse p = parseCurrent();
    if (p.isMalformed()) {
      fail(Status(Errc::kMalformed, p.reason));
      break;
    }
    if (p.isNeedMore()) {
      if (p.n <= in_len_ || p.n > in_.size()) {
        // A codec that asks for nothing new, or more than any reply holds.
        fail(Status(Errc::kMalformed, "reply does not fit the handshake buffer"));
        break;
      }
      in_need_ = p.n;
      continue;
    }
    onMessage();
  }
  return consumed;
}

void ClientHandshake::fail(Status status) {
  status_ = status;
  state_ = State::kFailed;
  out_len_ = 0;
  out_sent_ = 0;
  in_need_ = 0;
}

void ClientHandshake::startRequest() {
  Result<std::size_t> n = isSocks5(kind_) ? encodeSocks5Request(out_, cmd_, dst_)
                                          : encodeSocks4Request(out_, cmd_, dst_, user_);
  if (!n.ok()) {
    fail(n.status());
    return;
  }
  out_len_ = *n;
  out_sent_ = 0;
  phase_ = Phase::kRequest;
  state_ = State::kSending;
}

Parse ClientHandshake::parseCurrent() {
  const Bytes have(in_.data(), in_len_);
  switch (phase_) {
    case Phase::kGreeting:
      return parseSocks5MethodSelection(have, method_);
    case Phase::kAuth:
      return parseSocks5AuthReply(have, auth_status_);
    case Phase::kRequest:
    case Phase::kFirstReply:
    case Phase::kSecondReply:
      if (isSocks5(kind_)) {
        Socks5Reply reply;
        Parse p = parseSocks5Reply(have, reply);
        reply_code_ = reply.code;
        reply_addr_ = reply.bound;
        return p;
      } else {
        Socks4Reply reply;
        Parse p = parseSocks4Reply(have, reply);
        reply_code_ = reply.code;
        reply_addr_ = reply.bound;
        return p;
      }
  }
  return Parse::malformed("handshake in an unknown phase");
}

void ClientHandshake::onMessage() {
  in_len_ = 0;
  in_need_ = 0;
  switch (phase_) {
    case Phase::kGreeting:
      // RFC 1928 §3: 0xFF means none of ours is acceptable; the client closes.
      if (method_ == v5::Method::kNoAcceptable) {
        fail(Status(Errc::kNoAcceptableMethod, "proxy accepts none of the offered methods"));
        return;
      }
      if (method_ == v5::Method::kNoAuth) {
        startRequest();
        return;
      }
      if (method_ == v5::Method::kUserPass && has_credentials_) {
        // RFC 1929 §2: the username/password sub-negotiation.
        auto n = encodeSocks5AuthRequest(out_, user_, password_);
        if (!n.ok()) {
          fail(n.status());
          return;
        }
        out_len_ = *n;
        out_sent_ = 0;
        phase_ = Phase::kAuth;
        state_ = State::kSending;
        return;
      }
      fail(Status(Errc::kMalformed, "server chose a method we did not offer"));
      return;
    case Phase::kAuth:
      // RFC 1929 §2: STATUS 0 is success, anything else failure.
      if (auth_status_ != 0) {
        fail(Status(Errc::kAuthFailed, "proxy rejected the username/password"));
        return;
      }
      startRequest();
      return;
    case Phase::kRequest:
    case Phase::kFirstReply:
    case Phase::kSecondReply:
      onReply();
      return;
  }
}

void ClientHandshake::onReply() {
  const bool second = phase_ == Phase::kSecondReply;
  if (isSocks5(kind_)) {
    // RFC 1928 §6: REP 0 is success; any other code ends the handshake.
    if (reply_code_ != static_cast<std::uint8_t>(v5::Reply::kSucceeded)) {
      fail(Status::rejected(
          v5::kVersion, reply_code_,
          second ? "SOCKS5 BIND: incoming connection failed" : "SOCKS5 request rejected"));
      return;
    }
  } else if (reply_code_ != static_cast<std::uint8_t>(v4::Reply::kGranted)) {
    // SOCKS4: CD 90 is granted; 91..93 (or anything else) a refusal.
    fail(Status::rejected(
        v4::kVersion, reply_code_,
        second ? "SOCKS4 BIND: incoming connection refused" : "SOCKS4 request rejected"));
    return;
  }
  if (second) {
    peer_ = reply_addr_;
    state_ = State::kDone;
    return;
  }
  bound_ = reply_addr_;
  if (cmd_ == Command::kBind) {
    // SOCKS4 / RFC 1928 §6: BIND answers twice; the second reply names the peer.
    phase_ = Phase::kSecondReply;
    state_ = State::kAwaitingSecond;
    Parse p = parseCurrent();
    in_need_ = p.isNeedMore() ? p.n : 0;
    return;
  }
  state_ = State::kDone;
}

}  // namespace socks
