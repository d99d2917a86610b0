// socks/socket_ops.h — every real I/O call core makes goes through this table.
//
// socksd and the tests fill it with libc (libcSocketOps()); the shim fills it
// with the *real* libc symbols found by dlsym(RTLD_NEXT), so nothing in core
// ever re-enters an interposed function. A plain struct of function pointers:
// C-compatible, usable before constructors run, passed explicitly by
// reference (no singleton to swap).
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

namespace socks {

struct SocketOps {
  int (*socket)(int domain, int type, int protocol);
  int (*connect)(int fd, const sockaddr* addr, socklen_t len);
  int (*bind)(int fd, const sockaddr* addr, socklen_t len);
  int (*listen)(int fd, int backlog);
  int (*accept4)(int fd, sockaddr* addr, socklen_t* len, int flags);
  int (*close)(int fd);
  ssize_t (*read)(int fd, void* buf, size_t len);
  ssize_t (*write)(int fd, const void* buf, size_t len);
  ssize_t (*send)(int fd, const void* buf, size_t len, int flags);
  ssize_t (*recv)(int fd, void* buf, size_t len, int flags);
  ssize_t (*sendto)(int fd, const void* buf, size_t len, int flags, const sockaddr* addr,
                    socklen_t addrlen);
  ssize_t (*recvfrom)(int fd, void* buf, size_t len, int flags, sockaddr* addr,
                      socklen_t* addrlen);
  int (*poll)(pollfd* fds, nfds_t nfds, int timeout);
  int (*getsockopt)(int fd, int level, int name, void* val, socklen_t* len);
  int (*setsockopt)(int fd, int level, int name, const void* val, socklen_t len);
  int (*getsockname)(int fd, sockaddr* addr, socklen_t* len);
  int (*getpeername)(int fd, sockaddr* addr, socklen_t* len);
  int (*fcntl)(int fd, int cmd, ...);
};

// The table filled with the libc functions as linked (for socksd and tests).
const SocketOps& libcSocketOps();

}  // namespace socks
