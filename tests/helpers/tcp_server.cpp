// tcp_server — the destination of integration tests. It reports the peer address it
// sees, so a test can prove that a connection came from the proxy.
//
//   tcp_server [--echo ADDR:PORT]... [--http ADDR:PORT]... [--banner ADDR:PORT]...
//              [--silent ADDR:PORT]... [--banner-text TEXT]
//
// For every listener it prints "tcp_server: listening on ADDR:PORT" (flushed);
// PORT 0 picks an ephemeral port. For every accepted connection it prints
// "tcp_server: accepted from A:P on PORT" (flushed). Modes:
//   echo   — sends "peer A:P\n", then echoes everything until EOF, then closes.
//   http   — reads a request head, answers "HTTP/1.1 200 OK" with body "peer A:P\n".
//   banner — sends the banner line first (server speaks first, like SSH/SMTP), then
//            "peer A:P\n", then echoes until EOF.
//   silent — accepts and never writes (a proxy that does not answer the handshake).
// IPv6 addresses are written in brackets: [::1]:0. SIGTERM ends it.

#include <arpa/inet.h>
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

namespace {

enum class Mode { kEcho, kHttp, kBanner, kSilent };

std::string g_banner = "SSH-2.0-SocksifyTestBanner";

void writeAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

void say(const std::string& line) {
  std::string s = line + "\n";
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(1, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

std::string formatAddr(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
  return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
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

void echoRest(int fd) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    writeAll(fd, std::string(buf, static_cast<size_t>(n)));
  }
}

void serve(int fd, Mode mode, std::string peer) {
  switch (mode) {
    case Mode::kEcho:
      writeAll(fd, "peer " + peer + "\n");
      echoRest(fd);
      break;
    case Mode::kBanner:
      writeAll(fd, g_banner + "\r\n");
      writeAll(fd, "peer " + peer + "\n");
      echoRest(fd);
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
      writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\nConnection: close\r\n\r\n" + body);
      shutdown(fd, SHUT_WR);
      // Drain until the client closes, so it never sees a reset.
      pollfd p{fd, POLLIN, 0};
      while (poll(&p, 1, 5000) > 0 && ::read(fd, buf, sizeof buf) > 0) {
      }
      break;
    }
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
    sockaddr_storage bound{};
    socklen_t bl = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bl);
    say("tcp_server: listening on " + formatAddr(bound));
    listeners.push_back({fd, mode});
  }
  std::vector<pollfd> pfds;
  for (auto& l : listeners) pfds.push_back({l.fd, POLLIN, 0});
  for (;;) {
    int n = poll(pfds.data(), pfds.size(), -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1;
    for (size_t i = 0; i < pfds.size(); ++i) {
      if (!(pfds[i].revents & POLLIN)) continue;
      sockaddr_storage peer{};
      socklen_t pl = sizeof peer;
      int c = accept4(listeners[i].fd, reinterpret_cast<sockaddr*>(&peer), &pl, SOCK_CLOEXEC);
      if (c < 0) continue;
      sockaddr_storage local{};
      socklen_t ll = sizeof local;
      getsockname(c, reinterpret_cast<sockaddr*>(&local), &ll);
      std::string p = formatAddr(peer);
      std::string l = formatAddr(local);
      say("tcp_server: accepted from " + p + " on " + l);
      std::thread(serve, c, listeners[i].mode, p).detach();
    }
  }
}
