// udp_client — a UDP client that uses the socket API the way real programs do
// (getaddrinfo, then sendto/recvfrom, connect + send/recv, sendmsg/recvmsg with
// control messages, sendmmsg/recvmmsg, O_NONBLOCK + poll/epoll). It does not link
// core: it is the program under the shim. Its peer is udp_server, which answers every
// datagram with "from A:P " (the source it saw) followed by the datagram.
//
//   udp_client HOST PORT [--sendto|--connect|--msg|--mmsg|--peek|--trunc]
//              [--nonblocking] [--epoll] [--size N] [--count N] [--threads N]
//              [--direct ADDR:PORT] [--print-peer] [--family 4|6] [--send TEXT]
//              [--timeout SEC] [--pause SEC] [--hold SEC] [--bind ADDR:PORT]
//
// Modes (default --sendto):
//   --sendto   sendto + recvfrom, twice; then recvfrom(MSG_DONTWAIT) must say EAGAIN.
//   --connect  connect, then send/recv, write/read, writev/readv, send/recvfrom,
//              sendmsg/recvmsg, and sendmmsg/recvmmsg without addresses.
//   --msg      sendmsg (two iovecs) + recvmsg with IP_PKTINFO / IPV6_RECVPKTINFO and
//              SO_TIMESTAMP enabled: prints "cmsg pktinfo" and "cmsg timestamp" when
//              they arrive (a missing one is a failure), twice.
//   --mmsg     sendmmsg of 5 datagrams, recvmmsg until all 5 answers are in.
//   --peek     recvfrom(MSG_PEEK) then recvfrom: the same payload and source.
//   --trunc    recvfrom(16-byte buffer, MSG_TRUNC) returns the full length;
//              recvmsg into 16 bytes sets MSG_TRUNC in msg_flags; then a normal exchange.
// --nonblocking makes the socket O_NONBLOCK and waits with poll (--epoll: epoll); after
// the exchanges a read must fail with EAGAIN ("drained EAGAIN").
// --size N pads every payload to N bytes. --count N sends N datagrams (paced: at most
// 32 outstanding) and counts the answers: "summary sent=N received=M lost=L bad=B"
// (exit 1 on any loss). --threads N: N threads, each with its own socket, making
// --count exchanges (default 50) one after the other: "summary threads=N ok=X failed=Y".
// --direct ADDR:PORT (sendto and msg modes): the same socket also talks to a direct
// (loopback) udp_server: direct, proxied, direct, proxied.
// --bind ADDR:PORT binds the socket before anything else (as resolvers and
// games do). --print-peer (connect mode) prints "connected-to A:P" and "getpeername A:P".
// --pause SEC: after the exchanges print "exchanged", sleep, close the socket, print
// "closed", sleep again, exit. --hold SEC (sendto and connect modes): after the first
// exchange print "holding" and sleep (strangers' datagrams sent meanwhile must not
// surface: every later read is checked, and the socket must be drained at the end).
//
// Every answer is checked: the payload is what was sent, and the source address the
// kernel (or the shim) reported is the address the datagram was sent to. Each exchange
// prints "reply SEND/RECV source A:P saw X:Y len N" (X:Y: the source udp_server saw),
// direct ones "direct ..." instead of "reply ...".
// Failure: prints "error: <what>: <strerror> (errno=N NAME)" on stderr, exits 1.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "helper_util.h"

