// udp.cpp — the pure parts of a UDP ASSOCIATE relay: UdpClientFilter,
// checkClientDatagram, UdpNameCache (see socks/server.h).
#include <algorithm>

#include "proto/ascii.h"
#include "socks/server.h"

namespace socks {
namespace {

// The IP of a, with port 0: what the client filter compares.
Address hostOf(Address a) {
  a.port = 0;
  return a;
}

}  // namespace

// ---- UdpClientFilter ----------------------------------------------------------------

Result<UdpClientFilter> UdpClientFilter::make(const Address& control_peer, const Address& requested) {
  Address client = hostOf(control_peer);
  if (requested.isIp() && !requested.isUnspecified() && hostOf(requested) != client) {
    // RFC 1928 §7 would accept datagrams from DST.ADDR only, and socksd from
    // the control connection's IP only: together, from nowhere. Say so now.
    return Status::rejected(v5::kVersion, static_cast<std::uint8_t>(v5::Reply::kNotAllowed),
                            "the request's address is not the client's");
  }
  // A domain or a zero IP: only the port counts (see server.h).
  client.port = requested.port;
  return UdpClientFilter(client);
}

bool UdpClientFilter::admits(const Address& from) const {
  if (!from.isIp() || hostOf(from) != hostOf(client_)) {
    return false;
  }
  return client_.port == 0 || from.port == client_.port;
}

void UdpClientFilter::fixPort(std::uint16_t port) {
  if (client_.port == 0) {
    client_.port = port;
  }
}

// ---- datagrams from the client ----------------------------------------------------

const char* checkClientDatagram(Bytes datagram, UdpHeader& header) {
  const Parse p = parseUdpHeader(datagram, header);
  if (!p.isDone()) {
    return p.reason;  // parseUdpHeader never says need-more
  }
  if (header.frag != 0) {
    // RFC 1928 §7: no reassembly here, so fragments are dropped.
    return "fragment (FRAG != 0)";
  }
  return nullptr;
}

// ---- UdpNameCache -------------------------------------------------------------------

std::string UdpNameCache::key(std::string_view name) { return ascii::canonicalHostName(name); }

const std::vector<Address>* UdpNameCache::find(std::string_view name, Clock::time_point now) const {
  const auto it = entries_.find(key(name));
  if (it == entries_.end() || it->second.expires <= now) {
    return nullptr;
  }
  return &it->second.addresses;
}

UdpNameCache::Queued UdpNameCache::enqueue(std::string_view name, std::uint16_t port, Bytes payload) {
  if (queued_ >= limits_.max_queued || payload.size() > limits_.max_queued_bytes - queued_bytes_) {
    return Queued::kFull;
  }
  auto& list = waiting_[key(name)];
  const bool first = list.empty();
  list.push_back(Waiting{port, std::vector<std::uint8_t>(payload.begin(), payload.end())});
  ++queued_;
  queued_bytes_ += payload.size();
  return first ? Queued::kStartResolving : Queued::kWaiting;
}

std::vector<UdpNameCache::Waiting> UdpNameCache::complete(std::string_view name,
                                                          std::vector<Address> addresses,
                                                          Clock::time_point now) {
  const std::string k = key(name);
  std::vector<Waiting> out;
  if (const auto it = waiting_.find(k); it != waiting_.end()) {
    out = std::move(it->second);
    waiting_.erase(it);
  }
  for (const Waiting& w : out) {
    --queued_;
    queued_bytes_ -= w.payload.size();
  }
  if (entries_.find(k) == entries_.end() && entries_.size() >= limits_.max_names) {
    // Full: forget what has expired; if that is nothing, the entry that
    // expires first (n is small, and this runs once per resolution).
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
    }
    if (entries_.size() >= limits_.max_names && !entries_.empty()) {
      entries_.erase(std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
        return a.second.expires < b.second.expires;
      }));
    }
  }
  if (limits_.max_names > 0) {
    Entry& entry = entries_[k];
    entry.expires = now + (addresses.empty() ? limits_.negative_ttl : limits_.ttl);
    entry.addresses = std::move(addresses);
  }
  return out;
}

bool UdpNameCache::resolving(std::string_view name) const { return waiting_.count(key(name)) != 0; }

}  // namespace socks
