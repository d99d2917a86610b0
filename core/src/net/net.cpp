// Client-side I/O: connect with a deadline and drive handshakes over a
// descriptor without changing its file status flags (STYLE.md lesson 10).
#include "socks/net.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <climits>

namespace socks::net {
namespace {

// Waits until fd is ready for `events` or the deadline passes. EINTR is
// retried with the time that is left.
Status waitFor(const SocketOps& ops, int fd, short events, const Deadline& deadline) {
  for (;;) {
    const int ms = deadline.remainingMs();
    if (ms <= 0) {
      return Status(Errc::kTimeout, "timed out");
    }
    pollfd pfd{fd, events, 0};
    const int r = ops.poll(&pfd, 1, ms);
    if (r > 0) {
      return Status();  // ready, or an error the next call will report
    }
    if (r < 0 && errno != EINTR) {
      return Status::system(errno, "poll");
    }
  }
}

Status pendingSocketError(const SocketOps& ops, int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (ops.getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
    return Status::system(errno, "getsockopt(SO_ERROR)");
  }
  if (err != 0) {
    return Status::system(err, "connect to proxy");
  }
  return Status();
}

// Completes a connect that is in progress: POLLOUT, then SO_ERROR.
Status finishConnect(const SocketOps& ops, int fd, const Deadline& deadline) {
  Status st = waitFor(ops, fd, POLLOUT, deadline);
  if (!st.ok()) {
    return st.code() == Errc::kTimeout ? Status(Errc::kTimeout, "connect to proxy timed out") : st;
  }
  return pendingSocketError(ops, fd);
}

timeval toTimeval(int ms) {
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = static_cast<suseconds_t>(ms % 1000) * 1000;
  return tv;
}

}  // namespace

int Deadline::remainingMs() const {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(at_ - Clock::now()).count();
  if (left <= 0) {
    return 0;
  }
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

Status connectWithDeadline(const SocketOps& ops, int fd, const sockaddr* addr, socklen_t len,
                           const Deadline& deadline) {
  const int ms = deadline.remainingMs();
  if (ms <= 0) {
    return Status(Errc::kTimeout, "connect to proxy timed out");
  }
  const int flags = ops.fcntl(fd, F_GETFL);
  if (flags < 0) {
    return Status::system(errno, "fcntl(F_GETFL)");
  }
  if ((flags & O_NONBLOCK) != 0) {
    if (ops.connect(fd, addr, len) == 0) {
      return Status();
    }
    if (errno != EINPROGRESS) {
      return Status::system(errno, "connect to proxy");
    }
    return finishConnect(ops, fd, deadline);
  }

  // A blocking socket: bound the kernel's wait with SO_SNDTIMEO (Linux's
  // connect honours it and answers EINPROGRESS when it expires), and put the
  // caller's value back afterwards. The file flags stay as they are.
  timeval saved{};
  socklen_t saved_len = sizeof saved;
  const bool have_saved = ops.getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &saved, &saved_len) == 0;
  const timeval tv = toTimeval(ms);
  const bool bounded = ops.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0;
  const int rc = ops.connect(fd, addr, len);
  const int err = errno;
  if (bounded && have_saved) {
    (void)ops.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &saved, sizeof saved);
  }
  if (rc == 0) {
    return Status();
  }
  if (err == EINPROGRESS || err == EINTR || err == EALREADY) {
    // Timed out (EINPROGRESS) or interrupted: the attempt goes on in the
    // kernel; wait for it within what is left of the deadline.
    return finishConnect(ops, fd, deadline);
  }
  return Status::system(err, "connect to proxy");
}

Status sendAll(const SocketOps& ops, int fd, Bytes buf, const Deadline& deadline) {
  std::size_t off = 0;
  while (off < buf.size()) {
    const ssize_t n =
        ops.send(fd, buf.data() + off, buf.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Status st = waitFor(ops, fd, POLLOUT, deadline);
      if (!st.ok()) {
        return st.code() == Errc::kTimeout ? Status(Errc::kTimeout, "handshake timed out") : st;
      }
      continue;
    }
    return Status::system(n < 0 ? errno : EPIPE, "send to proxy");
  }
  return Status();
}