namespace {

using namespace helper;

enum class Mode { kSendto, kConnect, kMsg, kMmsg, kPeek, kTrunc };

struct Options {
  std::string host;
  std::string port;
  Mode mode = Mode::kSendto;
  bool nonblocking = false;
  bool epoll = false;
  size_t size = 0;
  int count = 0;
  int threads = 0;
  std::string direct;
  bool print_peer = false;
  int family = AF_UNSPEC;
  std::string send_text = "hello";
  int timeout_ms = 10000;
  double pause_sec = 0;
  double hold_sec = 0;
  std::string bind;  // bind the socket here first (ADDR:PORT)
};

std::string makePayload(const std::string& tag, size_t size) {
  std::string p = tag + ":";
  for (size_t i = 0; p.size() < size; ++i) p.push_back(static_cast<char>('a' + (i % 26)));
  return p;
}

// One socket and what it talks to.
struct Client {
  const Options& o;
  Addr dest;       // the address datagrams are sent to (what getaddrinfo gave)
  Addr direct;     // --direct
  int fd = -1;
  bool connected = false;
  std::string out;  // lines to print (threads collect theirs)
  std::string last_cmsg;
  Failure fail;

  Client(const Options& opts, const Addr& d) : o(opts), dest(d) {}
  ~Client() {
    if (fd >= 0) close(fd);
  }

