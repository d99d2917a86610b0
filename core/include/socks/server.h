// socks/server.h — the server side of a SOCKS handshake as a sans-I/O state
// machine (the mirror of ClientHandshake in client.h).
//
// One ServerSession serves one client connection: it reads the first byte to
// tell SOCKS4/4a from SOCKS5, does SOCKS5 method selection and RFC 1929
// username/password authentication, parses the request and then *asks its
// owner* to act. It never touches a socket, a clock or a resolver. The driver
// loop (socksd, the tests, the fuzzers) is:
//
//   while (state() == kReading):
//     n = feed(received bytes)        // n = bytes that belonged to the handshake
//     write pendingOutput(), then markSent(bytes written)
//   state() == kAwaitingDecision: look at request(), do the work, then
//     grant(bound) or refuse(reply code)
//   BIND only, kAwaitingSecond: when the incoming connection arrives (or not),
//     grant(peer) or refuse(reply code) again: that is the second reply
//   kEstablished: write what is left of pendingOutput(), then relay
//   kFailed: write what is left of pendingOutput(), then close (status() says why)
//
// feed() consumes exactly the bytes of the handshake messages and stops at the
// end of the request: bytes a client pipelines after its request (the first
// bytes of the application protocol) are not consumed, and belong to the relay.
// feed() never looks past in.size().
//
// Reply codes are given in the SOCKS5 vocabulary (v5::Reply, RFC 1928 §6);
// for SOCKS4 every failure becomes 91 (request rejected or failed), the only
// code of the SOCKS4 document that is not about identd.
//
// The end of this header holds the server's policy inputs: AddressRange
// (client and destination rules), UserTable (an Authenticator over a users
// file) and HostTable (names resolved before DNS), then the pure parts of a
// UDP ASSOCIATE relay (RFC 1928 §7): UdpClientFilter (which datagrams are
// the client's), checkClientDatagram() and UdpNameCache (destination names).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "socks/address.h"
#include "socks/codec.h"
#include "socks/status.h"

namespace socks {

// RFC 1929 credential check. Implementations are called on the session
// owner's thread, synchronously from feed(): they must not block.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // True when user/password is a valid pair. The views are valid for the call
  // only; the password must not be kept or logged.
  virtual bool check(std::string_view user, std::string_view password) const = 0;
};

struct ServerOptions {
  // Non-null: SOCKS5 clients must authenticate with username/password
  // (RFC 1929, method 0x02); a client that does not offer it gets 0xFF (no
  // acceptable method). SOCKS4 has no way to carry a password, so SOCKS4 and
  // 4a requests are refused (91). Null: method 0x00 (no authentication) only.
  // The authenticator must outlive the session.
  const Authenticator* authenticator = nullptr;
  // Commands the owner is able to carry out. A request for another command is
  // refused by the session itself (SOCKS5 0x07 command not supported, SOCKS4
  // 91) without reaching the owner. CONNECT is always enabled.
  bool allow_bind = false;
  bool allow_udp_associate = false;
};

// What the client asked for, valid in kAwaitingDecision and after.
struct ServerRequest {
  std::uint8_t version = 0;  // 4 (SOCKS4 or 4a) or 5
  Command cmd = Command::kConnect;
  Address dst;            // SOCKS4: IPv4 or (4a) a domain; SOCKS5: any ATYP
  std::string_view user;  // SOCKS4 USERID or the RFC 1929 user; may be empty.
                          // Points into the session: valid while it lives.
};

// errno of a failed connect()/bind() (or of name resolution mapped to errno)
// to the reply a server sends, RFC 1928 §6: ECONNREFUSED -> 0x05,
// ENETUNREACH/ENETDOWN -> 0x03, EHOSTUNREACH/EHOSTDOWN -> 0x04, ETIMEDOUT ->
// 0x06, EACCES/EPERM -> 0x02, anything else -> 0x01. (A name that does not
// resolve is "host unreachable", 0x04: the owner maps that itself.)
v5::Reply replyForErrno(int err) noexcept;

