// Integration-test harness: real processes, real servers, network namespaces.
//
// Everything here is bounded (every wait has a timeout) and owned (every process,
// file and namespace a test creates is removed by a destructor, also when the test
// fails). Processes are killed by their own PID / process group only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sfy::it {

using Argv = std::vector<std::string>;
using Env = std::vector<std::string>;  // "NAME=VALUE" entries added to a clean environment

// Paths from the build tree (compile definitions of the integration_tests target).
std::string socksdPath();
std::string launcherPath();
std::string shimPath();
std::string helper(const std::string& name);  // SOCKSIFY_HELPERS_DIR/name

// The first executable named `name` on PATH (or an absolute path that exists), or "".
std::string findTool(const std::string& name);
// python3: prefer the distribution's interpreter over wrappers such as pyenv shims.
std::string python3Path();
bool isRoot();

// A directory under /tmp removed (recursively) by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

struct SpawnOptions {
  Env env;                // added to the inherited environment (after removing LD_PRELOAD, SOCKSIFY_*)
  std::string netns;      // run inside this network namespace (ip netns exec)
  std::string stdin_file; // default /dev/null
};

struct RunResult {
  int exit_code = -1;     // exit status, or -1 when killed by a signal
  int term_signal = 0;
  bool timed_out = false;
  std::string out;
  std::string err;
  double seconds = 0;
  // A one-paragraph description for assertion messages.
  std::string describe() const;
};

// A child process with stdout/stderr captured into files; killed (its process
// group: SIGTERM, then SIGKILL) by the destructor if still running.
class Process {
 public:
  Process(const Argv& argv, const SpawnOptions& opts = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  std::string out() const;  // what it wrote to stdout so far
  std::string err() const;
  // Waits until stdout contains a line containing `needle`; returns that line.
  std::optional<std::string> waitForLine(const std::string& needle, std::chrono::milliseconds timeout) const;
  // Waits for exit; on timeout kills it and sets timed_out.
  RunResult wait(std::chrono::milliseconds timeout);
  // SIGTERM, wait up to 5 s, then SIGKILL. Returns the exit code (-1 when signalled).
  int stop();
  bool running();
  std::string commandLine() const { return cmdline_; }

 private:
  pid_t pid_ = -1;
  mutable bool reaped_ = false;
  mutable int status_ = 0;
  std::unique_ptr<TempDir> dir_;
  std::string out_path_, err_path_, cmdline_;
  std::chrono::steady_clock::time_point start_;
};

// Runs to completion (bounded).
RunResult run(const Argv& argv, const SpawnOptions& opts = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(30));

// True once a TCP connect to host:port succeeds (from inside netns if given).
bool waitTcpReady(const std::string& netns, const std::string& host, int port, std::chrono::milliseconds timeout);
// An unused loopback port (bind 0, read, close).
int freeLoopbackPort();

size_t countOccurrences(const std::string& text, const std::string& needle);
std::vector<std::string> lines(const std::string& text);
bool contains(const std::string& text, const std::string& needle);

// ---------------------------------------------------------------- servers

// A server process plus the address it listens on (as "host:port" the client can use).
struct Server {
  std::unique_ptr<Process> proc;
  std::unique_ptr<TempDir> dir;  // config files
  std::string host;
  int port = 0;
  std::string hostPort() const;
};

struct SocksdOptions {
  std::string netns;
  std::string listen = "127.0.0.1:0";
  std::string external;
  std::string users;  // contents of the users file (user:password lines)
  std::string hosts;  // contents of the --hosts file
  std::vector<std::string> extra;
  bool verbose = true;
};
// Starts socksd and parses "socksd: listening on ADDR:PORT". Fails the test (ADD_FAILURE) and
// returns a Server with port 0 when it does not come up within 10 s.
Server startSocksd(const SocksdOptions& o);

struct ThirdPartyOptions {
  std::string netns;
  std::string listen_addr = "127.0.0.1";
  int port = 0;  // 0: a free loopback port (outside namespaces) or 1080 (inside)
  std::string external;  // outgoing address (danted "external:", microsocks -b)
  std::string external6;  // danted only: an IPv6 outgoing address too (IPv6 destinations)
  std::string user, password;  // microsocks only
};
Server startDanted(const ThirdPartyOptions& o);
Server startMicrosocks(const ThirdPartyOptions& o);

// tcp_server with the given "--mode ADDR:PORT" listener arguments; ports parsed from
// its "listening on" lines, in order.
struct DestServer {
  std::unique_ptr<Process> proc;
  std::vector<int> ports;
};
DestServer startTcpServer(const std::string& netns, const Argv& listenerArgs);

// ---------------------------------------------------------------- network namespaces

// A line of namespaces: client — proxy1 [— proxy2] — dest, joined by veth pairs,
// each namespace with only its connected routes, so the client cannot reach the
// destination network except through the proxies (and proxy1 cannot reach it
// directly when there are two). Addresses (documentation ranges only):
//   client–proxy1: 192.0.2.0/24   (client .1, proxy1 .2)
//   proxy1–proxy2: 203.0.113.0/24 (proxy1 .1, proxy2 .2)        (two proxies only)
//   last proxy–dest: 198.51.100.0/24 (proxy .1, dest .2)
// The client namespace has resolv.conf pointing at a dns_sink on 192.0.2.53 (on its
// loopback device) that records every query; hosts maps local.socksify.test to the
// destination. The last proxy's hosts file maps dest.socksify.test to the destination
// (a name only the proxy host can resolve). Destructor deletes namespaces, /etc/netns
// files and processes.
class NetLab {
 public:
  // Empty string when labs can be built here; otherwise the reason to skip.
  static std::string unavailableReason();

