// Unit tests for socks::resolveName / resolveAddress: c-ares against a mock
// DNS server on loopback, the hosts-only mode that must never send a packet,
// the timeout bound, the numeric and localhost short cuts, and the hosts
// file (read-only: names that really are in /etc/hosts).
#include "socks/resolver.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "unit/dns/mock_dns_server.h"

namespace socks {
namespace {

using testing::MockDnsServer;
using Clock = std::chrono::steady_clock;

ResolveOptions optionsFor(const MockDnsServer& server, int family = AF_UNSPEC) {
  ResolveOptions o;
  o.family = family;
  o.timeout_ms = 3000;
  o.servers = server.servers();
  return o;
}

std::vector<std::string> hosts(const Resolved& r) {
  std::vector<std::string> out;
  for (const Address& a : r.addresses) {
    out.push_back(a.hostString());
  }
  return out;
}

TEST(Resolver, NumericNeedsNoLookup) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  Result<Resolved> r = resolveName(libcSocketOps(), "192.0.2.1", optionsFor(server));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(hosts(*r), std::vector<std::string>{"192.0.2.1"});
  r = resolveName(libcSocketOps(), "2001:db8::5", optionsFor(server, AF_INET6));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(hosts(*r), std::vector<std::string>{"2001:db8::5"});
  r = resolveName(libcSocketOps(), "2001:db8::5", optionsFor(server, AF_INET));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Errc::kNotFound);
  EXPECT_EQ(server.queries(), 0);
}

TEST(Resolver, LocalhostIsLoopbackWithoutLookup) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  // Names under .localhost are not in the hosts file: both loopbacks.
  for (const char* name : {"foo.localhost", "a.b.LOCALHOST", "x.localhost."}) {
    Result<Resolved> r = resolveName(libcSocketOps(), name, optionsFor(server));
    ASSERT_TRUE(r.ok()) << name;
    EXPECT_EQ(hosts(*r), (std::vector<std::string>{"127.0.0.1", "::1"})) << name;
    r = resolveName(libcSocketOps(), name, optionsFor(server, AF_INET6));
    ASSERT_TRUE(r.ok()) << name;
    EXPECT_EQ(hosts(*r), std::vector<std::string>{"::1"}) << name;
    r = resolveName(libcSocketOps(), name, optionsFor(server, AF_INET));
    ASSERT_TRUE(r.ok()) << name;
    EXPECT_EQ(hosts(*r), std::vector<std::string>{"127.0.0.1"}) << name;
  }
  // "localhost" itself: the hosts file's loopback entries (as libc gives),
  // else the defaults; always loopback, IPv4 first.
  for (const char* name : {"localhost", "LocalHost."}) {
    for (int family : {AF_UNSPEC, AF_INET, AF_INET6}) {
      Result<Resolved> r = resolveName(libcSocketOps(), name, optionsFor(server, family));
      ASSERT_TRUE(r.ok()) << name;
      ASSERT_FALSE(r->addresses.empty());
      for (const Address& a : r->addresses) {
        EXPECT_TRUE(a.isLoopback()) << a.hostString();
      }
      if (family == AF_INET6) {
        EXPECT_EQ(r->addresses[0].type, Address::Type::kIPv6);
      } else {
        EXPECT_EQ(r->addresses[0].type, Address::Type::kIPv4);
      }
    }
  }
  EXPECT_EQ(server.queries(), 0);
  // Not localhost: "notlocalhost" and "localhost.example" go to DNS.
  Result<Resolved> r = resolveName(libcSocketOps(), "notlocalhost.test", optionsFor(server));
  EXPECT_FALSE(r.ok());
  EXPECT_GT(server.queries(), 0);
}

