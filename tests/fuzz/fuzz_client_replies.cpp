// fuzz_client_replies — every client-side parser, and a ClientHandshake for
// each ProxyKind fed the input as the proxy's bytes.
//
// Input: byte 0 picks the handshake options (destination type: bits 0-1,
// command: bits 2-5 mod 3, credentials: bit 6, empty user: bit 7), byte 1
// the read chunk size; the rest is what the "proxy" says.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "socks/client.h"
#include "socks/codec.h"

namespace socks::fuzz {
namespace {

void parsers(const std::uint8_t* data, std::size_t size) {
  Socks4Reply r4;
  Parse p = checkIncremental(data, size, [&](Bytes in) { return parseSocks4Reply(in, r4); });
  if (p.isDone()) {
    FUZZ_CHECK(p.n == v4::kReplySize && r4.bound.type == Address::Type::kIPv4);
  }

  v5::Method method;
  checkIncremental(data, size, [&](Bytes in) { return parseSocks5MethodSelection(in, method); });
  std::uint8_t status;
  checkIncremental(data, size, [&](Bytes in) { return parseSocks5AuthReply(in, status); });

  Socks5Reply r5;
  p = checkIncremental(data, size, [&](Bytes in) { return parseSocks5Reply(in, r5); });
  if (p.isDone()) {
    // Round trip: our encoder writes back exactly the bytes parsed.
    FUZZ_CHECK(p.n <= v5::kMaxReply);
    std::array<std::uint8_t, v5::kMaxReply> buf{};
    auto n = encodeSocks5Reply(buf, static_cast<v5::Reply>(r5.code), r5.bound);
    FUZZ_CHECK(n.ok() && *n == p.n && std::memcmp(buf.data(), data, p.n) == 0);
  }
}

Address destination(std::uint8_t sel) {
  switch (sel % 4) {
    case 0: {
      const std::uint8_t o[4] = {10, 0, 0, 1};
      return Address::ipv4(o, 80);
    }
    case 1: {
      const std::uint8_t o[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
      return Address::ipv6(o, 443);
    }
    case 2:
      return Address::domainName("example.org", 443).value();
    default:
      return Address();
  }
}

void handshake(ProxyKind kind, std::uint8_t opts, std::size_t chunk, const std::uint8_t* data,
               std::size_t size) {
  const Command cmd = static_cast<Command>(1 + (opts >> 2) % 3);
  const bool creds = (opts & 0x40) != 0;
  // Bit 7: no user at all (an empty, null-data view), e.g. SOCKS4 without USERID.
  const std::string_view user = (opts & 0x80) != 0 ? std::string_view() : std::string_view("user");
  ClientHandshake hs(kind, cmd, destination(opts), user, "password", creds);
  std::size_t pos = 0;
  // Each pass sends a message or consumes at least one byte, or stops.
  for (int guard = 0; guard < 4096 && !hs.finished(); ++guard) {
    if (hs.state() == ClientHandshake::State::kSending) {
      FUZZ_CHECK(!hs.pendingOutput().empty() && hs.wantRead() == 0);
      FUZZ_CHECK(hs.pendingOutput().size() <= kMaxMessage);
      hs.markSent(hs.pendingOutput().size());
      continue;
    }
    FUZZ_CHECK(hs.pendingOutput().empty());
    const std::size_t want = hs.wantRead();
    FUZZ_CHECK(want > 0 && want <= v5::kMaxReply);
    if (pos == size) {
      break;
    }
    const std::size_t n = std::min({want, chunk, size - pos});
    const std::size_t used = hs.feed(Bytes(data + pos, n));
    FUZZ_CHECK(used == n);  // it asked for at least n
    pos += used;
  }
  if (hs.finished()) {
    FUZZ_CHECK(hs.wantRead() == 0 && hs.pendingOutput().empty());
    FUZZ_CHECK((hs.state() == ClientHandshake::State::kDone) == hs.status().ok());
    // Bytes after the end of the handshake are never taken.
    FUZZ_CHECK(hs.feed(Bytes(data, size)) == 0);
  }
}

}  // namespace
}  // namespace socks::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace socks;
  fuzz::parsers(data, size);
  if (size < 2) {
    return 0;
  }
  const std::uint8_t opts = data[0];
  const std::size_t chunk = data[1] == 0 ? 1 : data[1];
  for (ProxyKind kind :
       {ProxyKind::kSocks4, ProxyKind::kSocks4a, ProxyKind::kSocks5, ProxyKind::kSocks5h}) {
    fuzz::handshake(kind, opts, chunk, data + 2, size - 2);
  }
  return 0;
}
