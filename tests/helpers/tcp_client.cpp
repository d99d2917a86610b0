// tcp_client — a TCP client that uses the socket API the way real programs do
// (getaddrinfo, blocking connect, or O_NONBLOCK + connect + poll/epoll + SO_ERROR
// like curl and libuv). It does not link core: it is the program under the shim.
//
//   tcp_client HOST PORT [--blocking|--nonblocking|--epoll] [--send TEXT]
//              [--read-first] [--print-peer] [--threads N] [--conns M] [--fork]
//              [--half-close] [--dup dup|dup2|dup3|fcntl] [--after A:P] [--family 4|6] [--timeout SEC]
//
// One exchange: connect; with --read-first read one line (a banner) before sending;
// send TEXT + "\n"; read until the echo of that line has arrived (or, with
// --half-close, shut down the write side and read until EOF); print what was read.
// --print-peer prints "connected-to A:P" (the address passed to connect) and
// "getpeername A:P" before the data. --threads/--conns run N threads × M sequential
// exchanges, verify that each reply echoes the request, print
// "summary ok=X failed=Y" and exit 1 on any failure. --fork resolves in the parent,
// forks, and both child and parent connect to that address. --dup moves the connected
// socket to a copy (dup/dup2/dup3/fcntl F_DUPFD) and closes the original before using
// it. --after A:P then makes one more exchange with an IPv4 address on a new socket
// (which reuses the closed descriptor number), printed after "after:".
// Failure: prints "error: <what>: <strerror> (errno=N NAME)" on stderr, exits 1.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

enum class Mode { kBlocking, kNonBlocking, kEpoll };

struct Options {
  std::string host;
  std::string port;
  Mode mode = Mode::kBlocking;
  std::string send_text = "hello";
  bool read_first = false;
  bool print_peer = false;
  int threads = 0;
  int conns = 1;
  bool fork_mode = false;
  bool half_close = false;
  std::string dup_mode;  // "", dup, dup2, dup3, fcntl: move the connection to a copy, close the original
  std::string after;     // IPv4 ADDR:PORT to connect to after the exchange (reusing the fd number)
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
    case EALREADY: return "EALREADY";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EPROTO: return "EPROTO";
    case EPIPE: return "EPIPE";
    case EIO: return "EIO";
    case ENOTCONN: return "ENOTCONN";
    case EISCONN: return "EISCONN";
    case EBADF: return "EBADF";
    case ENOENT: return "ENOENT";
    case 0: return "0";
    default: return "E?";
  }
}

// A failure description, formatted the way tests grep for it.
struct Failure {
  std::string what;
  int err = 0;
  std::string text() const {
    char buf[512];
    if (err != 0) {
      std::snprintf(buf, sizeof buf, "error: %s: %s (errno=%d %s)", what.c_str(), std::strerror(err), err,
                    errnoName(err));
    } else {
      std::snprintf(buf, sizeof buf, "error: %s", what.c_str());
    }
    return buf;
  }
};

void writeAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

std::string formatAddr(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return "family-" + std::to_string(sa->sa_family);
}

// Waits until fd is ready for `events` (POLLIN/POLLOUT) using poll or epoll.
// Returns 0, or an errno (ETIMEDOUT when the helper's own timeout passes).
int waitReady(int fd, short events, Mode mode, int timeout_ms) {
  if (mode == Mode::kEpoll) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return errno;
    epoll_event ev{};
    ev.events = 0;
    if (events & POLLOUT) ev.events |= EPOLLOUT;
    if (events & POLLIN) ev.events |= EPOLLIN;
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
    close(ep);
    return e;
  }
  pollfd p{fd, events, 0};
  int n;
  do {
    n = poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  if (n == 0) return ETIMEDOUT;
  return 0;
}

// Connects fd to addr according to mode. Returns 0 or an errno.
int connectFd(int fd, const sockaddr* addr, socklen_t len, const Options& o) {
  if (o.mode == Mode::kBlocking) {
    if (::connect(fd, addr, len) == 0) return 0;
    return errno;
  }
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  if (::connect(fd, addr, len) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  int e = waitReady(fd, POLLOUT, o.mode, o.timeout_ms);
  if (e == ETIMEDOUT) return -ETIMEDOUT;  // the helper's own timeout: never a proper result
  if (e != 0) return e;
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) return errno;
  return soerr;
}

