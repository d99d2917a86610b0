// bind_client — the active-FTP dance with the plain socket API (it does not link core):
// the program under the shim for SOCKS BIND.
//
//   bind_client HOST PORT [--listen local|none|any|loopback|ADDR:PORT]
//               [--accept blocking|poll|epoll|accept4] [--twice] [--send TEXT]
//               [--from SRC] [--no-port] [--listen-only] [--no-control]
//               [--close-listener SEC] [--linger SEC] [--family 4|6] [--timeout SEC]
//
// 1. Connects a control connection to HOST PORT (getaddrinfo, blocking connect) and
//    reads the server's first line (tcp_server --portback sends "peer A:P").
// 2. Creates a listening socket of the control connection's family: --listen local
//    (default) binds it to the control connection's local address, port 0 (curl -P -);
//    none leaves it unbound; any binds the wildcard, port 0; loopback binds 127.0.0.1
//    (::1), port 0; ADDR:PORT binds exactly that. listen(); getsockname.
// 3. Sends "PORT A:P" (the getsockname answer; IPv6 in brackets; with --from SRC
//    " from SRC", asking the server to connect back from SRC) on the control connection.
// 4. Accepts: blocking accept; poll/epoll: O_NONBLOCK listener, accept until it stops
//    saying EAGAIN, waiting for POLLIN/EPOLLIN in between; accept4: blocking listener,
//    accept4(SOCK_NONBLOCK | SOCK_CLOEXEC).
// 5. Reads the server's data line, sends TEXT, reads its echo, closes the connection
//    and reads the server's report lines ("connected ...", "data-done ...").
// --twice repeats 2.-5. on the same listener (getsockname again: a new BIND).
// --no-port skips 3. (nobody connects back). --listen-only stops after 2. (prints the
// address, exits 0). --close-listener SEC waits SEC seconds after 2., closes the
// listener, prints "listener-closed", keeps the control connection open for --linger
// seconds, exits 0.
// --no-control skips 1. (a process without any proxied connection).
//
// Output, flushed line by line, every line of round N prefixed "[N] ":
//   control-local A:P / control-peer A:P / control-greeting LINE      (round 0)
//   listening-at A:P / accept-first immediate|EAGAIN / ready revents=0xN
//   accepted-from A:P / accepted-peer A:P / accepted-local A:P
//   accepted-flags nonblock=0|1 cloexec=0|1 / data LINE / echo LINE / server LINE
// Failure: "error: <what>: <strerror> (errno=N NAME)" on stderr (after printing
// whatever the server said on the control connection as "server" lines), exit 1.

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
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

enum class AcceptMode { kBlocking, kPoll, kEpoll, kAccept4 };

struct Options {
  std::string host, port;
  std::string listen = "local";
  AcceptMode mode = AcceptMode::kBlocking;
  bool twice = false;
  std::string send_text = "ping-through-bind";
  std::string from;
  bool no_port = false;
  bool listen_only = false;
  bool no_control = false;
  bool close_listener = false;
  int close_after_s = 0;
  int linger_s = 0;
  int family = AF_UNSPEC;
  int timeout_ms = 20000;
};

const char* errnoName(int e) {
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
    case EBADF: return "EBADF";
    case EINTR: return "EINTR";
    case 0: return "0";
    default: return "E?";
  }
}

void writeAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

int g_round = 0;

void say(const std::string& line) { writeAll(1, "[" + std::to_string(g_round) + "] " + line + "\n"); }

[[noreturn]] void fail(const std::string& what, int err) {
  char buf[512];
  if (err != 0) {
    std::snprintf(buf, sizeof buf, "error: %s: %s (errno=%d %s)\n", what.c_str(), std::strerror(err), err,
                  errnoName(err));
  } else {
    std::snprintf(buf, sizeof buf, "error: %s\n", what.c_str());
  }
  writeAll(2, buf);
  std::_Exit(1);
}

