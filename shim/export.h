// shim/export.h — how a hook is declared.
//
// The shim is built with -fvisibility=hidden; only the interposed libc names
// are exported. Every hook body runs inside guard(), which turns any C++
// exception into an errno and a failure value: nothing may unwind into the
// host program (a noexcept violation would terminate it).
#pragma once

#include <errno.h>

#include <new>

#define SOCKSIFY_EXPORT extern "C" __attribute__((visibility("default")))

namespace socksify {

template <class Ret, class Fn>
inline Ret guard(Ret failure, Fn&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    errno = ENOMEM;
  } catch (...) {
    errno = EIO;
  }
  return failure;
}

}  // namespace socksify
