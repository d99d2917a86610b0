// tcp_client — a TCP client that uses the socket API the way real programs do
// (getaddrinfo, blocking connect, or O_NONBLOCK + connect + poll/epoll + SO_ERROR
// like curl and libuv). It does not link core: it is the program under the shim.
//
//   tcp_client HOST PORT [--blocking|--nonblocking|--epoll] [--send TEXT]
//              [--read-first] [--print-peer] [--threads N] [--conns M] [--fork]
//              [--half-close] [--dup dup|dup2|dup3|fcntl] [--after A:P] [--family 4|6] [--timeout SEC]
//              [--fastopen]
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
// --fastopen connects with sendto(MSG_FASTOPEN) carrying the line (TCP Fast Open, as
// curl --tcp-fastopen does) instead of connect() then send.
// Failure: prints "error: <what>: <strerror> (errno=N NAME)" on stderr, exits 1.

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "helper_util.h"

namespace {

using namespace helper;

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
  bool fast_open = false;  // connect and send the line with sendto(MSG_FASTOPEN)
};

// Connects fd to addr according to mode. Returns 0, an errno, or -ETIMEDOUT (the
// helper's own timeout: never a proper result).
int connectFd(int fd, const sockaddr* addr, socklen_t len, const Options& o) {
  if (o.mode == Mode::kBlocking) {
    if (::connect(fd, addr, len) == 0) return 0;
    return errno;
  }
  setNonBlocking(fd, true);
  if (::connect(fd, addr, len) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  return finishConnect(fd, o.timeout_ms, o.mode == Mode::kEpoll);
}

// Reads once (waiting for readiness in non-blocking modes). Returns bytes, 0 at EOF,
// or -errno.
ssize_t readSome(int fd, char* buf, size_t len, const Options& o) {
  for (;;) {
    ssize_t n = ::read(fd, buf, len);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -errno;
    int e = waitFor(fd, POLLIN, o.timeout_ms, o.mode == Mode::kEpoll);
    if (e != 0) return -e;
  }
}

// One full exchange with a resolved address; output goes to `out`.
bool exchange(const sockaddr* addr, socklen_t len, const std::string& text, const Options& o, std::string& out,
              Failure& fail) {
  int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fail = {"socket", errno};
    return false;
  }
  std::size_t sent_first = 0;  // bytes of the line that went with the SYN (--fastopen)
  int e = 0;
  if (o.fast_open) {
    const std::string line = text + "\n";
    const ssize_t n = ::sendto(fd, line.data(), line.size(), MSG_FASTOPEN, addr, len);
    if (n < 0) {
      fail = {"sendto(MSG_FASTOPEN)", errno};
      close(fd);
      return false;
    }
    sent_first = static_cast<std::size_t>(n);
  } else {
    e = connectFd(fd, addr, len, o);
  }
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
  if (o.print_peer) out += peerLines(fd, addr);
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
  if (int we = sendAll(fd, (text + "\n").substr(sent_first), o.timeout_ms, o.mode == Mode::kEpoll);
      we != 0) {
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

int runThreads(const Options& o, const Addr& r) {
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      for (int c = 0; c < o.conns; ++c) {
        std::string text = "t" + std::to_string(t) + "c" + std::to_string(c) + "-" + o.send_text;
        std::string out;
        Failure f;
        if (!exchange(r.sa(), r.len, text, o, out, f)) {
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

constexpr const char* kUsage =
    "usage: tcp_client HOST PORT [--blocking|--nonblocking|--epoll] [--send TEXT] [--read-first]\n"
    "                  [--print-peer] [--threads N] [--conns M] [--fork] [--family 4|6] [--timeout SEC]\n";

}  // namespace

int main(int argc, char** argv) {
  Options o;
  Args args(argc, argv, kUsage);
  for (std::string a; args.next(a);) {
    if (a == "--blocking") o.mode = Mode::kBlocking;
    else if (a == "--nonblocking") o.mode = Mode::kNonBlocking;
    else if (a == "--epoll") o.mode = Mode::kEpoll;
    else if (a == "--send") o.send_text = args.value();
    else if (a == "--read-first") o.read_first = true;
    else if (a == "--print-peer") o.print_peer = true;
    else if (a == "--threads") o.threads = args.intValue();
    else if (a == "--conns") o.conns = args.intValue();
    else if (a == "--fork") o.fork_mode = true;
    else if (a == "--half-close") o.half_close = true;
    else if (a == "--fastopen") o.fast_open = true;
    else if (a == "--dup") o.dup_mode = args.value();
    else if (a == "--after") o.after = args.value();
    else if (a == "--family") o.family = args.familyValue();
    else if (a == "--timeout") o.timeout_ms = args.msValue();
    else if (!args.keep(a)) return args.usage();
  }
  if (!args.hostPort(o.host, o.port)) return args.usage();

  Addr r;
  if (std::string err = resolveFirst(o.host, o.port, o.family, SOCK_STREAM, r); !err.empty()) {
    writeAll(2, errorText(err, 0) + "\n");
    return 1;
  }
  Failure f;
  const sockaddr* sa = r.sa();

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
    Addr direct_addr;
    if (!parseAddr(o.after, direct_addr) || direct_addr.ss.ss_family != AF_INET) {
      writeAll(2, "error: bad --after address\n");
      return 2;
    }
    Options direct = o;
    direct.dup_mode.clear();
    direct.print_peer = true;
    std::string out;
    if (!exchange(direct_addr.sa(), direct_addr.len, "after-" + o.send_text, direct, out, f)) {
      writeAll(2, "after " + f.text() + "\n");
      return 1;
    }
    writeAll(1, "after:\n" + out);
  }
  return rc;
}