class ServerSession {
 public:
  enum class State : std::uint8_t {
    kReading,           // feed() more bytes; pendingOutput() may hold a message
    kAwaitingDecision,  // request() is valid: the owner calls grant() or refuse()
    kAwaitingSecond,    // BIND: first reply queued; grant()/refuse() again later
    kEstablished,       // handshake over: flush pendingOutput(), then relay
    kFailed,            // flush pendingOutput() (may be empty), then close
  };

  explicit ServerSession(const ServerOptions& options = {});

  // Not copyable or movable: request().user points into the object.
  ServerSession(const ServerSession&) = delete;
  ServerSession& operator=(const ServerSession&) = delete;

  State state() const { return state_; }
  bool finished() const { return state_ == State::kEstablished || state_ == State::kFailed; }

  // Feed bytes received from the client, from where the previous call stopped.
  // Returns how many of them belong to the handshake (0 outside kReading). The
  // rest, if any, is the start of the relayed stream. Several messages may
  // arrive in one call (a greeting, the request pipelined after it, ...): all
  // are handled in order, stopping after the request.
  std::size_t feed(Bytes in);

  // Bytes to send to the client next (method selection, RFC 1929 status,
  // replies), in order; empty when nothing is pending.
  Bytes pendingOutput() const { return Bytes(out_.data() + out_sent_, out_len_ - out_sent_); }
  // n <= pendingOutput().size() bytes were written.
  void markSent(std::size_t n);

  // The parsed request; meaningful from kAwaitingDecision on.
  const ServerRequest& request() const { return request_; }

  // Success. In kAwaitingDecision this queues the reply with BND = bound (for
  // CONNECT the local address of the outgoing connection, RFC 1928 §6; for
  // BIND where the server listens; for UDP ASSOCIATE the relay's address and
  // port, where the client sends its datagrams, RFC 1928 §6) and
  // moves to kEstablished, or for BIND to kAwaitingSecond. In kAwaitingSecond
  // (BIND) it queues the second reply with the connecting host's address and
  // moves to kEstablished. A SOCKS4 reply can only carry IPv4: another type is
  // sent as 0.0.0.0 with the port. Ignored in other states.
  void grant(const Address& bound);

  // Failure (kAwaitingDecision or kAwaitingSecond): queues a failure reply and
  // moves to kFailed; status() is a kRejected Status with the wire byte. The
  // owner must close the connection once the reply is written (RFC 1928 §6:
  // within 10 seconds; SOCKS4: at once). Ignored in other states.
  void refuse(v5::Reply reply);

  // Ok unless kFailed: kMalformed (bad bytes), kNoAcceptableMethod,
  // kAuthFailed, kUnsupported (a command not enabled), kRejected (refuse()).
  const Status& status() const { return status_; }
  // The SOCKS5 method selected (kNoAuth until then).
  v5::Method method() const { return method_; }

 private:
  enum class Phase : std::uint8_t { kVersion, kSocks4Request, kGreeting, kAuth, kRequest, kDone };

  // Parses in_[0..in_len_) as the current phase's message; on success handles it.
  Parse parseAndHandle();
  void onSocks4Request(const Socks4Request& req);
  void onGreeting(const Socks5Greeting& greeting);
  void onAuth(const Socks5AuthRequest& auth);
  void onSocks5Request(const Socks5Request& req);
  // The current message cannot be parsed: answer as the phase allows, fail.
  void onMalformed(const char* why);
  bool commandEnabled(Command cmd) const;
  void setUser(std::string_view user);
  void queueReply(bool success, v5::Reply code, const Address& bound);
  void append(Bytes bytes);
  void fail(Status status);

  ServerOptions options_;
  State state_ = State::kReading;
  Phase phase_ = Phase::kVersion;
  Status status_;
  v5::Method method_ = v5::Method::kNoAuth;
  ServerRequest request_;

