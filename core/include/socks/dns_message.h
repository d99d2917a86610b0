// socks/dns_message.h — reading the question of a DNS message (RFC 1035 §4.1).
//
// A pure function over bytes: no sockets, no globals, never reads outside
// the span (every fetch is bounds-checked). The shim uses it to learn which
// name a res_send()/res_nsend() query asks about, so the name's route can
// decide whether the message may leave the machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "socks/status.h"

namespace socks {

struct DnsQuestion {
  // Presentation form, as dn_expand() writes it: labels joined by '.', no
  // trailing dot ("." for the root); '.' and '\' inside a label escaped with
  // '\', bytes outside 0x21..0x7e as \DDD (three decimal digits).
  std::string name;
  std::uint16_t type = 0;    // QTYPE (RFC 1035 §4.1.2)
  std::uint16_t qclass = 0;  // QCLASS
};

// The header's size (RFC 1035 §4.1.1).
inline constexpr std::size_t kDnsHeaderSize = 12;

// The first question of `message` (a query as res_mkquery() builds it, or
// an RFC 2136 UPDATE, whose zone section has the same layout).
// Errors (all kMalformed): shorter than the header; QDCOUNT 0; a label
// running past the end; a name longer than 255 octets on the wire (RFC 1035
// §2.3.4); the reserved label types 0x40/0x80 (RFC 6891 §5); a compression
// pointer (RFC 1035 §4.1.4) that does not point strictly backwards, or
// points into the header — a question is the first name of a message, so it
// has nothing earlier to point to; QTYPE/QCLASS cut off.
Result<DnsQuestion> parseDnsQuestion(std::span<const std::uint8_t> message);

}  // namespace socks
