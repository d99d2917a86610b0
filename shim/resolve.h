// shim/resolve.h — what other hooks need from the resolver hooks.
#pragma once

#include <netdb.h>

namespace socksify {

// getaddrinfo() as the hook answers it (fake addresses, c-ares, or libc per
// the name's DNS mode), for hooks that resolve on a program's behalf
// (getaddrinfo_a). Never throws; EAI_MEMORY on allocation failure. The list
// is freed with freeaddrinfo(), which knows our nodes.
int resolveForGai(const char* node, const char* service, const addrinfo* hints,
                  addrinfo** res) noexcept;

// What glibc's getaddrinfo treats as numeric (inet_aton forms, IPv6 with an
// optional %scope): answered by libc without any lookup.
bool isNumericForGai(const char* node) noexcept;

}  // namespace socksify
