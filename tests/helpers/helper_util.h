// helper_util.h — what the helper programs in tests/helpers/ share. Header only:
// every tests/helpers/*.cpp is its own program, so shared code cannot live in a .cpp.
// Plain socket API only (the helpers are the programs under the shim; they must not
// link core). Output formats here are parsed by the integration tests: keep them.

#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace helper {

// ---- errors

// The symbolic name of an errno value ("ECONNREFUSED"), "0" for 0, "E?" for others.
inline const char* errnoName(int e) {
  switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ECONNRESET: return "ECONNRESET";
    case ECONNABORTED: return "ECONNABORTED";
    case EINPROGRESS: return "EINPROGRESS";
    case EALREADY: return "EALREADY";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EPROTO: return "EPROTO";
    case EPIPE: return "EPIPE";
    case EIO: return "EIO";
    case ENOTCONN: return "ENOTCONN";
    case EISCONN: return "EISCONN";
    case EBADF: return "EBADF";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EMSGSIZE: return "EMSGSIZE";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case ENOBUFS: return "ENOBUFS";
    case 0: return "0";
    default: return "E?";
  }
}

// "error: WHAT: STRERROR (errno=N ENAME)", or "error: WHAT" when err is 0 (no newline):
// the form the tests grep for.
inline std::string errorText(const std::string& what, int err) {
  if (err == 0) return "error: " + what;
  return "error: " + what + ": " + std::strerror(err) + " (errno=" + std::to_string(err) + " " + errnoName(err) + ")";
}

// A failure to report later with errorText().
struct Failure {
  std::string what;
  int err = 0;
  std::string text() const { return errorText(what, err); }
};

// ---- output

// Writes all of s to fd with write() (retrying EINTR); gives up silently on an error.
inline void writeAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Prints line + "\n" on stdout, unbuffered (tests read the output while it runs).
inline void say(const std::string& line) { writeAll(1, line + "\n"); }

// ---- addresses

// "A:P" for IPv4, "[A]:P" for IPv6, "family-N" for anything else.
inline std::string formatAddr(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "family-" + std::to_string(sa->sa_family);
}

inline std::string formatAddr(const sockaddr_storage& ss) { return formatAddr(reinterpret_cast<const sockaddr*>(&ss)); }

// The port of an IPv4 or IPv6 address (host order).
inline int addrPort(const sockaddr_storage& ss) {
  return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in*>(&ss)->sin_port
                                       : reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
}

// A socket address and its length.
struct Addr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss); }
  sockaddr* sa() { return reinterpret_cast<sockaddr*>(&ss); }
  std::string text() const { return formatAddr(sa()); }
};

// Parses a numeric "A:P" or "[A6]:P" (no name lookup). On success fills ss (zeroed
// first) and len; false when the text is not such an address.
inline bool parseAddr(const std::string& spec, sockaddr_storage& ss, socklen_t& len) {
  std::string host, port;
  if (!spec.empty() && spec[0] == '[') {
    auto close = spec.find(']');
    if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':') return false;
    host = spec.substr(1, close - 1);
    port = spec.substr(close + 2);
  } else {
    auto colon = spec.rfind(':');
    if (colon == std::string::npos) return false;
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
  }
  std::memset(&ss, 0, sizeof ss);
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(std::atoi(port.c_str())));
    len = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(std::atoi(port.c_str())));
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

inline bool parseAddr(const std::string& spec, Addr& a) { return parseAddr(spec, a.ss, a.len); }

// getsockname (peer false) or getpeername (peer true) of fd. False (errno set) on failure.
inline bool sockAddr(int fd, bool peer, Addr& a) {
  a = Addr{};
  a.len = sizeof a.ss;
  return (peer ? getpeername(fd, a.sa(), &a.len) : getsockname(fd, a.sa(), &a.len)) == 0;
}

// sockAddr() as text: "A:P", or "error-ENAME" when the call fails.
inline std::string sockName(int fd, bool peer) {
  Addr a;
  if (!sockAddr(fd, peer, a)) {
    int e = errno;
    return std::string("error-") + errnoName(e);
  }
  return a.text();
}

