// socks/fake_dns.h — the fake-address map for names the proxy resolves.
//
// With socks5h:// and socks4a:// the program asks for a name and gets an
// address that stands for it: IPv4 from 198.18.0.0/15 (RFC 2544 benchmarking,
// never routed), IPv6 from fd53:6f63:6b73::/48 (a ULA prefix, "Socks" in hex).
// Both encode the same entry index, so either family maps back to the name.
// connect() to such an address sends the name to the proxy; getnameinfo and
// gethostbyaddr turn it back into the name.
//
// The map lives in one shared anonymous mapping (MAP_SHARED|MAP_ANONYMOUS)
// created once, so a process and every child it forks agree on it, whichever
// of them allocates. It is lock-free: entries are allocated with an atomic
// counter and published into an open-addressing hash index with CAS, so no
// process-private mutex can be left locked across fork or a crashed process.
// Names are stored lowercased without a trailing dot. When the map is full,
// intern() fails (the caller reports EAI_AGAIN / TRY_AGAIN).
//
// Encoding: entry index i is the fake address 198.18.0.0 + (i + 1) and
// fd53:6f63:6b73::(i + 1) (the low 32 bits). The "+ 1" keeps the network
// address 198.18.0.0 and the subnet-router anycast address fd53:6f63:6b73::
// out of use, so capacity is at most kMaxCapacity (198.18.0.1 ...
// 198.19.255.254). Design notes: core/src/dns/fake_dns.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "socks/address.h"

namespace socks {

class FakeDns {
 public:
  static constexpr std::uint32_t kDefaultCapacity = 65536;
  // 198.18.0.0/15 holds 131072 addresses; .0.0 and .255.255 are not used.
  static constexpr std::uint32_t kMaxCapacity = 131070;

  // Maps the shared region; nullptr (errno set) if mmap fails or capacity is
  // 0 (EINVAL). A capacity above kMaxCapacity is clamped to it. The object
  // lives for the rest of the process (and its forked children).
  static FakeDns* create(std::uint32_t capacity = kDefaultCapacity);

  // The entry index for name, allocating it on first use; nullopt when full
  // or when name is not a valid domain (empty, > 255 bytes, NUL inside).
  // Concurrent callers (threads or processes) interning the same name all
  // get the same index; each loser of such a race leaves one entry unused
  // (its address still maps back to the same name), so under contention
  // slightly fewer than capacity() names fit. Thread-safe, lock-free.
  std::optional<std::uint32_t> intern(std::string_view name);

  // The fake address for an entry (port as given).
  static Address ipv4For(std::uint32_t index, std::uint16_t port);
  static Address ipv6For(std::uint32_t index, std::uint16_t port);

  // Whether addr is inside one of the fake ranges (allocated or not).
  static bool inFakeRange(const Address& addr);

  // If addr is an allocated fake address: the name as a kDomain Address with
  // addr's port. nullopt for anything else (including an unallocated fake).
  std::optional<Address> lookup(const Address& addr) const;
  // The name of an entry, or an empty view.
  std::string_view nameOf(std::uint32_t index) const;

  // How many entries may be allocated.
  std::uint32_t capacity() const;

 private:
  struct Region;  // the layout of the shared mapping (fake_dns.cpp)
  explicit FakeDns(Region* region) : region_(region) {}

  Region* region_;
};

}  // namespace socks
