// dns_sink — a DNS "server" that records every query it receives and answers each
// with NXDOMAIN (so resolvers give up at once). Tests point a namespace's
// resolv.conf at it and assert that no query arrives while names go to the proxy.
//
//   dns_sink ADDR PORT
//
// Prints "dns_sink: listening on ADDR:PORT", then one line per datagram:
// "dns_sink: query from A:P name NAME" (flushed). Listens on UDP and TCP.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "helper_util.h"

namespace {

using namespace helper;

// Returns the QNAME and the offset just past the question, or false if malformed.
bool parseQuestion(const unsigned char* p, size_t len, std::string& name, size_t& end) {
  size_t off = 12;
  name.clear();
  while (off < len) {
    unsigned l = p[off++];
    if (l == 0) {
      if (off + 4 > len) return false;
      end = off + 4;
      if (name.empty()) name = ".";
      return true;
    }
    if (l > 63 || off + l > len) return false;
    if (!name.empty()) name += '.';
    name.append(reinterpret_cast<const char*>(p + off), l);
    off += l;
  }
  return false;
}

// Builds an NXDOMAIN answer to the query in q.
size_t nxdomain(const unsigned char* q, size_t len, size_t qend, unsigned char* out) {
  std::memcpy(out, q, qend);
  out[2] = static_cast<unsigned char>(0x80 | (q[2] & 0x79));  // QR=1, keep opcode and RD
  out[3] = 0x83;                                                // RA=1, RCODE=3 NXDOMAIN
  out[6] = out[7] = out[8] = out[9] = out[10] = out[11] = 0;   // no answers, authority, additional
  (void)len;
  return qend;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: dns_sink ADDR PORT\n");
    return 2;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
    std::fprintf(stderr, "dns_sink: bad address %s\n", argv[1]);
    return 2;
  }
  int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(u, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 || bind(t, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 ||
      listen(t, 16) < 0) {
    std::fprintf(stderr, "dns_sink: bind: %s\n", std::strerror(errno));
    return 1;
  }
  say(std::string("dns_sink: listening on ") + argv[1] + ":" + argv[2]);
  std::vector<pollfd> pfds = {{u, POLLIN, 0}, {t, POLLIN, 0}};
  return serveReadable(pfds, [&](size_t i) {
    if (i == 0) {
      unsigned char buf[4096], out[4096];
      sockaddr_in from{};
      socklen_t fl = sizeof from;
      ssize_t n = recvfrom(u, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n <= 0) return;
      std::string name;
      size_t end = 0;
      bool ok = n >= 12 && parseQuestion(buf, static_cast<size_t>(n), name, end);
      say("dns_sink: query from " + formatAddr(reinterpret_cast<const sockaddr*>(&from)) + " name " +
          (ok ? name : "?"));
      if (ok) {
        size_t m = nxdomain(buf, static_cast<size_t>(n), end, out);
        sendto(u, out, m, 0, reinterpret_cast<sockaddr*>(&from), fl);
      }
    } else {
      int c = accept4(t, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        say("dns_sink: query from tcp name ?");
        close(c);
      }
    }
  });
}
