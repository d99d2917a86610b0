#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace sfy::it {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string socksdPath() { return SOCKSIFY_SOCKSD; }
std::string launcherPath() { return SOCKSIFY_LAUNCHER; }
std::string shimPath() { return SOCKSIFY_SHIM; }
std::string helper(const std::string& name) { return std::string(SOCKSIFY_HELPERS_DIR) + "/" + name; }

// Under the ASan+UBSan pass the sanitizer runtime is preloaded into every
// program that gets the shim, and Debian 12's curl and wget deadlock in glibc's
// setlocale() with GCC's libasan preloaded — with no shim at all
// (`LD_PRELOAD=$(gcc -print-file-name=libasan.so) curl --version` hangs). The
// ASan pass therefore leaves those two out (tests skip them as if missing);
// the normal pass runs them, and the ASan pass still drives the shim through
// python3, node, ncat, ssh, getent and the helpers.
static bool unusableUnderAsan(const std::string& name) {
  const char* rt = std::getenv("SOCKSIFY_ASAN_RUNTIME");
  if (rt == nullptr || *rt == '\0') return false;
  const std::string base = name.substr(name.rfind('/') == std::string::npos ? 0 : name.rfind('/') + 1);
  return base == "curl" || base == "wget";
}

std::string findTool(const std::string& name) {
  if (unusableUnderAsan(name)) return "";
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  p += ":/usr/sbin:/sbin";
  std::stringstream ss(p);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    std::string full = dir + "/" + name;
    if (access(full.c_str(), X_OK) == 0) return full;
  }
  return "";
}

std::string python3Path() {
  if (access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
  return findTool("python3");
}

bool isRoot() { return geteuid() == 0; }

static std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------- TempDir

TempDir::TempDir() {
  char tmpl[] = "/tmp/socksify-it-XXXXXX";
  char* p = mkdtemp(tmpl);
  if (p == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = p;
  chmod(path_.c_str(), 0755);  // danted drops privileges and must still read its config
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  std::string full = path_ + "/" + name;
  std::ofstream f(full, std::ios::binary | std::ios::trunc);
  f << content;
  f.close();
  chmod(full.c_str(), 0644);
  return full;
}

// ---------------------------------------------------------------- Process

// Under the ASan+UBSan pass (scripts/test.sh sets SOCKSIFY_ASAN_RUNTIME), the
// shim is built with the sanitizers, so a program it is preloaded into must
// load the sanitizer runtime first: prepend it wherever the shim is preloaded
// (explicit LD_PRELOAD, or the launcher, which keeps a leading runtime first).
static std::string asanRuntime() {
  const char* rt = getenv("SOCKSIFY_ASAN_RUNTIME");
  return rt != nullptr ? rt : "";
}

static std::vector<std::string> buildEnv(const Env& extra_in, bool via_launcher) {
  Env extra = extra_in;
  if (const std::string rt = asanRuntime(); !rt.empty()) {
    bool preload = false;
    for (auto& x : extra) {
      if (x.rfind("LD_PRELOAD=", 0) == 0) {
        x = "LD_PRELOAD=" + rt + " " + x.substr(11);
        preload = true;
      }
    }
    if (!preload && via_launcher) {
      extra.push_back("LD_PRELOAD=" + rt);
    }
  }
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string s = *e;
    if (s.rfind("LD_PRELOAD=", 0) == 0 || s.rfind("SOCKSIFY_", 0) == 0) continue;
    // Keep proxy variables of the host from influencing programs under test.
    if (s.rfind("http_proxy=", 0) == 0 || s.rfind("https_proxy=", 0) == 0 || s.rfind("HTTP_PROXY=", 0) == 0 ||
        s.rfind("HTTPS_PROXY=", 0) == 0 || s.rfind("ALL_PROXY=", 0) == 0 || s.rfind("all_proxy=", 0) == 0 ||
        s.rfind("no_proxy=", 0) == 0 || s.rfind("NO_PROXY=", 0) == 0)
      continue;
    env.push_back(s);
  }
  for (const auto& x : extra) {
    auto eq = x.find('=');
    std::string key = x.substr(0, eq + 1);
    std::erase_if(env, [&](const std::string& s) { return s.rfind(key, 0) == 0; });
    env.push_back(x);
  }
  return env;
}

static std::string quoteArgv(const Argv& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    if (a.find_first_of(" '\"\\$") != std::string::npos) {
      s += "'" + a + "'";
    } else {
      s += a;
    }
  }
  return s;
}