  bool open() {
    fd = ::socket(dest.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      fail = {"socket", errno};
      return false;
    }
    if (!o.bind.empty()) {
      Addr local;
      if (!parseAddr(o.bind, local)) {
        fail = {"bad --bind address " + o.bind, 0};
        return false;
      }
      if (::bind(fd, local.sa(), local.len) < 0) {
        fail = {"bind " + o.bind, errno};
        return false;
      }
    }
    if (o.nonblocking) {
      setNonBlocking(fd, true);
    } else {
      timeval tv{o.timeout_ms / 1000, (o.timeout_ms % 1000) * 1000};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    return true;
  }

  // ---- sending
  bool send(const std::string& op, const Addr& to, const std::string& payload) {
    ssize_t n = -1;
    for (;;) {
      if (op == "sendto") {
        n = connected ? ::sendto(fd, payload.data(), payload.size(), 0, nullptr, 0)
                      : ::sendto(fd, payload.data(), payload.size(), 0, to.sa(), to.len);
      } else if (op == "send") {
        n = ::send(fd, payload.data(), payload.size(), 0);
      } else if (op == "write") {
        n = ::write(fd, payload.data(), payload.size());
      } else if (op == "writev") {
        size_t half = payload.size() / 2;
        iovec iov[2] = {{const_cast<char*>(payload.data()), half},
                        {const_cast<char*>(payload.data()) + half, payload.size() - half}};
        n = ::writev(fd, iov, 2);
      } else if (op == "sendmsg") {
        size_t half = payload.size() / 2;
        iovec iov[2] = {{const_cast<char*>(payload.data()), half},
                        {const_cast<char*>(payload.data()) + half, payload.size() - half}};
        msghdr m{};
        if (!connected) {
          m.msg_name = const_cast<sockaddr*>(to.sa());
          m.msg_namelen = to.len;
        }
        m.msg_iov = iov;
        m.msg_iovlen = 2;
        n = ::sendmsg(fd, &m, 0);
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN && o.nonblocking) {
        if (waitFor(fd, POLLOUT, o.timeout_ms) == 0) continue;
        fail = {op + ": helper timeout waiting for POLLOUT", 0};
        return false;
      }
      break;
    }
    if (n < 0) {
      fail = {op + " to " + to.text(), errno};
      return false;
    }
    if (static_cast<size_t>(n) != payload.size()) {
      fail = {op + " sent " + std::to_string(n) + " of " + std::to_string(payload.size()) + " bytes", 0};
      return false;
    }
    return true;
  }

  // ---- receiving: returns the datagram length (or -1 with fail set); src gets the
  // source when the call reports one (otherwise the connected peer).
  ssize_t recv(const std::string& op, char* buf, size_t cap, Addr& src, int flags = 0, int* msg_flags = nullptr,
               std::string* cmsgs = nullptr) {
    for (;;) {
      ssize_t n = -1;
      src = Addr{};
      src.len = sizeof src.ss;
      if (op == "recvfrom") {
        n = ::recvfrom(fd, buf, cap, flags, reinterpret_cast<sockaddr*>(&src.ss), &src.len);
      } else if (op == "recv") {
        n = ::recv(fd, buf, cap, flags);
      } else if (op == "read") {
        n = ::read(fd, buf, cap);
      } else if (op == "readv") {
        size_t half = cap / 2;
        iovec iov[2] = {{buf, half}, {buf + half, cap - half}};
        n = ::readv(fd, iov, 2);
      } else if (op == "recvmsg") {
        iovec iov[2] = {{buf, cap < 8 ? cap : 8}, {buf + (cap < 8 ? cap : 8), cap < 8 ? 0 : cap - 8}};
        alignas(cmsghdr) char control[512];
        msghdr m{};
        m.msg_name = &src.ss;
        m.msg_namelen = sizeof src.ss;
        m.msg_iov = iov;
        m.msg_iovlen = 2;
        m.msg_control = control;
        m.msg_controllen = sizeof control;
        n = ::recvmsg(fd, &m, flags);
        if (n >= 0) {
          src.len = m.msg_namelen;
          if (msg_flags != nullptr) *msg_flags = m.msg_flags;
          if (cmsgs != nullptr) {
            cmsgs->clear();
            for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
              if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) ||
                  (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO))
                *cmsgs += " pktinfo";
              else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMP)
                *cmsgs += " timestamp";
              else
                *cmsgs += " other-" + std::to_string(c->cmsg_level) + "-" + std::to_string(c->cmsg_type);
            }
          }
        }
      }
      if (n >= 0) {
        if (op != "recvfrom" && op != "recvmsg") {
          src.len = sizeof src.ss;
          if (getpeername(fd, reinterpret_cast<sockaddr*>(&src.ss), &src.len) < 0) src = Addr{};
        }
        return n;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN && o.nonblocking && (flags & MSG_DONTWAIT) == 0) {
        int e = waitFor(fd, POLLIN, o.timeout_ms, o.epoll);
        if (e == ETIMEDOUT) {
          fail = {op + ": helper timeout waiting for the socket to become readable (no reply)", 0};
          return -1;
        }
        if (e != 0) {
          fail = {(o.epoll ? "epoll_wait" : "poll"), e};
          return -1;
        }
        continue;
      }
      if (errno == EAGAIN) {
        fail = {op + ": no reply within the timeout", errno};
      } else {
        fail = {op, errno};
      }
      return -1;
    }
  }

  // Checks an answer to `payload` sent to `to`; `saw` gets the source udp_server saw.
  bool check(const std::string& reply, const std::string& payload, const Addr& to, const Addr& src,
             std::string& saw) {
    if (reply.rfind("from ", 0) != 0 || reply.find(' ', 5) == std::string::npos) {
      fail = {"malformed reply (" + std::to_string(reply.size()) + " bytes): [" + reply.substr(0, 80) + "]", 0};
      return false;
    }
    size_t sp = reply.find(' ', 5);
    saw = reply.substr(5, sp - 5);
    if (reply.compare(sp + 1, std::string::npos, payload) != 0) {
      fail = {"reply payload differs from what was sent (" + std::to_string(reply.size() - sp - 1) + " bytes, sent " +
                  std::to_string(payload.size()) + "): [" + reply.substr(0, 80) + "]",
              0};
      return false;
    }
    if (src.ss.ss_family == 0) {
      fail = {"no source address reported for the reply", 0};
      return false;
    }
    if (src.text() != to.text()) {
      fail = {"reply source " + src.text() + " is not the address the datagram was sent to, " + to.text(), 0};
      return false;
    }
    return true;
  }

  bool exchange(const std::string& sop, const std::string& rop, const Addr& to, const std::string& tag,
                const char* label = "reply") {
    const std::string payload = makePayload(tag, o.size);
    if (!send(sop, to, payload)) return false;
    std::vector<char> buf(70000);
    Addr src;
    int mflags = 0;
    std::string cm;
    ssize_t n = recv(rop, buf.data(), buf.size(), src, 0, &mflags, &cm);
    if (n < 0) return false;
    std::string saw;
    if (!check(std::string(buf.data(), static_cast<size_t>(n)), payload, to, src, saw)) return false;
    out += std::string(label) + " " + sop + "/" + rop + " source " + src.text() + " saw " + saw + " len " +
           std::to_string(payload.size()) + "\n";
    last_cmsg = cm;
    if (rop == "recvmsg") {
      out += "cmsg" + (cm.empty() ? std::string(" none") : cm) + "\n";
      if (mflags & MSG_TRUNC) {
        fail = {"recvmsg set MSG_TRUNC on a datagram that fit", 0};
        return false;
      }
    }
    return true;
  }

  // After everything was answered, nothing more is readable.
  bool drained() {
    char b[64];
    Addr src;
    src.len = sizeof src.ss;
    ssize_t n = ::recvfrom(fd, b, sizeof b, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&src.ss), &src.len);
    if (n >= 0) {
      fail = {"an unexpected datagram of " + std::to_string(n) + " bytes was pending", 0};
      return false;
    }
    if (errno != EAGAIN) {
      fail = {"recvfrom(MSG_DONTWAIT) with nothing pending", errno};
      return false;
    }
    out += "drained EAGAIN\n";
    return true;
  }

  bool runSendto() {
    bool d = !o.direct.empty();
    if (d && !exchange("sendto", "recvfrom", direct, "direct-1", "direct")) return false;
    if (!exchange("sendto", "recvfrom", dest, o.send_text + "-1")) return false;
    hold();
    if (d && !exchange("sendto", "recvfrom", direct, "direct-2", "direct")) return false;
    if (!exchange("sendto", "recvfrom", dest, o.send_text + "-2")) return false;
    return drained();
  }

  bool runConnect() {
    if (::connect(fd, dest.sa(), dest.len) < 0) {
      fail = {"connect", errno};
      return false;
    }
    connected = true;
    if (o.print_peer) out += peerLines(fd, dest.sa());
    if (!exchange("send", "recv", dest, o.send_text + "-send")) return false;
    hold();
    if (!exchange("write", "read", dest, o.send_text + "-write")) return false;
    if (!exchange("writev", "readv", dest, o.send_text + "-writev")) return false;
    if (!exchange("send", "recvfrom", dest, o.send_text + "-recvfrom")) return false;
    if (!exchange("sendmsg", "recvmsg", dest, o.send_text + "-sendmsg")) return false;
    if (!mmsgRound()) return false;
    return drained();
  }

  bool runMsg() {
    int one = 1;
    if (dest.ss.ss_family == AF_INET) {
      if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0) {
        fail = {"setsockopt IP_PKTINFO", errno};
        return false;
      }
    } else if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) < 0) {
      fail = {"setsockopt IPV6_RECVPKTINFO", errno};
      return false;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof one) < 0) {
      fail = {"setsockopt SO_TIMESTAMP", errno};
      return false;
    }
    bool d = !o.direct.empty();
    for (int i = 1; i <= 2; ++i) {
      if (d && !exchange("sendmsg", "recvmsg", direct, "direct-" + std::to_string(i), "direct")) return false;
      if (!exchange("sendmsg", "recvmsg", dest, o.send_text + "-msg" + std::to_string(i))) return false;
      if (!contains(last_cmsg, "pktinfo") || !contains(last_cmsg, "timestamp")) {
        fail = {"recvmsg did not pass the requested control messages through (got:" +
                    (last_cmsg.empty() ? std::string(" none") : last_cmsg) + ")",
                0};
        return false;
      }
    }
    return drained();
  }

  static bool contains(const std::string& s, const std::string& n) { return s.find(n) != std::string::npos; }

  bool runMmsg() { return mmsgRound() && drained(); }

  // sendmmsg of 5 datagrams (with addresses unless connected), recvmmsg until all
  // 5 answers are in.
  bool mmsgRound() {
    constexpr int kN = 5;
    std::vector<std::string> payloads;
    std::vector<iovec> iov(kN);
    std::vector<mmsghdr> msgs(kN);
    for (int i = 0; i < kN; ++i) payloads.push_back(makePayload(o.send_text + "-mmsg" + std::to_string(i), o.size));
    for (int i = 0; i < kN; ++i) {
      iov[i] = {payloads[i].data(), payloads[i].size()};
      msgs[i] = {};
      if (!connected) {
        msgs[i].msg_hdr.msg_name = const_cast<sockaddr*>(dest.sa());
        msgs[i].msg_hdr.msg_namelen = dest.len;
      }
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int sent = 0;
    while (sent < kN) {
      int n = ::sendmmsg(fd, msgs.data() + sent, static_cast<unsigned>(kN - sent), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fail = {"sendmmsg (" + std::to_string(sent) + " of " + std::to_string(kN) + " sent)", n < 0 ? errno : 0};
        return false;
      }
      for (int i = sent; i < sent + n; ++i) {
        if (msgs[i].msg_len != payloads[i].size()) {
          fail = {"sendmmsg: msg_len " + std::to_string(msgs[i].msg_len) + " for a datagram of " +
                      std::to_string(payloads[i].size()),
                  0};
          return false;
        }
      }
      sent += n;
    }
    out += "sendmmsg sent " + std::to_string(sent) + "\n";
    std::set<std::string> pending(payloads.begin(), payloads.end());
    std::vector<std::vector<char>> bufs(kN, std::vector<char>(70000));
    int calls = 0;
    while (!pending.empty()) {
      std::vector<iovec> riov(kN);
      std::vector<mmsghdr> rm(kN);
      std::vector<sockaddr_storage> names(kN);
      for (int i = 0; i < kN; ++i) {
        riov[i] = {bufs[i].data(), bufs[i].size()};
        rm[i] = {};
        rm[i].msg_hdr.msg_name = &names[i];
        rm[i].msg_hdr.msg_namelen = sizeof names[i];
        rm[i].msg_hdr.msg_iov = &riov[i];
        rm[i].msg_hdr.msg_iovlen = 1;
      }
      timespec ts{o.timeout_ms / 1000, (o.timeout_ms % 1000) * 1000000L};
      int n = ::recvmmsg(fd, rm.data(), static_cast<unsigned>(pending.size()), MSG_WAITFORONE, &ts);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN && o.nonblocking) {
        int e = waitFor(fd, POLLIN, o.timeout_ms, o.epoll);
        if (e != 0) {
          fail = {"recvmmsg: waiting for the socket to become readable (" + std::to_string(pending.size()) +
                      " answers missing)",
                  e};
          return false;
        }
        continue;
      }
      if (n <= 0) {
        fail = {"recvmmsg (" + std::to_string(pending.size()) + " answers missing)", n < 0 ? errno : 0};
        return false;
      }
      ++calls;
      for (int i = 0; i < n; ++i) {
        std::string reply(bufs[i].data(), rm[i].msg_len);
        Addr src;
        std::memcpy(&src.ss, &names[i], sizeof names[i]);
        src.len = rm[i].msg_hdr.msg_namelen;
        size_t sp = reply.find(' ', 5);
        std::string payload = sp == std::string::npos ? "" : reply.substr(sp + 1);
        if (pending.count(payload) == 0) {
          fail = {"recvmmsg: an answer to nothing pending: [" + reply.substr(0, 80) + "]", 0};
          return false;
        }
        std::string saw;
        if (!check(reply, payload, dest, src, saw)) return false;
        pending.erase(payload);
        out += "reply sendmmsg/recvmmsg source " + src.text() + " saw " + saw + " len " +
               std::to_string(payload.size()) + "\n";
      }
    }
    out += "recvmmsg calls " + std::to_string(calls) + "\n";
    return true;
  }

  bool runPeek() {
    const std::string payload = makePayload(o.send_text + "-peek", o.size);
    if (!send("sendto", dest, payload)) return false;
    std::vector<char> a(70000), b(70000);
    Addr s1, s2;
    ssize_t n1 = recv("recvfrom", a.data(), a.size(), s1, MSG_PEEK);
    if (n1 < 0) return false;
    out += "peek source " + s1.text() + " len " + std::to_string(n1) + "\n";
    // A second peek sees the same datagram again.
    Addr s1b;
    std::vector<char> c(70000);
    ssize_t n1b = recv("recvfrom", c.data(), c.size(), s1b, MSG_PEEK);
    if (n1b < 0) return false;
    ssize_t n2 = recv("recvfrom", b.data(), b.size(), s2);
    if (n2 < 0) return false;
    std::string r1(a.data(), static_cast<size_t>(n1)), r1b(c.data(), static_cast<size_t>(n1b)),
        r2(b.data(), static_cast<size_t>(n2));
    if (r1 != r2 || r1b != r2) {
      fail = {"MSG_PEEK returned [" + r1.substr(0, 60) + "] / [" + r1b.substr(0, 60) + "], the read after it [" +
                  r2.substr(0, 60) + "]",
              0};
      return false;
    }
    if (s1.text() != s2.text() || s1b.text() != s2.text()) {
      fail = {"MSG_PEEK reported source " + s1.text() + ", the read after it " + s2.text(), 0};
      return false;
    }
    std::string saw;
    if (!check(r2, payload, dest, s2, saw)) return false;
    out += "reply sendto/recvfrom source " + s2.text() + " saw " + saw + " len " + std::to_string(payload.size()) +
           "\n";
    // MSG_PEEK on an unconnected socket after everything was read: nothing pending.
    return drained();
  }

  bool runTrunc() {
    const std::string payload = makePayload(o.send_text + "-trunc", o.size < 100 ? 100 : o.size);
    // recvfrom(MSG_TRUNC) into 16 bytes: returns the real length.
    if (!send("sendto", dest, payload)) return false;
    char small[16];
    Addr src;
    ssize_t n = recv("recvfrom", small, sizeof small, src, MSG_TRUNC);
    if (n < 0) return false;
    if (src.text() != dest.text()) {
      fail = {"truncated reply's source " + src.text() + " is not " + dest.text(), 0};
      return false;
    }
    if (std::string(small, 5) != "from ") {
      fail = {"truncated reply starts with [" + std::string(small, 16) + "]", 0};
      return false;
    }
    // "from A:P " + payload: the full length is at least the payload plus 5.
    if (static_cast<size_t>(n) <= payload.size() + 5) {
      fail = {"recvfrom(MSG_TRUNC) returned " + std::to_string(n) + ", not the full length (payload " +
                  std::to_string(payload.size()) + " + prefix)",
              0};
      return false;
    }
    out += "trunc-return " + std::to_string(n) + " buffer 16\n";
    // recvmsg into 16 bytes: 16, and MSG_TRUNC in msg_flags.
    if (!send("sendto", dest, payload)) return false;
    int mflags = 0;
    std::string cm;
    ssize_t m = recv("recvmsg", small, sizeof small, src, 0, &mflags, &cm);
    if (m < 0) return false;
    if (m != 16 || (mflags & MSG_TRUNC) == 0) {
      fail = {"recvmsg into 16 bytes returned " + std::to_string(m) + " with msg_flags 0x" + std::to_string(mflags) +
                  " (MSG_TRUNC expected)",
              0};
      return false;
    }
    if (src.text() != dest.text()) {
      fail = {"truncated recvmsg reply's source " + src.text() + " is not " + dest.text(), 0};
      return false;
    }
    out += "trunc-flag MSG_TRUNC returned " + std::to_string(m) + "\n";
    // The truncated datagrams were consumed: the next exchange gets its own answer.
    if (!exchange("sendto", "recvfrom", dest, o.send_text + "-after-trunc")) return false;
    return drained();
  }

  // --count: paced sendto/recvfrom, counting answers (at most kWindow outstanding;
  // after a second of silence the outstanding ones count as lost).
  bool runCount() {
    constexpr int kWindow = 32;
    std::set<int> got;
    int bad = 0;
    std::vector<char> buf(70000);
    if (!o.nonblocking) {
      timeval tv{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    auto receiveOne = [&]() -> bool {
      Addr src;
      src.len = sizeof src.ss;
      ssize_t n;
      for (;;) {
        n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&src.ss), &src.len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN && o.nonblocking) {
          if (waitFor(fd, POLLIN, 1000, o.epoll) != 0) return false;
          src.len = sizeof src.ss;
          continue;
        }
        break;
      }
      if (n < 0) return false;
      std::string reply(buf.data(), static_cast<size_t>(n));
      size_t sp = reply.find(' ', 5);
      std::string payload = sp == std::string::npos ? "" : reply.substr(sp + 1);
      int seq = payload.rfind("c", 0) == 0 ? std::atoi(payload.c_str() + 1) : -1;
      std::string saw;
      if (seq < 0 || payload != makePayload("c" + std::to_string(seq), o.size) ||
          !check(reply, payload, dest, src, saw)) {
        ++bad;
        if (bad <= 3) out += "bad reply: " + fail.text() + " [" + reply.substr(0, 60) + "]\n";
        return true;
      }
      if (!got.insert(seq).second) ++bad;
      return true;
    };
    int outstanding = 0;
    for (int i = 0; i < o.count; ++i) {
      while (outstanding >= kWindow) {
        if (receiveOne()) {
          --outstanding;
        } else {
          outstanding = 0;  // a second of silence: the rest of this window is lost
        }
      }
      if (!send("sendto", dest, makePayload("c" + std::to_string(i), o.size))) return false;
      ++outstanding;
    }
    while (outstanding > 0 && receiveOne()) --outstanding;
    int lost = o.count - static_cast<int>(got.size());
    out += "summary sent=" + std::to_string(o.count) + " received=" + std::to_string(got.size()) +
           " lost=" + std::to_string(lost) + " bad=" + std::to_string(bad) + "\n";
    if (lost != 0 || bad != 0) {
      fail = {"lost " + std::to_string(lost) + " of " + std::to_string(o.count) + " datagrams, " +
                  std::to_string(bad) + " bad answers",
              0};
      return false;
    }
    return true;
  }

  // --threads: sequential exchanges on this socket.
  bool runSequential(int t) {
    for (int i = 0; i < (o.count > 0 ? o.count : 50); ++i) {
      if (!exchange("sendto", "recvfrom", dest, "t" + std::to_string(t) + "-" + std::to_string(i))) return false;
    }
    return true;
  }

  // --hold: after the first exchange, announce "holding" and wait (a test sends
  // strangers' datagrams to this socket meanwhile; none may surface).
  void hold() {
    if (o.hold_sec <= 0) return;
    say("holding");
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(o.hold_sec * 1000)));
  }

  bool pause() {
    say("exchanged");
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(o.pause_sec * 1000)));
    close(fd);
    fd = -1;
    say("closed");
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(o.pause_sec * 1000)));
    return true;
  }
};

