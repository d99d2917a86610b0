// fake_dns.cpp — the fake-address map (socks/fake_dns.h).
//
// Design. One MAP_SHARED|MAP_ANONYMOUS|MAP_NORESERVE mapping, laid out as
//
//   Header    capacity, index mask, the allocation counter; the FakeDns
//             handle (a pointer to the header) at byte 48
//   slots[]   open-addressing hash index, 2^k >= 2 * capacity 64-bit words:
//             0 = empty, else (hash tag << 32) | (entry index + 1)
//   entries[] capacity x 256 bytes: an atomic length byte + up to 255 chars
//
// Only lock-free atomics live in the mapping (std::atomic<uint32/64> and
// atomic<uint8> are address-free on Linux), so a process and its forked
// children share the map safely and nothing can stay locked across fork or a
// crashed process.
//
// intern(): probe the index from the name's hash. A matching slot answers.
// At the first empty slot the name is not in the map (slots are never
// removed, so a present name always sits before the first empty slot on its
// probe path); the caller then allocates an entry (CAS on the counter, never
// past capacity), writes the name, publishes the length with a release store,
// and CASes the slot from 0 to point at it. If the CAS loses, the winner's
// slot is compared like any other: when another caller raced us with the same
// name, both end with the winner's index (our entry stays allocated but
// unindexed — it holds the same name, so an address made from it still maps
// back correctly); when the winner is another name, we move on with the
// entry we already wrote. Readers load a slot with acquire, which makes the
// entry it points to fully visible.
//
// Entries are written once and never changed, so lookup() and nameOf() are
// plain reads after one acquire load of the length byte.
#include "proto/ascii.h"
#include "socks/fake_dns.h"

#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <new>

namespace socks {

namespace {

constexpr std::uint32_t kMagic = 0x534f4b46;  // "SOKF"
// 198.18.0.0/15, RFC 2544 benchmarking: never routed.
constexpr std::uint32_t kIPv4Base = 0xc6120000;  // 198.18.0.0, host order
constexpr std::uint32_t kIPv4Mask = 0xfffe0000;  // /15
// fd53:6f63:6b73::/48 ("Socks" in ASCII hex, a ULA prefix).
constexpr std::uint8_t kIPv6Prefix[6] = {0xfd, 0x53, 0x6f, 0x63, 0x6b, 0x73};
constexpr std::size_t kMaxName = Address::kMaxDomain;
// The mapping starts with the Region header, then the FakeDns handle.
constexpr std::size_t kHandleOffset = 48;
constexpr std::size_t kHeaderSize = 64;

struct Entry {
  std::atomic<std::uint8_t> len;  // 0 until the name is complete
  char name[kMaxName];
};
static_assert(sizeof(Entry) == 256);
static_assert(std::atomic<std::uint8_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

// Lowercases ASCII and drops one trailing dot. false for names that cannot be
// a domain (empty, too long, an embedded NUL).
bool normalise(std::string_view name, char (&out)[kMaxName], std::size_t& len) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  if (name.empty() || name.size() > kMaxName) {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '\0') {
      return false;
    }
    out[i] = ascii::lower(c);
  }
  len = name.size();
  return true;
}

// FNV-1a, 64 bit.
std::uint64_t hashName(const char* p, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::uint32_t nextPowerOfTwo(std::uint32_t v) {
  std::uint32_t p = 1;
  while (p < v) {
    p <<= 1;
  }
  return p;
}

// The entry index an address encodes, if it is inside a fake range.
std::optional<std::uint32_t> indexOf(const Address& addr) {
  std::uint32_t code = 0;
  if (addr.type == Address::Type::kIPv4) {
    const std::uint32_t a = (std::uint32_t{addr.ip[0]} << 24) | (std::uint32_t{addr.ip[1]} << 16) |
                            (std::uint32_t{addr.ip[2]} << 8) | std::uint32_t{addr.ip[3]};
    if ((a & kIPv4Mask) != kIPv4Base) {
      return std::nullopt;
    }
    code = a - kIPv4Base;
  } else if (addr.type == Address::Type::kIPv6) {
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(addr.ip.data(), kMapped, sizeof(kMapped)) == 0) {
      const std::uint8_t v4[4] = {addr.ip[12], addr.ip[13], addr.ip[14], addr.ip[15]};
      return indexOf(Address::ipv4(v4, addr.port));
    }
    if (std::memcmp(addr.ip.data(), kIPv6Prefix, sizeof(kIPv6Prefix)) != 0) {
      return std::nullopt;
    }
    for (std::size_t i = 6; i < 12; ++i) {
      if (addr.ip[i] != 0) {
        return std::nullopt;  // in range, but never one of ours
      }
    }
    code = (std::uint32_t{addr.ip[12]} << 24) | (std::uint32_t{addr.ip[13]} << 16) |
           (std::uint32_t{addr.ip[14]} << 8) | std::uint32_t{addr.ip[15]};
  } else {
    return std::nullopt;
  }
  if (code == 0) {
    return std::nullopt;
  }
  return code - 1;
}

}  // namespace