Process::Process(const Argv& argv_in, const SpawnOptions& opts) : dir_(std::make_unique<TempDir>()) {
  Argv argv;
  if (!opts.netns.empty()) argv = {findTool("ip"), "netns", "exec", opts.netns};
  argv.insert(argv.end(), argv_in.begin(), argv_in.end());
  bool via_launcher = false;
  for (const auto& a : argv_in) {
    via_launcher = via_launcher || a == launcherPath();
  }
  std::vector<std::string> env = buildEnv(opts.env, via_launcher);
  cmdline_ = quoteArgv(argv);
  for (const auto& e : opts.env) cmdline_ = e + " " + cmdline_;

  out_path_ = dir_->path() + "/stdout";
  err_path_ = dir_->path() + "/stderr";
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  std::string in = opts.stdin_file.empty() ? "/dev/null" : opts.stdin_file;
  posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  start_ = std::chrono::steady_clock::now();
  int rc = posix_spawnp(&pid_, cargv[0], &fa, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    pid_ = -1;
    reaped_ = true;
    status_ = 127 << 8;
    std::ofstream(err_path_) << "spawn failed: " << std::strerror(rc) << "\n";
  }
}

Process::~Process() {
  if (!reaped_) stop();
}

std::string Process::out() const { return readFile(out_path_); }
std::string Process::err() const { return readFile(err_path_); }

std::optional<std::string> Process::waitForLine(const std::string& needle, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::string text = out();
    size_t pos = text.find(needle);
    if (pos != std::string::npos) {
      size_t eol = text.find('\n', pos);
      if (eol != std::string::npos) {
        size_t bol = text.rfind('\n', pos);
        bol = bol == std::string::npos ? 0 : bol + 1;
        return text.substr(bol, eol - bol);
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    if (pid_ > 0 && !reaped_) {
      int st = 0;
      pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        status_ = st;
      }
    }
    std::this_thread::sleep_for(10ms);
  }
}

bool Process::running() {
  if (reaped_) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = st;
    return false;
  }
  return true;
}

static RunResult makeResult(int status, bool timed_out, double secs, std::string out, std::string err) {
  RunResult r;
  r.timed_out = timed_out;
  r.seconds = secs;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    r.exit_code = -1;
    r.term_signal = WTERMSIG(status);
  }
  r.out = std::move(out);
  r.err = std::move(err);
  return r;
}

RunResult Process::wait(std::chrono::milliseconds timeout) {
  auto deadline = start_ + timeout;
  bool timed_out = false;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      stop();
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  RunResult r = makeResult(status_, timed_out, secs, out(), err());
  if (timed_out) r.err += "\n[harness: killed after " + std::to_string(timeout.count()) + " ms]\n";
  return r;
}

int Process::stop() {
  if (!reaped_ && pid_ > 0) {
    kill(-pid_, SIGTERM);  // the process group this harness created for it
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    if (!reaped_) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      int st = 0;
      if (waitpid(pid_, &st, 0) == pid_) status_ = st;
      reaped_ = true;
    }
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  return -1;
}

std::string RunResult::describe() const {
  std::ostringstream s;
  s << "exit=" << exit_code;
  if (term_signal) s << " signal=" << term_signal;
  if (timed_out) s << " TIMED OUT";
  s << " after " << seconds << " s\n--- stdout ---\n" << out << "\n--- stderr ---\n" << err << "\n---";
  return s.str();
}

