// The ways a descriptor dies or is copied: close, close_range, fclose, dup,
// dup2, dup3, fcntl(F_DUPFD/F_DUPFD_CLOEXEC). Each forwards first (or, for
// close, forgets first: the number must not be reused while we still map it)
// and keeps the fd table true. None of them loads the configuration: if it was
// never loaded, nothing is tracked.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cstdarg>

#include "export.h"
#include "fd_table.h"
#include "real.h"

namespace socksify {
namespace {

// F_DUPFD and F_DUPFD_CLOEXEC return a copy; every other command is passed
// through untouched. The third argument is an int, a long or a pointer; on the
// Linux ABIs we build for, reading it as a long and passing it on preserves it.
int hookFcntl(const RealFn<int (*)(int, int, ...)>& fn, int fd, int cmd, long arg) {
  const int rc = fn(fd, cmd, arg);
  if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && fdtable::tracked(fd)) {
    fdtable::copy(fd, rc);
  }
  return rc;
}

}  // namespace
}  // namespace socksify

namespace {

inline void clear(int fd) {
  if (socksify::fdtable::tracked(fd)) {
    socksify::fdtable::clear(fd);
  }
}

inline void copy(int from, int to) {
  if (socksify::fdtable::tracked(from) || socksify::fdtable::tracked(to)) {
    socksify::fdtable::copy(from, to);
  }
}

}  // namespace

SOCKSIFY_EXPORT int close(int fd) {
  clear(fd);
  return socksify::real::close(fd);
}

SOCKSIFY_EXPORT int close_range(unsigned int first, unsigned int last, int flags) noexcept {
  const int rc = socksify::real::close_range(first, last, flags);
  if (rc == 0 && (flags & CLOSE_RANGE_CLOEXEC) == 0) {
    socksify::fdtable::clearRange(first, last);
  }
  return rc;
}

SOCKSIFY_EXPORT int fclose(FILE* stream) {
  // glibc's fclose closes the descriptor internally, past our close().
  const int fd = stream != nullptr ? fileno(stream) : -1;
  if (fd >= 0) {
    clear(fd);
  }
  return socksify::real::fclose(stream);
}

SOCKSIFY_EXPORT int dup(int fd) noexcept {
  const int rc = socksify::real::dup(fd);
  if (rc >= 0) {
    copy(fd, rc);
  }
  return rc;
}

SOCKSIFY_EXPORT int dup2(int from, int to) noexcept {
  const int rc = socksify::real::dup2(from, to);
  if (rc >= 0) {
    copy(from, rc);
  }
  return rc;
}

SOCKSIFY_EXPORT int dup3(int from, int to, int flags) noexcept {
  const int rc = socksify::real::dup3(from, to, flags);
  if (rc >= 0) {
    copy(from, rc);
  }
  return rc;
}

SOCKSIFY_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const long arg = va_arg(ap, long);
  va_end(ap);
  return socksify::hookFcntl(socksify::real::fcntl, fd, cmd, arg);
}

SOCKSIFY_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const long arg = va_arg(ap, long);
  va_end(ap);
  return socksify::hookFcntl(socksify::real::fcntl64, fd, cmd, arg);
}
