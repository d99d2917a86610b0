// shim/fd_table.h — what the shim knows about the program's descriptors.
//
// An array indexed by descriptor; each entry an atomic pointer to refcounted
// state of one kind (for now: a stream the shim connected through a proxy;
// BIND listeners and UDP associations follow). An untracked descriptor costs
// one load: the table pointer is null until the first descriptor is tracked,
// and then the entry itself is null. Taking a reference to a non-null entry
// happens under one of 64 striped mutexes, so close() on another thread can
// never free state that a reader is about to use (lookup -> ref -> unlock ->
// use -> unref). The mutexes are held across fork() by pthread_atfork
// handlers, so a child never inherits one locked. The table lives in private
// memory: a forked child gets a copy, just as it gets copies of the fds.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "socks/address.h"

namespace socksify {

enum class FdKind : std::uint8_t {
  kProxiedStream,   // connect() through the chain, or a connection accept() got through BIND
  kBindListener,    // a listening socket published as the proxy's BIND address
  kUdpAssociation,  // a UDP socket whose datagrams go through a SOCKS5 relay
  kShimOwned,       // the shim's own (control connections, the watcher's epoll):
                    // the program's close()/close_range() leave it alone
};

struct BindListener;    // shim/bind.cpp
struct UdpAssociation;  // shim/udp.cpp

struct FdState {
  FdKind kind = FdKind::kProxiedStream;
  std::atomic<int> refs{1};
  // kBindListener: the BIND state, shared with the watcher thread. Its last
  // owner cancels an outstanding BIND (closes the control connection).
  std::shared_ptr<BindListener> listener;
  // kUdpAssociation: the association, shared by the socket's duplicates; its
  // last owner closes the control connection (which ends the association).
  std::shared_ptr<UdpAssociation> udp;
  // getsockname() answers this when set (accepted through BIND: the address
  // that was published); otherwise the kernel's answer.
  sockaddr_storage local{};
  socklen_t local_len = 0;
  // What the program passed to connect(): getpeername() answers this.
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  // The first hop, which is what the kernel thinks the peer is; a mismatch
  // means the entry is stale (the fd was closed behind our back and reused).
  socks::Address first_hop;
  // What the last proxy was asked to connect to (a name for fake addresses).
  socks::Address dst;
};

// A counted reference; empty for untracked descriptors.
class FdRef {
 public:
  FdRef() = default;
  explicit FdRef(FdState* state) : state_(state) {}
  FdRef(FdRef&& other) noexcept : state_(other.state_) { other.state_ = nullptr; }
  FdRef& operator=(FdRef&& other) noexcept;
  FdRef(const FdRef&) = delete;
  FdRef& operator=(const FdRef&) = delete;
  ~FdRef();

  explicit operator bool() const { return state_ != nullptr; }
  FdState* operator->() const { return state_; }
  FdState& operator*() const { return *state_; }

 private:
  FdState* state_ = nullptr;
};

namespace fdtable {

namespace detail {
// An entry is an FdState pointer with its kind + 1 in the low bits (FdState
// is at least 8-byte aligned), so hooks can ask for the kind without taking a
// reference.
using Entry = std::atomic<std::uintptr_t>;
inline constexpr std::uintptr_t kTagMask = 7;
// Null until the first descriptor is tracked.
extern std::atomic<Entry*> g_entries;
extern std::atomic<std::size_t> g_size;

inline std::uintptr_t load(int fd) noexcept {
  Entry* table = g_entries.load(std::memory_order_acquire);
  if (table == nullptr || static_cast<std::size_t>(fd) >= g_size.load(std::memory_order_relaxed)) {
    return 0;
  }
  return table[fd].load(std::memory_order_acquire);
}
}  // namespace detail

// Whether fd may be tracked: one load (the table pointer) while nothing was
// ever tracked, then a bounds check and the entry's load. Inline, so a hook
// on an untracked descriptor pays exactly that before forwarding.
inline bool tracked(int fd) noexcept { return detail::load(fd) != 0; }

// fd is tracked as `kind` — the same cost, no reference taken (the data-path
// hooks use it: a proxied TCP stream's read() and write() go straight on).
inline bool trackedAs(int fd, FdKind kind) noexcept {
  return (detail::load(fd) & detail::kTagMask) == static_cast<std::uintptr_t>(kind) + 1;
}

// Empty unless fd is tracked. One atomic load on the untracked path.
FdRef get(int fd) noexcept;
// Tracks fd with `state` (the table takes the one reference `state` was
// created with); any previous state is dropped. False if fd is beyond the
// table (the state is then dropped too).
bool set(int fd, FdState* state) noexcept;
// Forgets fd.
void clear(int fd) noexcept;
// dup/dup2/dup3/F_DUPFD: `to` now shares `from`'s state (or is cleared).
void copy(int from, int to) noexcept;
// close_range(first, last): forgets every fd in the range.
void clearRange(unsigned int first, unsigned int last) noexcept;
// Marks a descriptor the shim opened for itself / forgets the mark (call
// before closing it). Programs that close every descriptor (closefrom, a
// close() loop) then leave the shim's alone.
void own(int fd) noexcept;
void disown(int fd) noexcept;
// The table's size: descriptors at or beyond it are never tracked.
std::size_t capacity() noexcept;

}  // namespace fdtable
}  // namespace socksify
