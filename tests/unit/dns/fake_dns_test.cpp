// Unit tests for socks::FakeDns: the encoding, normalisation, capacity, and
// the lock-free sharing between threads and between forked processes.
#include "socks/fake_dns.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace socks {
namespace {

Address ip(const char* text) {
  std::optional<Address> a = Address::parseNumeric(text, 0);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(Address{});
}

std::string hostOf(const Address& a) { return a.hostString(); }

TEST(FakeDns, EncodingOfIndices) {
  EXPECT_EQ(hostOf(FakeDns::ipv4For(0, 0)), "198.18.0.1");
  EXPECT_EQ(hostOf(FakeDns::ipv4For(255, 0)), "198.18.1.0");
  EXPECT_EQ(hostOf(FakeDns::ipv4For(FakeDns::kMaxCapacity - 1, 0)), "198.19.255.254");
  EXPECT_EQ(hostOf(FakeDns::ipv6For(0, 0)), "fd53:6f63:6b73::1");
  EXPECT_EQ(hostOf(FakeDns::ipv6For(0x12345677, 0)), "fd53:6f63:6b73::1234:5678");
  EXPECT_EQ(FakeDns::ipv4For(7, 443).port, 443);
  EXPECT_EQ(FakeDns::ipv6For(7, 80).port, 80);
}

TEST(FakeDns, FakeRanges) {
  EXPECT_TRUE(FakeDns::inFakeRange(ip("198.18.0.0")));
  EXPECT_TRUE(FakeDns::inFakeRange(ip("198.19.255.255")));
  EXPECT_FALSE(FakeDns::inFakeRange(ip("198.17.255.255")));
  EXPECT_FALSE(FakeDns::inFakeRange(ip("198.20.0.0")));
  EXPECT_FALSE(FakeDns::inFakeRange(ip("127.0.0.1")));
  EXPECT_TRUE(FakeDns::inFakeRange(ip("fd53:6f63:6b73::1")));
  EXPECT_TRUE(FakeDns::inFakeRange(ip("fd53:6f63:6b73:1::1")));
  EXPECT_FALSE(FakeDns::inFakeRange(ip("fd53:6f63:6b74::1")));
  EXPECT_TRUE(FakeDns::inFakeRange(ip("::ffff:198.18.0.1")));
  EXPECT_FALSE(FakeDns::inFakeRange(ip("::1")));
  Result<Address> name = Address::domainName("example.org", 80);
  ASSERT_TRUE(name.ok());
  EXPECT_FALSE(FakeDns::inFakeRange(*name));
}

TEST(FakeDns, RoundTripBothFamilies) {
  FakeDns* dns = FakeDns::create(16);
  ASSERT_NE(dns, nullptr);
  std::optional<std::uint32_t> idx = dns->intern("example.org");
  ASSERT_TRUE(idx.has_value());
  EXPECT_EQ(dns->nameOf(*idx), "example.org");

  std::optional<Address> a = dns->lookup(FakeDns::ipv4For(*idx, 443));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->type, Address::Type::kDomain);
  EXPECT_EQ(a->domainView(), "example.org");
  EXPECT_EQ(a->port, 443);

  std::optional<Address> b = dns->lookup(FakeDns::ipv6For(*idx, 80));
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->domainView(), "example.org");
  EXPECT_EQ(b->port, 80);

  // IPv4-mapped IPv6 form of the IPv4 fake.
  Address mapped = FakeDns::ipv4For(*idx, 8080);
  sockaddr_storage ss;
  const socklen_t len = mapped.toSockaddr(ss, AF_INET6);
  ASSERT_GT(len, 0u);
  std::uint8_t raw[16];
  std::memcpy(raw, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, 16);
  std::optional<Address> c = dns->lookup(Address::ipv6(raw, 8080));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->domainView(), "example.org");
}

TEST(FakeDns, SameNameSameIndexDifferentNamesDiffer) {
  FakeDns* dns = FakeDns::create(16);
  ASSERT_NE(dns, nullptr);
  auto a = dns->intern("a.example");
  auto b = dns->intern("b.example");
  auto a2 = dns->intern("a.example");
  ASSERT_TRUE(a && b && a2);
  EXPECT_EQ(*a, *a2);
  EXPECT_NE(*a, *b);
}

TEST(FakeDns, Normalisation) {
  FakeDns* dns = FakeDns::create(16);
  ASSERT_NE(dns, nullptr);
  auto a = dns->intern("Example.ORG.");
  auto b = dns->intern("example.org");
  auto c = dns->intern("EXAMPLE.org");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, *c);
  EXPECT_EQ(dns->nameOf(*a), "example.org");
}

