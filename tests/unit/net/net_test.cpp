// The client-side I/O driver against scripted fake proxies on socketpairs and
// loopback: exact reads, flags untouched, deadlines, chains.
#include "socks/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fake_io.h"

namespace socks::net {
namespace {

using namespace std::chrono_literals;
using testing::Bytes8;
using testing::readN;
using testing::writeAll;

const SocketOps& ops() { return libcSocketOps(); }

struct Pair {
  int client = -1;
  int server = -1;
  explicit Pair(int type_flags = 0) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    client = sv[0];
    server = sv[1];
    const timeval bound{5, 0};  // a wrong script must fail, not hang
    ::setsockopt(server, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
    if ((type_flags & SOCK_NONBLOCK) != 0) {  // only the client side, as a program would
      ::fcntl(client, F_SETFL, ::fcntl(client, F_GETFL) | O_NONBLOCK);
    }
  }
  ~Pair() {
    ::close(client);
    ::close(server);
  }
};

Address dst4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
  const std::uint8_t octets[4] = {a, b, c, d};
  return Address::ipv4(octets, port);
}

// A SOCKS5 server script: no-auth, CONNECT 10.0.0.1:80, success reply bound
// to 192.0.2.7:4242, immediately followed (same write) by application bytes.
void socks5Server(int fd, const std::string& app_bytes) {
  EXPECT_EQ(readN(fd, 3), (Bytes8{5, 1, 0}));
  writeAll(fd, {5, 0});
  EXPECT_EQ(readN(fd, 10), (Bytes8{5, 1, 0, 1, 10, 0, 0, 1, 0, 80}));
  Bytes8 reply{5, 0, 0, 1, 192, 0, 2, 7, 0x10, 0x92};
  reply.insert(reply.end(), app_bytes.begin(), app_bytes.end());
  writeAll(fd, reply);
}

TEST(RunHandshake, ReadsExactlyTheReplyAndLeavesApplicationBytes) {
  for (int nonblocking : {0, static_cast<int>(SOCK_NONBLOCK)}) {
    Pair p(nonblocking);
    const int flags_before = ::fcntl(p.client, F_GETFL);
    std::thread server(socks5Server, p.server, "220 banner\r\n");
    ClientHandshake hs(ProxyKind::kSocks5, Command::kConnect, dst4(10, 0, 0, 1, 80));
    const Status st = runHandshake(ops(), p.client, hs, Deadline(5s));
    server.join();
    ASSERT_TRUE(st.ok()) << st.reason();
    EXPECT_EQ(hs.bound().toString(), "192.0.2.7:4242");
    EXPECT_EQ(::fcntl(p.client, F_GETFL), flags_before) << "the caller's flags must not change";
    char buf[64] = {};
    const ssize_t n = ::recv(p.client, buf, sizeof buf, MSG_DONTWAIT);
    EXPECT_EQ(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0), "220 banner\r\n");
  }
}

TEST(RunHandshake, TimesOutWhenTheProxyIsSilent) {
  Pair p;
  ClientHandshake hs(ProxyKind::kSocks5, Command::kConnect, dst4(10, 0, 0, 1, 80));
  const auto start = Clock::now();
  const Status st = runHandshake(ops(), p.client, hs, Deadline(200ms));
  const auto took = Clock::now() - start;
  EXPECT_EQ(st.code(), Errc::kTimeout);
  EXPECT_GE(took, 190ms);
  EXPECT_EQ(toErrno(st), ETIMEDOUT);
}

TEST(RunHandshake, ProxyClosingMidwayIsReported) {
  Pair p;
  std::thread server([&] {
    readN(p.server, 3);
    writeAll(p.server, {5});  // half a method selection, then EOF
    ::shutdown(p.server, SHUT_WR);
  });
  ClientHandshake hs(ProxyKind::kSocks5, Command::kConnect, dst4(10, 0, 0, 1, 80));
  const Status st = runHandshake(ops(), p.client, hs, Deadline(5s));
  server.join();
  EXPECT_EQ(st.code(), Errc::kClosed);
  EXPECT_EQ(toErrno(st), ECONNRESET);
}

TEST(RunHandshake, RefusalMapsToTheRepliedErrno) {
  Pair p;
  std::thread server([&] {
    readN(p.server, 3);
    writeAll(p.server, {5, 0});
    readN(p.server, 10);
    writeAll(p.server, {5, 5, 0, 1, 0, 0, 0, 0, 0, 0});  // 0x05 connection refused
  });
  ClientHandshake hs(ProxyKind::kSocks5, Command::kConnect, dst4(10, 0, 0, 1, 80));
  const Status st = runHandshake(ops(), p.client, hs, Deadline(5s));
  server.join();
  EXPECT_EQ(st.code(), Errc::kRejected);
  EXPECT_EQ(toErrno(st), ECONNREFUSED);
}

TEST(RunHandshake, StopsAtTheFirstBindReplyWhenAsked) {
  Pair p;
  std::thread server([&] {
    readN(p.server, 9);  // SOCKS4 BIND, empty USERID
    writeAll(p.server, {0, 90, 0x1f, 0x90, 192, 0, 2, 1});
  });
  ClientHandshake hs(ProxyKind::kSocks4, Command::kBind, dst4(10, 0, 0, 1, 21));
  const Status st = runHandshake(ops(), p.client, hs, Deadline(5s), true);
  server.join();
  ASSERT_TRUE(st.ok()) << st.reason();
  EXPECT_EQ(hs.state(), ClientHandshake::State::kAwaitingSecond);
  EXPECT_EQ(hs.bound().toString(), "192.0.2.1:8080");
}

