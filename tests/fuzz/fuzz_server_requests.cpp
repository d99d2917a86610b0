// fuzz_server_requests — every server-side parser and parseUdpHeader, with
// round trips through the matching encoders.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_util.h"
#include "socks/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace socks;
  using fuzz::checkIncremental;

  Socks4Request r4;
  Parse p = checkIncremental(data, size, [&](Bytes in) { return parseSocks4Request(in, r4); });
  if (p.isDone()) {
    FUZZ_CHECK(p.n <= kMaxMessage && r4.userid.size() <= v4::kMaxUserId);
    FUZZ_CHECK(r4.dst.type == Address::Type::kIPv4 || r4.dst.type == Address::Type::kDomain);
    std::array<std::uint8_t, kMaxMessage> buf{};
    auto n = encodeSocks4Request(buf, r4.cmd, r4.dst, r4.userid);
    // Same length; same bytes except SOCKS4a's 0.0.0.x, which we write as 0.0.0.1.
    FUZZ_CHECK(n.ok() && *n == p.n);
    FUZZ_CHECK(std::memcmp(buf.data(), data, 7) == 0 &&
               std::memcmp(buf.data() + 8, data + 8, p.n - 8) == 0);
  }

  Socks5Greeting g;
  p = checkIncremental(data, size, [&](Bytes in) { return parseSocks5Greeting(in, g); });
  if (p.isDone()) {
    FUZZ_CHECK(!g.methods.empty() && g.methods.size() + 2 == p.n);
  }

  Socks5AuthRequest a;
  p = checkIncremental(data, size, [&](Bytes in) { return parseSocks5AuthRequest(in, a); });
  if (p.isDone()) {
    FUZZ_CHECK(!a.user.empty() && a.user.size() + a.password.size() + 3 == p.n);
    if (!a.password.empty()) {
      std::array<std::uint8_t, v5::kMaxAuthRequest> buf{};
      auto n = encodeSocks5AuthRequest(buf, a.user, a.password);
      FUZZ_CHECK(n.ok() && *n == p.n && std::memcmp(buf.data(), data, p.n) == 0);
    }
  }

  Socks5Request r5;
  p = checkIncremental(data, size, [&](Bytes in) { return parseSocks5Request(in, r5); });
  if (p.isDone()) {
    std::array<std::uint8_t, v5::kMaxRequest> buf{};
    auto n = encodeSocks5Request(buf, r5.cmd, r5.dst);
    FUZZ_CHECK(n.ok() && *n == p.n && std::memcmp(buf.data(), data, p.n) == 0);
  }

  UdpHeader h;
  p = parseUdpHeader(Bytes(data, size), h);
  FUZZ_CHECK(!p.isNeedMore());
  fuzz::checkParse(p, size);
  if (p.isDone()) {
    FUZZ_CHECK(h.header_len == p.n);
    std::array<std::uint8_t, 4 + 1 + 255 + 2> buf{};
    auto n = encodeUdpHeader(buf, h.addr);
    // Same bytes except FRAG (we always write 0).
    FUZZ_CHECK(n.ok() && *n == p.n);
    FUZZ_CHECK(std::memcmp(buf.data(), data, 2) == 0 &&
               std::memcmp(buf.data() + 3, data + 3, p.n - 3) == 0);
  }
  return 0;
}
