#include "fd_table.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <mutex>
#include <new>

namespace socksify {
namespace fdtable::detail {
std::atomic<Entry*> g_entries{nullptr};
std::atomic<std::size_t> g_size{0};
}  // namespace fdtable::detail

namespace {
using fdtable::detail::kTagMask;

std::uintptr_t pack(FdState* state) {
  return state == nullptr ? 0
                          : reinterpret_cast<std::uintptr_t>(state) |
                                (static_cast<std::uintptr_t>(state->kind) + 1);
}

FdState* unpack(std::uintptr_t v) { return reinterpret_cast<FdState*>(v & ~kTagMask); }
}  // namespace

namespace {

constexpr std::size_t kStripes = 64;
constexpr std::size_t kMinEntries = 1024;
constexpr std::size_t kMaxEntries = std::size_t{1} << 22;

using fdtable::detail::Entry;
using fdtable::detail::g_entries;
using fdtable::detail::g_size;

std::mutex g_stripes[kStripes];
std::once_flag g_alloc_once;

std::mutex& stripe(int fd) { return g_stripes[static_cast<unsigned>(fd) % kStripes]; }

void unref(FdState* state) {
  if (state != nullptr && state->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    delete state;
  }
}

void lockAll() {
  for (auto& m : g_stripes) {
    m.lock();
  }
}
void unlockAll() {
  for (auto& m : g_stripes) {
    m.unlock();
  }
}

// The table is sized once, by the hard descriptor limit, as one anonymous
// mapping that costs nothing until an entry is written.
void allocate() {
  rlimit rl{};
  std::size_t n = kMaxEntries;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY) {
    n = rl.rlim_max;
  }
  n = n < kMinEntries ? kMinEntries : (n > kMaxEntries ? kMaxEntries : n);
  void* p = mmap(nullptr, n * sizeof(Entry), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    return;
  }
  // Zeroed memory is a valid array of empty entries (lock-free atomics of
  // pointer size have no other state).
  static_assert(sizeof(Entry) == sizeof(FdState*) && Entry::is_always_lock_free);
  static_assert(alignof(FdState) > fdtable::detail::kTagMask);
  g_size.store(n, std::memory_order_relaxed);
  g_entries.store(static_cast<Entry*>(p), std::memory_order_release);
  pthread_atfork(lockAll, unlockAll, unlockAll);
}

Entry* entryFor(int fd, bool create) {
  Entry* table = g_entries.load(std::memory_order_acquire);
  if (table == nullptr) {
    if (!create) {
      return nullptr;
    }
    std::call_once(g_alloc_once, allocate);
    table = g_entries.load(std::memory_order_acquire);
    if (table == nullptr) {
      return nullptr;
    }
  }
  if (fd < 0 || static_cast<std::size_t>(fd) >= g_size.load(std::memory_order_relaxed)) {
    return nullptr;
  }
  return &table[fd];
}

}  // namespace

FdRef& FdRef::operator=(FdRef&& other) noexcept {
  if (this != &other) {
    unref(state_);
    state_ = other.state_;
    other.state_ = nullptr;
  }
  return *this;
}

FdRef::~FdRef() { unref(state_); }

namespace fdtable {

FdRef get(int fd) noexcept {
  if (!tracked(fd)) {
    return FdRef();
  }
  Entry* e = entryFor(fd, false);
  std::lock_guard<std::mutex> lock(stripe(fd));
  FdState* state = unpack(e->load(std::memory_order_acquire));
  if (state != nullptr) {
    state->refs.fetch_add(1, std::memory_order_relaxed);
  }
  return FdRef(state);
}

bool set(int fd, FdState* state) noexcept {
  Entry* e = entryFor(fd, true);
  if (e == nullptr) {
    unref(state);
    return false;
  }
  FdState* old = nullptr;
  {
    std::lock_guard<std::mutex> lock(stripe(fd));
    old = unpack(e->exchange(pack(state), std::memory_order_acq_rel));
  }
  unref(old);
  return true;
}

void clear(int fd) noexcept {
  if (!tracked(fd)) {
    return;
  }
  Entry* e = entryFor(fd, false);
  FdState* old = nullptr;
  {
    std::lock_guard<std::mutex> lock(stripe(fd));
    old = unpack(e->exchange(0, std::memory_order_acq_rel));
  }
  unref(old);
}

void copy(int from, int to) noexcept {
  if (from == to || (!tracked(from) && !tracked(to))) {
    return;
  }
  FdRef src = get(from);
  if (!src) {
    clear(to);
    return;
  }
  src->refs.fetch_add(1, std::memory_order_relaxed);
  set(to, &*src);
}

void clearRange(unsigned int first, unsigned int last) noexcept {
  const std::size_t size = g_size.load(std::memory_order_relaxed);
  if (g_entries.load(std::memory_order_acquire) == nullptr || first >= size) {
    return;
  }
  const std::size_t end = last >= size ? size - 1 : last;
  for (std::size_t fd = first; fd <= end; ++fd) {
    clear(static_cast<int>(fd));
  }
}

void own(int fd) noexcept {
  if (fd < 0) {
    return;
  }
  auto* state = new (std::nothrow) FdState;
  if (state != nullptr) {
    state->kind = FdKind::kShimOwned;
    set(fd, state);
  }
}

void disown(int fd) noexcept {
  if (trackedAs(fd, FdKind::kShimOwned)) {
    clear(fd);
  }
}

std::size_t capacity() noexcept {
  return g_entries.load(std::memory_order_acquire) == nullptr ? 0
                                                              : g_size.load(std::memory_order_relaxed);
}

}  // namespace fdtable
}  // namespace socksify
