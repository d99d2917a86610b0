// session.cpp — the server side of the SOCKS4/4a/5 handshake, sans I/O.
//
// Messages are assembled in in_ with the codec parsers (which always parse
// from the start of a message): each round copies what fits of the input into
// in_ and parses; when the parser says done(n), only the bytes up to n count
// as consumed, so bytes after the message (the next message, or relay data
// after the request) are never taken.
#include "socks/server.h"

#include <errno.h>

#include <algorithm>
#include <cstring>

namespace socks {
namespace {

// RFC 1929 §2: STATUS 0x00 is success; any other value is failure.
constexpr std::uint8_t kAuthSuccess = 0x00;
constexpr std::uint8_t kAuthFailure = 0x01;

// Overwrites bytes that held a password (not optimised away, unlike memset).
void wipe(std::uint8_t* p, std::size_t n) {
  volatile std::uint8_t* v = p;
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = 0;
  }
}

}  // namespace

v5::Reply replyForErrno(int err) noexcept {
  switch (err) {
    case ECONNREFUSED:
      return v5::Reply::kConnectionRefused;
    case ENETUNREACH:
    case ENETDOWN:
      return v5::Reply::kNetworkUnreachable;
    case EHOSTUNREACH:
    case EHOSTDOWN:
      return v5::Reply::kHostUnreachable;
    case ETIMEDOUT:
      return v5::Reply::kTtlExpired;
    case EACCES:
    case EPERM:
      return v5::Reply::kNotAllowed;
    default:
      return v5::Reply::kGeneralFailure;
  }
}

ServerSession::ServerSession(const ServerOptions& options) : options_(options) {}

std::size_t ServerSession::feed(Bytes in) {
  std::size_t used = 0;
  while (state_ == State::kReading && used < in.size()) {
    if (phase_ == Phase::kVersion) {
      // The first byte picks the protocol; it stays part of the first message.
      switch (in[used]) {
        case v4::kVersion:
          phase_ = Phase::kSocks4Request;
          request_.version = v4::kVersion;
          break;
        case v5::kVersion:
          phase_ = Phase::kGreeting;
          request_.version = v5::kVersion;
          break;
        default:
          fail(Status(Errc::kMalformed, "not a SOCKS4 or SOCKS5 client"));
          return used;
      }
      continue;
    }
    const std::size_t before = in_len_;
    const std::size_t take = std::min(in.size() - used, in_.size() - in_len_);
    std::memcpy(in_.data() + in_len_, in.data() + used, take);
    in_len_ += take;
    const Parse p = parseAndHandle();
    if (p.isDone()) {
      // The parser never reports more than it was given, and it said
      // need-more for the `before` bytes it saw last time (the guard only
      // keeps a broken parser from making `used` wrap).
      used += p.n > before ? p.n - before : 0;
      in_len_ = 0;
    } else if (p.isNeedMore()) {
      used += take;
      if (in_len_ == in_.size()) {
        onMalformed("handshake message too long");
      }
    } else {
      used += take;
      onMalformed(p.reason);
    }
  }
  return used;
}

Parse ServerSession::parseAndHandle() {
  const Bytes msg(in_.data(), in_len_);
  switch (phase_) {
    case Phase::kSocks4Request: {
      Socks4Request req;
      const Parse p = parseSocks4Request(msg, req);
      if (p.isDone()) {
        onSocks4Request(req);
      }
      return p;
    }
    case Phase::kGreeting: {
      Socks5Greeting greeting;
      const Parse p = parseSocks5Greeting(msg, greeting);
      if (p.isDone()) {
        onGreeting(greeting);
      }
      return p;
    }
    case Phase::kAuth: {
      Socks5AuthRequest auth;
      const Parse p = parseSocks5AuthRequest(msg, auth);
      if (!p.isNeedMore()) {
        if (p.isDone()) {
          onAuth(auth);
        }
        // The buffer held the password: do not leave it lying around.
        wipe(in_.data(), in_.size());
      }
      return p;
    }
    case Phase::kRequest: {
      Socks5Request req;
      const Parse p = parseSocks5Request(msg, req);
      if (p.isDone()) {
        onSocks5Request(req);
      }
      return p;
    }
    case Phase::kVersion:
    case Phase::kDone:
      break;
  }
  return Parse::malformed("no message expected");
}

