// tcp_server — the destination of integration tests. It reports the peer address it
// sees, so a test can prove that a connection came from the proxy.
//
//   tcp_server [--echo ADDR:PORT]... [--http ADDR:PORT]... [--banner ADDR:PORT]...
//              [--silent ADDR:PORT]... [--portback ADDR:PORT]... [--banner-text TEXT]
//
// For every listener it prints "tcp_server: listening on ADDR:PORT" (flushed);
// PORT 0 picks an ephemeral port. For every accepted connection it prints
// "tcp_server: accepted from A:P on PORT" (flushed). Modes:
//   echo   — sends "peer A:P\n", then echoes everything until EOF, then closes.
//   http   — reads a request head, answers "HTTP/1.1 200 OK" with body "peer A:P\n".
//   banner — sends the banner line first (server speaks first, like SSH/SMTP), then
//            "peer A:P\n", then echoes until EOF.
//   silent — accepts and never writes (a proxy that does not answer the handshake).
//   portback — an FTP-like control connection for SOCKS BIND tests: sends "peer A:P\n",
//            then for every line "PORT A:P [from SRC]" connects back to A:P (from SRC,
//            port 0, when given; 10 s limit), prints
//            "tcp_server: connect-back to A:P from L:Q" (or "... failed: ERR") and
//            answers "connected A:P from L:Q" (or "connect-failed A:P: ERR") on the
//            control connection; on the data connection it sends "dest-data from L:Q\n",
//            echoes until EOF (20 s of silence ends it), then prints
//            "tcp_server: data connection from L:Q closed: echoed=N[ error=ERR]" and
//            answers "data-done echoed=N[ error=ERR]" on the control connection.
// IPv6 addresses are written in brackets: [::1]:0. SIGTERM ends it.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "helper_util.h"

namespace {

using namespace helper;

enum class Mode { kEcho, kHttp, kBanner, kSilent, kPortback };

std::string g_banner = "SSH-2.0-SocksifyTestBanner";

// Connects (from src, when given) to dst within 10 s. Returns the socket, or -errno.
int connectBack(const sockaddr_storage& dst, socklen_t dlen, const std::string& src) {
  int fd = ::socket(dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -errno;
  if (!src.empty()) {
    sockaddr_storage s{};
    socklen_t sl = 0;
    if (!parseAddr(src.find(':') != std::string::npos ? "[" + src + "]:0" : src + ":0", s, sl) ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&s), sl) != 0) {
      int e = errno != 0 ? errno : EINVAL;
      close(fd);
      return -e;
    }
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&dst), dlen) != 0) {
    int e = errno == EINPROGRESS ? finishConnect(fd, 10000) : errno;
    if (e != 0) {
      close(fd);
      return e == -ETIMEDOUT ? e : -e;
    }
  }
  setNonBlocking(fd, false);
  return fd;
}

void portback(int ctl) {
  std::string line;
  int err = 0;
  while (readLine(ctl, line, -1, err, /*drop_cr=*/true)) {
    if (line.rfind("PORT ", 0) != 0) {
      sendAll(ctl, "unknown-command " + line + "\n");
      continue;
    }
    std::string spec = line.substr(5), src;
    if (auto f = spec.find(" from "); f != std::string::npos) {
      src = spec.substr(f + 6);
      spec = spec.substr(0, f);
    }
    sockaddr_storage dst{};
    socklen_t dlen = 0;
    if (!parseAddr(spec, dst, dlen)) {
      sendAll(ctl, "connect-failed " + spec + ": bad address\n");
      continue;
    }
    int d = connectBack(dst, dlen, src);
    if (d < 0) {
      say("tcp_server: connect-back to " + spec + " failed: " + std::strerror(-d));
      sendAll(ctl, "connect-failed " + spec + ": " + std::strerror(-d) + "\n");
      continue;
    }
    Addr local;
    sockAddr(d, false, local);
    const std::string l = local.text();
    say("tcp_server: connect-back to " + spec + " from " + l);
    sendAll(ctl, "connected " + spec + " from " + l + "\n");
    sendAll(d, "dest-data from " + l + "\n");
    std::string error;
    size_t echoed = echoUntilEof(d, 20000, &error);
    close(d);
    std::string done = "echoed=" + std::to_string(echoed) + (error.empty() ? "" : " error=" + error);
    say("tcp_server: data connection from " + l + " closed: " + done);
    sendAll(ctl, "data-done " + done + "\n");
  }
}

void serve(int fd, Mode mode, std::string peer) {
  switch (mode) {
    case Mode::kEcho:
      sendAll(fd, "peer " + peer + "\n");
      echoUntilEof(fd);
      break;
    case Mode::kBanner:
      sendAll(fd, g_banner + "\r\n");
      sendAll(fd, "peer " + peer + "\n");
      echoUntilEof(fd);
      break;
    case Mode::kHttp: {
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      std::string body = "peer " + peer + "\n";
      sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\nConnection: close\r\n\r\n" + body);
      shutdown(fd, SHUT_WR);
      // Drain until the client closes, so it never sees a reset.
      while (waitFor(fd, POLLIN, 5000) == 0 && ::read(fd, buf, sizeof buf) > 0) {
      }
      break;
    }
    case Mode::kPortback:
      sendAll(fd, "peer " + peer + "\n");
      portback(fd);
      break;
    case Mode::kSilent: {
      char buf[4096];
      while (::read(fd, buf, sizeof buf) > 0) {
      }
      break;
    }
  }
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  struct Listener {
    int fd;
    Mode mode;
  };
  std::vector<Listener> listeners;
  std::vector<std::pair<std::string, Mode>> specs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "tcp_server: %s needs an argument\n", a.c_str());
      return 2;
    }
    std::string v = argv[++i];
    if (a == "--echo") specs.emplace_back(v, Mode::kEcho);
    else if (a == "--http") specs.emplace_back(v, Mode::kHttp);
    else if (a == "--banner") specs.emplace_back(v, Mode::kBanner);
    else if (a == "--silent") specs.emplace_back(v, Mode::kSilent);
    else if (a == "--portback") specs.emplace_back(v, Mode::kPortback);
    else if (a == "--banner-text") g_banner = v;
    else {
      std::fprintf(stderr, "tcp_server: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (specs.empty()) specs.emplace_back("127.0.0.1:0", Mode::kEcho);
  for (auto& [spec, mode] : specs) {
    sockaddr_storage ss;
    socklen_t len = 0;
    if (!parseAddr(spec, ss, len)) {
      std::fprintf(stderr, "tcp_server: bad address %s\n", spec.c_str());
      return 2;
    }
    int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 || listen(fd, 512) < 0) {
      std::fprintf(stderr, "tcp_server: cannot listen on %s: %s\n", spec.c_str(), std::strerror(errno));
      return 1;
    }
    say("tcp_server: listening on " + sockName(fd, false));
    listeners.push_back({fd, mode});
  }
  std::vector<pollfd> pfds;
  for (auto& l : listeners) pfds.push_back({l.fd, POLLIN, 0});
  return serveReadable(pfds, [&](size_t i) {
    sockaddr_storage peer{};
    socklen_t pl = sizeof peer;
    int c = accept4(listeners[i].fd, reinterpret_cast<sockaddr*>(&peer), &pl, SOCK_CLOEXEC);
    if (c < 0) return;
    std::string p = formatAddr(peer);
    std::string l = sockName(c, false);
    say("tcp_server: accepted from " + p + " on " + l);
    std::thread(serve, c, listeners[i].mode, p).detach();
  });
}