TEST(Resolver, ForwardLookupBothFamilies) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  server.addA("www.example.test", "192.0.2.10");
  server.addA("www.example.test", "192.0.2.11");
  server.addAaaa("www.example.test", "2001:db8::10");

  Result<Resolved> r = resolveName(libcSocketOps(), "www.example.test", optionsFor(server));
  ASSERT_TRUE(r.ok()) << r.status().reason();
  std::vector<std::string> got = hosts(*r);
  ASSERT_EQ(got.size(), 3u);
  // IPv4 first for AF_UNSPEC.
  EXPECT_TRUE((got[0] == "192.0.2.10" && got[1] == "192.0.2.11") ||
              (got[0] == "192.0.2.11" && got[1] == "192.0.2.10"));
  EXPECT_EQ(got[2], "2001:db8::10");
  for (const Address& a : r->addresses) {
    EXPECT_EQ(a.port, 0);
  }

  r = resolveName(libcSocketOps(), "WWW.example.test", optionsFor(server, AF_INET));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->addresses.size(), 2u);
  r = resolveName(libcSocketOps(), "www.example.test", optionsFor(server, AF_INET6));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(hosts(*r), std::vector<std::string>{"2001:db8::10"});
  EXPECT_GT(server.queries(), 0);
}

TEST(Resolver, NotFoundAndNoData) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  server.addA("v4only.example.test", "192.0.2.20");
  Result<Resolved> r = resolveName(libcSocketOps(), "missing.example.test", optionsFor(server));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Errc::kNotFound);
  r = resolveName(libcSocketOps(), "v4only.example.test", optionsFor(server, AF_INET6));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Errc::kNotFound);
  r = resolveName(libcSocketOps(), "", optionsFor(server));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Errc::kNotFound);
}

TEST(Resolver, HostsOnlyNeverSendsAPacket) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  server.addA("www.example.test", "192.0.2.10");
  server.addPtr("7.2.0.192.in-addr.arpa", "host7.example.test");
  ResolveOptions o = optionsFor(server);
  o.hosts_only = true;
  Result<Resolved> r = resolveName(libcSocketOps(), "www.example.test", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Errc::kNotFound);
  r = resolveName(libcSocketOps(), "nodots", o);
  EXPECT_FALSE(r.ok());
  std::uint8_t ip[4] = {192, 0, 2, 7};
  Result<std::string> name = resolveAddress(libcSocketOps(), Address::ipv4(ip, 0), o);
  ASSERT_FALSE(name.ok());
  EXPECT_EQ(name.status().code(), Errc::kNotFound);
  // Give a stray datagram time to arrive before asserting none did.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(server.queries(), 0);
}

TEST(Resolver, TimeoutIsBounded) {
  MockDnsServer server(/*answer=*/false);
  ASSERT_TRUE(server.ok());
  ResolveOptions o = optionsFor(server);
  o.timeout_ms = 400;
  const auto start = Clock::now();
  Result<Resolved> r = resolveName(libcSocketOps(), "slow.example.test", o);
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Errc::kTimeout);
  EXPECT_LT(elapsed, std::chrono::milliseconds(2000));
  EXPECT_GE(elapsed, std::chrono::milliseconds(300));
  EXPECT_GT(server.queries(), 0);

  std::uint8_t ip[4] = {192, 0, 2, 9};
  const auto start2 = Clock::now();
  Result<std::string> name = resolveAddress(libcSocketOps(), Address::ipv4(ip, 0), o);
  ASSERT_FALSE(name.ok());
  EXPECT_EQ(name.status().code(), Errc::kTimeout);
  EXPECT_LT(Clock::now() - start2, std::chrono::milliseconds(2000));
}

