// shim/udp.h — what connect() and getpeername() need from the UDP side.
#pragma once

#include <sys/socket.h>

#include "state.h"

namespace socksify {

bool isDatagramSocket(int fd);
// connect() on a UDP socket (AF_UNSPEC included): a proxied destination
// opens the association and connects the socket to the relay.
int udpConnect(int fd, const sockaddr* addr, socklen_t len, const ProcessState& state);
// getpeername() on an association: true when answered (result and errno set).
bool udpGetpeername(int fd, sockaddr* addr, socklen_t* len, int& result);

}  // namespace socksify
