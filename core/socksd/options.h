// options.h — socksd's configuration from its command line. (The users and
// hosts files and address ranges are socks::UserTable, HostTable and
// AddressRange, in socks/server.h.)
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "socks/address.h"
#include "socks/log.h"
#include "socks/server.h"

namespace socksd {

struct Config {
  std::vector<socks::Address> listen;    // default 127.0.0.1:1080
  std::vector<socks::Address> external;  // at most one per family
  std::string users_file;
  std::string hosts_file;
  std::chrono::milliseconds connect_timeout{120 * 1000};  // the SOCKS4 document's two minutes
  std::chrono::milliseconds handshake_timeout{30 * 1000};
  std::chrono::milliseconds idle_timeout{0};  // 0: none
  // BIND: how long to wait for the incoming connection (the SOCKS4 document's
  // two minutes); --no-bind refuses BIND altogether.
  std::chrono::milliseconds bind_timeout{120 * 1000};
  bool allow_bind = true;
  // UDP ASSOCIATE: an association without a datagram either way for this
  // long ends, with its control connection (0: never); --no-udp refuses the
  // command altogether.
  std::chrono::milliseconds udp_idle_timeout{120 * 1000};
  bool allow_udp = true;
  std::vector<socks::AddressRange> allow;      // empty: every client
  std::vector<socks::AddressRange> deny_dest;  // destinations refused
  socks::log::Level log_level = socks::log::Level::kWarn;
  std::size_t max_clients = 1024;

  // The external address to bind for a destination of this family, if any.
  const socks::Address* externalFor(int family) const;
};

enum class CommandLine { kRun, kExitOk, kUsageError };

// Parses argv into config. kExitOk after --help/--version (printed to
// stdout); kUsageError with *error set to a one-line message.
CommandLine parseCommandLine(int argc, char** argv, Config& config, std::string& error);

}  // namespace socksd
