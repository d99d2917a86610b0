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

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
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

#include "helper_util.h"

namespace {

// Not `using namespace helper`: this program's say() prefixes the round.
using helper::Addr;
using helper::Args;
using helper::errnoName;
using helper::errorText;
using helper::formatAddr;
using helper::parseAddr;
using helper::readLine;
using helper::resolveFirst;
using helper::sendAll;
using helper::setNonBlocking;
using helper::sockName;
using helper::waitFor;
using helper::writeAll;

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

int g_round = 0;

void say(const std::string& line) { writeAll(1, "[" + std::to_string(g_round) + "] " + line + "\n"); }

[[noreturn]] void fail(const std::string& what, int err) {
  writeAll(2, errorText(what, err) + "\n");
  std::_Exit(1);
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
  Addr server;
  if (std::string err = resolveFirst(o.host, o.port, o.family, SOCK_STREAM, server); !err.empty()) fail(err, 0);
  int fd = ::socket(server.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket (control)", errno);
  if (::connect(fd, server.sa(), server.len) != 0) fail("connect (control)", errno);
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
  setNonBlocking(lfd, true);
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
  if (int e = sendAll(c, o.send_text + "\n", o.timeout_ms); e != 0) fail("send (accepted connection)", e);
  if (!readLine(c, line, o.timeout_ms, err)) {
    drainControl(ctl, "data-done", 1000);
    fail("read echo (accepted connection)", err);
  }
  say("echo " + line);
  close(c);
  drainControl(ctl, "data-done", o.timeout_ms);
}

constexpr const char* kUsage =
    "usage: bind_client HOST PORT [--listen local|none|any|loopback|ADDR:PORT]\n"
    "                   [--accept blocking|poll|epoll|accept4] [--twice] [--send TEXT] [--from SRC]\n"
    "                   [--no-port] [--listen-only] [--no-control] [--close-listener SEC] [--linger SEC]\n"
    "                   [--family 4|6] [--timeout SEC]\n";

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Options o;
  Args args(argc, argv, kUsage);
  for (std::string a; args.next(a);) {
    if (a == "--listen") o.listen = args.value();
    else if (a == "--accept") {
      std::string m = args.value();
      if (m == "blocking") o.mode = AcceptMode::kBlocking;
      else if (m == "poll") o.mode = AcceptMode::kPoll;
      else if (m == "epoll") o.mode = AcceptMode::kEpoll;
      else if (m == "accept4") o.mode = AcceptMode::kAccept4;
      else return args.usage();
    } else if (a == "--twice") o.twice = true;
    else if (a == "--send") o.send_text = args.value();
    else if (a == "--from") o.from = args.value();
    else if (a == "--no-port") o.no_port = true;
    else if (a == "--listen-only") o.listen_only = true;
    else if (a == "--no-control") o.no_control = true;
    else if (a == "--close-listener") {
      o.close_listener = true;
      o.close_after_s = args.intValue();
    }
    else if (a == "--linger") o.linger_s = args.intValue();
    else if (a == "--family") o.family = args.familyValue();
    else if (a == "--timeout") o.timeout_ms = args.msValue();
    else if (!args.keep(a) || args.positionalCount() > 2) return args.usage();
  }
  if (!args.hostPort(o.host, o.port) && !o.no_control) return args.usage();

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
