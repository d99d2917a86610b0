// socks/log.h — logging that is safe inside someone else's process.
//
// One line per call, formatted into a stack buffer and written with a single
// write(2) to fd 2 (through a sink function the embedder sets: the shim gives
// the real libc write), prefixed "socksify: " (or the prefix set). Never through
// stdio, never allocating, usable before init and after fork. The level check
// is one relaxed atomic load. Callers must never pass credentials.
#pragma once

#include <sys/types.h>

#include <cstdarg>
#include <cstddef>

namespace socks::log {

enum class Level : int { kQuiet = 0, kError = 1, kWarn = 2, kInfo = 3, kDebug = 4 };

using Sink = ssize_t (*)(int fd, const void* buf, size_t len);

void setLevel(Level level) noexcept;
Level level() noexcept;
void setSink(Sink sink) noexcept;
// Where lines go: fd (default 2, stderr). With syslog, fd is a datagram
// socket connected to /dev/log and each line is one RFC 3164 message
// "<PRI>PREFIX[PID]: text" (facility user, severity from the level).
void setDestination(int fd, bool syslog) noexcept;
// Static string, kept by pointer: "socksify" gives "socksify: ..." lines.
void setPrefix(const char* prefix) noexcept;
// "quiet|error|warn|info|debug" (also "0".."4"); false if unknown.
bool parseLevel(const char* text, Level& out) noexcept;

inline bool enabled(Level l) noexcept { return static_cast<int>(l) <= static_cast<int>(level()); }

void write(Level l, const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));
void vwrite(Level l, const char* fmt, va_list ap) noexcept;

}  // namespace socks::log

#define SOCKS_LOG(lvl, ...)                                      \
  do {                                                           \
    if (::socks::log::enabled(::socks::log::Level::lvl)) {       \
      ::socks::log::write(::socks::log::Level::lvl, __VA_ARGS__); \
    }                                                            \
  } while (0)
