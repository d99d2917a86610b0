// status.cpp — the one Status -> errno table (docs/errors.md) and describe().
//
// Both are allocation-free and async-signal-tolerant: the shim calls them
// inside hooks, possibly before its own initialisation.
#include "socks/status.h"

#include <cerrno>
#include <cstring>

#include "proto/text_sink.h"
#include "socks/codec.h"

namespace socks {
namespace {

using detail::TextSink;

// RFC 1928 §6 REP -> errno.
int socks5ReplyErrno(std::uint8_t rep) {
  switch (static_cast<v5::Reply>(rep)) {
    case v5::Reply::kGeneralFailure:
      return ECONNREFUSED;
    case v5::Reply::kNotAllowed:
      return EACCES;
    case v5::Reply::kNetworkUnreachable:
      return ENETUNREACH;
    case v5::Reply::kHostUnreachable:
      return EHOSTUNREACH;
    case v5::Reply::kConnectionRefused:
      return ECONNREFUSED;
    case v5::Reply::kTtlExpired:
      return ETIMEDOUT;
    case v5::Reply::kCommandNotSupported:
      return EOPNOTSUPP;
    case v5::Reply::kAddressTypeNotSupported:
      return EAFNOSUPPORT;
    case v5::Reply::kSucceeded:  // a "rejection" with REP 0 is a bug upstream
      break;
  }
  return ECONNREFUSED;
}

// SOCKS4 CD -> errno.
int socks4ReplyErrno(std::uint8_t cd) {
  switch (static_cast<v4::Reply>(cd)) {
    case v4::Reply::kRejected:
      return ECONNREFUSED;
    case v4::Reply::kNoIdentd:
    case v4::Reply::kIdentMismatch:
      return EACCES;
    case v4::Reply::kGranted:
      break;
  }
  return ECONNREFUSED;
}

const char* socks5ReplyText(std::uint8_t rep) {
  switch (static_cast<v5::Reply>(rep)) {
    case v5::Reply::kSucceeded:
      return "succeeded";
    case v5::Reply::kGeneralFailure:
      return "general SOCKS server failure";
    case v5::Reply::kNotAllowed:
      return "connection not allowed by ruleset";
    case v5::Reply::kNetworkUnreachable:
      return "network unreachable";
    case v5::Reply::kHostUnreachable:
      return "host unreachable";
    case v5::Reply::kConnectionRefused:
      return "connection refused";
    case v5::Reply::kTtlExpired:
      return "TTL expired";
    case v5::Reply::kCommandNotSupported:
      return "command not supported";
    case v5::Reply::kAddressTypeNotSupported:
      return "address type not supported";
  }
  return "unassigned reply code";
}

const char* socks4ReplyText(std::uint8_t cd) {
  switch (static_cast<v4::Reply>(cd)) {
    case v4::Reply::kGranted:
      return "request granted";
    case v4::Reply::kRejected:
      return "request rejected or failed";
    case v4::Reply::kNoIdentd:
      return "cannot reach identd on the client";
    case v4::Reply::kIdentMismatch:
      return "identd reports a different user-id";
  }
  return "unknown reply code";
}

// The errno's text without translation or allocation (strerrordesc_np is a
// pointer into a static table; glibc >= 2.32).
const char* errnoText(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char* text = strerrordesc_np(err);
  return text != nullptr ? text : "unknown error";
#else
  (void)err;
  return "system error";
#endif
}

// "prefix: reason", or just "prefix" when there is no reason.
void putWithReason(TextSink& sink, std::string_view prefix, const char* reason) {
  sink.put(prefix);
  if (reason != nullptr && reason[0] != '\0') {
    sink.put(": ");
    sink.put(std::string_view(reason));
  }
}

}  // namespace

int toErrno(const Status& status) noexcept {
  switch (status.code()) {
    case Errc::kOk:
      return 0;
    case Errc::kSystem:
      return status.sysErrno();
    case Errc::kTimeout:
      return ETIMEDOUT;
    case Errc::kClosed:
      return ECONNRESET;
    case Errc::kMalformed:
      return EPROTO;
    case Errc::kNoAcceptableMethod:
    case Errc::kAuthFailed:
      return EACCES;
    case Errc::kUnsupported:
      return EAFNOSUPPORT;
    case Errc::kInvalidArgument:
      return EINVAL;
    case Errc::kNotFound:
      return EHOSTUNREACH;
    case Errc::kRejected:
      if (status.socksVersion() == v4::kVersion) {
        return socks4ReplyErrno(status.reply());
      }
      return socks5ReplyErrno(status.reply());
  }
  return EIO;
}

const char* describe(const Status& status, char* buf, std::size_t len) noexcept {
  TextSink sink(buf, len);
  const char* reason = status.reason();
  switch (status.code()) {
    case Errc::kOk:
      sink.put("success");
      break;
    case Errc::kSystem:
      if (reason != nullptr && reason[0] != '\0') {
        sink.put(std::string_view(reason));
        sink.put(": ");
      }
      sink.put(std::string_view(errnoText(status.sysErrno())));
      break;
    case Errc::kTimeout:
      putWithReason(sink, "timed out", reason);
      break;
    case Errc::kClosed:
      sink.put("proxy closed the connection during the handshake");
      break;
    case Errc::kMalformed:
      putWithReason(sink, "malformed reply from proxy", reason);
      break;
    case Errc::kNoAcceptableMethod:
      sink.put("proxy accepts none of the offered authentication methods");
      break;
    case Errc::kAuthFailed:
      sink.put("proxy rejected the username/password");
      break;
    case Errc::kRejected:
      // "proxy refused: connection refused (SOCKS5 reply 0x05)"
      sink.put("proxy refused: ");
      if (status.socksVersion() == v4::kVersion) {
        sink.put(std::string_view(socks4ReplyText(status.reply())));
        sink.put(" (SOCKS4 reply ");
        sink.putUnsigned(status.reply());
      } else {
        sink.put(std::string_view(socks5ReplyText(status.reply())));
        sink.put(" (SOCKS5 reply ");
        sink.putHexByte(status.reply());
      }
      sink.put(')');
      break;
    case Errc::kInvalidArgument:
      putWithReason(sink, "invalid argument", reason);
      if (status.column() != 0) {
        sink.put(" (column ");
        sink.putUnsigned(status.column());
        sink.put(')');
      }
      break;
    case Errc::kUnsupported:
      putWithReason(sink, "not supported", reason);
      break;
    case Errc::kNotFound:
      putWithReason(sink, "host not found", reason);
      break;
    default:
      sink.put("unknown error");
      break;
  }
  return buf;
}

const char* v5::replyName(v5::Reply reply) noexcept {
  return socks5ReplyText(static_cast<std::uint8_t>(reply));
}

}  // namespace socks
