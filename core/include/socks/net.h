// socks/net.h — real I/O for the client side: connect with a deadline, drive
// a ClientHandshake over a descriptor, connect through a chain of proxies.
//
// Everything goes through the SocketOps given. The caller's file status flags
// are never changed: reads and writes use MSG_DONTWAIT + poll, a blocking
// connect is bounded with SO_SNDTIMEO (saved and restored), a non-blocking one
// with poll on POLLOUT. Reads take exactly what the handshake asks for.
// EINTR is retried within the deadline.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <span>

#include "socks/address.h"
#include "socks/client.h"
#include "socks/codec.h"
#include "socks/proxy.h"
#include "socks/socket_ops.h"
#include "socks/status.h"

namespace socks::net {

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  explicit Deadline(std::chrono::milliseconds budget) : at_(Clock::now() + budget) {}
  static Deadline never() { return Deadline(std::chrono::hours(24 * 365)); }
  bool expired() const { return Clock::now() >= at_; }
  // Milliseconds left, rounded up, >= 0; capped to fit poll()'s int.
  int remainingMs() const;

 private:
  Clock::time_point at_;
};

// connect(fd, addr) bounded by the deadline, whatever the descriptor's
// blocking mode. kTimeout on expiry; kSystem with the connect errno otherwise.
Status connectWithDeadline(const SocketOps& ops, int fd, const sockaddr* addr, socklen_t len,
                           const Deadline& deadline);

// Write all of buf (MSG_NOSIGNAL) / read exactly buf.size() bytes, polling.
Status sendAll(const SocketOps& ops, int fd, Bytes buf, const Deadline& deadline);
Status recvExact(const SocketOps& ops, int fd, MutableBytes buf, const Deadline& deadline);

// Drive hs until it is kDone, kFailed, or (stop_at_first_reply) kAwaitingSecond.
Status runHandshake(const SocketOps& ops, int fd, ClientHandshake& hs, const Deadline& deadline,
                    bool stop_at_first_reply = false);

struct ChainOutcome {
  Status status;
  std::size_t failed_hop = 0;  // index of the hop that failed (chain.size() = the destination)
  Address bound;               // BND.ADDR/PORT of the last hop's reply
};

// fd is a fresh stream socket. Connect it to chain[0], then ask each hop in
// turn for the next one and the last for dst with `cmd` (CONNECT for now;
// BIND stops after the first reply). The fd family must fit chain[0].addr
// (an IPv4 proxy is reached IPv4-mapped from an AF_INET6 socket).
// With cmd == kBind the last hop's handshake stops after the first reply; pass
// last_hop to get it back (state kAwaitingSecond) and drive the second reply.
ChainOutcome connectThroughChain(const SocketOps& ops, int fd, std::span<const Hop> chain,
                                 const Address& dst, Command cmd, const Deadline& deadline,
                                 ClientHandshake* last_hop = nullptr);

}  // namespace socks::net
