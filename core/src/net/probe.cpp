// probe.cpp — `socksify --check`: one bounded attempt through a chain,
// driven message by message so that a failure is pinned to its stage.
//
// net::runHandshake() would tell us *that* a hop failed; the table needs to
// say *where*: the message being exchanged decides it. SOCKS5 sends the
// greeting (stage negotiate), then the RFC 1929 request when the proxy chose
// method 0x02 (stage auth), then the request (stage connect); SOCKS4 sends
// only the request.
#include "socks/probe.h"

#include <errno.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>

#include "socks/client.h"
#include "socks/net.h"

namespace socks {
namespace {

using Outcome = StageResult::Outcome;

bool fail(StageResult& stage, const Status& status) {
  stage.outcome = Outcome::kFailed;
  stage.status = status;
  return false;
}

void pass(StageResult& stage) { stage.outcome = Outcome::kOk; }

// Fills hop.addr from the URL: numeric hosts at once, names through the
// caller's resolver within what is left of the attempt's budget.
bool resolveHop(const ProxyUrl& url, const ProbeOptions& options, const net::Deadline& deadline,
                HopReport& hop) {
  if (auto numeric = Address::parseNumeric(url.host, url.port)) {
    hop.addr = *numeric;
    pass(hop.resolve);
    return true;
  }
  if (!options.resolve) {
    return fail(hop.resolve, Status(Errc::kNotFound, "no resolver for proxy host names"));
  }
  const int ms = deadline.remainingMs();
  if (ms <= 0) {
    return fail(hop.resolve, Status(Errc::kTimeout, "timed out"));
  }
  Result<Address> resolved = options.resolve(url.host, ms);
  if (!resolved.ok()) {
    return fail(hop.resolve, resolved.status());
  }
  if (!resolved->isIp()) {
    return fail(hop.resolve, Status(Errc::kNotFound, "no address for the proxy host"));
  }
  hop.addr = *resolved;
  hop.addr.port = url.port;
  pass(hop.resolve);
  return true;
}

// Drives one hop's handshake over fd, stage by stage. With want_request
// false it stops just before the request (the last hop without a target).
bool driveHop(const SocketOps& ops, int fd, ClientHandshake& hs, bool want_request,
              const net::Deadline& deadline, HopReport& hop) {
  const bool socks5 = isSocks5(hop.kind);
  int message = 0;  // index of the message being exchanged
  const auto stageOf = [&](int m) -> StageResult& {
    if (!socks5) {
      return hop.connect;
    }
    if (m == 0) {
      return hop.negotiate;
    }
    if (m == 1 && hs.method() == v5::Method::kUserPass) {
      return hop.auth;
    }
    return hop.connect;
  };
  if (hs.state() == ClientHandshake::State::kFailed) {
    // Refused before a byte was sent: SOCKS5 only for unusable credentials,
    // SOCKS4 for a destination it cannot carry (IPv6).
    return fail(socks5 ? hop.auth : hop.connect, hs.status());
  }
  std::array<std::uint8_t, v5::kMaxReply> buf{};
  for (int steps = 0; steps < 64; ++steps) {  // a handshake is a handful of messages
    switch (hs.state()) {
      case ClientHandshake::State::kSending: {
        StageResult& stage = stageOf(message);
        if (&stage == &hop.connect && !want_request) {
          return true;
        }
        const Bytes out = hs.pendingOutput();
        const Status st = net::sendAll(ops, fd, out, deadline);
        if (!st.ok()) {
          return fail(stage, st);
        }
        hs.markSent(out.size());
        break;
      }
      case ClientHandshake::State::kReceiving: {
        StageResult& stage = stageOf(message);
        const std::size_t want = std::min(hs.wantRead(), buf.size());
        if (want == 0) {
          return fail(stage, Status(Errc::kMalformed, "handshake stalled"));
        }
        const Status st = net::recvExact(ops, fd, MutableBytes(buf.data(), want), deadline);
        if (!st.ok()) {
          return fail(stage, st);
        }
        hs.feed(Bytes(buf.data(), want));
        if (hs.state() == ClientHandshake::State::kFailed) {
          return fail(stage, hs.status());
        }
        if (hs.state() == ClientHandshake::State::kSending ||
            hs.state() == ClientHandshake::State::kDone) {
          // The reply to this message is in and it said yes.
          pass(stage);
          if (&stage == &hop.negotiate) {
            hop.method = hs.method();
          }
          ++message;
        }
        break;
      }
      case ClientHandshake::State::kAwaitingSecond:  // BIND only; never asked here
        return fail(hop.connect, Status(Errc::kMalformed, "unexpected second reply"));
      case ClientHandshake::State::kDone:
        return true;
      case ClientHandshake::State::kFailed:
        return fail(stageOf(message), hs.status());
    }
  }
  return fail(stageOf(message), Status(Errc::kMalformed, "handshake did not finish"));
}

class FdCloser {
 public:
  FdCloser(const SocketOps& ops, int fd) : ops_(ops), fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) {
      ops_.close(fd_);
    }
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  const SocketOps& ops_;
  int fd_;
};

ChainReport probe(const SocketOps& ops, std::span<const ProxyUrl> chain,
                  const ProbeOptions& options) {
  ChainReport report;
  report.hops.resize(chain.size());
  for (std::size_t i = 0; i < chain.size(); ++i) {
    report.hops[i].label = chain[i].redacted();
    report.hops[i].kind = chain[i].kind;
  }
  if (chain.empty()) {
    return report;
  }
  const net::Deadline deadline(options.timeout);
  HopReport& first = report.hops[0];
  if (!resolveHop(chain[0], options, deadline, first)) {
    return report;
  }
  const int family = first.addr.type == Address::Type::kIPv6 ? AF_INET6 : AF_INET;
  const int fd = ops.socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fail(first.tcp, Status::system(errno, "socket"));
    return report;
  }
  const FdCloser closer(ops, fd);
  sockaddr_storage ss{};
  const socklen_t len = first.addr.toSockaddr(ss, family);
  const Status connected =
      net::connectWithDeadline(ops, fd, reinterpret_cast<const sockaddr*>(&ss), len, deadline);
  if (!connected.ok()) {
    fail(first.tcp, connected);
    return report;
  }
  pass(first.tcp);

