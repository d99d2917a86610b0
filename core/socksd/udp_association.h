// udp_association.h — the UDP relay of one SOCKS5 UDP ASSOCIATE (RFC 1928
// §4, §7), owned by the Connection that carried the request; the association
// lives exactly as long as that TCP control connection (or until
// --udp-idle-timeout, which the Connection watches through lastActivity()).
//
// Sockets:
//   relay     bound to the local address of the control connection (the
//             address the client reached socksd on), ephemeral port: the
//             reply's BND. Datagrams from the client arrive here (filtered by
//             socks::UdpClientFilter), datagrams to the client leave here.
//   outside   one per address family, opened on first use, bound to
//             --external of that family or to the wildcard address, port 0:
//             datagrams to destinations leave here, their answers arrive here.
//
// Client -> destination: the header is parsed (malformed or FRAG != 0:
// dropped), a domain destination is resolved through the worker's Resolver
// (socks::UdpNameCache keeps results for 60 s and queues, within bounds, the
// datagrams that wait), --deny-dest and the unspecified addresses are
// refused, the payload goes out of the outside socket of its family.
// Destination -> client: any datagram to an outside socket (except from a
// --deny-dest network) is wrapped with a header carrying its true source and
// sent to the client's UDP address. (Like most SOCKS servers this relay does
// not restrict answers to the destinations the client has written to: a
// client behind a SOCKS server expects NAT-like "full cone" behaviour, e.g.
// for STUN.)
//
// Sockets are non-blocking, registered edge-triggered; readiness is cached
// until a call says EAGAIN, as Connection does. Each socket is read in
// batches of a bounded number of datagrams, the rest after other clients had
// their turn (Worker::scheduleResume). A send that would block keeps its
// datagram (one per direction) and stops reading the direction's sources
// until the socket is writable again: backpressure, as the TCP relay has,
// instead of loss. Datagrams are received into the worker's one 64 KiB
// buffer (a worker is one thread), so an association costs no buffer memory
// of its own while nothing is blocked.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "event_loop.h"
#include "resolver.h"
#include "socks/address.h"
#include "socks/codec.h"
#include "socks/server.h"

namespace socksd {

class Worker;

class UdpAssociation {
 public:
  struct Counters {
    std::uint64_t from_client = 0;   // datagrams the filter took as the client's
    std::uint64_t to_outside = 0;    // ... of them sent on to their destination
    std::uint64_t up_dropped = 0;    // ... dropped (malformed, FRAG, denied, ...)
    std::uint64_t foreign = 0;       // datagrams to the relay from anyone else: dropped
    std::uint64_t from_outside = 0;  // datagrams that arrived at the outside sockets
    std::uint64_t to_client = 0;     // ... of them sent to the client
    std::uint64_t down_dropped = 0;  // ... dropped (too large, denied source, ...)
  };

  // owner_id: the Connection's id, for Worker::scheduleResume. client_name
  // is for logs and must outlive the association.
  UdpAssociation(Worker& worker, std::uint64_t owner_id, const char* client_name,
                 const socks::UdpClientFilter& filter);
  ~UdpAssociation();
  UdpAssociation(const UdpAssociation&) = delete;
  UdpAssociation& operator=(const UdpAssociation&) = delete;

  // Opens the relay socket on `local` (the control connection's local
  // address; its port is ignored). 0, or the errno that failed.
  int open(const socks::Address& local);
  // Where the relay listens: the reply's BND.ADDR and BND.PORT.
  const socks::Address& relayAddress() const { return relay_addr_; }

  // Continues the batches that yielded to others (see Worker::scheduleResume).
  void resume();
  // Closes every socket and forgets pending resolutions; idempotent. The
  // object must still live until the end of the loop's round (handlers of
  // this round's events may point into it), so the owner destroys it later.
  void shutdown();

  // The last datagram from the client, or to it (or open()).
  Clock::time_point lastActivity() const { return last_activity_; }
  const Counters& counters() const { return counters_; }

 private:
  struct Socket : EventLoop::Handler {
    explicit Socket(UdpAssociation& a) : owner(a) {}
    void onEvents(std::uint32_t events) override;

    UdpAssociation& owner;
    int fd = -1;
    bool readable = false;
    bool writable = false;
  };

  // A datagram whose send said EAGAIN: kept, and sent again once `via` is
  // writable; meanwhile the sources of its direction are not read.
  struct Pending {
    bool active = false;
    Socket* via = nullptr;
    sockaddr_storage to{};
    socklen_t to_len = 0;
    std::vector<std::uint8_t> bytes;
  };

  enum class Send : std::uint8_t { kSent, kBlocked, kUnusable, kFailed };

  void run();
  void readClient();
  void readOutside(Socket& s);
  void toName(const socks::Address& dst, socks::Bytes payload);
  void onResolved(std::uint64_t id, const std::string& name, const Resolution& resolution);
  // Sends payload to the first of candidates that is allowed and reachable
  // (each with `port`); counts the datagram as sent or dropped.
  void toAny(std::span<const socks::Address> candidates, std::uint16_t port, socks::Bytes payload);
  Send sendOut(const socks::Address& dst, socks::Bytes payload, int& err);
  void sendToClient(socks::Bytes datagram);
  // Sends a pending datagram again if its socket is writable.
  void retry(Pending& pending, std::uint64_t& sent, std::uint64_t& dropped);
  void keep(Pending& pending, Socket& via, const sockaddr_storage& to, socklen_t to_len,
            socks::Bytes bytes);
  // The outside socket of family, opened on first use; null (errno set) on failure.
  Socket* outsideFor(int family);
  bool denied(const socks::Address& a) const;
  void scheduleResume();
  void closeSocket(Socket& s);
  // Logs (a few per association, at debug level) why a datagram was dropped.
  void dropped(const char* what, const char* why);

  Worker& worker_;
  const std::uint64_t owner_id_;
  const char* client_name_;
  socks::UdpClientFilter filter_;
  socks::UdpNameCache names_;
  Socket relay_;
  Socket out4_;
  Socket out6_;
  int relay_family_ = AF_INET;
  socks::Address relay_addr_;
  Pending up_;    // client -> destination
  Pending down_;  // destination -> client
  std::vector<std::uint64_t> resolving_;  // Resolver ids to cancel on shutdown
  Counters counters_;
  Clock::time_point last_activity_{};
  unsigned drop_logs_ = 0;
  bool resume_scheduled_ = false;
  bool dead_ = false;
};

}  // namespace socksd