TEST(Resolver, ReverseLookupThroughPtr) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  server.addPtr("7.2.0.192.in-addr.arpa", "host7.example.test");
  server.addPtr("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
                "six.example.test");
  std::uint8_t ip[4] = {192, 0, 2, 7};
  Result<std::string> name = resolveAddress(libcSocketOps(), Address::ipv4(ip, 0), optionsFor(server));
  ASSERT_TRUE(name.ok()) << name.status().reason();
  EXPECT_EQ(*name, "host7.example.test");

  std::optional<Address> v6 = Address::parseNumeric("2001:db8::1", 0);
  ASSERT_TRUE(v6.has_value());
  name = resolveAddress(libcSocketOps(), *v6, optionsFor(server));
  ASSERT_TRUE(name.ok()) << name.status().reason();
  EXPECT_EQ(*name, "six.example.test");

  std::uint8_t other[4] = {192, 0, 2, 8};
  name = resolveAddress(libcSocketOps(), Address::ipv4(other, 0), optionsFor(server));
  ASSERT_FALSE(name.ok());
  EXPECT_EQ(name.status().code(), Errc::kNotFound);

  Result<Address> domain = Address::domainName("example.org", 0);
  ASSERT_TRUE(domain.ok());
  name = resolveAddress(libcSocketOps(), *domain, optionsFor(server));
  ASSERT_FALSE(name.ok());
  EXPECT_EQ(name.status().code(), Errc::kInvalidArgument);
}

TEST(Resolver, BadServerListAndFamily) {
  ResolveOptions o;
  o.servers = "not a server list";
  Result<Resolved> r = resolveName(libcSocketOps(), "www.example.test", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Errc::kInvalidArgument);
  ResolveOptions f;
  f.family = AF_UNIX;
  r = resolveName(libcSocketOps(), "www.example.test", f);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Errc::kInvalidArgument);
}

// A SocketOps that records what c-ares does through it.
std::atomic<int> g_opened{0};
std::atomic<int> g_closed{0};
std::atomic<int> g_bad_flags{0};

int countingSocket(int domain, int type, int protocol) {
  if ((type & SOCK_NONBLOCK) == 0 || (type & SOCK_CLOEXEC) == 0) {
    g_bad_flags.fetch_add(1);
  }
  const int fd = libcSocketOps().socket(domain, type, protocol);
  if (fd >= 0) {
    g_opened.fetch_add(1);
    const int fl = fcntl(fd, F_GETFL);
    const int fdfl = fcntl(fd, F_GETFD);
    if ((fl & O_NONBLOCK) == 0 || (fdfl & FD_CLOEXEC) == 0) {
      g_bad_flags.fetch_add(1);
    }
  }
  return fd;
}

int countingClose(int fd) {
  g_closed.fetch_add(1);
  return libcSocketOps().close(fd);
}

std::atomic<int> g_connects{0};
std::atomic<int> g_sends{0};
std::atomic<int> g_recvs{0};
std::atomic<int> g_polls{0};

int countingConnect(int fd, const sockaddr* addr, socklen_t len) {
  g_connects.fetch_add(1);
  return libcSocketOps().connect(fd, addr, len);
}
ssize_t countingSend(int fd, const void* buf, size_t len, int flags) {
  g_sends.fetch_add(1);
  return libcSocketOps().send(fd, buf, len, flags);
}
ssize_t countingRecvfrom(int fd, void* buf, size_t len, int flags, sockaddr* addr, socklen_t* alen) {
  g_recvs.fetch_add(1);
  return libcSocketOps().recvfrom(fd, buf, len, flags, addr, alen);
}
int countingPoll(pollfd* fds, nfds_t n, int timeout) {
  g_polls.fetch_add(1);
  return libcSocketOps().poll(fds, n, timeout);
}

TEST(Resolver, AllSocketsGoThroughTheTable) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  server.addA("www.example.test", "192.0.2.10");
  SocketOps ops = libcSocketOps();
  ops.socket = countingSocket;
  ops.close = countingClose;
  ops.connect = countingConnect;
  ops.send = countingSend;
  ops.recvfrom = countingRecvfrom;
  ops.poll = countingPoll;
  g_opened = 0;
  g_closed = 0;
  g_bad_flags = 0;
  Result<Resolved> r = resolveName(ops, "www.example.test", optionsFor(server, AF_INET));
  ASSERT_TRUE(r.ok());
  EXPECT_GT(g_opened.load(), 0);
  EXPECT_EQ(g_opened.load(), g_closed.load());
  EXPECT_EQ(g_bad_flags.load(), 0);
  EXPECT_GT(g_connects.load(), 0);
  EXPECT_GT(g_sends.load(), 0);
  EXPECT_GT(g_recvs.load(), 0);
  EXPECT_GT(g_polls.load(), 0);
  EXPECT_EQ(server.queries(), g_sends.load());
}