RunResult run(const Argv& argv, const SpawnOptions& opts, std::chrono::milliseconds timeout) {
  Process p(argv, opts);
  RunResult r = p.wait(timeout);
  return r;
}

// ---------------------------------------------------------------- sockets

static bool tryConnect(const std::string& host, int port) {
  sockaddr_storage ss{};
  socklen_t len;
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof *in;
  } else if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof *in6;
  } else {
    return false;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, 500) == 1) {
      int err = 0;
      socklen_t el = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
      ok = err == 0;
    }
  }
  close(fd);
  return ok;
}

bool waitTcpReady(const std::string& netns, const std::string& host, int port, std::chrono::milliseconds timeout) {
  bool ready = false;
  // A network namespace is a per-thread attribute: probe from a thread that joined it.
  std::thread t([&] {
    if (!netns.empty()) {
      int nsfd = open(("/var/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
      if (nsfd < 0) return;
      int rc = setns(nsfd, CLONE_NEWNET);
      close(nsfd);
      if (rc != 0) return;
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (tryConnect(host, port)) {
        ready = true;
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
  });
  t.join();
  return ready;
}

int freeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

size_t countOccurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + needle.size())) ++n;
  return n;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> v;
  std::stringstream ss(text);
  std::string l;
  while (std::getline(ss, l)) v.push_back(l);
  return v;
}

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// ---------------------------------------------------------------- servers

std::string Server::hostPort() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

static int parsePortFromLine(const std::string& line) {
  auto colon = line.rfind(':');
  if (colon == std::string::npos) return 0;
  return std::atoi(line.c_str() + colon + 1);
}

Server startSocksd(const SocksdOptions& o) {
  Server s;
  s.dir = std::make_unique<TempDir>();
  Argv argv = {socksdPath(), "--listen", o.listen};
  if (!o.external.empty()) argv.insert(argv.end(), {"--external", o.external});
  if (!o.users.empty()) argv.insert(argv.end(), {"--users", s.dir->write("users", o.users)});
  if (!o.hosts.empty()) argv.insert(argv.end(), {"--hosts", s.dir->write("hosts", o.hosts)});
  if (o.verbose) argv.push_back("-v");
  argv.insert(argv.end(), o.extra.begin(), o.extra.end());
  SpawnOptions so;
  so.netns = o.netns;
  s.proc = std::make_unique<Process>(argv, so);
  auto line = s.proc->waitForLine("socksd: listening on ", 10s);
  if (!line) {
    ADD_FAILURE() << "socksd did not report its listener within 10 s: " << s.proc->commandLine()
                  << "\nstdout: " << s.proc->out() << "\nstderr: " << s.proc->err();
    return s;
  }
  std::string addr = line->substr(line->find("listening on ") + 13);
  auto colon = addr.rfind(':');
  s.host = addr.substr(0, colon);
  if (!s.host.empty() && s.host.front() == '[') s.host = s.host.substr(1, s.host.size() - 2);
  s.port = parsePortFromLine(*line);
  return s;
}

Server startDanted(const ThirdPartyOptions& o) {
  Server s;
  s.dir = std::make_unique<TempDir>();
  s.host = o.listen_addr;
  s.port = o.port != 0 ? o.port : (o.netns.empty() ? freeLoopbackPort() : 1080);
  std::string ext = o.external.empty() ? o.listen_addr : o.external;
  std::string conf = "logoutput: stderr\n"
                     "internal: " + s.host + " port = " + std::to_string(s.port) + "\n"
                     "external: " + ext + "\n";
  if (!o.external6.empty()) conf += "external: " + o.external6 + "\n";
  conf += "clientmethod: none\n"
          "socksmethod: none\n";
  if (isRoot()) conf += "user.privileged: root\nuser.unprivileged: nobody\n";
  // The default socks rule covers every command, UDP ASSOCIATE and its replies included.
  conf += "client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }\n"
          "socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }\n";
  if (!o.external6.empty()) {
    // IPv6 destinations (and UDP replies from them) need rules of their own.
    conf += "socks pass { from: 0.0.0.0/0 to: ::/0 }\n"
            "socks pass { from: ::/0 to: 0.0.0.0/0 }\n";
  }
  std::string path = s.dir->write("danted.conf", conf);
  SpawnOptions so;
  so.netns = o.netns;
  s.proc = std::make_unique<Process>(Argv{findTool("danted"), "-f", path, "-N", "1", "-p", s.dir->path() + "/danted.pid"},
                                     so);
  if (!waitTcpReady(o.netns, s.host, s.port, 10s)) {
    ADD_FAILURE() << "danted did not accept connections within 10 s\nconfig:\n" << conf << "\nstderr: " << s.proc->err();
    s.port = 0;
  }
  return s;
}

Server startMicrosocks(const ThirdPartyOptions& o) {
  Server s;
  s.host = o.listen_addr;
  s.port = o.port != 0 ? o.port : (o.netns.empty() ? freeLoopbackPort() : 1080);
  Argv argv = {findTool("microsocks"), "-i", s.host, "-p", std::to_string(s.port)};
  if (!o.external.empty()) argv.insert(argv.end(), {"-b", o.external});
  if (!o.user.empty()) argv.insert(argv.end(), {"-u", o.user, "-P", o.password});
  SpawnOptions so;
  so.netns = o.netns;
  s.proc = std::make_unique<Process>(argv, so);
  if (!waitTcpReady(o.netns, s.host, s.port, 10s)) {
    ADD_FAILURE() << "microsocks did not accept connections within 10 s\nstderr: " << s.proc->err();
    s.port = 0;
  }
  return s;
}

DestServer startTcpServer(const std::string& netns, const Argv& listenerArgs) {
  DestServer d;
  Argv argv = {helper("tcp_server")};
  argv.insert(argv.end(), listenerArgs.begin(), listenerArgs.end());
  SpawnOptions so;
  so.netns = netns;
  d.proc = std::make_unique<Process>(argv, so);
  size_t listeners = 0;
  for (const auto& a : listenerArgs)
    if (a == "--echo" || a == "--http" || a == "--banner" || a == "--silent" || a == "--portback") ++listeners;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string out = d.proc->out();
    if (countOccurrences(out, "tcp_server: listening on ") >= listeners) {
      for (const auto& l : lines(out))
        if (contains(l, "tcp_server: listening on ")) d.ports.push_back(parsePortFromLine(l));
      return d;
    }
    if (!d.proc->running()) break;
    std::this_thread::sleep_for(10ms);
  }
  ADD_FAILURE() << "tcp_server did not start: " << d.proc->err();
  return d;
}