Status recvExact(const SocketOps& ops, int fd, MutableBytes buf, const Deadline& deadline) {
  std::size_t off = 0;
  while (off < buf.size()) {
    const ssize_t n = ops.recv(fd, buf.data() + off, buf.size() - off, MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) {
      return Status(Errc::kClosed, "proxy closed the connection during the handshake");
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      Status st = waitFor(ops, fd, POLLIN, deadline);
      if (!st.ok()) {
        return st.code() == Errc::kTimeout ? Status(Errc::kTimeout, "handshake timed out") : st;
      }
      continue;
    }
    return Status::system(errno, "receive from proxy");
  }
  return Status();
}

Status runHandshake(const SocketOps& ops, int fd, ClientHandshake& hs, const Deadline& deadline,
                    bool stop_at_first_reply) {
  std::array<std::uint8_t, v5::kMaxReply> buf{};
  for (int steps = 0; steps < 64; ++steps) {  // a handshake is a handful of messages
    switch (hs.state()) {
      case ClientHandshake::State::kSending: {
        const Bytes out = hs.pendingOutput();
        Status st = sendAll(ops, fd, out, deadline);
        if (!st.ok()) {
          return st;
        }
        hs.markSent(out.size());
        break;
      }
      case ClientHandshake::State::kAwaitingSecond:
        if (stop_at_first_reply) {
          return Status();
        }
        [[fallthrough]];
      case ClientHandshake::State::kReceiving: {
        const std::size_t want = std::min(hs.wantRead(), buf.size());
        if (want == 0) {
          return Status(Errc::kMalformed, "handshake stalled");
        }
        Status st = recvExact(ops, fd, MutableBytes(buf.data(), want), deadline);
        if (!st.ok()) {
          return st;
        }
        hs.feed(Bytes(buf.data(), want));
        break;
      }
      case ClientHandshake::State::kDone:
        return Status();
      case ClientHandshake::State::kFailed:
        return hs.status();
    }
  }
  return Status(Errc::kMalformed, "handshake did not finish");
}

ChainOutcome connectThroughChain(const SocketOps& ops, int fd, std::span<const Hop> chain,
                                 const Address& dst, Command cmd, const Deadline& deadline,
                                 ClientHandshake* last_hop) {
  ChainOutcome outcome;
  if (chain.empty()) {
    outcome.status = Status(Errc::kInvalidArgument, "empty proxy chain");
    return outcome;
  }
  int family = AF_INET;
  socklen_t flen = sizeof family;
  if (ops.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &flen) != 0) {
    outcome.status = Status::system(errno, "getsockopt(SO_DOMAIN)");
    return outcome;
  }
  if (family == AF_INET && chain[0].addr.type == Address::Type::kIPv6) {
    outcome.status = Status::system(EAFNOSUPPORT, "an IPv4 socket cannot reach an IPv6 proxy");
    return outcome;
  }
  sockaddr_storage ss{};
  const socklen_t len = chain[0].addr.toSockaddr(ss, family);
  if (len == 0) {
    outcome.status = Status(Errc::kInvalidArgument, "proxy address is not numeric");
    return outcome;
  }
  outcome.status = connectWithDeadline(ops, fd, reinterpret_cast<const sockaddr*>(&ss), len, deadline);
  if (!outcome.status.ok()) {
    return outcome;
  }
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const bool last = i + 1 == chain.size();
    const Hop& hop = chain[i];
    ClientHandshake hs(hop.kind, last ? cmd : Command::kConnect, last ? dst : chain[i + 1].addr,
                       hop.user, hop.password, hop.has_credentials);
    outcome.status = runHandshake(ops, fd, hs, deadline, last && cmd == Command::kBind);
    if (!outcome.status.ok()) {
      outcome.failed_hop = i;
      return outcome;
    }
    outcome.bound = hs.bound();
    if (last && last_hop != nullptr) {
      *last_hop = hs;
    }
  }
  return outcome;
}

}  // namespace socks::net