TEST(Resolver, ConcurrentLookups) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  for (int i = 0; i < 8; ++i) {
    const std::string ip = "192.0.2." + std::to_string(100 + i);
    server.addA("h" + std::to_string(i) + ".example.test", ip.c_str());
  }
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 5; ++k) {
        Result<Resolved> r = resolveName(libcSocketOps(), "h" + std::to_string(t) + ".example.test",
                                         optionsFor(server, AF_INET));
        if (r.ok() && r->addresses.size() == 1 &&
            r->addresses[0].hostString() == "192.0.2." + std::to_string(100 + t)) {
          good.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(good.load(), 40);
}

// /etc/hosts as (address, names) lines; read-only.
std::vector<std::pair<std::string, std::vector<std::string>>> readHostsFile() {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  std::ifstream in("/etc/hosts");
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string addr;
    if (!(words >> addr)) {
      continue;
    }
    std::vector<std::string> names;
    std::string n;
    while (words >> n) {
      names.push_back(n);
    }
    if (!names.empty()) {
      out.emplace_back(addr, names);
    }
  }
  return out;
}

TEST(Resolver, HostsFileForward) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  char self[256] = {};
  gethostname(self, sizeof(self) - 1);
  // Prefer the machine's own name; else any IPv4 name that is not localhost.
  std::string name;
  std::string addr;
  for (const auto& [a, names] : readHostsFile()) {
    if (a.find(':') != std::string::npos) {
      continue;
    }
    for (const std::string& n : names) {
      if (n == "localhost" || n.find("localhost") != std::string::npos) {
        continue;
      }
      if (name.empty() || n == self) {
        if (name != self) {
          name = n;
          addr = a;
        }
      }
    }
  }
  if (name.empty()) {
    GTEST_SKIP() << "/etc/hosts has no IPv4 name besides localhost";
  }
  ResolveOptions o = optionsFor(server, AF_INET);
  o.hosts_only = true;
  Result<Resolved> r = resolveName(libcSocketOps(), name, o);
  ASSERT_TRUE(r.ok()) << name;
  std::vector<std::string> got = hosts(*r);
  EXPECT_NE(std::find(got.begin(), got.end(), addr), got.end()) << name << " -> " << addr;
  // An absolute name ("host.") and another case match the hosts file too.
  r = resolveName(libcSocketOps(), name + ".", o);
  ASSERT_TRUE(r.ok()) << name;
  std::string upper = name;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  r = resolveName(libcSocketOps(), upper, o);
  ASSERT_TRUE(r.ok()) << upper;
  // Also without hosts_only: the file answers first, DNS is not asked.
  o.hosts_only = false;
  r = resolveName(libcSocketOps(), name, o);
  ASSERT_TRUE(r.ok()) << name;
  EXPECT_EQ(server.queries(), 0);
}

TEST(Resolver, HostsFileReverse) {
  MockDnsServer server;
  ASSERT_TRUE(server.ok());
  std::string expected;
  for (const auto& [a, names] : readHostsFile()) {
    if (a == "127.0.0.1") {
      expected = names.front();
      break;
    }
  }
  if (expected.empty()) {
    GTEST_SKIP() << "/etc/hosts has no 127.0.0.1 line";
  }
  ResolveOptions o = optionsFor(server);
  o.hosts_only = true;
  std::uint8_t lo[4] = {127, 0, 0, 1};
  Result<std::string> name = resolveAddress(libcSocketOps(), Address::ipv4(lo, 0), o);
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, expected);
  EXPECT_EQ(server.queries(), 0);
}

}  // namespace
}  // namespace socks
