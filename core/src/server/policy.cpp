// policy.cpp — AddressRange, UserTable, HostTable (see socks/server.h).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "proto/ascii.h"
#include "socks/server.h"

namespace socks {
namespace {

constexpr std::size_t kMaxCredential = 255;  // RFC 1929: ULEN and PLEN are one byte
constexpr unsigned kIPv4Bits = 32;
constexpr unsigned kIPv6Bits = 128;

std::string where(const std::string& name, std::size_t line) {
  return name + ":" + std::to_string(line) + ": ";
}

// Lower-case ASCII, without one trailing dot: the form names are kept in.
std::string canonicalName(std::string_view name) { return ascii::canonicalHostName(name); }

bool readFile(const std::string& path, std::string& text, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    error = path + ": read error";
    return false;
  }
  text = buf.str();
  return true;
}

// Calls fn(line, number) for each line of text (without its '\n').
template <class Fn>
bool forEachLine(std::string_view text, Fn fn) {
  std::size_t number = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!fn(line, ++number)) {
      return false;
    }
  }
  return true;
}

}  // namespace

// ---- AddressRange ---------------------------------------------------------------------

Result<AddressRange> AddressRange::parse(std::string_view text) {
  const std::size_t slash = text.find('/');
  const std::string_view host = text.substr(0, slash);
  if (host.empty() || host.front() == '[') {
    return Status(Errc::kInvalidArgument, "expected ADDR or ADDR/PREFIX");
  }
  const auto net = Address::parseNumeric(host, 0);
  if (!net) {
    return Status(Errc::kInvalidArgument, "not a numeric IP address");
  }
  const unsigned max = net->type == Address::Type::kIPv4 ? kIPv4Bits : kIPv6Bits;
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    const std::string_view bits = text.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 ||
        !std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Status(Errc::kInvalidArgument, "bad prefix length");
    }
    prefix = 0;
    for (char c : bits) {
      prefix = prefix * 10 + static_cast<unsigned>(c - '0');
    }
    if (prefix > max) {
      return Status(Errc::kInvalidArgument, "prefix length too long for the address family");
    }
  }
  return AddressRange(*net, prefix);
}

bool AddressRange::contains(const Address& addr) const {
  if (addr.type != net_.type) {
    return false;
  }
  const unsigned whole = prefix_ / 8;
  if (!std::equal(net_.ip.begin(), net_.ip.begin() + whole, addr.ip.begin())) {
    return false;
  }
  const unsigned rest = prefix_ % 8;
  if (rest == 0) {
    return true;
  }
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (net_.ip[whole] & mask) == (addr.ip[whole] & mask);
}

bool AddressRange::anyContains(std::span<const AddressRange> ranges, const Address& addr) {
  return std::any_of(ranges.begin(), ranges.end(), [&](const AddressRange& r) { return r.contains(addr); });
}

// ---- UserTable ------------------------------------------------------------------------

bool UserTable::parse(std::string_view text, const std::string& name, std::string& error) {
  // Into a local table first: a text with an error adds nothing.
  std::unordered_map<std::string, std::pair<std::string, std::size_t>> parsed;  // password, line
  const bool ok = forEachLine(text, [&](std::string_view line, std::size_t number) {
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    const std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos || line[start] == '#') {
      return true;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      error = where(name, number) + "expected user:password";
      return false;
    }
    const std::string user(line.substr(0, colon));
    const std::string_view password = line.substr(colon + 1);
    if (user.empty() || user.size() > kMaxCredential) {
      error = where(name, number) + "user name must be 1 to 255 bytes";
      return false;
    }
    if (password.empty() || password.size() > kMaxCredential) {
      error = where(name, number) + "password must be 1 to 255 bytes";
      return false;
    }
    const auto [it, fresh] = parsed.emplace(user, std::make_pair(std::string(password), number));
    if (!fresh || users_.count(user) != 0) {
      error = where(name, number) + "user '" + user + "' already defined" +
              (fresh ? std::string() : " on line " + std::to_string(it->second.second));
      return false;
    }
    return true;
  });
  if (!ok) {
    return false;
  }
  for (auto& [user, entry] : parsed) {
    users_.emplace(user, std::move(entry.first));
  }
  if (users_.empty()) {
    error = name + ": no users defined";
    return false;
  }
  return true;
}

bool UserTable::load(const std::string& path, std::string& error) {
  std::string text;
  return readFile(path, text, error) && parse(text, path, error);
}

bool UserTable::check(std::string_view user, std::string_view password) const {
  const auto it = users_.find(std::string(user));
  static const std::string kNone;
  const std::string& want = it != users_.end() ? it->second : kNone;
  // Look at every byte whatever the outcome: the time taken must not tell
  // how much of a password was right.
  unsigned diff = want.size() != password.size() ? 1u : 0u;
  for (std::size_t i = 0; i < password.size(); ++i) {
    const char w = i < want.size() ? want[i] : '\0';
    diff |= static_cast<unsigned char>(w ^ password[i]);
  }
  return it != users_.end() && diff == 0;
}

// ---- HostTable ------------------------------------------------------------------------

bool HostTable::parse(std::string_view text, const std::string& name, std::string& error) {
  std::unordered_map<std::string, std::vector<Address>> names;
  const bool ok = forEachLine(text, [&](std::string_view line, std::size_t number) {
    line = line.substr(0, line.find('#'));
    std::vector<std::string_view> words;
    std::size_t pos = 0;
    while (true) {
      const std::size_t start = line.find_first_not_of(" \t\r", pos);
      if (start == std::string_view::npos) {
        break;
      }
      const std::size_t end = line.find_first_of(" \t\r", start);
      words.push_back(line.substr(start, end - start));
      pos = end;
    }
    if (words.empty()) {
      return true;
    }
    const auto addr = Address::parseNumeric(words[0], 0);
    if (!addr || words[0].front() == '[') {
      error = where(name, number) + "not an IP address: " + std::string(words[0]);
      return false;
    }
    if (words.size() < 2) {
      error = where(name, number) + "address without a name";
      return false;
    }
    for (std::size_t i = 1; i < words.size(); ++i) {
      if (words[i].size() > Address::kMaxDomain) {
        error = where(name, number) + "name longer than 255 bytes";
        return false;
      }
      auto& list = names[canonicalName(words[i])];
      if (std::find(list.begin(), list.end(), *addr) == list.end()) {
        list.push_back(*addr);
      }
    }
    return true;
  });
  if (!ok) {
    return false;
  }
  for (auto& [host, addrs] : names) {
    auto& list = names_[host];
    for (const Address& a : addrs) {
      if (std::find(list.begin(), list.end(), a) == list.end()) {
        list.push_back(a);
      }
    }
  }
  return true;
}

bool HostTable::load(const std::string& path, std::string& error) {
  std::string text;
  return readFile(path, text, error) && parse(text, path, error);
}

const std::vector<Address>* HostTable::lookup(std::string_view name) const {
  const auto it = names_.find(canonicalName(name));
  return it == names_.end() ? nullptr : &it->second;
}

}  // namespace socks
