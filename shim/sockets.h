// shim/sockets.h — small questions about a descriptor, asked with the real calls.
#pragma once

namespace socksify {

// An AF_INET/AF_INET6 socket of type SOCK_STREAM and protocol TCP (or MPTCP,
// which falls back to plain TCP toward a proxy). SCTP stream sockets cannot
// be carried by a SOCKS proxy and keep their own semantics.
bool isTcpSocket(int fd);

}  // namespace socksify