// A loopback listener on an ephemeral port.
struct Listener {
  int fd = -1;
  sockaddr_in addr{};
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    EXPECT_EQ(::listen(fd, 8), 0);
  }
  ~Listener() { ::close(fd); }
  std::uint16_t port() const { return ntohs(addr.sin_port); }
};

TEST(ConnectWithDeadline, BlockingAndNonBlockingKeepFlagsAndTimeouts) {
  Listener l;
  for (int nonblocking : {0, static_cast<int>(SOCK_NONBLOCK)}) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | nonblocking, 0);
    const timeval custom{7, 0};
    ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &custom, sizeof custom), 0);
    const int flags_before = ::fcntl(fd, F_GETFL);
    const Status st = connectWithDeadline(ops(), fd, reinterpret_cast<const sockaddr*>(&l.addr),
                                          sizeof l.addr, Deadline(2s));
    EXPECT_TRUE(st.ok()) << st.reason();
    EXPECT_EQ(::fcntl(fd, F_GETFL), flags_before);
    timeval after{};
    socklen_t len = sizeof after;
    ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &after, &len), 0);
    EXPECT_EQ(after.tv_sec, 7) << "SO_SNDTIMEO must be restored";
    ::close(fd);
  }
}

TEST(ConnectWithDeadline, RefusedCarriesTheConnectErrno) {
  std::uint16_t port = 0;
  {
    Listener l;  // take a free port, then close it
    port = l.port();
  }
  for (int nonblocking : {0, static_cast<int>(SOCK_NONBLOCK)}) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | nonblocking, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const Status st = connectWithDeadline(ops(), fd, reinterpret_cast<const sockaddr*>(&sin),
                                          sizeof sin, Deadline(2s));
    EXPECT_EQ(st.code(), Errc::kSystem);
    EXPECT_EQ(toErrno(st), ECONNREFUSED);
    ::close(fd);
  }
}

TEST(ConnectWithDeadline, ExpiredDeadlineIsATimeout) {
  Listener l;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const Status st = connectWithDeadline(ops(), fd, reinterpret_cast<const sockaddr*>(&l.addr),
                                        sizeof l.addr, Deadline(0ms));
  EXPECT_EQ(st.code(), Errc::kTimeout);
  ::close(fd);
}

// Two hops over one connection: a SOCKS5 hop asked for the SOCKS4 hop's
// address, then the SOCKS4 hop asked for the destination.
TEST(ConnectThroughChain, DrivesEachHopInTurn) {
  Listener l;
  const Address hop2 = dst4(192, 0, 2, 50, 1080);
  std::thread server([&] {
    const int c = ::accept(l.fd, nullptr, nullptr);
    const timeval bound{5, 0};  // a wrong script must fail, not hang
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
    EXPECT_EQ(readN(c, 4), (Bytes8{5, 2, 0, 2}));  // offers no-auth and user/pass
    writeAll(c, {5, 2});
    EXPECT_EQ(readN(c, 5), (Bytes8{1, 1, 'u', 1, 'p'}));
    writeAll(c, {1, 0});
    EXPECT_EQ(readN(c, 10), (Bytes8{5, 1, 0, 1, 192, 0, 2, 50, 0x04, 0x38}));
    writeAll(c, {5, 0, 0, 1, 0, 0, 0, 0, 0, 0});
    // Now the second hop (SOCKS4a) is asked for a name.
    const Bytes8 req = readN(c, 8 + 1 + 12);
    EXPECT_EQ(req, (Bytes8{4, 1, 0, 80, 0, 0, 0, 1, 0, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.',
                           'o', 'r', 'g', 0}));
    writeAll(c, {0, 90, 0, 0, 0, 0, 0, 0, 'h', 'i'});
    ::close(c);
  });
  std::vector<Hop> chain(2);
  chain[0].kind = ProxyKind::kSocks5;
  chain[0].addr = dst4(127, 0, 0, 1, l.port());
  chain[0].user = "u";
  chain[0].password = "p";
  chain[0].has_credentials = true;
  chain[1].kind = ProxyKind::kSocks4a;
  chain[1].addr = hop2;
  auto dst = Address::domainName("example.org", 80);
  ASSERT_TRUE(dst.ok());
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);  // IPv4 proxy reached v4-mapped
  const ChainOutcome out = connectThroughChain(ops(), fd, chain, *dst, Command::kConnect, Deadline(5s));
  server.join();
  ASSERT_TRUE(out.status.ok()) << out.status.reason();
  char buf[8] = {};
  EXPECT_EQ(::recv(fd, buf, sizeof buf, 0), 2);
  EXPECT_EQ(std::string(buf, 2), "hi");
  ::close(fd);
}

TEST(ConnectThroughChain, IPv4SocketCannotReachIPv6Proxy) {
  std::vector<Hop> chain(1);
  const std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  chain[0].addr = Address::ipv6(v6, 1080);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const ChainOutcome out =
      connectThroughChain(ops(), fd, chain, dst4(10, 0, 0, 1, 80), Command::kConnect, Deadline(1s));
  EXPECT_EQ(toErrno(out.status), EAFNOSUPPORT);
  ::close(fd);
}

}  // namespace
}  // namespace socks::net
