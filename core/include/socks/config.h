// socks/config.h — the configuration model (socks.conf(5)), its parser and
// formatter, credential resolution, the file lookup order, and the
// proxychains.conf converter.
//
// Everything here is pure: text in, a whole Config (or one error) out. Nothing
// reads the environment or the file system except through the callbacks the
// caller passes (resolveCredentials, findConfigFile), so the shim can call it
// inside a host process and the tests can drive every branch. No function
// throws: an allocation failure becomes an error result.
//
// Errors and warnings are Diagnostics, printed as
//   FILE:LINE:COLUMN: what was wrong; expected ...
// with 1-based lines and columns pointing at the offending token. No
// Diagnostic ever contains a password.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "socks/address.h"
#include "socks/log.h"
#include "socks/proxy.h"

namespace socks {

// How host names are resolved for destinations under a route.
enum class DnsMode : std::uint8_t {
  kRemote,  // fake addresses; the name is sent to the proxy
  kLocal,   // resolved here with c-ares (real sockets)
  kSystem,  // handed to libc (queries leave the machine as without socksify)
};
const char* dnsModeName(DnsMode mode);  // "remote", "local", "system"

// Which listening sockets become a SOCKS BIND on the proxy.
enum class BindMode : std::uint8_t { kAuto, kAll, kOff };
const char* bindModeName(BindMode mode);  // "auto", "all", "off"

enum class LogTarget : std::uint8_t { kStderr, kSyslog, kFile };

// A place in a configuration file. Positions never take part in equality:
// two configurations are equal when they mean the same thing, wherever it
// was written (which is what the format() round trip needs).
struct SourcePos {
  std::uint32_t line = 0;    // 1-based; 0 = not from a file
  std::uint32_t column = 0;  // 1-based
  friend bool operator==(const SourcePos&, const SourcePos&) { return true; }
};

// An error or a warning: "FILE:LINE:COLUMN: message".
struct Diagnostic {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string message;
  // "file:line:column: message"; line and column are left out when 0.
  std::string text() const;
};

// A value or an error Diagnostic, plus the warnings met on the way (also on
// failure). Never both a value and an error, never neither.
template <class T>
class [[nodiscard]] ConfigResult {
 public:
  ConfigResult(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  ConfigResult(Diagnostic error) : error_(std::move(error)) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Diagnostic& error() const { return error_; }
  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T* operator->() const { return &*value_; }
  T* operator->() { return &*value_; }
  const T& operator*() const& { return *value_; }

  std::vector<Diagnostic> warnings;

 private:
  std::optional<T> value_;
  Diagnostic error_;
};

// ProxyUrl has no comparison of its own; the model's needs one.
bool operator==(const ProxyUrl& a, const ProxyUrl& b);

// `proxy NAME = URL [password-env VAR] [password-file PATH]`, or an inline URL
// written in a route (then name is empty). Named proxies come first in
// Config::proxies, in the order of the file; inline ones follow.
struct ProxyDef {
  std::string name;  // empty for an inline URL
  ProxyUrl url;      // after resolveCredentials(), url.password is filled
  std::string password_env;   // VAR, or empty
  std::string password_file;  // PATH, or empty
  // Whether url.password was written in the URL itself (format() writes it
  // back only then: a password from the environment or a file never ends up
  // in a formatted configuration).
  bool password_in_url = false;
  SourcePos pos;         // the name (or the inline URL)
  SourcePos secret_pos;  // the VAR or PATH token
  bool operator==(const ProxyDef&) const = default;
};

// One MATCH of a route. Ports: [port_low, port_high], 1..65535 = any port.
struct Match {
  enum class Kind : std::uint8_t {
    kAny,       // `*`, `*:PORTS` or `:PORTS`
    kNetwork,   // an IPv4/IPv6 CIDR (a single address is /32 or /128)
    kHost,      // an exact host name
    kWildcard,  // `*.domain`: any name strictly below domain
  };
  Kind kind = Kind::kAny;
  Address::Type family = Address::Type::kNone;  // kNetwork: kIPv4 or kIPv6
  std::array<std::uint8_t, 16> network{};      // kNetwork: host bits are zero
  std::uint8_t prefix = 0;                      // kNetwork: 0..32 or 0..128
  std::string name;  // kHost / kWildcard: lower case, no trailing dot; the
                     // wildcard's domain without "*."
  std::uint16_t port_low = 1;
  std::uint16_t port_high = 65535;
  SourcePos pos;

  bool anyPort() const { return port_low <= 1 && port_high == 65535; }
  bool operator==(const Match&) const = default;
};

// One alternative of a route: direct, block, or a chain of proxies (indices
// into Config::proxies, first hop first).
struct Target {
  enum class Kind : std::uint8_t { kDirect, kBlock, kChain };
  Kind kind = Kind::kDirect;
  std::vector<std::uint32_t> hops;  // kChain only; never empty there
  bool operator==(const Target&) const = default;
};

// `route MATCH[, MATCH...] -> TARGET [| TARGET...] [dns MODE]`.
struct Route {
  std::vector<Match> matches;        // never empty
  std::vector<Target> alternatives;  // never empty; tried in order (failover)
  std::optional<DnsMode> dns;        // per-route mode, else the global one
  SourcePos pos;                     // the `route` keyword
  bool operator==(const Route&) const = default;
};

struct Config {
  static constexpr std::chrono::milliseconds kDefaultTimeout{10000};
  static constexpr std::size_t kMaxHops = 16;