  std::array<char, 255> user_{};
  std::size_t user_len_ = 0;

  // The message being assembled (handshake messages only, never relay data).
  std::array<std::uint8_t, kMaxMessage> in_{};
  std::size_t in_len_ = 0;

  // Room for a method selection, an RFC 1929 status and two SOCKS5 replies.
  std::array<std::uint8_t, 2 + 2 + 2 * v5::kMaxReply> out_{};
  std::size_t out_len_ = 0;
  std::size_t out_sent_ = 0;
};

// ---- server policy: address ranges, the users file, the extra hosts file ----
//
// Loaded once at startup (socksd --allow/--deny-dest, --users, --hosts);
// immutable afterwards, so any thread may read them.

// An IPv4 or IPv6 network: "10.0.0.0/8", "2001:db8::/32", or a bare address
// (a single host). An IPv4 range contains IPv4 addresses only, an IPv6 range
// IPv6 addresses only: normalise IPv4-mapped addresses first (fromSockaddr
// does). Only parse() makes one, so none is ever invalid.
class AddressRange {
 public:
  // kInvalidArgument for anything but ADDR or ADDR/PREFIX (no brackets).
  static Result<AddressRange> parse(std::string_view text);
  bool contains(const Address& addr) const;
  // True when some range contains addr.
  static bool anyContains(std::span<const AddressRange> ranges, const Address& addr);

 private:
  AddressRange(const Address& net, unsigned prefix) : net_(net), prefix_(prefix) {}
  Address net_;
  unsigned prefix_ = 0;
};

// RFC 1929 credentials from a users file: one "user:password" per line (the
// password is everything after the first ':'), '#' starts a comment line,
// blank lines and a trailing CR are ignored. Names and passwords are 1..255
// bytes; a user may appear once. check() compares in constant time.
class UserTable : public Authenticator {
 public:
  // Adds the users of `text`; false with error = "NAME:LINE: why" (NAME
  // names the source in messages) or "NAME: no users defined".
  bool parse(std::string_view text, const std::string& name, std::string& error);
  // Reads and parses a file; its path is the NAME of messages.
  bool load(const std::string& path, std::string& error);
  bool check(std::string_view user, std::string_view password) const override;
  std::size_t size() const { return users_.size(); }

 private:
  std::unordered_map<std::string, std::string> users_;
};

// Names a server resolves before asking DNS, from a hosts(5)-format file:
// "ADDR NAME [NAME...]" per line, '#' to the end of a line is a comment.
// Names match without regard to ASCII case or one trailing dot.
class HostTable {
 public:
  // false with error = "NAME:LINE: why".
  bool parse(std::string_view text, const std::string& name, std::string& error);
  bool load(const std::string& path, std::string& error);
  // The addresses (port 0) of name, in file order; null when absent.
  const std::vector<Address>* lookup(std::string_view name) const;

 private:
  std::unordered_map<std::string, std::vector<Address>> names_;
};

// ---- UDP ASSOCIATE relay (RFC 1928 §4, §7) -----------------------------------
//
// Pure parts of a server's UDP relay, so they can be tested without sockets.
// Addresses given to them come from Address::fromSockaddr (IPv4-mapped IPv6
// already turned into IPv4).

// Which datagrams arriving at a relay are the client's. RFC 1928 §4: the
// request's DST.ADDR/DST.PORT are where the client expects to send from
// (zeros if it does not know); §7: the relay accepts datagrams only from
// there. socksd's rule:
//   - the source IP must be the control connection's peer IP, always;
//   - DST.ADDR, when a non-zero IP, must be that same IP (else make() fails:
//     no datagram could ever pass); a zero IP (0.0.0.0, ::) means "the
//     control connection's IP"; a domain name is not resolved and counts as
//     a zero IP (only its port is used);
//   - DST.PORT, when non-zero, is the only source port accepted; when zero,
//     the first datagram that the relay accepts (fixPort()) fixes the port,
//     and datagrams from any other port of that IP are dropped from then on.
//     Fixing the port keeps another program on the client's host (or behind
//     the same NAT address) from injecting datagrams into the association,
//     and gives the replies one unambiguous destination.
class UdpClientFilter {
 public:
  // control_peer: the TCP control connection's peer (its port is ignored);
  // requested: the request's DST. Fails with a kRejected Status carrying
  // SOCKS5 reply 0x02 (not allowed) when requested names another IP.
  static Result<UdpClientFilter> make(const Address& control_peer, const Address& requested);

