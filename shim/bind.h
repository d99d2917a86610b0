// shim/bind.h — what the BIND hooks need to know about CONNECT.
#pragma once

#include "socks/address.h"

namespace socksify {

struct Chain;

// Called by connect() after a proxied connection on fd succeeded: its
// destination becomes the "primary connection" a later BIND asks for; its
// local address, and the address the proxy connected from (`published`, the
// CONNECT reply's BND, which getsockname() answers), are addresses a listener
// may be bound to (the active-FTP pattern: bind to the control connection's
// getsockname() address, port 0).
// `chain` is the chain the connection went through (it lives as long as the
// process state): a BIND for it goes the same way.
void noteProxiedConnection(int fd, const socks::Address& dst, const socks::Address& published,
                           const Chain* chain) noexcept;

}  // namespace socksify
