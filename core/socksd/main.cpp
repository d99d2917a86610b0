// main.cpp — socksd, the reference SOCKS4/4a/5 server: parse the command
// line, load the users and hosts files, open the listeners, run a Worker
// until SIGTERM/SIGINT. See docs/socksd.8.
#include <ares.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "options.h"
#include "socks/address.h"
#include "socks/exempt.h"
#include "socks/log.h"
#include "worker.h"

// A proxy must never be socksified itself, even under /etc/ld.so.preload.
SOCKSIFY_EXEMPT_PROGRAM

namespace {

using socks::Address;
using socksd::Config;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
// Descriptors per client: the client and its destination (CONNECT, BIND), or
// for UDP ASSOCIATE the client, the relay and two outgoing sockets (IPv4, IPv6).
constexpr rlim_t kDescriptorsPerClient = 4;
// Descriptors besides the clients': listeners, epoll, signalfd, c-ares, stdio.
constexpr rlim_t kSpareDescriptors = 64;

int familyOf(const Address& a) { return a.type == Address::Type::kIPv6 ? AF_INET6 : AF_INET; }

// A bound, listening, non-blocking socket for addr; -1 with *error set.
int openListener(const Address& addr, Address& actual, std::string& error) {
  sockaddr_storage ss;
  const socklen_t len = addr.toSockaddr(ss);
  const int fd = ::socket(familyOf(addr), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + strerror(errno);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (addr.type == Address::Type::kIPv6) {
    // [::] means IPv6 only, so 0.0.0.0 on the same port can be a listener too.
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    error = std::string("bind: ") + strerror(errno);
    ::close(fd);
    return -1;
  }
  if (::listen(fd, SOMAXCONN) != 0) {
    error = std::string("listen: ") + strerror(errno);
    ::close(fd);
    return -1;
  }
  sockaddr_storage bound;
  socklen_t bound_len = sizeof(bound);
  actual = addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) == 0) {
    actual = Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&bound), bound_len).value_or(addr);
  }
  return fd;
}

// --external must be an address of this host: find out now, not per client.
bool checkExternal(const Address& addr, std::string& error) {
  sockaddr_storage ss;
  const socklen_t len = addr.toSockaddr(ss);
  const int fd = ::socket(familyOf(addr), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + strerror(errno);
    return false;
  }
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) == 0;
  if (!ok) {
    error = std::string("--external ") + addr.hostString() + ": " + strerror(errno);
  }
  ::close(fd);
  return ok;
}

// Up to four descriptors per client: raise the soft limit as far as needed (and allowed).
void raiseDescriptorLimit(std::size_t max_clients) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return;
  }
  const rlim_t need = static_cast<rlim_t>(max_clients) * kDescriptorsPerClient + kSpareDescriptors;
  if (lim.rlim_cur >= need) {
    return;
  }
  lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? need : std::min(need, lim.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < need) {
    SOCKS_LOG(kWarn, "descriptor limit %llu is low for --max-clients %zu",
              static_cast<unsigned long long>(lim.rlim_cur), max_clients);
  }
}

// SIGTERM and SIGINT arrive through a signalfd, read by the loop; they are
// blocked first, so every thread created later inherits the mask.
int makeSignalFd(std::string& error) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
    error = std::string("sigprocmask: ") + strerror(errno);
    return -1;
  }
  const int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) {
    error = std::string("signalfd: ") + strerror(errno);
  }
  return fd;
}

int serve(const Config& config, const socks::UserTable* users, const socks::HostTable* hosts) {
  std::string error;
  socksd::Worker worker(config, users, hosts);
  if (!worker.init(error)) {
    std::fprintf(stderr, "socksd: %s\n", error.c_str());
    return kExitFailure;
  }
  std::vector<Address> bound;
  for (const Address& addr : config.listen) {
    Address actual;
    const int fd = openListener(addr, actual, error);
    if (fd < 0 || !worker.addListener(fd, error)) {
      std::fprintf(stderr, "socksd: cannot listen on %s: %s\n", addr.toString().c_str(), error.c_str());
      return kExitFailure;
    }
    bound.push_back(actual);
  }
  const int sfd = makeSignalFd(error);
  if (sfd < 0 || !worker.addSignalFd(sfd, error)) {
    std::fprintf(stderr, "socksd: %s\n", error.c_str());
    return kExitFailure;
  }
  // Only once every listener is up: tests read these lines to learn the ports.
  for (const Address& a : bound) {
    std::printf("socksd: listening on %s\n", a.toString().c_str());
  }
  std::fflush(stdout);
  return worker.run() ? kExitOk : kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  socks::log::setPrefix("socksd");
  Config config;
  std::string error;
  switch (socksd::parseCommandLine(argc, argv, config, error)) {
    case socksd::CommandLine::kRun:
      break;
    case socksd::CommandLine::kExitOk:
      return kExitOk;
    case socksd::CommandLine::kUsageError:
      std::fprintf(stderr, "socksd: %s\nTry 'socksd --help' for more information.\n", error.c_str());
      return kExitUsage;
  }
  socks::log::setLevel(config.log_level);

  socks::UserTable users;
  if (!config.users_file.empty() && !users.load(config.users_file, error)) {
    std::fprintf(stderr, "socksd: %s\n", error.c_str());
    return kExitUsage;
  }
  socks::HostTable hosts;
  if (!config.hosts_file.empty() && !hosts.load(config.hosts_file, error)) {
    std::fprintf(stderr, "socksd: %s\n", error.c_str());
    return kExitUsage;
  }
  for (const Address& ext : config.external) {
    if (!checkExternal(ext, error)) {
      std::fprintf(stderr, "socksd: %s\n", error.c_str());
      return kExitUsage;
    }
  }

  ::signal(SIGPIPE, SIG_IGN);  // belt and braces: every send() has MSG_NOSIGNAL
  raiseDescriptorLimit(config.max_clients);
  if (const int rc = ares_library_init(ARES_LIB_INIT_ALL); rc != ARES_SUCCESS) {
    std::fprintf(stderr, "socksd: c-ares: %s\n", ares_strerror(rc));
    return kExitFailure;
  }
  const int status = serve(config, config.users_file.empty() ? nullptr : &users,
                           config.hosts_file.empty() ? nullptr : &hosts);
  ares_library_cleanup();
  return status;
}