TEST(FakeDns, InvalidNames) {
  FakeDns* dns = FakeDns::create(16);
  ASSERT_NE(dns, nullptr);
  EXPECT_FALSE(dns->intern(""));
  EXPECT_FALSE(dns->intern("."));
  EXPECT_FALSE(dns->intern(std::string_view("a\0b", 3)));
  EXPECT_FALSE(dns->intern(std::string(256, 'a')));
  EXPECT_TRUE(dns->intern(std::string(255, 'a')));
  EXPECT_TRUE(dns->intern(std::string(255, 'b') + "."));
}

TEST(FakeDns, LookupOfNonEntries) {
  FakeDns* dns = FakeDns::create(16);
  ASSERT_NE(dns, nullptr);
  ASSERT_TRUE(dns->intern("x.example"));
  EXPECT_FALSE(dns->lookup(ip("198.18.0.0")));  // never an entry
  EXPECT_FALSE(dns->lookup(FakeDns::ipv4For(5, 0)));  // unallocated
  EXPECT_FALSE(dns->lookup(FakeDns::ipv4For(100, 0)));  // beyond capacity
  EXPECT_FALSE(dns->lookup(ip("198.19.255.255")));
  EXPECT_FALSE(dns->lookup(ip("fd53:6f63:6b73:1::1")));  // in range, not our form
  EXPECT_FALSE(dns->lookup(ip("10.0.0.1")));
  EXPECT_EQ(dns->nameOf(5), "");
  EXPECT_EQ(dns->nameOf(0xffffffffu), "");
}

TEST(FakeDns, CapacityExhaustion) {
  FakeDns* dns = FakeDns::create(4);
  ASSERT_NE(dns, nullptr);
  EXPECT_EQ(dns->capacity(), 4u);
  std::vector<std::uint32_t> got;
  for (int i = 0; i < 4; ++i) {
    auto idx = dns->intern("n" + std::to_string(i) + ".example");
    ASSERT_TRUE(idx.has_value());
    got.push_back(*idx);
  }
  EXPECT_FALSE(dns->intern("n4.example"));
  EXPECT_FALSE(dns->intern("n5.example"));
  // Names already in the map still answer.
  for (int i = 0; i < 4; ++i) {
    auto idx = dns->intern("n" + std::to_string(i) + ".example");
    ASSERT_TRUE(idx.has_value());
    EXPECT_EQ(*idx, got[i]);
  }
}

TEST(FakeDns, CreateArguments) {
  errno = 0;
  EXPECT_EQ(FakeDns::create(0), nullptr);
  EXPECT_EQ(errno, EINVAL);
  FakeDns* big = FakeDns::create(1u << 24);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->capacity(), FakeDns::kMaxCapacity);
  FakeDns* def = FakeDns::create();
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(def->capacity(), FakeDns::kDefaultCapacity);
}

TEST(FakeDns, FullRangeOfIndices) {
  FakeDns* dns = FakeDns::create(FakeDns::kMaxCapacity);
  ASSERT_NE(dns, nullptr);
  std::uint32_t last = 0;
  for (std::uint32_t i = 0; i < FakeDns::kMaxCapacity; ++i) {
    auto idx = dns->intern("h" + std::to_string(i));
    ASSERT_TRUE(idx.has_value()) << i;
    last = *idx;
  }
  EXPECT_FALSE(dns->intern("one-too-many"));
  EXPECT_EQ(last, FakeDns::kMaxCapacity - 1);
  std::optional<Address> a = dns->lookup(ip("198.19.255.254"));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->domainView(), "h" + std::to_string(FakeDns::kMaxCapacity - 1));
}

// 8 threads intern the same names (in different orders) and their own names.
TEST(FakeDns, ConcurrentInterning) {
  constexpr int kThreads = 8;
  constexpr int kShared = 500;
  constexpr int kOwn = 500;
  // A caller that loses a race for the same name leaves its entry unused:
  // room for the worst case.
  FakeDns* dns = FakeDns::create(kThreads * kShared + kThreads * kOwn);
  ASSERT_NE(dns, nullptr);
  std::vector<std::vector<std::uint32_t>> shared(kThreads, std::vector<std::uint32_t>(kShared));
  std::vector<std::vector<std::uint32_t>> own(kThreads, std::vector<std::uint32_t>(kOwn));
  std::atomic<int> ready{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<int> order(kShared);
      for (int i = 0; i < kShared; ++i) {
        order[i] = i;
      }
      std::mt19937 rng(static_cast<unsigned>(t));
      std::shuffle(order.begin(), order.end(), rng);
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
        std::this_thread::yield();
      }
      for (int k = 0; k < kShared; ++k) {
        const int i = order[k];
        auto idx = dns->intern("shared" + std::to_string(i) + ".example");
        if (!idx) {
          failures.fetch_add(1);
          continue;
        }
        shared[t][i] = *idx;
        auto mine = dns->intern("own" + std::to_string(t) + "-" + std::to_string(k) + ".example");
        if (!mine) {
          failures.fetch_add(1);
          continue;
        }
        own[t][k] = *mine;
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  ASSERT_EQ(failures.load(), 0);
  std::set<std::uint32_t> distinct;
  for (int i = 0; i < kShared; ++i) {
    for (int t = 1; t < kThreads; ++t) {
      ASSERT_EQ(shared[t][i], shared[0][i]) << "name " << i;
    }
    EXPECT_EQ(dns->nameOf(shared[0][i]), "shared" + std::to_string(i) + ".example");
    distinct.insert(shared[0][i]);
  }
  for (int t = 0; t < kThreads; ++t) {
    for (int k = 0; k < kOwn; ++k) {
      EXPECT_EQ(dns->nameOf(own[t][k]),
                "own" + std::to_string(t) + "-" + std::to_string(k) + ".example");
      distinct.insert(own[t][k]);
    }
  }
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kShared + kThreads * kOwn));
}

