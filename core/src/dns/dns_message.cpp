// dns_message.cpp — the question of a DNS message (socks/dns_message.h).
#include "socks/dns_message.h"

#include <algorithm>

namespace socks {

namespace {

constexpr std::size_t kMaxWireName = 255;   // RFC 1035 §2.3.4
constexpr std::uint8_t kPointerMask = 0xC0;  // RFC 1035 §4.1.4
constexpr std::uint8_t kMaxLabel = 63;

// Appends one label in presentation form (dn_expand's escaping).
void appendLabel(std::string& out, std::span<const std::uint8_t> label) {
  for (const std::uint8_t c : label) {
    if (c == '.' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x21 || c > 0x7e) {
      out.push_back('\\');
      out.push_back(static_cast<char>('0' + c / 100));
      out.push_back(static_cast<char>('0' + (c / 10) % 10));
      out.push_back(static_cast<char>('0' + c % 10));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
}

}  // namespace

Result<DnsQuestion> parseDnsQuestion(std::span<const std::uint8_t> message) {
  if (message.size() < kDnsHeaderSize) {
    return Status(Errc::kMalformed, "DNS message shorter than its header");
  }
  const unsigned qdcount = (static_cast<unsigned>(message[4]) << 8) | message[5];
  if (qdcount == 0) {
    return Status(Errc::kMalformed, "DNS message without a question");
  }
  DnsQuestion q;
  std::size_t at = kDnsHeaderSize;  // where the next label byte is read
  std::size_t end = 0;              // just past the name in the question (set at the first pointer)
  std::size_t lowest = kDnsHeaderSize;  // a pointer must go strictly below this
  std::size_t wire = 0;              // octets of the name on the wire, incl. length bytes
  bool jumped = false;
  for (;;) {
    if (at >= message.size()) {
      return Status(Errc::kMalformed, "DNS name runs past the message");
    }
    const std::uint8_t len = message[at];
    if ((len & kPointerMask) == kPointerMask) {
      if (at + 1 >= message.size()) {
        return Status(Errc::kMalformed, "DNS compression pointer cut off");
      }
      const std::size_t target = (static_cast<std::size_t>(len & 0x3F) << 8) | message[at + 1];
      // Strictly backwards, and not into the header: guarantees termination.
      if (target < kDnsHeaderSize || target >= lowest) {
        return Status(Errc::kMalformed, "DNS compression pointer does not point back");
      }
      if (!jumped) {
        end = at + 2;
        jumped = true;
      }
      lowest = target;
      at = target;
      continue;
    }
    if ((len & kPointerMask) != 0) {
      return Status(Errc::kMalformed, "reserved DNS label type");
    }
    wire += 1 + static_cast<std::size_t>(len);
    if (wire > kMaxWireName) {
      return Status(Errc::kMalformed, "DNS name longer than 255 octets");
    }
    if (len == 0) {
      if (!jumped) {
        end = at + 1;
      }
      break;
    }
    if (len > kMaxLabel || message.size() - (at + 1) < len) {
      return Status(Errc::kMalformed, "DNS label runs past the message");
    }
    if (!q.name.empty()) {
      q.name.push_back('.');
    }
    appendLabel(q.name, message.subspan(at + 1, len));
    at += 1 + static_cast<std::size_t>(len);
    if (!jumped) {
      lowest = std::max(lowest, at);  // labels read in place may be pointed at later
    }
  }
  if (q.name.empty()) {
    q.name.push_back('.');  // the root
  }
  if (message.size() < end || message.size() - end < 4) {
    return Status(Errc::kMalformed, "DNS question cut off before QTYPE/QCLASS");
  }
  q.type = static_cast<std::uint16_t>((message[end] << 8) | message[end + 1]);
  q.qclass = static_cast<std::uint16_t>((message[end + 2] << 8) | message[end + 3]);
  return q;
}

}  // namespace socks