  for (std::size_t i = 0; i < chain.size(); ++i) {
    HopReport& hop = report.hops[i];
    const bool last = i + 1 == chain.size();
    // Hop i is asked for hop i+1, whose name is resolved here, as the
    // library does: a proxy's own address never goes through a proxy.
    if (!last) {
      if (!resolveHop(chain[i + 1], options, deadline, report.hops[i + 1])) {
        return report;
      }
      hop.next = report.hops[i + 1].addr;
    } else if (options.target) {
      hop.next = *options.target;
    }
    const bool want_request = hop.next.type != Address::Type::kNone;
    // Without a request the destination is never sent; any valid one will do.
    const Address dst = want_request ? hop.next : Address::ipv4(0u, 0);
    const ProxyUrl& url = chain[i];
    ClientHandshake hs(url.kind, Command::kConnect, dst, url.user, url.password, url.has_user);
    if (!driveHop(ops, fd, hs, want_request, deadline, hop)) {
      return report;
    }
  }
  return report;
}

const char* socks4ReplyName(std::uint8_t cd) {
  switch (static_cast<v4::Reply>(cd)) {
    case v4::Reply::kGranted:
      return "granted";
    case v4::Reply::kRejected:
      return "rejected or failed";
    case v4::Reply::kNoIdentd:
      return "no identd on the client";
    case v4::Reply::kIdentMismatch:
      return "identd user id mismatch";
  }
  return "unknown reply code";
}

std::string lowerFirst(const char* text) {
  std::string out = text != nullptr ? text : "";
  if (!out.empty()) {
    out[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[0])));
  }
  return out;
}

}  // namespace

bool ChainReport::ok() const {
  for (const HopReport& h : hops) {
    for (const StageResult* s : {&h.resolve, &h.tcp, &h.negotiate, &h.auth, &h.connect}) {
      if (s->failed()) {
        return false;
      }
    }
  }
  return true;
}

ChainReport probeChain(const SocketOps& ops, std::span<const ProxyUrl> chain,
                       const ProbeOptions& options) {
  try {
    return probe(ops, chain, options);
  } catch (...) {
    // Only allocation can throw here (labels, the hop vector).
    ChainReport report;
    try {
      report.hops.resize(1);
      fail(report.hops[0].resolve, Status::system(ENOMEM, "out of memory"));
    } catch (...) {
    }
    return report;
  }
}

std::string durationText(std::chrono::milliseconds d) {
  const long long ms = d.count();
  char buf[32];
  if (ms % 1000 == 0) {
    std::snprintf(buf, sizeof buf, "%llds", ms / 1000);
  } else if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", ms);
  } else {
    std::snprintf(buf, sizeof buf, "%lld.%03lld", ms / 1000, ms % 1000);
    std::string s = buf;
    while (s.back() == '0') {
      s.pop_back();
    }
    return s + "s";
  }
  return buf;
}

std::string probeFailureText(const Status& status, std::chrono::milliseconds timeout) {
  char buf[128];
  switch (status.code()) {
    case Errc::kOk:
      return "ok";
    case Errc::kSystem: {
      if (status.sysErrno() == ENOMEM) {
        return "out of memory";
      }
      char err[96];
      return lowerFirst(strerror_r(status.sysErrno(), err, sizeof err));
    }
    case Errc::kTimeout:
      return "timeout after " + durationText(timeout);
    case Errc::kNoAcceptableMethod:
      // RFC 1928 §3: X'FF' NO ACCEPTABLE METHODS.
      return "method rejected (0xFF)";
    case Errc::kAuthFailed:
      return "auth rejected";
    case Errc::kRejected:
      if (status.socksVersion() == v5::kVersion) {
        std::snprintf(buf, sizeof buf, "reply 0x%02X %s", status.reply(),
                      v5::replyName(static_cast<v5::Reply>(status.reply())));
      } else {
        std::snprintf(buf, sizeof buf, "reply %u %s", status.reply(),
                      socks4ReplyName(status.reply()));
      }
      return buf;
    case Errc::kClosed:
      return "connection closed by proxy";
    case Errc::kMalformed:
      return std::string("malformed reply: ") + status.reason();
    case Errc::kNotFound:
      return std::string("cannot resolve: ") + status.reason();
    case Errc::kInvalidArgument:
    case Errc::kUnsupported:
      return status.reason();
  }
  return status.reason();
}

}  // namespace socks