// All threads race on each name at the same moment.
TEST(FakeDns, RacingDuplicateInsertsAgree) {
  constexpr int kThreads = 8;
  constexpr int kNames = 200;
  // Lost races may use up entries: room for the worst case.
  FakeDns* dns = FakeDns::create(kNames * kThreads);
  ASSERT_NE(dns, nullptr);
  std::vector<std::vector<std::uint32_t>> got(kThreads, std::vector<std::uint32_t>(kNames));
  std::atomic<int> arrived{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kNames; ++i) {
        const std::string name = "race" + std::to_string(i) + ".example";
        // A barrier per name, bounded by the round count.
        arrived.fetch_add(1);
        while (arrived.load() < (i + 1) * kThreads) {
          std::this_thread::yield();
        }
        got[t][i] = dns->intern(name).value_or(0xffffffffu);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  for (int i = 0; i < kNames; ++i) {
    ASSERT_NE(got[0][i], 0xffffffffu);
    for (int t = 1; t < kThreads; ++t) {
      ASSERT_EQ(got[t][i], got[0][i]) << "name " << i;
    }
    // The address of any entry a loser allocated still maps to the right name.
    std::optional<Address> a = dns->lookup(FakeDns::ipv4For(got[0][i], 1));
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->domainView(), "race" + std::to_string(i) + ".example");
  }
}

TEST(FakeDns, ConcurrentExhaustionHandsOutExactlyCapacity) {
  constexpr int kThreads = 8;
  FakeDns* dns = FakeDns::create(100);
  ASSERT_NE(dns, nullptr);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (dns->intern("x" + std::to_string(t) + "-" + std::to_string(i))) {
          ok.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(ok.load(), 100);
}

// Reads exactly sizeof(v) bytes from fd within timeout_ms.
bool readWithin(int fd, std::uint32_t& v, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) {
    return false;
  }
  return read(fd, &v, sizeof(v)) == static_cast<ssize_t>(sizeof(v));
}

TEST(FakeDns, SharedWithForkedChild) {
  FakeDns* dns = FakeDns::create(64);
  ASSERT_NE(dns, nullptr);
  auto before = dns->intern("before-fork.example");
  ASSERT_TRUE(before.has_value());

  int to_parent[2];
  int to_child[2];
  ASSERT_EQ(pipe(to_parent), 0);
  ASSERT_EQ(pipe(to_child), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(20);  // never outlive a broken parent
    int code = 0;
    if (dns->intern("before-fork.example") != before) {
      code |= 1;
    }
    auto mine = dns->intern("child.example");
    std::uint32_t v = mine.value_or(0xffffffffu);
    if (write(to_parent[1], &v, sizeof(v)) != static_cast<ssize_t>(sizeof(v))) {
      code |= 2;
    }
    std::uint32_t theirs = 0;
    if (!readWithin(to_child[0], theirs, 10000)) {
      code |= 4;
    } else {
      if (dns->nameOf(theirs) != "parent.example") {
        code |= 8;
      }
      if (dns->intern("parent.example") != theirs) {
        code |= 16;
      }
      std::optional<Address> a = dns->lookup(FakeDns::ipv6For(theirs, 1));
      if (!a || a->domainView() != "parent.example") {
        code |= 32;
      }
    }
    _exit(code);
  }
  std::uint32_t child_idx = 0;
  ASSERT_TRUE(readWithin(to_parent[0], child_idx, 10000));
  EXPECT_NE(child_idx, 0xffffffffu);
  EXPECT_EQ(dns->nameOf(child_idx), "child.example");
  EXPECT_EQ(dns->intern("child.example"), child_idx);
  auto parent_idx = dns->intern("parent.example");
  ASSERT_TRUE(parent_idx.has_value());
  EXPECT_NE(*parent_idx, child_idx);
  std::uint32_t v = *parent_idx;
  ASSERT_EQ(write(to_child[1], &v, sizeof(v)), static_cast<ssize_t>(sizeof(v)));

  int status = 0;
  pid_t done = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "child did not finish";
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) {
    close(fd);
  }
}

}  // namespace
}  // namespace socks
