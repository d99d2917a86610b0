// proto_test_util.h — helpers for the codec and handshake tests: hex vectors,
// a guard-page buffer that turns any over-read into a crash, and a runner that
// feeds a parse vector whole, by growing prefixes, and at the guard page.
#pragma once

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "socks/codec.h"

namespace socks::test {

using ByteVec = std::vector<std::uint8_t>;

// "05 01 00" -> {5, 1, 0}; spaces ignored.
inline ByteVec hex(std::string_view text) {
  ByteVec out;
  int hi = -1;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      continue;
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi * 16 + v));
      hi = -1;
    }
  }
  return out;
}

inline ByteVec text(std::string_view s) {
  return ByteVec(s.begin(), s.end());
}

inline ByteVec cat(std::initializer_list<ByteVec> parts) {
  ByteVec out;
  for (const ByteVec& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

inline Bytes view(const ByteVec& v) {
  return Bytes(v.data(), v.size());
}

// Two anonymous pages, the second PROT_NONE: place() copies bytes so that
// they end exactly at the guard page; reading one byte further faults.
class GuardPage {
 public:
  GuardPage() {
    page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    void* p = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      ADD_FAILURE() << "mmap failed";
      return;
    }
    base_ = static_cast<std::uint8_t*>(p);
    if (mprotect(base_ + page_, page_, PROT_NONE) != 0) {
      ADD_FAILURE() << "mprotect failed";
    }
  }
  ~GuardPage() {
    if (base_ != nullptr) {
      munmap(base_, 2 * page_);
    }
  }
  GuardPage(const GuardPage&) = delete;
  GuardPage& operator=(const GuardPage&) = delete;

  Bytes place(Bytes in) {
    if (base_ == nullptr || in.size() > page_) {
      ADD_FAILURE() << "guard page unavailable";
      return {};
    }
    std::uint8_t* dst = base_ + page_ - in.size();
    if (!in.empty()) {
      std::memcpy(dst, in.data(), in.size());
    }
    return Bytes(dst, in.size());
  }

 private:
  std::size_t page_ = 0;
  std::uint8_t* base_ = nullptr;
};

using ParseFn = std::function<Parse(Bytes)>;
// Expected at_least for a prefix of k bytes; empty: only k < n <= total.
using NeedFn = std::function<std::size_t(std::size_t k)>;

// A vector that must parse to done(msg.size()): whole, at the guard page,
// followed by application bytes (which must not be consumed), and every
// proper prefix (growing, one byte at a time, each at the guard page) must be
// needMore with k < at_least <= msg.size() (== need(k) when given).
inline void expectDone(const ByteVec& msg, const ParseFn& parse, const NeedFn& need = {}) {
  GuardPage guard;
  {
    Parse p = parse(view(msg));
    ASSERT_TRUE(p.isDone()) << "whole: kind " << int(p.kind) << " " << p.reason;
    EXPECT_EQ(p.n, msg.size());
  }
  {
    Parse p = parse(guard.place(view(msg)));
    ASSERT_TRUE(p.isDone()) << "guard: " << p.reason;
    EXPECT_EQ(p.n, msg.size());
  }
  {
    ByteVec more = cat({msg, text("APPDATA")});
    Parse p = parse(guard.place(view(more)));
    ASSERT_TRUE(p.isDone());
    EXPECT_EQ(p.n, msg.size()) << "consumed application bytes";
  }
  for (std::size_t k = 0; k < msg.size(); ++k) {
    Parse p = parse(guard.place(Bytes(msg.data(), k)));
    ASSERT_TRUE(p.isNeedMore()) << "prefix " << k << ": kind " << int(p.kind) << " " << p.reason;
    EXPECT_GT(p.n, k) << "prefix " << k;
    EXPECT_LE(p.n, msg.size()) << "prefix " << k << " asks past the end of the message";
    if (need) {
      EXPECT_EQ(p.n, need(k)) << "prefix " << k;
    }
  }
}

// A vector that must be malformed (with `reason` when given). Every prefix is
// needMore or malformed, never done; once malformed, it stays malformed.
inline void expectMalformed(const ByteVec& msg, const ParseFn& parse,
                            const char* reason = nullptr) {
  GuardPage guard;
  Parse whole = parse(guard.place(view(msg)));
  ASSERT_TRUE(whole.isMalformed()) << "kind " << int(whole.kind);
  EXPECT_NE(std::string(whole.reason), "");
  if (reason != nullptr) {
    EXPECT_STREQ(whole.reason, reason);
  }
  bool seen_malformed = false;
  for (std::size_t k = 0; k <= msg.size(); ++k) {
    Parse p = parse(guard.place(Bytes(msg.data(), k)));
    ASSERT_FALSE(p.isDone()) << "prefix " << k;
    if (seen_malformed) {
      EXPECT_TRUE(p.isMalformed()) << "prefix " << k;
    }
    if (p.isNeedMore()) {
      EXPECT_GT(p.n, k) << "prefix " << k;
    }
    seen_malformed = seen_malformed || p.isMalformed();
  }
}

}  // namespace socks::test
