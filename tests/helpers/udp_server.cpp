// udp_server — the UDP destination of integration tests. It reports the source
// address of every datagram, so a test can prove that datagrams came from the proxy.
//
//   udp_server [--echo ADDR:PORT]... [--quiet]
//
// For every socket it prints "udp_server: listening on ADDR:PORT" (flushed; PORT 0
// picks an ephemeral port). For every datagram it prints
// "udp_server: datagram from A:P size N on PORT" (flushed; with --quiet only every
// datagram whose size is not small, plus a "udp_server: count from A:P N" line every
// 100 datagrams from one source) and answers the sender with "from A:P " followed by
// the datagram (A:P as it saw the source). IPv6 addresses are written in brackets:
// [::]:0. SIGTERM ends it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

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

struct Listener {
  int fd;
  int port;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<Listener> socks;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quiet") {
      quiet = true;
      continue;
    }
    if (a != "--echo" || i + 1 >= argc) {
      std::fprintf(stderr, "usage: udp_server [--echo ADDR:PORT]... [--quiet]\n");
      return 2;
    }
    std::string spec = argv[++i];
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (!parseAddr(spec, ss, len)) {
      std::fprintf(stderr, "udp_server: bad address %s\n", spec.c_str());
      return 2;
    }
    int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      std::fprintf(stderr, "udp_server: socket: %s\n", std::strerror(errno));
      return 1;
    }
    int one = 1;
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
      std::fprintf(stderr, "udp_server: bind %s: %s\n", spec.c_str(), std::strerror(errno));
      return 1;
    }
    sockaddr_storage bound{};
    socklen_t bl = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bl);
    int port = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                                : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    socks.push_back({fd, port});
    say("udp_server: listening on " + formatAddr(bound));
  }
  if (socks.empty()) {
    std::fprintf(stderr, "usage: udp_server [--echo ADDR:PORT]... [--quiet]\n");
    return 2;
  }
  std::vector<pollfd> pfds;
  for (const auto& l : socks) pfds.push_back({l.fd, POLLIN, 0});
  std::vector<char> buf(70000);
  std::map<std::string, long> counts;
  for (;;) {
    int n = ::poll(pfds.data(), pfds.size(), -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1;
    for (size_t i = 0; i < pfds.size(); ++i) {
      if ((pfds[i].revents & POLLIN) == 0) continue;
      sockaddr_storage from{};
      socklen_t fl = sizeof from;
      ssize_t got = ::recvfrom(pfds[i].fd, buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from),
                               &fl);
      if (got < 0) continue;
      const std::string src = formatAddr(from);
      long c = ++counts[src];
      if (!quiet || got > 200) {
        say("udp_server: datagram from " + src + " size " + std::to_string(got) + " on " +
            std::to_string(socks[i].port));
      }
      if (quiet && c % 100 == 0) say("udp_server: count from " + src + " " + std::to_string(c));
      std::string reply = "from " + src + " ";
      reply.append(buf.data(), static_cast<size_t>(got));
      ::sendto(pfds[i].fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
    }
  }
}