// ---------------------------------------------------------------- NetLab

static constexpr const char* kPrefix = "sfy";

std::string NetLab::unavailableReason() {
  if (!isRoot()) return "network namespaces need root (geteuid() != 0)";
  if (findTool("ip").empty()) return "the ip tool (iproute2) is not installed";
  std::string probe = std::string(kPrefix) + std::to_string(getpid()) + "probe";
  RunResult r = run({findTool("ip"), "netns", "add", probe}, {}, 10s);
  if (r.exit_code != 0) return "ip netns add failed: " + r.err;
  RunResult v = run({findTool("ip"), "-n", probe, "link", "add", "sfyprobe0", "type", "veth", "peer", "name", "sfyprobe1"},
                    {}, 10s);
  run({findTool("ip"), "netns", "del", probe}, {}, 10s);
  if (v.exit_code != 0) return "veth devices are not available: " + v.err;
  return "";
}

// Deletes namespaces left behind by earlier runs whose process is gone.
static void reapStaleNamespaces() {
  DIR* d = opendir("/var/run/netns");
  if (d == nullptr) return;
  std::vector<std::string> stale;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind(kPrefix, 0) != 0) continue;
    std::string digits;
    for (size_t i = 3; i < n.size() && std::isdigit(static_cast<unsigned char>(n[i])); ++i) digits += n[i];
    if (digits.empty()) continue;
    pid_t pid = static_cast<pid_t>(std::atol(digits.c_str()));
    if (kill(pid, 0) != 0 && errno == ESRCH) stale.push_back(n);
  }
  closedir(d);
  for (const auto& n : stale) {
    run({findTool("ip"), "netns", "del", n}, {}, 10s);
    std::error_code ec;
    fs::remove_all("/etc/netns/" + n, ec);
  }
}

