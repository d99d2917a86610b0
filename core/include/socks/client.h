// socks/client.h — the client handshake as a sans-I/O state machine.
//
// One ClientHandshake talks to one proxy: greeting, method selection, RFC 1929
// authentication, the request, the reply — and for BIND the second reply. It
// never touches a socket. The driver loop (net::runHandshake, the fuzzers, the
// tests, --check) is:
//
//   while (state is kSending or kReceiving or kAwaitingSecond):
//     write pendingOutput(), then markSent(bytes written)
//     read exactly wantRead() bytes (never more), then feed(them)
//
// wantRead() is the exact number of bytes still missing from the current
// reply, so a driver that reads only that many never takes bytes that the
// destination sent after the handshake. A chain is driven hop by hop over the
// same descriptor: hop i's handshake asks for hop i+1's address.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "socks/address.h"
#include "socks/codec.h"
#include "socks/proxy.h"
#include "socks/status.h"

namespace socks {

class ClientHandshake {
 public:
  enum class State : std::uint8_t {
    kSending,          // pendingOutput() is not empty
    kReceiving,        // waiting for wantRead() bytes of a reply
    kAwaitingSecond,   // BIND: first reply done (bound() valid), waiting for the second
    kDone,             // success: bound() (and for BIND peer()) are valid
    kFailed,           // status() says why
  };

  // user/password: for SOCKS5 they enable method 0x02 (RFC 1929); for SOCKS4
  // and 4a the user is the USERID. The views must outlive the handshake.
  // A domain dst with kSocks4 or kSocks5 is still sent as a domain (4a / ATYP 3):
  // resolving first is the caller's choice. An IPv6 dst over SOCKS4 fails at
  // once with kUnsupported.
  ClientHandshake(ProxyKind kind, Command cmd, const Address& dst, std::string_view user = {},
                  std::string_view password = {}, bool has_credentials = false);

  State state() const { return state_; }
  bool finished() const { return state_ == State::kDone || state_ == State::kFailed; }

  // Bytes to write next; empty unless state() == kSending.
  Bytes pendingOutput() const;
  void markSent(std::size_t n);

  // Exact number of bytes needed next; 0 unless kReceiving or kAwaitingSecond.
  std::size_t wantRead() const;
  // Feed received bytes; returns the number of bytes consumed. The handshake
  // takes only what its replies need (for BIND both replies, if present) and
  // leaves the rest unconsumed: bytes past the last reply belong to the
  // application, and so do bytes given while nothing is wanted (0 returned).
  // A malformed reply makes the state kFailed (status() kMalformed).
  std::size_t feed(Bytes in);

  const Status& status() const { return status_; }
  // BND of the (first) reply. For BIND an all-zero address means "the proxy's
  // own address" (SOCKS4, RFC 1928 §6): the driver substitutes it.
  const Address& bound() const { return bound_; }
  const Address& peer() const { return peer_; }    // BIND: the second reply's address
  // The SOCKS5 method the server chose (for logs and --check).
  v5::Method method() const { return method_; }

 private:
  enum class Phase : std::uint8_t { kGreeting, kAuth, kRequest, kFirstReply, kSecondReply };

  void fail(Status status);
  void startRequest();
  void onMessage();
  void onReply();
  // Runs the codec of the message awaited in phase_ over in_[0, in_len_).
  Parse parseCurrent();

  ProxyKind kind_;
  Command cmd_;
  Address dst_;
  std::string_view user_;
  std::string_view password_;
  bool has_credentials_;

  State state_ = State::kSending;
  Phase phase_ = Phase::kGreeting;
  Status status_;
  Address bound_;
  Address peer_;
  v5::Method method_ = v5::Method::kNoAuth;
  std::uint8_t auth_status_ = 0;   // RFC 1929 STATUS of the auth reply
  std::uint8_t reply_code_ = 0;    // REP / CD of the reply just parsed
  Address reply_addr_;             // BND of the reply just parsed

  std::array<std::uint8_t, kMaxMessage> out_{};
  std::size_t out_len_ = 0;
  std::size_t out_sent_ = 0;
  std::array<std::uint8_t, v5::kMaxReply> in_{};
  std::size_t in_len_ = 0;
  std::size_t in_need_ = 0;  // total bytes the current message needs so far
};

}  // namespace socks
