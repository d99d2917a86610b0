// shim/sockets.h — small questions about a descriptor, asked with the real calls.
#pragma once

#include <sys/socket.h>

namespace socksify {

// An AF_INET/AF_INET6 socket of type SOCK_STREAM and protocol TCP (or MPTCP,
// which falls back to plain TCP toward a proxy). SCTP stream sockets cannot
// be carried by a SOCKS proxy and keep their own semantics.
bool isTcpSocket(int fd);

// sendto()/sendmsg() with MSG_FASTOPEN on an unconnected TCP socket is a
// connect(): this routes it as connect() would. 1: direct (make the real
// call, TCP Fast Open as asked); 0: connected through the route's proxy (send
// the data without MSG_FASTOPEN); -1: failed, errno set.
int fastOpenConnect(int fd, const sockaddr* addr, socklen_t len);

}  // namespace socksify