  // True when a datagram from `from` (IPv4 or IPv6 with port) may be the
  // client's: same IP, and the fixed port if there is one.
  bool admits(const Address& from) const;
  // Fixes the client's port (the source port of its first accepted
  // datagram); no effect once the port is known or for port 0.
  void fixPort(std::uint16_t port);
  bool portKnown() const { return client_.port != 0; }
  // The client's UDP address: the control connection's IP and the port
  // (0 until known). Replies go here.
  const Address& client() const { return client_; }

 private:
  explicit UdpClientFilter(const Address& client) : client_(client) {}
  Address client_;
};

// A datagram from the client (RFC 1928 §7): parses its header into `header`
// and returns nullptr when it is to be relayed (the payload starts at
// header.header_len, possibly empty), else why it must be dropped: a
// malformed header, or FRAG != 0 (this relay does not reassemble, and
// "an implementation that does not support fragmentation MUST drop any
// datagram whose FRAG field is other than X'00'").
const char* checkClientDatagram(Bytes datagram, UdpHeader& header);

// Destination names of one UDP association: resolved addresses kept for a
// while (a DNS client sends many datagrams to one name), one resolution per
// name at a time, and the datagrams that wait for it in a bounded queue.
// The owner does the resolving; the cache only remembers. Names are compared
// without regard to ASCII case or one trailing dot. Not thread-safe.
class UdpNameCache {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    Clock::duration ttl = std::chrono::seconds(60);           // a resolved name
    Clock::duration negative_ttl = std::chrono::seconds(5);  // a name that failed
    std::size_t max_names = 256;                   // cached names (oldest go first)
    std::size_t max_queued = 64;                   // datagrams waiting, all names
    std::size_t max_queued_bytes = 256 * 1024;     // their payload bytes
  };

  // A datagram waiting for its name.
  struct Waiting {
    std::uint16_t port = 0;
    std::vector<std::uint8_t> payload;
  };

  enum class Queued : std::uint8_t {
    kStartResolving,  // queued; the first for this name: resolve it now
    kWaiting,         // queued behind a resolution already running
    kFull,            // not queued (the queue is full): drop the datagram
  };

  UdpNameCache() = default;
  explicit UdpNameCache(const Limits& limits) : limits_(limits) {}

  // The addresses of name if a fresh entry exists at `now` (an empty vector:
  // the name failed recently, drop); null when the name must be resolved.
  const std::vector<Address>* find(std::string_view name, Clock::time_point now) const;
  // Queues a datagram for name (which has no fresh entry).
  Queued enqueue(std::string_view name, std::uint16_t port, Bytes payload);
  // The resolution of name ended (addresses empty: it failed): remembers the
  // outcome and returns the datagrams that waited for it, in arrival order.
  std::vector<Waiting> complete(std::string_view name, std::vector<Address> addresses,
                                Clock::time_point now);
  // True while a resolution of name is running (enqueue said kStartResolving
  // and complete() has not been called yet).
  bool resolving(std::string_view name) const;

  std::size_t queued() const { return queued_; }
  std::size_t queuedBytes() const { return queued_bytes_; }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::vector<Address> addresses;
    Clock::time_point expires{};
  };
  static std::string key(std::string_view name);

  Limits limits_;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, std::vector<Waiting>> waiting_;
  std::size_t queued_ = 0;
  std::size_t queued_bytes_ = 0;
};

}  // namespace socks