  std::string file;  // the name used in diagnostics and explain()
  std::vector<ProxyDef> proxies;
  std::vector<Route> routes;  // first match wins
  std::chrono::milliseconds connect_timeout = kDefaultTimeout;
  // The global DNS mode; unset means automatic (see router.h: effectiveDns).
  std::optional<DnsMode> dns;
  BindMode bind = BindMode::kAuto;
  bool udp = true;
  log::Level log_level = log::Level::kWarn;
  LogTarget log_to = LogTarget::kStderr;
  std::string log_file;               // LogTarget::kFile only
  std::vector<std::string> excludes;  // executable names never socksified

  // Index of the first named proxy (the implicit default), or npos.
  std::size_t firstNamedProxy() const;
  bool operator==(const Config&) const = default;
};

// Parses a whole socks.conf. `file` names the text in diagnostics. On error
// nothing is returned but the one Diagnostic (an invalid configuration never
// half-applies); warnings come back either way. Credentials named by
// password-env / password-file are not read here: see resolveCredentials().
ConfigResult<Config> parseConfig(std::string_view text, std::string_view file = "socks.conf");

// The canonical text of a configuration: every setting, every proxy and every
// route, one per line. parseConfig(format(c)) == c. A password is written
// only if it was written in the URL in the first place.
std::string format(const Config& config);

// ---- credentials ----------------------------------------------------------------------

// What reading a credential file gave.
struct FileRead {
  bool ok = false;
  int sys_errno = 0;  // when !ok
  std::string contents;
  bool world_readable = false;  // mode & S_IROTH
};

struct CredentialSources {
  // getenv(name): nullptr when unset.
  std::function<const char*(const char* name)> getenv;
  std::function<FileRead(const std::string& path)> read_file;
  // Whether the configuration file itself can be read by everyone (its
  // passwords in URLs then draw the warning).
  bool config_world_readable = false;
};

// Fills url.password of every proxy with password-env (the variable's value)
// or password-file (the file's first line, without its line end). Errors:
// a variable that is unset, a file that cannot be read or is empty. Warns
// once per world-readable file that holds a password (the configuration file
// or a password file). On error `config` is left unchanged.
ConfigResult<bool> resolveCredentials(Config& config, const CredentialSources& sources);

// ---- lookup ---------------------------------------------------------------------------

struct LookupEnv {
  std::function<const char*(const char* name)> getenv;
  std::function<bool(const std::string& path)> exists;
  bool secure = false;  // getauxval(AT_SECURE): only the system file counts
};

struct ConfigLocation {
  enum class Source : std::uint8_t { kExplicit, kEnvironment, kUser, kSystem };
  Source source = Source::kSystem;
  std::string path;
};

inline constexpr std::string_view kSystemConfigPath = "/etc/socksify/socks.conf";

// The configuration file to read, in this order: `explicit_path` (-c FILE),
// $SOCKSIFY_CONF, $XDG_CONFIG_HOME/socksify/socks.conf (only an absolute
// XDG_CONFIG_HOME; else $HOME/.config/socksify/socks.conf), then
// /etc/socksify/socks.conf. The first two are returned whether or not they
// exist (reading them then fails loudly); the others only when they exist.
// In secure-execution mode only the system file is considered. nullopt: none.
std::optional<ConfigLocation> findConfigFile(std::string_view explicit_path,
                                             const LookupEnv& env);

// The configuration `SOCKSIFY_PROXY=URL1,URL2,...` or `-x URL1 -x URL2` stands
// for: proxies p1..pN and `route * -> p1 > p2 > ... > pN`.
Config configFromProxyList(const std::vector<ProxyUrl>& urls);

// ---- loading ------------------------------------------------------------------------

inline constexpr std::size_t kMaxConfigBytes = 1 << 20;

// Reads a whole file with open/fstat/read (no stdio, nothing allocated but
// the result; at most kMaxConfigBytes, more is EFBIG). Follows symlinks.
FileRead readFileContents(const std::string& path);

// The pipeline the launcher and the library share: read `path`, parse it
// (diagnostics name `path`), then fill the passwords from password-env /
// password-file through `getenv` and readFileContents(). A file that cannot
// be read is an error "PATH: cannot read: REASON; expected ...".
ConfigResult<Config> loadConfigFile(const std::string& path,
                                    const std::function<const char*(const char* name)>& getenv);

// ---- proxychains.conf ----------------------------------------------------------------

// Converts a proxychains(-ng) proxychains.conf into socks.conf text (see
// socks.conf(5), IMPORTING FROM PROXYCHAINS). Unsupported directives become
// comments in the output; errors name `file`:LINE:COLUMN.
ConfigResult<std::string> importProxychains(std::string_view text,
                                            std::string_view file = "proxychains.conf");

}  // namespace socks