  explicit NetLab(int proxies = 1);
  ~NetLab();
  NetLab(const NetLab&) = delete;
  NetLab& operator=(const NetLab&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

  const std::string& clientNs() const { return ns_.front(); }
  const std::string& destNs() const { return ns_.back(); }
  const std::string& proxyNs(int i) const { return ns_.at(static_cast<size_t>(i) + 1); }
  // Address proxy i (0-based) listens on (reachable from the previous hop).
  std::string proxyAddr(int i) const;
  // Address proxy i's outgoing connections come from (toward the next hop).
  std::string proxyExternal(int i) const;
  std::string clientAddr() const { return "192.0.2.1"; }
  // IPv6 (2001:db8:L::/64 on link L, left .1 right .2), when the kernel allows it.
  bool hasIpv6() const { return ipv6_; }
  std::string proxyAddr6(int i) const { return "2001:db8:" + std::to_string(i) + "::2"; }
  std::string proxyExternal6(int i) const { return "2001:db8:" + std::to_string(i + 1) + "::1"; }
  std::string destAddr6() const { return "2001:db8:" + std::to_string(proxies_) + "::2"; }
  std::string destAddr() const { return "198.51.100.2"; }
  static constexpr const char* kRemoteName = "dest.socksify.test";  // only the last proxy resolves it
  static constexpr const char* kLocalName = "local.socksify.test";  // only the client resolves it
  static constexpr const char* kSinkAddr = "192.0.2.53";

  // DNS queries the client namespace has sent so far (lines of dns_sink).
  std::vector<std::string> dnsQueries() const;
  // Adds an address on the client's link that silently drops everything sent to it
  // (a permanent neighbour entry with a MAC nobody has): a black-holed proxy.
  std::string blackholeAddr();
  // Adds another IPv4 address (e.g. 198.51.100.3) on the destination's link, so the
  // destination can connect from an address that is not destAddr(). Returns success.
  bool addDestAddr(const std::string& addr);
  // Runs a command (bounded) inside a namespace, for setup; returns success.
  bool nsExec(const std::string& ns, const Argv& argv);

 private:
  bool sh(const Argv& argv);
  void writeNetnsFile(const std::string& ns, const std::string& name, const std::string& content);

  bool ok_ = false;
  bool ipv6_ = false;
  std::string error_;
  int proxies_;
  std::vector<std::string> ns_;
  std::vector<std::string> created_ns_;
  std::vector<std::string> etc_dirs_;
  std::unique_ptr<Process> sink_;
};

// ---------------------------------------------------------------- running clients

struct ClientOptions {
  std::string netns;
  std::vector<std::string> proxies;  // -x URLs in order
  bool verbose = false;              // -v
  Env env;                           // e.g. SOCKSIFY_CONNECT_TIMEOUT=1
  std::string stdin_file;
  std::chrono::milliseconds timeout = std::chrono::seconds(40);
};
// Runs `socksify -x ... [-v] -- PROGRAM...`.
RunResult runSocksified(const Argv& program, const ClientOptions& o);

}  // namespace sfy::it