constexpr const char* kUsage =
    "usage: udp_client HOST PORT [--sendto|--connect|--msg|--mmsg|--peek|--trunc] [--nonblocking]\n"
    "                  [--epoll] [--size N] [--count N] [--threads N] [--direct ADDR:PORT]\n"
    "                  [--print-peer] [--family 4|6] [--send TEXT] [--timeout SEC] [--pause SEC]\n"
    "                  [--hold SEC] [--bind ADDR:PORT]\n";

}  // namespace

int main(int argc, char** argv) {
  Options o;
  Args args(argc, argv, kUsage);
  for (std::string a; args.next(a);) {
    if (a == "--sendto") o.mode = Mode::kSendto;
    else if (a == "--connect") o.mode = Mode::kConnect;
    else if (a == "--msg") o.mode = Mode::kMsg;
    else if (a == "--mmsg") o.mode = Mode::kMmsg;
    else if (a == "--peek") o.mode = Mode::kPeek;
    else if (a == "--trunc") o.mode = Mode::kTrunc;
    else if (a == "--nonblocking") o.nonblocking = true;
    else if (a == "--epoll") o.nonblocking = o.epoll = true;
    else if (a == "--size") o.size = static_cast<size_t>(std::atol(args.value().c_str()));
    else if (a == "--count") o.count = args.intValue();
    else if (a == "--threads") o.threads = args.intValue();
    else if (a == "--direct") o.direct = args.value();
    else if (a == "--print-peer") o.print_peer = true;
    else if (a == "--family") o.family = args.familyValue();
    else if (a == "--send") o.send_text = args.value();
    else if (a == "--timeout") o.timeout_ms = args.msValue();
    else if (a == "--pause") o.pause_sec = args.doubleValue();
    else if (a == "--hold") o.hold_sec = args.doubleValue();
    else if (a == "--bind") o.bind = args.value();
    else if (!args.keep(a)) return args.usage();
  }
  if (!args.hostPort(o.host, o.port)) return args.usage();

  Addr dest;
  if (std::string err = resolveFirst(o.host, o.port, o.family, SOCK_DGRAM, dest); !err.empty()) {
    writeAll(2, errorText(err, 0) + "\n");
    return 1;
  }
  say("resolved " + dest.text());

  if (o.threads > 0) {
    std::atomic<int> ok{0}, failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < o.threads; ++t) {
      threads.emplace_back([&, t] {
        Client c(o, dest);
        if (c.open() && c.runSequential(t)) {
          ok++;
        } else {
          failed++;
          writeAll(2, c.fail.text() + " [thread " + std::to_string(t) + "]\n");
        }
      });
    }
    for (auto& th : threads) th.join();
    std::printf("summary threads=%d ok=%d failed=%d\n", o.threads, ok.load(), failed.load());
    std::fflush(stdout);
    return failed.load() == 0 && ok.load() == o.threads ? 0 : 1;
  }

  Client c(o, dest);
  if (!o.direct.empty() && !parseAddr(o.direct, c.direct)) {
    writeAll(2, "error: bad --direct address\n");
    return 2;
  }
  if (!o.direct.empty() && dest.ss.ss_family == AF_INET6 && c.direct.ss.ss_family == AF_INET) {
    // An IPv6 socket reaches an IPv4 address as a v4-mapped one.
    sockaddr_in v4;
    std::memcpy(&v4, &c.direct.ss, sizeof v4);
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_port = v4.sin_port;
    v6.sin6_addr.s6_addr[10] = v6.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&v6.sin6_addr.s6_addr[12], &v4.sin_addr, 4);
    c.direct = Addr{};
    std::memcpy(&c.direct.ss, &v6, sizeof v6);
    c.direct.len = sizeof v6;
  }
  bool ok = c.open();
  if (ok) {
    if (o.count > 0) {
      ok = c.runCount();
    } else {
      switch (o.mode) {
        case Mode::kSendto: ok = c.runSendto(); break;
        case Mode::kConnect: ok = c.runConnect(); break;
        case Mode::kMsg: ok = c.runMsg(); break;
        case Mode::kMmsg: ok = c.runMmsg(); break;
        case Mode::kPeek: ok = c.runPeek(); break;
        case Mode::kTrunc: ok = c.runTrunc(); break;
      }
    }
  }
  writeAll(1, c.out);
  if (!ok) {
    writeAll(2, c.fail.text() + "\n");
    return 1;
  }
  if (o.pause_sec > 0) c.pause();
  return 0;
}
