// fuzz_dns_question — parseDnsQuestion over arbitrary bytes: no crash and no
// over-read (the replay driver and libFuzzer pass exactly sized buffers), a
// parsed name is printable presentation text within the RFC 1035 limits,
// and bytes appended after a message never change the answer.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_util.h"
#include "socks/dns_message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace socks;
  const std::span<const std::uint8_t> message(data, size);
  const Result<DnsQuestion> q = parseDnsQuestion(message);
  if (!q.ok()) {
    FUZZ_CHECK(q.status().code() == Errc::kMalformed);
  } else {
    FUZZ_CHECK(size >= kDnsHeaderSize + 5);
    FUZZ_CHECK(!q->name.empty());
    // At most 255 octets on the wire, each escaped to at most 4 characters.
    FUZZ_CHECK(q->name.size() <= 255 * 4);
    for (const char c : q->name) {
      FUZZ_CHECK(c >= 0x21 && c <= 0x7e);
    }
    FUZZ_CHECK(q->name == "." || q->name.back() != '.' || q->name.size() >= 2);
  }
  // The question is read from the front: trailing bytes change nothing.
  std::vector<std::uint8_t> longer(message.begin(), message.end());
  longer.push_back(0);
  longer.push_back(0xC0);
  const Result<DnsQuestion> again = parseDnsQuestion(longer);
  if (q.ok()) {
    FUZZ_CHECK(again.ok() && again->name == q->name && again->type == q->type &&
               again->qclass == q->qclass);
  }
  return 0;
}
