// Golden vectors for socks::parseDnsQuestion (RFC 1035 §4.1): well-formed
// questions, escaping, the 255-octet limit, compression pointers, and
// malformed or truncated messages — each parsed from an exactly sized heap
// copy, so an over-read is caught by ASan, and every truncation of a good
// message is rejected.
#include "socks/dns_message.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace socks {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Header with ID 0x1234, RD, the given QDCOUNT.
Bytes header(std::uint8_t qdcount = 1) { return {0x12, 0x34, 0x01, 0x00, 0, qdcount, 0, 0, 0, 0, 0, 0}; }

Bytes label(const std::string& text) {
  Bytes b(text.size() + 1);
  b[0] = static_cast<std::uint8_t>(text.size());
  std::copy(text.begin(), text.end(), b.begin() + 1);
  return b;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const Bytes kTypeAIn = {0, 1, 0, 1};

// Parses from a heap block of exactly the message's size.
Result<DnsQuestion> parse(const Bytes& m) {
  auto copy = std::make_unique<std::uint8_t[]>(m.size() == 0 ? 1 : m.size());
  std::copy(m.begin(), m.end(), copy.get());
  return parseDnsQuestion(std::span<const std::uint8_t>(copy.get(), m.size()));
}

void expectMalformed(const Bytes& m, const char* what) {
  Result<DnsQuestion> r = parse(m);
  ASSERT_FALSE(r.ok()) << what << ": parsed as " << r->name;
  EXPECT_EQ(r.status().code(), Errc::kMalformed) << what;
}

TEST(DnsQuestion, SimpleQuery) {
  const Bytes m = cat({header(), label("www"), label("example"), label("com"), {0}, kTypeAIn});
  Result<DnsQuestion> r = parse(m);
  ASSERT_TRUE(r.ok()) << r.status().reason();
  EXPECT_EQ(r->name, "www.example.com");
  EXPECT_EQ(r->type, 1);
  EXPECT_EQ(r->qclass, 1);
}

TEST(DnsQuestion, TypeAndClassAreBigEndian) {
  const Bytes m = cat({header(), label("x"), {0}, {0x00, 0x1c, 0x00, 0xff}});  // AAAA, ANY
  Result<DnsQuestion> r = parse(m);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->type, 28);
  EXPECT_EQ(r->qclass, 255);
}

TEST(DnsQuestion, RootName) {
  Result<DnsQuestion> r = parse(cat({header(), {0}, {0, 2, 0, 1}}));  // ". NS"
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, ".");
  EXPECT_EQ(r->type, 2);
}

TEST(DnsQuestion, TrailingBytesAfterTheQuestionAreIgnored) {
  Result<DnsQuestion> r = parse(cat({header(2), label("a"), {0}, kTypeAIn, label("b"), {0}, kTypeAIn}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "a");
}

TEST(DnsQuestion, EscapesLikeDnExpand) {
  const Bytes odd = {3, 'a', '.', 'b', 2, '\\', 0x01, 3, ' ', 0x7f, 0xff};
  Result<DnsQuestion> r = parse(cat({header(), odd, label("com"), {0}, kTypeAIn}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "a\\.b.\\\\\\001.\\032\\127\\255.com");
}

TEST(DnsQuestion, NameOf255OctetsIsTheLimit) {
  const std::string l63(63, 'a');
  const std::string l61(61, 'b');
  // 3 × (1 + 63) + (1 + 61) + 1 = 255 octets.
  const Bytes ok = cat({header(), label(l63), label(l63), label(l63), label(l61), {0}, kTypeAIn});
  Result<DnsQuestion> r = parse(ok);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name.size(), 3 * 64 + 61u);
  const std::string l62(62, 'b');
  expectMalformed(cat({header(), label(l63), label(l63), label(l63), label(l62), {0}, kTypeAIn}),
                  "256 octets");
}

TEST(DnsQuestion, ShortOrEmptyMessages) {
  expectMalformed({}, "empty");
  expectMalformed(Bytes(11, 0), "11 bytes");
  expectMalformed(header(), "header only");
  expectMalformed(cat({header(0), label("a"), {0}, kTypeAIn}), "QDCOUNT 0");
}

TEST(DnsQuestion, TruncatedNameOrType) {
  expectMalformed(cat({header(), {5, 'a', 'b'}}), "label runs past the end");
  expectMalformed(cat({header(), label("abc")}), "no terminating zero");
  expectMalformed(cat({header(), label("abc"), {0}, {0, 1, 0}}), "QCLASS cut off");
  expectMalformed(cat({header(), label("abc"), {0}}), "no QTYPE");
}

TEST(DnsQuestion, EveryTruncationOfAGoodMessageIsRejected) {
  const Bytes m = cat({header(), label("mail"), label("example"), label("org"), {0}, {0, 15, 0, 1}});
  ASSERT_TRUE(parse(m).ok());
  for (std::size_t n = 0; n < m.size(); ++n) {
    SCOPED_TRACE(n);
    expectMalformed(Bytes(m.begin(), m.begin() + static_cast<long>(n)), "prefix");
  }
}

TEST(DnsQuestion, ReservedLabelTypes) {
  expectMalformed(cat({header(), {0x40, 'a'}, {0}, kTypeAIn}), "0x40 extended label");
  expectMalformed(cat({header(), {0x80, 'a'}, {0}, kTypeAIn}), "0x80");
}

TEST(DnsQuestion, CompressionPointers) {
  // Into the header: a question has nothing before it to point to.
  expectMalformed(cat({header(), {0xC0, 0x00}, kTypeAIn}), "pointer to offset 0");
  expectMalformed(cat({header(), label("www"), {0xC0, 0x0B}, kTypeAIn}), "pointer to offset 11");
  // Forwards, or to itself.
  expectMalformed(cat({header(), {0xC0, 0x0C}, kTypeAIn}), "pointer to itself");
  expectMalformed(cat({header(), {0xC0, 0x0E}, {0}, kTypeAIn}), "pointer forwards");
  // Back to its own first label: a loop.
  expectMalformed(cat({header(), label("www"), {0xC0, 0x0C}, kTypeAIn}), "loop");
  // Cut off after the first pointer byte.
  expectMalformed(cat({header(), label("www"), {0xC0}}), "half a pointer");
  // A pointer back into the middle of an earlier label that happens to hold
  // a zero octet: legal on the wire, and QTYPE follows the pointer.
  const Bytes m = cat({header(), {5, 'a', 'b', 0, 'c', 'd'}, {0xC0, 0x0F}, {0, 16, 0, 1}});
  Result<DnsQuestion> r = parse(m);
  ASSERT_TRUE(r.ok()) << r.status().reason();
  EXPECT_EQ(r->name, "ab\\000cd");
  EXPECT_EQ(r->type, 16);
}

}  // namespace
}  // namespace socks