struct FakeDns::Region {
  std::uint32_t magic;
  std::uint32_t capacity;
  std::uint32_t slot_mask;
  std::uint32_t reserved;
  std::atomic<std::uint32_t> allocated;  // entries handed out, <= capacity
  std::uint32_t slots_offset;
  std::uint32_t entries_offset;

  std::atomic<std::uint64_t>* slots() {
    return reinterpret_cast<std::atomic<std::uint64_t>*>(reinterpret_cast<char*>(this) +
                                                         slots_offset);
  }
  Entry* entries() { return reinterpret_cast<Entry*>(reinterpret_cast<char*>(this) + entries_offset); }
  const Entry* entries() const {
    return reinterpret_cast<const Entry*>(reinterpret_cast<const char*>(this) + entries_offset);
  }

  // One more entry, or nullopt when the map is full. A CAS loop, so the
  // counter never runs past capacity however often a full map is asked.
  std::optional<std::uint32_t> allocate() {
    std::uint32_t n = allocated.load(std::memory_order_relaxed);
    while (n < capacity) {
      if (allocated.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) {
        return n;
      }
    }
    return std::nullopt;
  }
};

FakeDns* FakeDns::create(std::uint32_t capacity) {
  if (capacity == 0) {
    errno = EINVAL;
    return nullptr;
  }
  if (capacity > kMaxCapacity) {
    capacity = kMaxCapacity;
  }
  const std::uint32_t slot_count = nextPowerOfTwo(capacity * 2);
  const std::size_t header = kHeaderSize;
  const std::size_t slots_bytes = std::size_t{slot_count} * sizeof(std::uint64_t);
  const std::size_t entries_bytes = std::size_t{capacity} * sizeof(Entry);
  const std::size_t total = header + slots_bytes + entries_bytes;
  static_assert(sizeof(Region) <= kHandleOffset);
  static_assert(kHandleOffset % alignof(FakeDns) == 0);
  static_assert(kHandleOffset + sizeof(FakeDns) <= kHeaderSize);

  void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    return nullptr;
  }
  // The mapping is zero-filled: every slot is empty and every length 0,
  // which is the valid initial state of the atomics in it.
  auto* region = new (mem) Region{};
  region->magic = kMagic;
  region->capacity = capacity;
  region->slot_mask = slot_count - 1;
  region->slots_offset = static_cast<std::uint32_t>(header);
  region->entries_offset = static_cast<std::uint32_t>(header + slots_bytes);

  // The handle itself lives in the header too: no heap, nothing to free,
  // and the same address in every forked child.
  return new (static_cast<char*>(mem) + kHandleOffset) FakeDns(region);
}

std::uint32_t FakeDns::capacity() const { return region_->capacity; }

