// fuzz_config — parseConfig and importProxychains: no crash; an error names a
// line and column inside the text; a parsed Config formats to text that parses
// back to an equal Config; the router, dnsModeFor and explain() accept it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "socks/config.h"
#include "socks/router.h"

namespace {

void checkPosition(const socks::Diagnostic& d, std::string_view text) {
  FUZZ_CHECK(!d.message.empty());
  if (d.line == 0) {
    return;  // whole-file errors (none so far from parseConfig)
  }
  // The line exists and the column is inside it or just past its end.
  std::size_t begin = 0;
  for (std::uint32_t l = 1; l < d.line; ++l) {
    begin = text.find('\n', begin);
    FUZZ_CHECK(begin != std::string_view::npos);
    ++begin;
  }
  std::size_t end = text.find('\n', begin);
  if (end == std::string_view::npos) {
    end = text.size();
  }
  FUZZ_CHECK(d.column >= 1 && d.column <= end - begin + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace socks;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto r = parseConfig(text, "fuzz.conf");
  for (const Diagnostic& w : r.warnings) {
    checkPosition(w, text);
  }
  if (!r.ok()) {
    FUZZ_CHECK(r.error().line >= 1);
    checkPosition(r.error(), text);
  } else {
    const Config& c = *r;
    const std::string canonical = format(c);
    auto back = parseConfig(canonical, "fuzz.conf");
    FUZZ_CHECK(back.ok());
    FUZZ_CHECK(*back == c);
    FUZZ_CHECK(format(*back) == canonical);
    static const char* const kHosts[] = {"10.1.2.3", "127.0.0.1", "::1", "2001:db8::1",
                                         "::ffff:192.0.2.1", "a.corp.example", "localhost",
                                         "example.org."};
    for (const char* h : kHosts) {
      for (std::uint16_t port : {std::uint16_t{22}, std::uint16_t{443}}) {
        Address dst;
        if (auto a = Address::parseNumeric(h, port)) {
          dst = *a;
        } else {
          dst = Address::domainName(h, port).value();
        }
        const Decision d = route(c, dst);
        FUZZ_CHECK(!d.alternatives.empty());
        for (const Target& t : d.alternatives) {
          FUZZ_CHECK(t.kind != Target::Kind::kChain || !t.hops.empty());
          for (std::uint32_t hop : t.hops) {
            FUZZ_CHECK(hop < c.proxies.size());
          }
        }
        FUZZ_CHECK(d.rule != Decision::Rule::kRoute || d.route < c.routes.size());
        FUZZ_CHECK(!explain(c, dst).empty());
      }
      (void)dnsModeFor(c, h);
    }
  }

  auto imported = importProxychains(text);
  if (!imported.ok()) {
    FUZZ_CHECK(!imported.error().message.empty());
  } else {
    FUZZ_CHECK(parseConfig(*imported).ok());
  }
  return 0;
}