bool NetLab::sh(const Argv& argv) {
  RunResult r = run(argv, {}, 15s);
  if (r.exit_code != 0) {
    error_ += "command failed: " + quoteArgv(argv) + ": " + r.err + "\n";
    return false;
  }
  return true;
}

bool NetLab::nsExec(const std::string& ns, const Argv& argv) {
  Argv full = {findTool("ip"), "netns", "exec", ns};
  full.insert(full.end(), argv.begin(), argv.end());
  return sh(full);
}

void NetLab::writeNetnsFile(const std::string& ns, const std::string& name, const std::string& content) {
  std::string dir = "/etc/netns/" + ns;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (std::find(etc_dirs_.begin(), etc_dirs_.end(), dir) == etc_dirs_.end()) etc_dirs_.push_back(dir);
  std::ofstream(dir + "/" + name) << content;
  chmod((dir + "/" + name).c_str(), 0644);
}

static std::string subnetOf(int link, int links) {
  if (link == links - 1) return "198.51.100";
  if (link == 0) return "192.0.2";
  return "203.0.113";
}

std::string NetLab::proxyAddr(int i) const { return subnetOf(i, proxies_ + 1) + ".2"; }
std::string NetLab::proxyExternal(int i) const { return subnetOf(i + 1, proxies_ + 1) + ".1"; }