// Reads once (waiting for readiness in non-blocking modes). Returns bytes, 0 at EOF,
// or -errno.
ssize_t readSome(int fd, char* buf, size_t len, const Options& o) {
  for (;;) {
    ssize_t n = ::read(fd, buf, len);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -errno;
    int e = waitReady(fd, POLLIN, o.mode, o.timeout_ms);
    if (e != 0) return -e;
  }
}

int writeFd(int fd, const std::string& s, const Options& o) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      int e = waitReady(fd, POLLOUT, o.mode, o.timeout_ms);
      if (e != 0) return e;
      continue;
    }
    if (n < 0) return errno;
    off += static_cast<size_t>(n);
  }
  return 0;
}

// One full exchange with a resolved address; output goes to `out`.
bool exchange(const sockaddr* addr, socklen_t len, const std::string& text, const Options& o, std::string& out,
              Failure& fail) {
  int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fail = {"socket", errno};
    return false;
  }
  int e = connectFd(fd, addr, len, o);
  if (e != 0) {
    if (e == -ETIMEDOUT) {
      fail = {"connect: helper timeout waiting for POLLOUT (no result from the socket)", 0};
    } else {
      fail = {"connect", e};
    }
    close(fd);
    return false;
  }
  if (!o.dup_mode.empty()) {
    int copy = -1;
    if (o.dup_mode == "dup") copy = dup(fd);
    else if (o.dup_mode == "dup2") copy = dup2(fd, 100);
    else if (o.dup_mode == "dup3") copy = dup3(fd, 101, O_CLOEXEC);
    else if (o.dup_mode == "fcntl") copy = fcntl(fd, F_DUPFD_CLOEXEC, 102);
    if (copy < 0) {
      fail = {"dup (" + o.dup_mode + ")", errno};
      close(fd);
      return false;
    }
    close(fd);
    fd = copy;
  }
  if (o.print_peer) {
    sockaddr_storage peer{};
    socklen_t pl = sizeof peer;
    out += "connected-to " + formatAddr(addr) + "\n";
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) == 0) {
      out += "getpeername " + formatAddr(reinterpret_cast<sockaddr*>(&peer)) + "\n";
    } else {
      out += std::string("getpeername-error ") + errnoName(errno) + "\n";
    }
  }
  char buf[4096];
  if (o.read_first) {
    // Read exactly one line (byte by byte so nothing after it is consumed here).
    std::string line;
    for (;;) {
      ssize_t n = readSome(fd, buf, 1, o);
      if (n < 0) {
        fail = {"read banner", static_cast<int>(-n)};
        close(fd);
        return false;
      }
      if (n == 0) break;
      line.push_back(buf[0]);
      if (buf[0] == '\n') break;
    }
    out += line;
  }
  if (int we = writeFd(fd, text + "\n", o); we != 0) {
    fail = {"write", we};
    close(fd);
    return false;
  }
  if (o.half_close) shutdown(fd, SHUT_WR);
  // Without --half-close, stop once the echo of our line has arrived (some proxies,
  // microsocks for one, tear the whole relay down when one side half-closes).
  const std::string echo = text + "\n";
  const size_t start = out.size();
  for (;;) {
    if (!o.half_close && out.size() - start >= echo.size() &&
        out.compare(out.size() - echo.size(), echo.size(), echo) == 0)
      break;
    ssize_t n = readSome(fd, buf, sizeof buf, o);
    if (n < 0) {
      fail = {"read", static_cast<int>(-n)};
      close(fd);
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return true;
}

struct Resolved {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

bool resolve(const Options& o, Resolved& r, Failure& fail) {
  addrinfo hints{};
  hints.ai_family = o.family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(o.host.c_str(), o.port.c_str(), &hints, &res);
  if (rc != 0) {
    fail = {std::string("getaddrinfo: ") + gai_strerror(rc), 0};
    return false;
  }
  std::memcpy(&r.addr, res->ai_addr, res->ai_addrlen);
  r.len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

int runThreads(const Options& o, const Resolved& r) {
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      for (int c = 0; c < o.conns; ++c) {
        std::string text = "t" + std::to_string(t) + "c" + std::to_string(c) + "-" + o.send_text;
        std::string out;
        Failure f;
        if (!exchange(reinterpret_cast<const sockaddr*>(&r.addr), r.len, text, o, out, f)) {
          failed++;
          writeAll(2, f.text() + " [thread " + std::to_string(t) + " conn " + std::to_string(c) + "]\n");
          continue;
        }
        if (out.find(text + "\n") == std::string::npos) {
          failed++;
          writeAll(2, "error: bad echo for " + text + ": got [" + out + "]\n");
          continue;
        }
        ok++;
      }
    });
  }
  for (auto& th : threads) th.join();
  std::printf("summary ok=%d failed=%d\n", ok.load(), failed.load());
  return failed.load() == 0 && ok.load() == o.threads * o.conns ? 0 : 1;
}

