// Logging that is safe inside someone else's process: a stack buffer, one
// write(2) per line through the configured sink, never stdio, never malloc.
#include "socks/log.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

namespace socks::log {
namespace {

// The default sink is the system call itself: no libc symbol (which an
// interposing library might own) and usable at any time.
ssize_t rawWrite(int fd, const void* buf, size_t len) { return syscall(SYS_write, fd, buf, len); }

std::atomic<int> g_level{static_cast<int>(Level::kWarn)};
std::atomic<Sink> g_sink{&rawWrite};
std::atomic<const char*> g_prefix{"socksify"};
std::atomic<int> g_fd{STDERR_FILENO};
std::atomic<bool> g_syslog{false};

constexpr const char* kLevelNames[] = {"quiet", "error", "warn", "info", "debug"};

}  // namespace

void setLevel(Level level) noexcept { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

Level level() noexcept { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

void setSink(Sink sink) noexcept { g_sink.store(sink != nullptr ? sink : &rawWrite); }

void setDestination(int fd, bool syslog) noexcept {
  g_syslog.store(syslog, std::memory_order_relaxed);
  g_fd.store(fd, std::memory_order_relaxed);
}

void setPrefix(const char* prefix) noexcept { g_prefix.store(prefix); }

bool parseLevel(const char* text, Level& out) noexcept {
  if (text == nullptr) {
    return false;
  }
  for (int i = 0; i <= static_cast<int>(Level::kDebug); ++i) {
    if (strcasecmp(text, kLevelNames[i]) == 0 || (text[0] == '0' + i && text[1] == '\0')) {
      out = static_cast<Level>(i);
      return true;
    }
  }
  if (strcasecmp(text, "warning") == 0) {
    out = Level::kWarn;
    return true;
  }
  return false;
}

void vwrite(Level l, const char* fmt, va_list ap) noexcept {
  if (!enabled(l) || l == Level::kQuiet) {
    return;
  }
  const int saved_errno = errno;  // logging must never change the caller's errno
  char buf[1024];
  const bool syslog = g_syslog.load(std::memory_order_relaxed);
  const int fd = g_fd.load(std::memory_order_relaxed);
  int n = 0;
  if (syslog) {
    // facility user (1 << 3); severities err 3, warning 4, info 6, debug 7.
    static constexpr int kSeverity[] = {7, 3, 4, 6, 7};
    n = std::snprintf(buf, sizeof buf, "<%d>%s[%ld]: ", 8 + kSeverity[static_cast<int>(l)],
                      g_prefix.load(std::memory_order_relaxed), static_cast<long>(getpid()));
  } else {
    n = std::snprintf(buf, sizeof buf, "%s: ", g_prefix.load(std::memory_order_relaxed));
  }
  if (n < 0) {
    n = 0;
  }
  size_t len = static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1;
  const int m = std::vsnprintf(buf + len, sizeof buf - len, fmt, ap);
  if (m > 0) {
    len += static_cast<size_t>(m) < sizeof buf - len ? static_cast<size_t>(m) : sizeof buf - len - 1;
  }
  if (len >= sizeof buf - 1) {
    len = sizeof buf - 2;
  }
  if (!syslog) {
    buf[len++] = '\n';
  }
  Sink sink = g_sink.load(std::memory_order_relaxed);
  if (syslog) {  // one datagram, whole or not at all
    (void)sink(fd, buf, len);
    errno = saved_errno;
    return;
  }
  size_t off = 0;
  for (int tries = 0; off < len && tries < 8; ++tries) {  // bounded: EINTR / short writes
    const ssize_t w = sink(fd, buf + off, len - off);
    if (w > 0) {
      off += static_cast<size_t>(w);
    } else if (w < 0 && errno != EINTR) {
      break;
    }
  }
  errno = saved_errno;
}

void write(Level l, const char* fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  vwrite(l, fmt, ap);
  va_end(ap);
}

}  // namespace socks::log
