// connection.h — one client of socksd: the SOCKS handshake (ServerSession),
// resolving and connecting to the destination (CONNECT) or listening for the
// destination's connection (BIND), then the relay.
//
// BIND (SOCKS4 document; RFC 1928 §4, §6): the server listens on the address
// it would use toward DST (--external, or the routing table's choice) on an
// ephemeral port and says where in the first reply; it accepts exactly one
// connection, checks that it comes from DST (the resolved addresses, for a
// name), sends the second reply with the peer's address and relays client <->
// peer as for CONNECT. The listener closes as soon as one connection came, on
// --bind-timeout, or when the client goes away.
//
// UDP ASSOCIATE (RFC 1928 §4, §7; SOCKS5 only): the connection becomes the
// association's control connection. A UdpAssociation (udp_association.h)
// relays the datagrams; the reply carries its relay address. From then on
// the client's bytes are read and dropped, and the association ends when the
// client closes the connection (or it fails), after --udp-idle-timeout
// without a datagram either way, or at shutdown.
//
// Both sockets are non-blocking and registered edge-triggered; each side
// caches whether it is readable/writable until a call returns EAGAIN, so no
// readiness is ever lost and no epoll_ctl is needed while relaying.
// Backpressure: a side is read only while the buffer toward its peer has
// room. Half-close: a FIN read from one side is passed on as shutdown(SHUT_WR)
// to the other once everything before it has been written; the connection
// ends when both directions are done, on any error, or on a timeout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "event_loop.h"
#include "resolver.h"
#include "socks/address.h"
#include "socks/codec.h"
#include "socks/server.h"
#include "udp_association.h"

namespace socksd {

class Worker;

// A byte FIFO of fixed capacity for one relay direction.
class RelayBuffer {
 public:
  explicit RelayBuffer(std::size_t capacity)
      : data_(std::make_unique<std::uint8_t[]>(capacity)), capacity_(capacity) {}

  socks::Bytes readable() const { return {data_.get() + head_, tail_ - head_}; }
  bool empty() const { return head_ == tail_; }
  bool full() const { return tail_ - head_ == capacity_; }
  // Free room at the end (compacting first when that makes more).
  socks::MutableBytes writable();
  void commit(std::size_t n) { tail_ += n; }
  void consume(std::size_t n);
  // Appends as much of bytes as fits; returns how much did.
  std::size_t append(socks::Bytes bytes);

 private:
  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t capacity_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

class Connection : public Disposable {
 public:
  // Takes ownership of client_fd (non-blocking, accepted from a listener).
  Connection(Worker& worker, std::uint64_t id, int client_fd, const socks::Address& client);
  ~Connection() override;

  // Registers with the loop and starts the handshake timer; false (errno
  // set) if registration failed, in which case the caller releases us.
  bool start();
  // Continues a relay that yielded to other connections (see relay()).
  void resume();
  // Ends the connection; idempotent. The worker disposes of the object after
  // the current round, so this may be called from anywhere in its methods.
  void close(const char* why);

  std::uint64_t id() const { return id_; }

 private:
  enum class Phase : std::uint8_t {
    kHandshake,
    kResolving,
    kConnecting,
    kAwaitingPeer,  // BIND: listening, first reply sent
    kAssociated,    // UDP ASSOCIATE: reply sent, association_ relays datagrams
    kRelaying,
    kDraining,
    kClosed,
  };

  struct Side : EventLoop::Handler {
    Side(Connection& c, bool is_client) : conn(c), client(is_client) {}
    void onEvents(std::uint32_t events) override;
    // A fresh socket: no readiness known, nothing shut down.
    void reset(int new_fd) {
      fd = new_fd;
      readable = writable = eof = shut_wr = false;
    }

    Connection& conn;
    const bool client;
    int fd = -1;
    bool readable = false;
    bool writable = false;
    bool eof = false;      // a read returned 0: the peer sent FIN
    bool shut_wr = false;  // we sent FIN (shutdown(SHUT_WR)) on it
  };

  // BIND's listening socket.
  struct BindListener : EventLoop::Handler {
    explicit BindListener(Connection& c) : conn(c) {}
    void onEvents(std::uint32_t events) override;

    Connection& conn;
    int fd = -1;
  };

  enum class Pump : std::uint8_t { kIdle, kMore, kError };

  void onClientEvents(std::uint32_t events);
  void onUpstreamEvents(std::uint32_t events);
  void onTimer();

  void readHandshake();
  void onRequest();
  void onResolved(const Resolution& resolution);
  // The destination's addresses, from the request or the resolver: applies
  // --deny-dest, then connects (CONNECT) or listens (BIND).
  void onDestinations(std::vector<socks::Address> candidates);
  void connectNext();
  void attemptFailed(int err);
  void onConnected();
  void startBinding();
  void onPeerAcceptable();
  // One of candidates_ (the request's DST), ports aside.
  bool isDestination(const socks::Address& peer) const;
  void startAssociation();
  // The control connection of an association: reads and drops what the
  // client sends, and notices when it closes.
  void readControl();
  void armUdpIdleTimer();
  // The -v line of an association that ends.
  void logAssociation(const char* why);
  // Sends the reply that ends the handshake with BND = bound and relays.
  void startRelay(const socks::Address& bound, const char* detail);
  void refuse(socks::v5::Reply reply, const char* why);
  void startDraining();
  void drain();
  void relay();
  // Moves bytes from -> buf -> to until blocked, the budget is spent (kMore)
  // or an error (kError); passes a FIN on once buf is empty.
  Pump pump(Side& from, RelayBuffer& buf, Side& to, std::uint64_t& counter);
  // Writes buf to the client; false on a write error.
  bool flushToClient();
  void queueSessionOutput();
  void closeSide(Side& side);
  void closeListener();
  void armIdleTimer();
  void logRequest(const char* outcome, const char* detail) const;

  Worker& worker_;
  const std::uint64_t id_;
  const socks::Address client_addr_;
  char client_name_[64] = {};  // "1.2.3.4:5678", for logs
  Phase phase_ = Phase::kHandshake;
  Side client_;
  Side upstream_;  // CONNECT: the destination; BIND: the accepted peer
  BindListener listener_;
  socks::ServerSession session_;
  RelayBuffer up_;    // client -> destination (first: the handshake's input)
  RelayBuffer down_;  // destination -> client (first: the handshake's replies)
  EventLoop::Timer timer_;
  // UDP ASSOCIATE; shut down by close(), destroyed with the connection (after
  // the loop's round, so this round's events for its sockets stay harmless).
  std::unique_ptr<UdpAssociation> association_;

  std::uint64_t resolve_id_ = 0;
  std::vector<socks::Address> candidates_;
  std::size_t next_candidate_ = 0;
  socks::Address target_;  // the address being connected to / relayed to
                           // (BIND: the DST address the listener was chosen for)
  socks::Address listening_;  // BIND: where the listener is (the first reply's BND)
  int last_errno_ = 0;
  Clock::time_point connect_deadline_{};
  Clock::time_point last_activity_{};
  Clock::time_point started_{};
  bool resume_scheduled_ = false;
  std::uint64_t bytes_up_ = 0;
  std::uint64_t bytes_down_ = 0;
};

}  // namespace socksd
