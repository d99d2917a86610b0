// shim/real.h — the real libc functions behind every hook, resolved once.
//
// Each RealFn is constant-initialised (usable before any constructor, from
// any thread) and resolves itself with dlsym(RTLD_NEXT) on first use; the
// result is published with an atomic store. If dlsym finds nothing, or finds
// our own hook (a circular reference), the shim logs once and goes inert —
// it never aborts the host. Nothing in shim/ calls an interposed function by
// its plain name: it calls real::name(...).
#pragma once

#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "socks/socket_ops.h"

struct __res_state;  // <resolv.h>; not included here (its macros rename res_init & co.)
struct gaicb;
struct sigevent;

namespace socksify {

// Resolves `name` with dlsym(RTLD_NEXT). A result inside libsocksify.so
// itself (a circular reference) counts as missing. Logs once and marks the
// shim broken (shimBroken()) when the symbol is missing.
void* resolveRealSymbol(const char* name) noexcept;
bool shimBroken() noexcept;

template <class Fn>
class RealFn {
 public:
  constexpr explicit RealFn(const char* name) : name_(name) {}

  Fn get() const noexcept {
    Fn fn = fn_.load(std::memory_order_acquire);
    if (fn == nullptr) [[unlikely]] {
      fn = resolve();
    }
    return fn;
  }
  // The call: a load and a tail call; resolving (once) is out of line, so
  // the hooks built on it need no stack frame of their own.
  // Not noexcept: the libc functions do not throw, and a noexcept wrapper
  // would cost the tail call (a terminate landing pad around the call).
  template <class... Args>
  auto operator()(Args... args) const {
    Fn fn = fn_.load(std::memory_order_acquire);
    if (fn == nullptr) [[unlikely]] {
      return resolveAndCall(args...);
    }
    return fn(args...);
  }

 private:
  template <class... Args>
  [[gnu::noinline, gnu::cold]] auto resolveAndCall(Args... args) const {
    Fn fn = resolve();
    using R = decltype(fn(args...));
    if (fn == nullptr) {
      errno = ENOSYS;  // the shim is broken (logged once): fail like a missing call
      return static_cast<R>(-1);
    }
    return fn(args...);
  }

  // Out of line, so the hooks' fast paths stay a load and a tail call.
  [[gnu::noinline, gnu::cold]] Fn resolve() const noexcept {
    Fn fn = reinterpret_cast<Fn>(resolveRealSymbol(name_));
    fn_.store(fn, std::memory_order_release);
    return fn;
  }

  const char* name_;
  mutable std::atomic<Fn> fn_{nullptr};
};

namespace real {
// Stream and descriptor calls.
extern RealFn<decltype(&::socket)> socket;
extern RealFn<decltype(&::connect)> connect;
extern RealFn<decltype(&::close)> close;
extern RealFn<int (*)(unsigned int, unsigned int, int)> close_range;
extern RealFn<decltype(&::dup)> dup;
extern RealFn<decltype(&::dup2)> dup2;
extern RealFn<decltype(&::dup3)> dup3;
extern RealFn<int (*)(int, int, ...)> fcntl;
extern RealFn<int (*)(int, int, ...)> fcntl64;
extern RealFn<decltype(&::fclose)> fclose;
extern RealFn<decltype(&::getpeername)> getpeername;
extern RealFn<decltype(&::getsockname)> getsockname;
extern RealFn<decltype(&::bind)> bind;
extern RealFn<decltype(&::listen)> listen;
extern RealFn<decltype(&::accept)> accept;
extern RealFn<decltype(&::accept4)> accept4;
extern RealFn<int (*)(pollfd*, nfds_t, int)> poll;
// The data path (datagrams through a UDP association).
extern RealFn<ssize_t (*)(int, void*, size_t)> read;
extern RealFn<ssize_t (*)(int, const void*, size_t)> write;
extern RealFn<ssize_t (*)(int, const iovec*, int)> readv;
extern RealFn<ssize_t (*)(int, const iovec*, int)> writev;
extern RealFn<ssize_t (*)(int, void*, size_t, int)> recv;
extern RealFn<ssize_t (*)(int, const void*, size_t, int)> send;
extern RealFn<ssize_t (*)(int, void*, size_t, int, sockaddr*, socklen_t*)> recvfrom;
extern RealFn<ssize_t (*)(int, const void*, size_t, int, const sockaddr*, socklen_t)> sendto;
extern RealFn<ssize_t (*)(int, msghdr*, int)> recvmsg;
extern RealFn<ssize_t (*)(int, const msghdr*, int)> sendmsg;
extern RealFn<int (*)(int, mmsghdr*, unsigned int, int, timespec*)> recvmmsg;
extern RealFn<int (*)(int, mmsghdr*, unsigned int, int)> sendmmsg;
extern RealFn<int (*)(pollfd*, nfds_t, const timespec*, const sigset_t*)> ppoll;
// Resolver calls.
extern RealFn<decltype(&::getaddrinfo)> getaddrinfo;
extern RealFn<decltype(&::freeaddrinfo)> freeaddrinfo;
extern RealFn<decltype(&::getnameinfo)> getnameinfo;
extern RealFn<hostent* (*)(const char*)> gethostbyname;
extern RealFn<hostent* (*)(const char*, int)> gethostbyname2;
extern RealFn<int (*)(const char*, hostent*, char*, size_t, hostent**, int*)> gethostbyname_r;
extern RealFn<int (*)(const char*, int, hostent*, char*, size_t, hostent**, int*)> gethostbyname2_r;
extern RealFn<hostent* (*)(const void*, socklen_t, int)> gethostbyaddr;
extern RealFn<int (*)(const void*, socklen_t, int, hostent*, char*, size_t, hostent**, int*)>
    gethostbyaddr_r;
// libresolv's query API (in libc.so.6 since glibc 2.34). The hooks of the
// old __res_* names (compat-only symbols, which dlsym cannot return) call
// these default-version ones: the same functions.
extern RealFn<int (*)(const char*, int, int, unsigned char*, int)> res_query;
extern RealFn<int (*)(const char*, int, int, unsigned char*, int)> res_search;
extern RealFn<int (*)(const char*, const char*, int, int, unsigned char*, int)> res_querydomain;
extern RealFn<int (*)(const unsigned char*, int, unsigned char*, int)> res_send;
extern RealFn<int (*)(struct __res_state*, const char*, int, int, unsigned char*, int)> res_nquery;
extern RealFn<int (*)(struct __res_state*, const char*, int, int, unsigned char*, int)> res_nsearch;
extern RealFn<int (*)(struct __res_state*, const char*, const char*, int, int, unsigned char*, int)>
    res_nquerydomain;
extern RealFn<int (*)(struct __res_state*, const unsigned char*, int, unsigned char*, int)> res_nsend;
extern RealFn<int (*)(int, gaicb**, int, sigevent*)> getaddrinfo_a;
}  // namespace real

// A SocketOps table whose entries call the real libc functions (never our
// hooks). Constant-initialised; valid at any time.
const socks::SocketOps& realSocketOps() noexcept;

}  // namespace socksify