// The --print-peer lines of the clients: "connected-to A:P" (the address passed to
// connect) and "getpeername A:P" (or "getpeername-error ENAME"), each with "\n".
inline std::string peerLines(int fd, const sockaddr* connected_to) {
  std::string out = "connected-to " + formatAddr(connected_to) + "\n";
  Addr peer;
  if (sockAddr(fd, true, peer)) return out + "getpeername " + peer.text() + "\n";
  int e = errno;
  return out + "getpeername-error " + errnoName(e) + "\n";
}

// getaddrinfo(host, port) for `family` (AF_UNSPEC, AF_INET, AF_INET6) and `socktype`;
// keeps the first answer in out. Returns "" or the failure ("getaddrinfo: <reason>").
inline std::string resolveFirst(const std::string& host, const std::string& port, int family, int socktype,
                                Addr& out) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = socktype;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) return std::string("getaddrinfo: ") + gai_strerror(rc);
  out = Addr{};
  std::memcpy(&out.ss, res->ai_addr, res->ai_addrlen);
  out.len = res->ai_addrlen;
  freeaddrinfo(res);
  return "";
}

// ---- waiting and I/O

// Sets (on true) or clears O_NONBLOCK on fd.
inline void setNonBlocking(int fd, bool on) {
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

// Waits until fd is ready for `events` (POLLIN and/or POLLOUT) with poll, or with a
// one-shot epoll instance when use_epoll; timeout_ms < 0 waits for ever. Retries EINTR.
// Returns 0, an errno, or ETIMEDOUT when the helper's own timeout passed. revents (when
// given) gets the reported events (EPOLL* and POLL* bits have the same values).
inline int waitFor(int fd, short events, int timeout_ms, bool use_epoll = false, short* revents = nullptr) {
  if (use_epoll) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return errno;
    epoll_event ev{};
    ev.events = 0;
    if (events & POLLIN) ev.events |= EPOLLIN;
    if (events & POLLOUT) ev.events |= EPOLLOUT;
    ev.data.fd = fd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
      int e = errno;
      close(ep);
      return e;
    }
    epoll_event out{};
    int n;
    do {
      n = epoll_wait(ep, &out, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    int e = n < 0 ? errno : (n == 0 ? ETIMEDOUT : 0);
    if (revents != nullptr) *revents = static_cast<short>(out.events);
    close(ep);
    return e;
  }
  pollfd p{fd, events, 0};
  int n;
  do {
    n = poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (revents != nullptr) *revents = p.revents;
  if (n < 0) return errno;
  return n == 0 ? ETIMEDOUT : 0;
}

// Finishes a non-blocking connect() that said EINPROGRESS: waits for POLLOUT (see
// waitFor) and reads SO_ERROR. Returns 0 (connected), an errno (the connect's result,
// or a failed wait), or -ETIMEDOUT when the helper's own timeout passed first.
inline int finishConnect(int fd, int timeout_ms, bool use_epoll = false) {
  int e = waitFor(fd, POLLOUT, timeout_ms, use_epoll);
  if (e == ETIMEDOUT) return -ETIMEDOUT;
  if (e != 0) return e;
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) return errno;
  return soerr;
}

// Sends all of s with send(MSG_NOSIGNAL), retrying EINTR; on EAGAIN waits for POLLOUT
// (see waitFor) and goes on. Returns 0, or the errno of the failed send or wait.
inline int sendAll(int fd, const std::string& s, int timeout_ms = -1, bool use_epoll = false) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (int e = waitFor(fd, POLLOUT, timeout_ms, use_epoll); e != 0) return e;
      continue;
    }
    if (n < 0) return errno;
    off += static_cast<size_t>(n);
  }
  return 0;
}

