// syscall(): the socket system calls some libraries make through libc's
// generic syscall() instead of the wrappers. libuv does so for sendmmsg and
// recvmmsg (its own `uv__sendmmsg`), so Node.js, bind9's dig and every other
// libuv program would bypass the datagram hooks. syscall() itself is a libc
// function reached through the PLT, so it can be interposed like the rest:
// the numbers the shim handles go to the same hooks as the wrappers; every
// other number is forwarded untouched with its six argument registers.
// (A program that executes the syscall instruction itself is beyond reach.)
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdarg>

#include "export.h"
#include "real.h"

namespace socksify::real {
RealFn<long (*)(long, ...)> syscall{"syscall"};
}  // namespace socksify::real

// Our hooks, by their exported names.
extern "C" {
int connect(int, const sockaddr*, socklen_t);
ssize_t sendto(int, const void*, size_t, int, const sockaddr*, socklen_t);
ssize_t recvfrom(int, void*, size_t, int, sockaddr*, socklen_t*);
ssize_t sendmsg(int, const msghdr*, int);
ssize_t recvmsg(int, msghdr*, int);
int sendmmsg(int, mmsghdr*, unsigned int, int);
int recvmmsg(int, mmsghdr*, unsigned int, int, timespec*);
int close(int);
}

SOCKSIFY_EXPORT long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  const long a1 = va_arg(ap, long);
  const long a2 = va_arg(ap, long);
  const long a3 = va_arg(ap, long);
  const long a4 = va_arg(ap, long);
  const long a5 = va_arg(ap, long);
  const long a6 = va_arg(ap, long);
  va_end(ap);
  const int fd = static_cast<int>(a1);
  switch (number) {
    case SYS_connect:
      return connect(fd, reinterpret_cast<const sockaddr*>(a2), static_cast<socklen_t>(a3));
    case SYS_sendto:
      return sendto(fd, reinterpret_cast<const void*>(a2), static_cast<size_t>(a3), static_cast<int>(a4),
                    reinterpret_cast<const sockaddr*>(a5), static_cast<socklen_t>(a6));
    case SYS_recvfrom:
      return recvfrom(fd, reinterpret_cast<void*>(a2), static_cast<size_t>(a3), static_cast<int>(a4),
                      reinterpret_cast<sockaddr*>(a5), reinterpret_cast<socklen_t*>(a6));
    case SYS_sendmsg:
      return sendmsg(fd, reinterpret_cast<const msghdr*>(a2), static_cast<int>(a3));
    case SYS_recvmsg:
      return recvmsg(fd, reinterpret_cast<msghdr*>(a2), static_cast<int>(a3));
    case SYS_sendmmsg:
      if (a2 == 0 || a3 == 0) {
        break;  // libuv's availability probe (sendmmsg(-1, NULL, 0)): the kernel's answer
      }
      return sendmmsg(fd, reinterpret_cast<mmsghdr*>(a2), static_cast<unsigned int>(a3),
                      static_cast<int>(a4));
    case SYS_recvmmsg:
      if (a2 == 0 || a3 == 0) {
        break;
      }
      return recvmmsg(fd, reinterpret_cast<mmsghdr*>(a2), static_cast<unsigned int>(a3),
                      static_cast<int>(a4), reinterpret_cast<timespec*>(a5));
    case SYS_close:
      return close(fd);
    default:
      break;
  }
  auto fn = socksify::real::syscall.get();
  if (fn == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return fn(number, a1, a2, a3, a4, a5, a6);
}