std::string formatAddr(const sockaddr* sa) {
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

std::string sockName(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                : getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return std::string("error-") + errnoName(errno);
  return formatAddr(reinterpret_cast<sockaddr*>(&ss));
}

bool parseAddr(const std::string& spec, sockaddr_storage& ss, socklen_t& len) {
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

// Waits for `events` on fd with poll (or epoll when asked). 0, an errno, or ETIMEDOUT.
int waitFor(int fd, short events, int timeout_ms, bool use_epoll, short* revents = nullptr) {
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

// Reads one line (byte by byte: nothing after it is consumed), bounded. Returns false
// on EOF before a newline; sets err on an error or the timeout (ETIMEDOUT).
bool readLine(int fd, std::string& line, int timeout_ms, int& err) {
  line.clear();
  err = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) {
      err = ETIMEDOUT;
      return false;
    }
    short rev = 0;
    int e = waitFor(fd, POLLIN, left, false, &rev);
    if (e != 0) {
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
    line.push_back(c);
  }
}

// Prints what the server said on the control connection (until `until` or quiet).
void drainControl(int ctl, const std::string& until, int timeout_ms) {
  for (;;) {
    std::string line;
    int err = 0;
    if (!readLine(ctl, line, timeout_ms, err)) return;
    say("server " + line);
    if (!until.empty() && line.rfind(until, 0) == 0) return;
    if (line.rfind("connect-failed", 0) == 0) return;
  }
}

int connectControl(const Options& o) {
  addrinfo hints{};
  hints.ai_family = o.family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(o.host.c_str(), o.port.c_str(), &hints, &res);
  if (rc != 0) fail(std::string("getaddrinfo: ") + gai_strerror(rc), 0);
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket (control)", errno);
  if (::connect(fd, res->ai_addr, res->ai_addrlen) != 0) fail("connect (control)", errno);
  freeaddrinfo(res);
  say("control-local " + sockName(fd, false));
  say("control-peer " + sockName(fd, true));
  std::string line;
  int err = 0;
  if (!readLine(fd, line, o.timeout_ms, err)) fail("read greeting (control)", err);
  say("control-greeting " + line);
  return fd;
}

int makeListener(const Options& o, int ctl) {
  int family = AF_INET;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (ctl >= 0) {
    len = sizeof ss;
    if (getsockname(ctl, reinterpret_cast<sockaddr*>(&ss), &len) != 0) fail("getsockname (control)", errno);
    family = ss.ss_family;
  } else if (o.family == AF_INET6) {
    family = AF_INET6;
  }
  bool do_bind = true;
  if (o.listen == "local") {
    if (ctl < 0) fail("--listen local needs a control connection", 0);
    if (family == AF_INET) reinterpret_cast<sockaddr_in*>(&ss)->sin_port = 0;
    else reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = 0;
  } else if (o.listen == "none") {
    do_bind = false;
  } else if (o.listen == "any" || o.listen == "loopback") {
    std::memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&ss);
      in->sin_family = AF_INET;
      in->sin_addr.s_addr = htonl(o.listen == "any" ? INADDR_ANY : INADDR_LOOPBACK);
      len = sizeof *in;
    } else {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
      in6->sin6_family = AF_INET6;
      in6->sin6_addr = o.listen == "any" ? in6addr_any : in6addr_loopback;
      len = sizeof *in6;
    }
  } else {
    if (!parseAddr(o.listen, ss, len)) fail("bad --listen address " + o.listen, 0);
    family = ss.ss_family;
  }
  int fd = ::socket(family, SOCK_STREAM, 0);
  if (fd < 0) fail("socket (listener)", errno);
  if (do_bind) {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) fail("bind " + o.listen, errno);
  }
  if (::listen(fd, 8) != 0) fail("listen", errno);
  return fd;
}

std::string flagsOf(int fd) {
  int fl = fcntl(fd, F_GETFL);
  int fdfl = fcntl(fd, F_GETFD);
  return std::string("nonblock=") + ((fl & O_NONBLOCK) ? "1" : "0") + " cloexec=" + ((fdfl & FD_CLOEXEC) ? "1" : "0");
}

// Accepts one connection on lfd according to the mode; fails the program on error.
int acceptOne(const Options& o, int lfd, int ctl, sockaddr_storage& peer) {
  socklen_t pl = sizeof peer;
  auto onError = [&](const std::string& what, int err) {
    drainControl(ctl, "data-done", 1000);
    fail(what, err);
  };
  if (o.mode == AcceptMode::kBlocking) {
    int c;
    do {
      pl = sizeof peer;
      c = ::accept(lfd, reinterpret_cast<sockaddr*>(&peer), &pl);
    } while (c < 0 && errno == EINTR);
    if (c < 0) onError("accept", errno);
    return c;
  }
  if (o.mode == AcceptMode::kAccept4) {
    int c;
    do {
      pl = sizeof peer;
      c = ::accept4(lfd, reinterpret_cast<sockaddr*>(&peer), &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (c < 0 && errno == EINTR);
    if (c < 0) onError("accept4", errno);
    return c;
  }
  // Non-blocking listener, as event loops use it.
  fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
  const bool ep = o.mode == AcceptMode::kEpoll;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.timeout_ms);
  bool first = true;
  for (;;) {
    pl = sizeof peer;
    int c = ::accept(lfd, reinterpret_cast<sockaddr*>(&peer), &pl);
    if (first) say(std::string("accept-first ") + (c >= 0 ? "immediate" : errnoName(errno)));
    first = false;
    if (c >= 0) return c;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) onError(ep ? "accept (after epoll)" : "accept (after poll)", errno);
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) onError(std::string("accept: helper timeout waiting for ") + (ep ? "EPOLLIN" : "POLLIN"), 0);
    short rev = 0;
    int e = waitFor(lfd, POLLIN, left, ep, &rev);
    if (e == ETIMEDOUT) onError(std::string("accept: helper timeout waiting for ") + (ep ? "EPOLLIN" : "POLLIN"), 0);
    if (e != 0) onError(ep ? "epoll_wait" : "poll", e);
    char buf[32];
    std::snprintf(buf, sizeof buf, "ready revents=0x%x", static_cast<unsigned>(rev) & 0xffff);
    say(buf);
  }
}

