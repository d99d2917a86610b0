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
  if (socksify::fdtable::trackedAs(fd, socksify::FdKind::kShimOwned)) {
    return 0;  // the shim's own descriptor: a program closing "everything" keeps it working
  }
  clear(fd);
  return socksify::real::close(fd);
}

SOCKSIFY_EXPORT int close_range(unsigned int first, unsigned int last, int flags) noexcept {
  using socksify::FdKind;
  namespace fdtable = socksify::fdtable;
  const std::size_t size = fdtable::capacity();
  if ((flags & CLOSE_RANGE_CLOEXEC) != 0 || size == 0 || first >= size) {
    const int rc = socksify::real::close_range(first, last, flags);
    if (rc == 0 && (flags & CLOSE_RANGE_CLOEXEC) == 0) {
      fdtable::clearRange(first, last);
    }
    return rc;
  }
  // Close around the shim's own descriptors (bounded by the table's size).
  const unsigned int end = last < size ? last : static_cast<unsigned int>(size - 1);
  unsigned int lo = first;
  for (unsigned int fd = first; fd <= end && fd >= first; ++fd) {
    if (!fdtable::trackedAs(static_cast<int>(fd), FdKind::kShimOwned)) {
      continue;
    }
    if (lo < fd) {
      if (socksify::real::close_range(lo, fd - 1, flags) != 0) {
        return -1;
      }
      fdtable::clearRange(lo, fd - 1);
    }
    lo = fd + 1;
    if (fd == end) {
      break;
    }
  }
  if (lo > last) {
    return 0;
  }
  const int rc = socksify::real::close_range(lo, last, flags);
  if (rc == 0) {
    fdtable::clearRange(lo, last);
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
