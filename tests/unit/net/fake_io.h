// Blocking byte I/O on the fake proxy's side of a socketpair, shared by the
// net driver and probe tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace socks::testing {

using Bytes8 = std::vector<std::uint8_t>;

// Reads exactly n bytes, or fewer if the peer closes first.
inline Bytes8 readN(int fd, std::size_t n) {
  Bytes8 buf(n);
  std::size_t off = 0;
  while (off < n) {
    const ssize_t r = ::read(fd, buf.data() + off, n - off);
    if (r <= 0) {
      buf.resize(off);
      return buf;
    }
    off += static_cast<std::size_t>(r);
  }
  return buf;
}

inline void writeAll(int fd, const Bytes8& bytes) {
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
}

}  // namespace socks::testing
