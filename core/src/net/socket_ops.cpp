// The SocketOps table filled with libc as linked (socksd, tests).
#include "socks/socket_ops.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace socks {

const SocketOps& libcSocketOps() {
  static constexpr SocketOps kOps{
      .socket = ::socket,
      .connect = ::connect,
      .bind = ::bind,
      .listen = ::listen,
      .accept4 = ::accept4,
      .close = ::close,
      .read = ::read,
      .write = ::write,
      .send = ::send,
      .recv = ::recv,
      .sendto = ::sendto,
      .recvfrom = ::recvfrom,
      .poll = ::poll,
      .getsockopt = ::getsockopt,
      .setsockopt = ::setsockopt,
      .getsockname = ::getsockname,
      .getpeername = ::getpeername,
      .fcntl = ::fcntl,
  };
  return kOps;
}

}  // namespace socks