int usage() {
  std::fprintf(stderr,
               "usage: tcp_client HOST PORT [--blocking|--nonblocking|--epoll] [--send TEXT] [--read-first]\n"
               "                  [--print-peer] [--threads N] [--conns M] [--fork] [--family 4|6] [--timeout SEC]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::exit(usage());
      }
      return argv[++i];
    };
    if (a == "--blocking") o.mode = Mode::kBlocking;
    else if (a == "--nonblocking") o.mode = Mode::kNonBlocking;
    else if (a == "--epoll") o.mode = Mode::kEpoll;
    else if (a == "--send") o.send_text = next();
    else if (a == "--read-first") o.read_first = true;
    else if (a == "--print-peer") o.print_peer = true;
    else if (a == "--threads") o.threads = std::atoi(next().c_str());
    else if (a == "--conns") o.conns = std::atoi(next().c_str());
    else if (a == "--fork") o.fork_mode = true;
    else if (a == "--half-close") o.half_close = true;
    else if (a == "--dup") o.dup_mode = next();
    else if (a == "--after") o.after = next();
    else if (a == "--family") o.family = next() == "6" ? AF_INET6 : AF_INET;
    else if (a == "--timeout") o.timeout_ms = static_cast<int>(std::atof(next().c_str()) * 1000);
    else if (a.rfind("--", 0) == 0) return usage();
    else pos.push_back(a);
  }
  if (pos.size() != 2) return usage();
  o.host = pos[0];
  o.port = pos[1];

  Resolved r;
  Failure f;
  if (!resolve(o, r, f)) {
    writeAll(2, f.text() + "\n");
    return 1;
  }
  const auto* sa = reinterpret_cast<const sockaddr*>(&r.addr);

  if (o.threads > 0) return runThreads(o, r);

  if (o.fork_mode) {
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
      writeAll(2, Failure{"fork", errno}.text() + "\n");
      return 1;
    }
    if (pid == 0) {
      std::string out;
      Failure cf;
      if (!exchange(sa, r.len, "child-" + o.send_text, o, out, cf)) {
        writeAll(2, "child " + cf.text() + "\n");
        _exit(1);
      }
      writeAll(1, "child:\n" + out);
      _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    bool child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    std::string out;
    Failure pf;
    if (!exchange(sa, r.len, "parent-" + o.send_text, o, out, pf)) {
      writeAll(2, "parent " + pf.text() + "\n");
      return 1;
    }
    writeAll(1, "parent:\n" + out);
    return child_ok ? 0 : 1;
  }

  int rc = 0;
  for (int c = 0; c < o.conns; ++c) {
    std::string out;
    if (!exchange(sa, r.len, o.send_text, o, out, f)) {
      writeAll(2, f.text() + "\n");
      rc = 1;
      break;
    }
    writeAll(1, out);
  }
  if (rc == 0 && !o.after.empty()) {
    // The descriptor number just closed is reused for a new, direct connection.
    auto colon = o.after.rfind(':');
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<uint16_t>(std::atoi(o.after.c_str() + colon + 1)));
    if (colon == std::string::npos || inet_pton(AF_INET, o.after.substr(0, colon).c_str(), &sin.sin_addr) != 1) {
      writeAll(2, "error: bad --after address\n");
      return 2;
    }
    Options direct = o;
    direct.dup_mode.clear();
    direct.print_peer = true;
    std::string out;
    if (!exchange(reinterpret_cast<sockaddr*>(&sin), sizeof sin, "after-" + o.send_text, direct, out, f)) {
      writeAll(2, "after " + f.text() + "\n");
      return 1;
    }
    writeAll(1, "after:\n" + out);
  }
  return rc;
}
