// text_sink.h — a bounded, allocation-free text writer for proto/ internals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace socks::detail {

// Appends into a caller's char buffer what fits, always leaves room for (and
// writes) the terminating NUL, and counts what it wrote. A zero-sized buffer
// is left untouched.
class TextSink {
 public:
  TextSink(char* buf, std::size_t len) : buf_(buf), cap_(len) {
    if (cap_ > 0) {
      buf_[0] = '\0';
    }
  }

  void put(char c) {
    if (cap_ > 0 && len_ + 1 < cap_) {
      buf_[len_++] = c;
      buf_[len_] = '\0';
    }
  }
  void put(std::string_view s) {
    for (char c : s) {
      put(c);
    }
  }
  void putUnsigned(std::uint64_t v) {
    char digits[20];
    std::size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0 && n < sizeof(digits));
    while (n > 0) {
      put(digits[--n]);
    }
  }
  // Two upper-case hex digits with a "0x" prefix ("0x05").
  void putHexByte(std::uint8_t v) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    put("0x");
    put(kHex[v >> 4]);
    put(kHex[v & 0xF]);
  }
  std::size_t size() const { return len_; }

 private:
  char* buf_;
  std::size_t cap_;
  std::size_t len_ = 0;
};

}  // namespace socks::detail