void dance(const Options& o, int lfd, int ctl) {
  const std::string bnd = sockName(lfd, false);
  say("listening-at " + bnd);
  if (!o.no_port) {
    std::string cmd = "PORT " + bnd + (o.from.empty() ? "" : " from " + o.from) + "\n";
    if (::send(ctl, cmd.data(), cmd.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(cmd.size()))
      fail("send PORT (control)", errno);
  }
  sockaddr_storage peer{};
  int c = acceptOne(o, lfd, ctl, peer);
  say("accepted-from " + formatAddr(reinterpret_cast<sockaddr*>(&peer)));
  say("accepted-peer " + sockName(c, true));
  say("accepted-local " + sockName(c, false));
  say("accepted-flags " + flagsOf(c));
  std::string line;
  int err = 0;
  if (!readLine(c, line, o.timeout_ms, err)) {
    drainControl(ctl, "data-done", 1000);
    fail("read data line (accepted connection)", err != 0 ? err : 0);
  }
  say("data " + line);
  std::string text = o.send_text + "\n";
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::send(c, text.data() + off, text.size() - off, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR)) continue;
    if (n < 0 && errno == EAGAIN) {
      waitFor(c, POLLOUT, o.timeout_ms, false);
      continue;
    }
    if (n <= 0) fail("send (accepted connection)", errno);
    off += static_cast<size_t>(n);
  }
  if (!readLine(c, line, o.timeout_ms, err)) {
    drainControl(ctl, "data-done", 1000);
    fail("read echo (accepted connection)", err);
  }
  say("echo " + line);
  close(c);
  drainControl(ctl, "data-done", o.timeout_ms);
}

int usage() {
  std::fprintf(stderr,
               "usage: bind_client HOST PORT [--listen local|none|any|loopback|ADDR:PORT]\n"
               "                   [--accept blocking|poll|epoll|accept4] [--twice] [--send TEXT] [--from SRC]\n"
               "                   [--no-port] [--listen-only] [--no-control] [--close-listener SEC] [--linger SEC]\n"
               "                   [--family 4|6] [--timeout SEC]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Options o;
  std::string pos[2];
  int npos = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) std::exit(usage());
      return argv[++i];
    };
    if (a == "--listen") o.listen = next();
    else if (a == "--accept") {
      std::string m = next();
      if (m == "blocking") o.mode = AcceptMode::kBlocking;
      else if (m == "poll") o.mode = AcceptMode::kPoll;
      else if (m == "epoll") o.mode = AcceptMode::kEpoll;
      else if (m == "accept4") o.mode = AcceptMode::kAccept4;
      else return usage();
    } else if (a == "--twice") o.twice = true;
    else if (a == "--send") o.send_text = next();
    else if (a == "--from") o.from = next();
    else if (a == "--no-port") o.no_port = true;
    else if (a == "--listen-only") o.listen_only = true;
    else if (a == "--no-control") o.no_control = true;
    else if (a == "--close-listener") {
      o.close_listener = true;
      o.close_after_s = std::atoi(next().c_str());
    }
    else if (a == "--linger") o.linger_s = std::atoi(next().c_str());
    else if (a == "--family") o.family = next() == "6" ? AF_INET6 : AF_INET;
    else if (a == "--timeout") o.timeout_ms = static_cast<int>(std::atof(next().c_str()) * 1000);
    else if (a.rfind("--", 0) == 0) return usage();
    else if (npos < 2) pos[npos++] = a;
    else return usage();
  }
  if (npos != 2 && !o.no_control) return usage();
  o.host = pos[0];
  o.port = pos[1];

  int ctl = o.no_control ? -1 : connectControl(o);
  g_round = 1;
  int lfd = makeListener(o, ctl);
  if (o.listen_only) {
    say("listening-at " + sockName(lfd, false));
    return 0;
  }
  if (o.close_listener) {
    say("listening-at " + sockName(lfd, false));
    std::this_thread::sleep_for(std::chrono::seconds(o.close_after_s));
    if (close(lfd) != 0) fail("close (listener)", errno);
    say("listener-closed");
    std::this_thread::sleep_for(std::chrono::seconds(o.linger_s));
    return 0;
  }
  if (ctl < 0) fail("the dance needs a control connection", 0);
  dance(o, lfd, ctl);
  if (o.twice) {
    g_round = 2;
    dance(o, lfd, ctl);
  }
  close(lfd);
  close(ctl);
  say("done");
  return 0;
}
