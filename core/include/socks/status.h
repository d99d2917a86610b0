// socks/status.h — the error vocabulary of libsockscore.
//
// Every fallible function in core returns a Status or a Result<T>. A Status is
// trivially copyable (no heap): a code, the errno captured at the failing call,
// the SOCKS reply byte when a proxy refused, a static reason string and, for
// text parsers, the 1-based column of the problem. The shim turns a Status into
// the errno a direct call would have produced with toErrno(), the one table
// (documented in docs/errors.md and tested row by row).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

namespace socks {

enum class Errc : std::uint8_t {
  kOk = 0,
  kMalformed,           // the peer sent bytes that violate the protocol
  kNoAcceptableMethod,  // SOCKS5 method selection 0xFF (an unoffered method is kMalformed)
  kAuthFailed,          // RFC 1929 status != 0
  kRejected,            // a SOCKS reply other than success; see socks_version/reply
  kTimeout,             // a deadline passed
  kSystem,              // a system call failed; sys_errno holds its errno
  kClosed,              // the peer closed before a message was complete
  kInvalidArgument,     // the caller's input cannot be encoded or parsed
  kUnsupported,         // valid but not possible here (IPv6 over SOCKS4, ...)
  kNotFound,            // name resolution: no such name
};

class [[nodiscard]] Status {
 public:
  constexpr Status() = default;
  constexpr Status(Errc code, const char* reason) : code_(code), reason_(reason) {}

  static constexpr Status system(int err, const char* reason) {
    Status s(Errc::kSystem, reason);
    s.sys_errno_ = err;
    return s;
  }
  // A SOCKS reply that was not success. version is 4 or 5, reply the wire byte.
  static constexpr Status rejected(std::uint8_t version, std::uint8_t reply, const char* reason) {
    Status s(Errc::kRejected, reason);
    s.socks_version_ = version;
    s.reply_ = reply;
    return s;
  }
  // A text-parsing error at a 1-based column.
  static constexpr Status at(std::uint32_t column, const char* reason) {
    Status s(Errc::kInvalidArgument, reason);
    s.column_ = column;
    return s;
  }

  constexpr bool ok() const { return code_ == Errc::kOk; }
  constexpr Errc code() const { return code_; }
  constexpr int sysErrno() const { return sys_errno_; }
  constexpr std::uint8_t socksVersion() const { return socks_version_; }
  constexpr std::uint8_t reply() const { return reply_; }
  constexpr std::uint32_t column() const { return column_; }
  constexpr const char* reason() const { return reason_; }

 private:
  Errc code_ = Errc::kOk;
  std::uint8_t socks_version_ = 0;
  std::uint8_t reply_ = 0;
  int sys_errno_ = 0;
  std::uint32_t column_ = 0;
  const char* reason_ = "";
};

// Either a value or a non-ok Status; never both, never neither.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(status) {      // NOLINT(google-explicit-constructor)
    if (status_.ok()) {
      status_ = Status(Errc::kInvalidArgument, "Result built from an ok Status without a value");
    }
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T* operator->() const { return &*value_; }
  T* operator->() { return &*value_; }
  const T& operator*() const& { return *value_; }
  T& operator*() & { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

// The one SOCKS-failure -> errno table (docs/errors.md). kSystem gives its own
// errno back; SOCKS reply codes map as RFC 1928 names them (0x05 connection
// refused -> ECONNREFUSED, 0x04 host unreachable -> EHOSTUNREACH, ...).
int toErrno(const Status& status) noexcept;

// A short human description ("connection refused by proxy (SOCKS5 reply 0x05)")
// written into buf, always NUL-terminated; returns buf.
const char* describe(const Status& status, char* buf, std::size_t len) noexcept;

}  // namespace socks
