// fuzz_util.h — invariant checks shared by the fuzz targets.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "socks/codec.h"

// Aborts with a message: libFuzzer (and the replay driver under ctest) report
// it as a crash with the input that caused it.
#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace socks::fuzz {

// The codec contract: done never claims more than given, need-more always asks
// for more than given, malformed always says why.
inline void checkParse(const Parse& p, std::size_t size) {
  switch (p.kind) {
    case Parse::Kind::kDone:
      FUZZ_CHECK(p.n > 0 && p.n <= size);
      break;
    case Parse::Kind::kNeedMore:
      FUZZ_CHECK(p.n > size);
      break;
    case Parse::Kind::kMalformed:
      FUZZ_CHECK(p.reason != nullptr && p.reason[0] != '\0');
      break;
  }
}

// Runs an incremental parser over data and checks it is consistent with its
// own prefixes: when the whole parses done(n), the prefix of n - 1 bytes is
// need-more and the prefix of n bytes is done(n); a need-more(k) answer on a
// prefix is followed by need-more or malformed up to k - 1 bytes.
template <class ParseFn>
Parse checkIncremental(const std::uint8_t* data, std::size_t size, ParseFn parse) {
  const Parse whole = parse(Bytes(data, size));
  checkParse(whole, size);
  if (whole.isDone()) {
    const Parse exact = parse(Bytes(data, whole.n));
    FUZZ_CHECK(exact.isDone() && exact.n == whole.n);
    const Parse shorter = parse(Bytes(data, whole.n - 1));
    checkParse(shorter, whole.n - 1);
    FUZZ_CHECK(shorter.isNeedMore() && shorter.n <= whole.n);
  }
  // Growing prefixes (bounded by size): never done before the whole's end.
  const std::size_t limit = whole.isDone() ? whole.n : size;
  for (std::size_t k = 0; k < limit && k < 600; ++k) {
    const Parse p = parse(Bytes(data, k));
    checkParse(p, k);
    FUZZ_CHECK(!p.isDone());
    if (whole.isDone()) {
      FUZZ_CHECK(p.isNeedMore() && p.n <= whole.n);
    }
  }
  return whole;
}

}  // namespace socks::fuzz