std::optional<std::uint32_t> FakeDns::intern(std::string_view name) {
  char norm[kMaxName];
  std::size_t len = 0;
  if (!normalise(name, norm, len)) {
    return std::nullopt;
  }
  const std::uint64_t hash = hashName(norm, len);
  const std::uint64_t tag = hash & 0xffffffff00000000ULL;
  std::atomic<std::uint64_t>* slots = region_->slots();
  Entry* entries = region_->entries();
  const std::uint32_t mask = region_->slot_mask;

  // An entry this call allocated and filled but has not yet published.
  std::optional<std::uint32_t> mine;
  std::uint32_t pos = static_cast<std::uint32_t>(hash) & mask;
  for (std::uint32_t probe = 0; probe <= mask; ++probe, pos = (pos + 1) & mask) {
    std::uint64_t v = slots[pos].load(std::memory_order_acquire);
    if (v == 0) {
      if (!mine) {
        mine = region_->allocate();
        if (!mine) {
          return std::nullopt;  // full (and the name is not in the map)
        }
        Entry& e = entries[*mine];
        std::memcpy(e.name, norm, len);
        e.len.store(static_cast<std::uint8_t>(len), std::memory_order_release);
      }
      const std::uint64_t want = tag | (std::uint64_t{*mine} + 1);
      if (slots[pos].compare_exchange_strong(v, want, std::memory_order_acq_rel,
                                             std::memory_order_acquire)) {
        return mine;
      }
      // Lost the race: v is the winner, compared below.
    }
    if ((v & 0xffffffff00000000ULL) != tag) {
      continue;
    }
    const std::uint32_t index = static_cast<std::uint32_t>(v) - 1;
    const Entry& e = entries[index];
    if (e.len.load(std::memory_order_acquire) == len && std::memcmp(e.name, norm, len) == 0) {
      return index;
    }
  }
  return std::nullopt;  // unreachable: the index has twice the capacity
}

Address FakeDns::ipv4For(std::uint32_t index, std::uint16_t port) {
  return Address::ipv4(kIPv4Base + index + 1, port);
}

Address FakeDns::ipv6For(std::uint32_t index, std::uint16_t port) {
  const std::uint32_t code = index + 1;
  std::uint8_t octets[16] = {};
  std::memcpy(octets, kIPv6Prefix, sizeof(kIPv6Prefix));
  octets[12] = static_cast<std::uint8_t>(code >> 24);
  octets[13] = static_cast<std::uint8_t>(code >> 16);
  octets[14] = static_cast<std::uint8_t>(code >> 8);
  octets[15] = static_cast<std::uint8_t>(code);
  return Address::ipv6(octets, port);
}

bool FakeDns::inFakeRange(const Address& addr) {
  if (addr.type == Address::Type::kIPv4) {
    return addr.ip[0] == 198 && (addr.ip[1] & 0xfe) == 18;
  }
  if (addr.type == Address::Type::kIPv6) {
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(addr.ip.data(), kMapped, sizeof(kMapped)) == 0) {
      return addr.ip[12] == 198 && (addr.ip[13] & 0xfe) == 18;
    }
    return std::memcmp(addr.ip.data(), kIPv6Prefix, sizeof(kIPv6Prefix)) == 0;
  }
  return false;
}

std::optional<Address> FakeDns::lookup(const Address& addr) const {
  const std::optional<std::uint32_t> index = indexOf(addr);
  if (!index) {
    return std::nullopt;
  }
  const std::string_view name = nameOf(*index);
  if (name.empty()) {
    return std::nullopt;
  }
  Result<Address> domain = Address::domainName(name, addr.port);
  if (!domain.ok()) {
    return std::nullopt;
  }
  return *domain;
}

std::string_view FakeDns::nameOf(std::uint32_t index) const {
  if (index >= region_->capacity ||
      index >= region_->allocated.load(std::memory_order_acquire)) {
    return {};
  }
  const Entry& e = region_->entries()[index];
  const std::uint8_t len = e.len.load(std::memory_order_acquire);
  return {e.name, len};
}

}  // namespace socks
