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

#include "helper_util.h"

namespace {

using namespace helper;

constexpr const char* kUsage = "usage: udp_server [--echo ADDR:PORT]... [--quiet]\n";

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
      std::fputs(kUsage, stderr);
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
    Addr bound;
    sockAddr(fd, false, bound);
    socks.push_back({fd, addrPort(bound.ss)});
    say("udp_server: listening on " + bound.text());
  }
  if (socks.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::vector<pollfd> pfds;
  for (const auto& l : socks) pfds.push_back({l.fd, POLLIN, 0});
  std::vector<char> buf(70000);
  std::map<std::string, long> counts;
  return serveReadable(pfds, [&](size_t i) {
    sockaddr_storage from{};
    socklen_t fl = sizeof from;
    ssize_t got =
        ::recvfrom(pfds[i].fd, buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fl);
    if (got < 0) return;
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
  });
}