// Reads one line (byte by byte, so nothing after it is consumed), waiting for POLLIN
// before every byte; timeout_ms (< 0: none) bounds the whole line. The line is stored
// without its "\n" (and, with drop_cr, without any "\r"). Returns true for a line;
// false at EOF before a newline (err 0), on an error or the timeout (err: the errno,
// ETIMEDOUT for the timeout).
inline bool readLine(int fd, std::string& line, int timeout_ms, int& err, bool drop_cr = false) {
  line.clear();
  err = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int left = -1;
    if (timeout_ms >= 0) {
      left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      if (left <= 0) {
        err = ETIMEDOUT;
        return false;
      }
    }
    if (int e = waitFor(fd, POLLIN, left); e != 0) {
      err = e;
      return false;
    }
    char c;
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      err = errno;
      return false;
    }
    if (n == 0) return false;
    if (c == '\n') return true;
    if (c != '\r' || !drop_cr) line.push_back(c);
  }
}

// Echoes everything read from fd back to it until EOF. With idle_ms >= 0, idle_ms of
// silence also ends it (*error = "silent for S s"); a read error ends it too (*error =
// strerror). Returns the number of bytes echoed.
inline size_t echoUntilEof(int fd, int idle_ms = -1, std::string* error = nullptr) {
  size_t echoed = 0;
  char buf[16384];
  for (;;) {
    if (idle_ms >= 0 && waitFor(fd, POLLIN, idle_ms) == ETIMEDOUT) {
      if (error != nullptr) *error = "silent for " + std::to_string(idle_ms / 1000) + " s";
      break;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && error != nullptr) *error = std::strerror(errno);
    if (n <= 0) break;
    sendAll(fd, std::string(buf, static_cast<size_t>(n)));
    echoed += static_cast<size_t>(n);
  }
  return echoed;
}

// The servers' main loop: polls fds for ever and calls on_ready(i) for every fds[i]
// that is readable. Returns 1 only when poll itself fails (not for EINTR).
template <class OnReady>
int serveReadable(std::vector<pollfd>& fds, OnReady on_ready) {
  for (;;) {
    int n = ::poll(fds.data(), fds.size(), -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents & POLLIN) on_ready(i);
    }
  }
}

// ---- command lines

// Walks argv for the clients' option loops:
//   Args args(argc, argv, kUsage);
//   for (std::string a; args.next(a);) {
//     if (a == "--x") o.x = args.value(); ... else if (!args.keep(a)) return args.usage();
//   }
//   if (!args.hostPort(o.host, o.port)) return args.usage();
// value() and the typed variants take the option's argument; when it is missing they
// print the usage and exit 2.
class Args {
 public:
  Args(int argc, char** argv, const char* usage_text) : argc_(argc), argv_(argv), usage_text_(usage_text) {}

  // Prints the usage text on stderr; returns 2, the exit code for a bad command line.
  int usage() const {
    std::fputs(usage_text_, stderr);
    return 2;
  }
  bool next(std::string& a) {
    if (++i_ >= argc_) return false;
    a = argv_[i_];
    return true;
  }
  std::string value() {
    if (i_ + 1 >= argc_) std::exit(usage());
    return argv_[++i_];
  }
  int intValue() { return std::atoi(value().c_str()); }
  double doubleValue() { return std::atof(value().c_str()); }
  int msValue() { return static_cast<int>(doubleValue() * 1000); }   // --timeout SEC
  int familyValue() { return value() == "6" ? AF_INET6 : AF_INET; }  // --family 4|6

  // Keeps a positional argument; false for an unknown "--" option.
  bool keep(const std::string& a) {
    if (a.rfind("--", 0) == 0) return false;
    positional_.push_back(a);
    return true;
  }
  size_t positionalCount() const { return positional_.size(); }
  // The positional "HOST PORT"; false (nothing assigned) unless there were exactly two.
  bool hostPort(std::string& host, std::string& port) const {
    if (positional_.size() != 2) return false;
    host = positional_[0];
    port = positional_[1];
    return true;
  }

 private:
  int argc_;
  char** argv_;
  const char* usage_text_;
  int i_ = 0;
  std::vector<std::string> positional_;
};

}  // namespace helper