NetLab::NetLab(int proxies) : proxies_(proxies) {
  reapStaleNamespaces();
  const std::string ip = findTool("ip");
  const std::string base = std::string(kPrefix) + std::to_string(getpid());
  ns_.push_back(base + "c");
  for (int i = 0; i < proxies; ++i) ns_.push_back(base + "p" + std::to_string(i + 1));
  ns_.push_back(base + "d");
  for (const auto& n : ns_) {
    run({ip, "netns", "del", n}, {}, 10s);  // a leftover of this very PID (PID reuse)
    if (!sh({ip, "netns", "add", n})) return;
    created_ns_.push_back(n);
    if (!sh({ip, "-n", n, "link", "set", "lo", "up"})) return;
  }
  const int links = proxies + 1;
  for (int l = 0; l < links; ++l) {
    const std::string a = base + "l" + std::to_string(l) + "a";
    const std::string b = base + "l" + std::to_string(l) + "b";
    const std::string left = ns_[static_cast<size_t>(l)], right = ns_[static_cast<size_t>(l) + 1];
    const std::string net = subnetOf(l, links);
    // Created directly inside the namespaces: the root namespace is never touched.
    if (!sh({ip, "link", "add", a, "netns", left, "type", "veth", "peer", "name", b, "netns", right})) return;
    if (!sh({ip, "-n", left, "addr", "add", net + ".1/24", "dev", a})) return;
    if (!sh({ip, "-n", right, "addr", "add", net + ".2/24", "dev", b})) return;
    if (!sh({ip, "-n", left, "link", "set", a, "up"})) return;
    if (!sh({ip, "-n", right, "link", "set", b, "up"})) return;
  }
  // IPv6 is optional: the IPv6 tests skip when it cannot be configured.
  ipv6_ = true;
  for (int l = 0; l < links && ipv6_; ++l) {
    const std::string a = base + "l" + std::to_string(l) + "a";
    const std::string b = base + "l" + std::to_string(l) + "b";
    const std::string net = "2001:db8:" + std::to_string(l) + "::";
    ipv6_ = run({ip, "-n", ns_[static_cast<size_t>(l)], "addr", "add", net + "1/64", "dev", a, "nodad"}, {}, 10s).exit_code == 0 &&
            run({ip, "-n", ns_[static_cast<size_t>(l) + 1], "addr", "add", net + "2/64", "dev", b, "nodad"}, {}, 10s).exit_code == 0;
  }
  for (int i = 0; i < proxies; ++i) {
    // No forwarding: a proxy namespace is not a router.
    if (!nsExec(proxyNs(i), {"sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward"})) return;
    if (ipv6_) nsExec(proxyNs(i), {"sh", "-c", "echo 0 > /proc/sys/net/ipv6/conf/all/forwarding"});
  }
  // The client's resolver points at the sink; the proxies' at nothing.
  if (!sh({ip, "-n", clientNs(), "addr", "add", std::string(kSinkAddr) + "/32", "dev", "lo"})) return;
  writeNetnsFile(clientNs(), "resolv.conf",
                 std::string("nameserver ") + kSinkAddr + "\noptions timeout:1 attempts:1\n");
  writeNetnsFile(clientNs(), "hosts",
                 "127.0.0.1 localhost\n::1 localhost\n" + destAddr() + " " + kLocalName + "\n");
  for (int i = 0; i < proxies; ++i) {
    std::string hosts = "127.0.0.1 localhost\n::1 localhost\n";
    if (i == proxies - 1) hosts += destAddr() + " " + kRemoteName + "\n";
    writeNetnsFile(proxyNs(i), "hosts", hosts);
    writeNetnsFile(proxyNs(i), "resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
  }
  writeNetnsFile(destNs(), "hosts", "127.0.0.1 localhost\n");
  writeNetnsFile(destNs(), "resolv.conf", "nameserver 127.0.0.1\n");
  SpawnOptions so;
  so.netns = clientNs();
  sink_ = std::make_unique<Process>(Argv{helper("dns_sink"), kSinkAddr, "53"}, so);
  if (!sink_->waitForLine("dns_sink: listening", 10s)) {
    error_ += "dns_sink did not start: " + sink_->err();
    return;
  }
  ok_ = true;
}

NetLab::~NetLab() {
  sink_.reset();
  const std::string ip = findTool("ip");
  for (auto it = created_ns_.rbegin(); it != created_ns_.rend(); ++it) run({ip, "netns", "del", *it}, {}, 10s);
  for (const auto& d : etc_dirs_) {
    std::error_code ec;
    fs::remove_all(d, ec);
  }
}

std::vector<std::string> NetLab::dnsQueries() const {
  std::vector<std::string> q;
  if (!sink_) return q;
  for (const auto& l : lines(sink_->out()))
    if (contains(l, "dns_sink: query")) q.push_back(l);
  return q;
}

std::string NetLab::blackholeAddr() {
  const std::string addr = "192.0.2.99";
  const std::string dev = ns_.front().substr(0, ns_.front().size() - 1) + "l0a";
  sh({findTool("ip"), "-n", clientNs(), "neigh", "replace", addr, "lladdr", "02:00:5e:00:53:99", "dev", dev, "nud",
      "permanent"});
  return addr;
}

bool NetLab::addDestAddr(const std::string& addr) {
  const std::string dev = ns_.front().substr(0, ns_.front().size() - 1) + "l" + std::to_string(proxies_) + "b";
  return sh({findTool("ip"), "-n", destNs(), "addr", "add", addr + "/24", "dev", dev});
}

// ---------------------------------------------------------------- clients

RunResult runSocksified(const Argv& program, const ClientOptions& o) {
  Argv argv = {launcherPath()};
  for (const auto& p : o.proxies) argv.insert(argv.end(), {"-x", p});
  if (o.verbose) argv.push_back("-v");
  argv.push_back("--");
  argv.insert(argv.end(), program.begin(), program.end());
  SpawnOptions so;
  so.netns = o.netns;
  so.env = o.env;
  so.stdin_file = o.stdin_file;
  return run(argv, so, o.timeout);
}

}  // namespace sfy::it
