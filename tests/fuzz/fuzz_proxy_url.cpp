// fuzz_proxy_url — parseProxyUrl and parseProxyList: no crash, errors carry
// a column inside (or just past) the text, and a parsed URL written back
// (credentials percent-encoded) parses to the same fields.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "socks/proxy.h"

namespace {

std::string encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back('%');
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

void checkError(const socks::Status& s, std::size_t size) {
  FUZZ_CHECK(s.code() == socks::Errc::kInvalidArgument);
  FUZZ_CHECK(s.column() >= 1 && s.column() <= size + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace socks;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto url = parseProxyUrl(text);
  if (!url.ok()) {
    checkError(url.status(), size);
  } else {
    FUZZ_CHECK(!url->host.empty() && url->port != 0);
    FUZZ_CHECK(url->has_user || !url->has_password);
    std::string again = std::string(schemeName(url->kind)) + "://";
    if (url->has_user) {
      again += encode(url->user);
      if (url->has_password) {
        again += ":" + encode(url->password);
      }
      again += "@";
    }
    const bool v6 = url->host.find(':') != std::string::npos;
    again += (v6 ? "[" + url->host + "]" : url->host) + ":" + std::to_string(url->port);
    auto back = parseProxyUrl(again);
    FUZZ_CHECK(back.ok());
    FUZZ_CHECK(back->kind == url->kind && back->host == url->host && back->port == url->port);
    FUZZ_CHECK(back->user == url->user && back->password == url->password);
    const std::string red = url->redacted();
    FUZZ_CHECK(!url->has_password || red.find(":***@") != std::string::npos);
  }

  auto list = parseProxyList(text);
  if (!list.ok()) {
    checkError(list.status(), size);
  } else {
    FUZZ_CHECK(!list->empty() && list->size() <= size);
  }
  return 0;
}