// SOCKS4: | VN=4 | CD | DSTPORT | DSTIP | USERID | NUL | (SOCKS4A: NAME | NUL).
void ServerSession::onSocks4Request(const Socks4Request& req) {
  phase_ = Phase::kDone;
  request_.cmd = req.cmd;
  request_.dst = req.dst;
  setUser(req.userid);
  if (options_.authenticator != nullptr) {
    // SOCKS4 carries no password: with authentication required it is refused.
    queueReply(false, v5::Reply::kNotAllowed, Address());
    fail(Status::rejected(v4::kVersion, static_cast<std::uint8_t>(v4::Reply::kRejected),
                          "SOCKS4 cannot authenticate, and authentication is required"));
    return;
  }
  if (!commandEnabled(req.cmd)) {
    queueReply(false, v5::Reply::kCommandNotSupported, Address());
    fail(Status(Errc::kUnsupported, "command not supported"));
    return;
  }
  state_ = State::kAwaitingDecision;
}

// RFC 1928 §3: the server selects one of the methods offered, or 0xFF.
void ServerSession::onGreeting(const Socks5Greeting& greeting) {
  const v5::Method wanted =
      options_.authenticator != nullptr ? v5::Method::kUserPass : v5::Method::kNoAuth;
  const bool offered = std::find(greeting.methods.begin(), greeting.methods.end(),
                                 static_cast<std::uint8_t>(wanted)) != greeting.methods.end();
  method_ = offered ? wanted : v5::Method::kNoAcceptable;
  std::uint8_t msg[2];
  if (auto n = encodeSocks5MethodSelection(msg, method_); n.ok()) {
    append(Bytes(msg, *n));
  }
  if (!offered) {
    // "If the selected METHOD is X'FF', ... the client MUST close the connection."
    phase_ = Phase::kDone;
    fail(Status(Errc::kNoAcceptableMethod, "client offers no acceptable method"));
    return;
  }
  phase_ = wanted == v5::Method::kUserPass ? Phase::kAuth : Phase::kRequest;
}

// RFC 1929 §2: a STATUS other than 0 means the server closes the connection.
void ServerSession::onAuth(const Socks5AuthRequest& auth) {
  setUser(auth.user);
  const bool ok = options_.authenticator->check(auth.user, auth.password);
  std::uint8_t msg[2];
  if (auto n = encodeSocks5AuthReply(msg, ok ? kAuthSuccess : kAuthFailure); n.ok()) {
    append(Bytes(msg, *n));
  }
  if (!ok) {
    phase_ = Phase::kDone;
    fail(Status(Errc::kAuthFailed, "user name or password rejected"));
    return;
  }
  phase_ = Phase::kRequest;
}

// RFC 1928 §4.
void ServerSession::onSocks5Request(const Socks5Request& req) {
  phase_ = Phase::kDone;
  request_.cmd = req.cmd;
  request_.dst = req.dst;
  if (!commandEnabled(req.cmd)) {
    queueReply(false, v5::Reply::kCommandNotSupported, Address());
    fail(Status(Errc::kUnsupported, "command not supported"));
    return;
  }
  state_ = State::kAwaitingDecision;
}

void ServerSession::onMalformed(const char* why) {
  const Phase phase = phase_;
  phase_ = Phase::kDone;
  if (phase == Phase::kRequest) {
    // RFC 1928 §6: an unknown CMD gets 0x07, an unknown ATYP 0x08; any other
    // broken request a general failure. The client has spoken SOCKS5 so far,
    // so it can read the reply.
    v5::Reply reply = v5::Reply::kGeneralFailure;
    if (why == reason::kUnknownCommand) {
      reply = v5::Reply::kCommandNotSupported;
    } else if (why == reason::kUnknownAddressType) {
      reply = v5::Reply::kAddressTypeNotSupported;
    }
    queueReply(false, reply, Address());
  } else if (phase == Phase::kSocks4Request) {
    // The SOCKS4 document has one failure code for everything: 91.
    queueReply(false, v5::Reply::kGeneralFailure, Address());
  }
  // A broken greeting or RFC 1929 request: nothing sensible to answer; close.
  fail(Status(Errc::kMalformed, why));
}

bool ServerSession::commandEnabled(Command cmd) const {
  switch (cmd) {
    case Command::kConnect:
      return true;
    case Command::kBind:
      return options_.allow_bind;
    case Command::kUdpAssociate:
      // SOCKS4 has no UDP ASSOCIATE (its parser never yields it).
      return options_.allow_udp_associate && request_.version == v5::kVersion;
  }
  return false;
}

void ServerSession::setUser(std::string_view user) {
  user_len_ = std::min(user.size(), user_.size());
  std::copy_n(user.data(), user_len_, user_.data());
  request_.user = std::string_view(user_.data(), user_len_);
}

void ServerSession::grant(const Address& bound) {
  if (state_ == State::kAwaitingDecision) {
    queueReply(true, v5::Reply::kSucceeded, bound);
    const bool bind = request_.cmd == Command::kBind;
    state_ = bind ? State::kAwaitingSecond : State::kEstablished;
  } else if (state_ == State::kAwaitingSecond) {
    queueReply(true, v5::Reply::kSucceeded, bound);
    state_ = State::kEstablished;
  }
}

void ServerSession::refuse(v5::Reply reply) {
  if (state_ != State::kAwaitingDecision && state_ != State::kAwaitingSecond) {
    return;
  }
  if (reply == v5::Reply::kSucceeded) {
    reply = v5::Reply::kGeneralFailure;  // a refusal is never "succeeded"
  }
  queueReply(false, reply, Address());
  if (request_.version == v4::kVersion) {
    fail(Status::rejected(v4::kVersion, static_cast<std::uint8_t>(v4::Reply::kRejected),
                          v5::replyName(reply)));
  } else {
    fail(Status::rejected(v5::kVersion, static_cast<std::uint8_t>(reply), v5::replyName(reply)));
  }
}

void ServerSession::queueReply(bool success, v5::Reply code, const Address& bound) {
  std::uint8_t msg[v5::kMaxReply];
  if (request_.version == v4::kVersion) {
    // SOCKS4 replies carry an IPv4 DSTIP only; anything else goes as 0.0.0.0
    // with the port (on CONNECT the client ignores both).
    Address bound4 = bound;
    if (bound.type != Address::Type::kIPv4 && bound.type != Address::Type::kNone) {
      bound4 = Address::ipv4(std::uint32_t{0}, bound.port);
    }
    const v4::Reply cd = success ? v4::Reply::kGranted : v4::Reply::kRejected;
    if (auto n = encodeSocks4Reply(msg, cd, bound4); n.ok()) {
      append(Bytes(msg, *n));
    }
    return;
  }
  auto n = encodeSocks5Reply(msg, code, bound);
  if (!n.ok()) {
    n = encodeSocks5Reply(msg, code, Address());  // cannot fail: 0.0.0.0:0
  }
  if (n.ok()) {
    append(Bytes(msg, *n));
  }
}

void ServerSession::append(Bytes bytes) {
  if (out_sent_ == out_len_) {
    out_sent_ = 0;
    out_len_ = 0;
  }
  // Sized for the longest sequence the protocol allows (see server.h); an
  // owner that never writes cannot make this overflow more than once.
  const std::size_t n = std::min(bytes.size(), out_.size() - out_len_);
  std::memcpy(out_.data() + out_len_, bytes.data(), n);
  out_len_ += n;
}

void ServerSession::markSent(std::size_t n) {
  out_sent_ = std::min(out_len_, out_sent_ + n);
  if (out_sent_ == out_len_) {
    out_sent_ = 0;
    out_len_ = 0;
  }
}

void ServerSession::fail(Status status) {
  status_ = status;
  state_ = State::kFailed;
  in_len_ = 0;
}

}  // namespace socks
