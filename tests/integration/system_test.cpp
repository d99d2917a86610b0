// System-wide preloading (/etc/ld.so.preload), without ever touching the real /etc.
//
// scripts/system-install.sh writes ld.so.preload and socksify/socks.conf into a
// scratch tree (--root DIR) whose etc/ is a copy of /etc as a lab namespace sees
// it. Programs then run inside `ip netns exec NS unshare -m` with that copy
// bind-mounted over /etc: a private mount namespace that ends with its last
// process, so the bind never reaches the host. The lab proves the path as
// elsewhere: the destination reports the proxy's address, or the client cannot
// reach it at all.
//
// ASan+UBSan pass: the shim is then built with the sanitizers and needs the
// sanitizer runtime ahead of it in the preload list. An ld.so.preload can say
// exactly that, so every scratch tree starts with SOCKSIFY_ASAN_RUNTIME as its
// first entry and system-install.sh must keep it first (its order-keeping is
// tested on the way). curl is left out in that pass (findTool returns "").

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"
#include "lab_fixture.h"

namespace sfy::it {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string script(const std::string& name) { return std::string(SOCKSIFY_SOURCE_DIR) + "/scripts/" + name; }

std::string asanRuntimeEntry() {
  const char* rt = std::getenv("SOCKSIFY_ASAN_RUNTIME");
  return rt != nullptr ? rt : "";
}

// What a scratch ld.so.preload holds before our entry: the sanitizer runtime
// in the ASan pass, nothing otherwise.
std::string preloadPrefix() {
  const std::string rt = asanRuntimeEntry();
  return rt.empty() ? "" : rt + "\n";
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

unsigned modeOf(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// The library as ld.so.preload will name it: the build's own, by real path.
std::string libPath() {
  std::error_code ec;
  auto p = fs::canonical(shimPath(), ec);
  return ec ? shimPath() : p.string();
}

RunResult runScript(const std::string& name, const Argv& args) {
  Argv argv = {"/bin/bash", script(name)};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {}, 120s);
}

// Lines of stderr written by the library ("socksify: ...").
std::string shimLines(const std::string& err) {
  std::string out;
  for (const auto& l : lines(err))
    if (contains(l, "socksify:")) out += l + "\n";
  return out;
}

// ---------------------------------------------------------------- a scratch system

// DIR/etc: a copy of /etc as namespace `ns` sees it (its /etc/netns/NS files in
// place of the host's), without ld.so.preload or a socksify configuration.
class SystemTree {
 public:
  explicit SystemTree(const std::string& ns) {
    etc_ = dir_.path() + "/etc";
    RunResult r = run({"/bin/cp", "-a", "/etc", etc_}, {}, 60s);
    ok_ = r.exit_code == 0;
    if (!ok_) {
      error_ = "cp -a /etc failed: " + r.describe();
      return;
    }
    std::error_code ec;
    fs::remove(etc_ + "/ld.so.preload", ec);
    fs::remove_all(etc_ + "/socksify", ec);
    if (!ns.empty()) {
      for (const auto& e : fs::directory_iterator("/etc/netns/" + ns, ec)) {
        fs::copy_file(e.path(), etc_ + "/" + e.path().filename().string(), fs::copy_options::overwrite_existing, ec);
      }
    }
    if (const std::string pre = preloadPrefix(); !pre.empty()) dir_.write("etc/ld.so.preload", pre);
  }

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  std::string root() const { return dir_.path(); }
  std::string preloadFile() const { return etc_ + "/ld.so.preload"; }
  std::string confFile() const { return etc_ + "/socksify/socks.conf"; }
  std::string write(const std::string& name, const std::string& content) const { return dir_.write(name, content); }

  // PROGRAM... in a private mount namespace with this tree's etc/ over /etc.
  Argv wrap(const Argv& argv) const {
    Argv w = {findTool("unshare"), "-m", "--propagation", "private", "/bin/sh", "-c",
              "mount --bind \"$0\" /etc && exec \"$@\"", etc_};
    w.insert(w.end(), argv.begin(), argv.end());
    return w;
  }

  // system-install.sh --root DIR --lib LIB [--config FILE]; the config content
  // (when given) is written to a file first.
  RunResult install(const std::string& config = "", const Argv& extra = {}) const {
    Argv args = {"--root", root(), "--lib", libPath()};
    if (!config.empty()) args.insert(args.end(), {"--config", dir_.write("socks.conf.src", config)});
    args.insert(args.end(), extra.begin(), extra.end());
    return runScript("system-install.sh", args);
  }
  RunResult uninstall(const Argv& extra = {}) const {
    Argv args = {"--root", root()};
    args.insert(args.end(), extra.begin(), extra.end());
    return runScript("system-uninstall.sh", args);
  }

 private:
  TempDir dir_;
  std::string etc_;
  bool ok_ = false;
  std::string error_;
};

// Empty when `unshare -m` plus a bind mount work here; else why not.
std::string mountNamespaceUnavailable() {
  if (findTool("unshare").empty()) return "unshare (util-linux) is not installed";
  TempDir a, b;
  a.write("probe", "");
  RunResult r = run({findTool("unshare"), "-m", "--propagation", "private", "/bin/sh", "-c",
                     "mount --bind \"$0\" \"$1\" && test -e \"$1/probe\"", a.path(), b.path()},
                    {}, 20s);
  return r.exit_code == 0 ? "" : "cannot bind-mount in a private mount namespace: " + r.describe();
}

const char* kPyEcho = R"(
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(b"hello\n")
data = b""
while not data.endswith(b"hello\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
)";

const char* kProbeMaps = "grep -q libsocksify /proc/self/maps && echo preloaded || echo clean";

// ---------------------------------------------------------------- the scripts alone

class SystemInstallScript : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!isRoot()) GTEST_SKIP() << "the install scripts run as root (the library must be root-owned)";
    ASSERT_TRUE(exists(script("system-install.sh")));
    ASSERT_TRUE(exists(script("system-uninstall.sh")));
    fs::create_directories(root_.path() + "/etc");
    if (const std::string pre = preloadPrefix(); !pre.empty()) root_.write("etc/ld.so.preload", pre);
  }
  RunResult install(const Argv& extra = {}) {
    Argv args = {"--root", root_.path(), "--lib", libPath()};
    args.insert(args.end(), extra.begin(), extra.end());
    return runScript("system-install.sh", args);
  }
  RunResult uninstall(const Argv& extra = {}) {
    Argv args = {"--root", root_.path()};
    args.insert(args.end(), extra.begin(), extra.end());
    return runScript("system-uninstall.sh", args);
  }
  std::string preload() const { return root_.path() + "/etc/ld.so.preload"; }
  std::string conf() const { return root_.path() + "/etc/socksify/socks.conf"; }
  TempDir root_;
};

TEST_F(SystemInstallScript, HelpAndUsageErrors) {
  for (const char* s : {"system-install.sh", "system-uninstall.sh"}) {
    RunResult h = runScript(s, {"--help"});
    EXPECT_EQ(h.exit_code, 0) << h.describe();
    EXPECT_TRUE(contains(h.out, "Usage:")) << h.describe();
    RunResult bad = runScript(s, {"--no-such-option"});
    EXPECT_EQ(bad.exit_code, 2) << bad.describe();
    EXPECT_FALSE(bad.err.empty()) << bad.describe();
  }
}

TEST_F(SystemInstallScript, AddsOnceKeepsOtherEntriesAndRemovesExactlyOurs) {
  // Entries that exist nowhere make ld.so complain in every program, with or
  // without us: the script compares against that, it does not choke on it.
  const std::string others = preloadPrefix() + "/nonexistent/libfirst.so\n\n/nonexistent/libsecond.so /nonexistent/libthird.so\n";
  root_.write("etc/ld.so.preload", others);
  RunResult r = install();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(slurp(preload()), others + libPath() + "\n");
  EXPECT_EQ(modeOf(preload()), 0644u);
  EXPECT_EQ(slurp(preload() + ".socksify-bak"), others) << "the previous file is kept as a backup";
  EXPECT_FALSE(exists(conf())) << "no --config: no configuration is created";

  // Idempotent: a second run changes nothing.
  r = install();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(slurp(preload()), others + libPath() + "\n");

  // Another copy of the library (an older install elsewhere) is replaced in place.
  root_.write("etc/ld.so.preload", preloadPrefix() + "/opt/old/libsocksify.so /nonexistent/libafter.so\n");
  r = install();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(slurp(preload()), preloadPrefix() + libPath() + " /nonexistent/libafter.so\n");

  root_.write("etc/ld.so.preload", others + libPath() + "\n");
  r = uninstall();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(slurp(preload()), others);
  EXPECT_EQ(modeOf(preload()), 0644u);
  r = uninstall();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(slurp(preload()), others);
}

TEST_F(SystemInstallScript, CreatesTheFileAndUninstallDeletesItWhenEmpty) {
  std::error_code ec;
  fs::remove(preload(), ec);
  if (!asanRuntimeEntry().empty()) {
    GTEST_SKIP() << "ASan pass: the ASan-built library cannot be preloaded without the sanitizer runtime ahead of "
                    "it, so a preload file that names only our library cannot be proven harmless";
  }
  RunResult r = install();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(slurp(preload()), libPath() + "\n");
  EXPECT_EQ(modeOf(preload()), 0644u);
  r = uninstall();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_FALSE(exists(preload())) << "a preload file with no entry left is removed";
}

TEST_F(SystemInstallScript, RefusesALibraryThatIsNotSafe) {
  const std::string before = slurp(preload());
  TempDir d;
  // Not a shared object at all.
  std::string garbage = d.write("libsocksify.so", "this is not a library\n");
  RunResult r = runScript("system-install.sh", {"--root", root_.path(), "--lib", garbage});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  // Looks like an ELF file but cannot be loaded.
  d.write("libsocksify.so", std::string("\x7f" "ELF", 4) + std::string(200, '\0'));
  r = runScript("system-install.sh", {"--root", root_.path(), "--lib", garbage});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  // The real library, but anyone could replace it.
  TempDir open;
  std::string copy = open.path() + "/libsocksify.so";
  fs::copy_file(libPath(), copy);
  chmod(copy.c_str(), 0755);
  chmod(open.path().c_str(), 0777);
  r = runScript("system-install.sh", {"--root", root_.path(), "--lib", copy});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "writable")) << r.describe();
  chmod(open.path().c_str(), 0755);
  ASSERT_EQ(chown(copy.c_str(), 65534, 65534), 0);
  r = runScript("system-install.sh", {"--root", root_.path(), "--lib", copy});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "owned by root")) << r.describe();
  EXPECT_EQ(slurp(preload()), before) << "a refused install leaves ld.so.preload alone";
}

TEST_F(SystemInstallScript, InstallsTheConfigurationWithTheRightMode) {
  TempDir d;
  const std::string plain = "proxy lab = socks5://192.0.2.2:1080\nroute 198.51.100.0/24 -> lab\n";
  RunResult r = install({"--config", d.write("plain.conf", plain)});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(slurp(conf()), plain);
  EXPECT_EQ(modeOf(conf()), 0644u);

  // Without --config an existing configuration is left as it is.
  r = install();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(slurp(conf()), plain);

  const std::string secret = "proxy lab = socks5://alice:s3cret@192.0.2.2:1080  # a password\n";
  r = install({"--config", d.write("secret.conf", secret)});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(slurp(conf()), secret);
  EXPECT_EQ(modeOf(conf()), 0600u);
  EXPECT_TRUE(contains(r.err, "password")) << "a warning names the reason for 0600\n" << r.describe();
  EXPECT_FALSE(contains(r.out + r.err, "s3cret")) << "no message shows the password\n" << r.describe();

  r = uninstall();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(exists(conf())) << "uninstall keeps the configuration without --purge";
  r = uninstall({"--purge"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_FALSE(exists(conf()));
}

// Needs the configuration check (launcher -c/--explain, or the library reading
// SOCKSIFY_CONF and logging the error).
TEST_F(SystemInstallScript, RefusesAnInvalidConfiguration) {
  TempDir d;
  const std::string before = slurp(preload());
  RunResult r = install({"--config", d.write("bad.conf", "proxy lab = socks9://192.0.2.2:1080\nroute * -> lba\n")});
  EXPECT_EQ(r.exit_code, 1) << "an invalid configuration would make every program log an error\n" << r.describe();
  EXPECT_EQ(slurp(preload()), before) << "nothing is preloaded";
  EXPECT_FALSE(exists(conf())) << "nothing is installed";
}

// ---------------------------------------------------------------- programs under the system-wide preload

class SystemWide : public LabTest {
 protected:
  void SetUp() override {
    static const std::string reason = NetLab::unavailableReason().empty() ? mountNamespaceUnavailable()
                                                                          : NetLab::unavailableReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
    buildLab(1);
  }

  std::unique_ptr<SystemTree> tree(const std::string& ns, const std::string& config = "") {
    auto t = std::make_unique<SystemTree>(ns);
    EXPECT_TRUE(t->ok()) << t->error();
    RunResult r = t->install(config);
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(slurp(t->preloadFile()), libPath())) << slurp(t->preloadFile());
    return t;
  }

  RunResult sys(const SystemTree& t, const std::string& ns, const Argv& argv, const Env& env = {},
                std::chrono::milliseconds timeout = 40s) {
    SpawnOptions so;
    so.netns = ns;
    so.env = env;
    return run(t.wrap(argv), so, timeout);
  }

  std::unique_ptr<Process> sysStart(const SystemTree& t, const std::string& ns, const Argv& argv) {
    SpawnOptions so;
    so.netns = ns;
    return std::make_unique<Process>(t.wrap(argv), so);
  }

  // ls, sh -c and python3 -c behave exactly as without the library.
  void expectOrdinaryProgramsRun(const SystemTree& t) {
    RunResult r = sys(t, lab_->clientNs(), {"/bin/sh", "-c", kProbeMaps});
    EXPECT_EQ(r.out, "preloaded\n") << "the library is not in the programs' address space\n" << r.describe();
    r = sys(t, lab_->clientNs(), {"ls", "-d", "/etc", "/usr"});
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.out, "/etc\n/usr\n") << r.describe();
    EXPECT_EQ(r.err, "") << r.describe();
    r = sys(t, lab_->clientNs(), {"/bin/sh", "-c", "echo hello; exit 3"});
    EXPECT_EQ(r.exit_code, 3) << r.describe();
    EXPECT_EQ(r.out, "hello\n") << r.describe();
    EXPECT_EQ(r.err, "") << r.describe();
    if (const std::string py = python3Path(); !py.empty()) {
      r = sys(t, lab_->clientNs(), {py, "-c", "import socket, urllib.parse; print(6 * 7)"});
      EXPECT_EQ(r.exit_code, 0) << r.describe();
      EXPECT_EQ(r.out, "42\n") << r.describe();
      EXPECT_EQ(r.err, "") << r.describe();
    }
  }

  std::string labConf(const std::string& extra = "") const {
    return "proxy lab = socks5://" + lab_->proxyAddr(0) + ":1080\n"
           "route " + lab_->proxyAddr(0) + ":7 -> direct\n"
           "route 198.51.100.0/24 -> lab\n" + extra;
  }
};

TEST_F(SystemWide, OrdinaryProgramsRunNormallyInertAndConfigured) {
  auto inert = tree(lab_->clientNs());
  ASSERT_FALSE(HasFailure());
  {
    SCOPED_TRACE("no configuration: the library is inert");
    expectOrdinaryProgramsRun(*inert);
  }
  auto configured = tree(lab_->clientNs(), labConf());
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(slurp(configured->confFile()), labConf());
  {
    SCOPED_TRACE("with /etc/socksify/socks.conf");
    expectOrdinaryProgramsRun(*configured);
  }
}

TEST_F(SystemWide, EtcConfigurationRoutesProgramsThroughTheProxy) {
  const std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  // A second destination next to the proxy, which the client can reach itself.
  DestServer near = startTcpServer(lab_->proxyNs(0), {"--echo", lab_->proxyAddr(0) + ":7"});
  ASSERT_EQ(near.ports.size(), 1u);
  auto t = tree(lab_->clientNs(), labConf());
  ASSERT_FALSE(HasFailure());
  const std::string py = python3Path();
  ASSERT_FALSE(py.empty());

  RunResult r = sys(*t, lab_->clientNs(), {py, "-c", kPyEcho, lab_->destAddr(), "7"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out.rfind(peerViaProxy(), 0), 0u) << r.describe();
  EXPECT_TRUE(contains(r.out, "\nhello\n")) << r.describe();
  EXPECT_EQ(shimLines(r.err), "") << r.describe();

  if (const std::string curl = findTool("curl"); !curl.empty()) {
    r = sys(*t, lab_->clientNs(), {curl, "-sS", "--max-time", "20", "http://" + lab_->destAddr() + "/"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.out.rfind(peerViaProxy(), 0), 0u) << r.describe();
  }
  expectDestSawOnlyProxy();

  // `route PROXYADDR:7 -> direct`: the near server sees the client itself.
  r = sys(*t, lab_->clientNs(), {py, "-c", kPyEcho, lab_->proxyAddr(0), "7"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out.rfind("peer " + lab_->clientAddr() + ":", 0), 0u) << "expected a direct connection\n" << r.describe();
}

TEST_F(SystemWide, ExcludedProgramGoesDirect) {
  const std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  auto t = tree(lab_->clientNs(), labConf("exclude python3\n"));
  ASSERT_FALSE(HasFailure());
  const std::string py = python3Path();
  ASSERT_FALSE(py.empty());
  // Not excluded: through the proxy (the configuration does apply here).
  RunResult r = sys(*t, lab_->clientNs(), {helper("tcp_client"), lab_->destAddr(), "7"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out.rfind(peerViaProxy(), 0), 0u) << r.describe();
  // python3 is excluded: it connects directly, and the client has no route there.
  const size_t seen = countOccurrences(dest_.proc->out(), "tcp_server: accepted from ");
  r = sys(*t, lab_->clientNs(), {py, "-c", kPyEcho, lab_->destAddr(), "7"});
  EXPECT_NE(r.exit_code, 0) << "python3 reached the destination: it was socksified\n" << r.describe();
  EXPECT_TRUE(contains(r.err, "Network is unreachable")) << r.describe();
  EXPECT_EQ(countOccurrences(dest_.proc->out(), "tcp_server: accepted from "), seen) << dest_.proc->out();
}

TEST_F(SystemWide, SocksdUnderThePreloadIsExempt) {
  // In the proxy namespace the configuration sends everything to a proxy that
  // refuses connections: a socksified socksd could never reach the destination.
  auto t = tree(lab_->proxyNs(0), "proxy dead = socks5://127.0.0.1:9\nroute * -> dead\n");
  ASSERT_FALSE(HasFailure());
  auto socksd = sysStart(*t, lab_->proxyNs(0),
                         {socksdPath(), "--listen", lab_->proxyAddr(0) + ":1080", "--external", lab_->proxyExternal(0), "-v"});
  ASSERT_TRUE(socksd->waitForLine("socksd: listening on", 10s)) << socksd->out() << socksd->err();
  EXPECT_TRUE(contains(slurp("/proc/" + std::to_string(socksd->pid()) + "/maps"), "libsocksify"))
      << "socksd should run with the library preloaded (and inert)";

  RunResult r = runSocksified({helper("tcp_client"), lab_->destAddr(), "7"}, client({"socks5://" + lab_->proxyAddr(0) + ":1080"}));
  ASSERT_EQ(r.exit_code, 0) << r.describe() << "\nsocksd stderr:\n" << socksd->err();
  EXPECT_EQ(r.out.rfind(peerViaProxy(), 0), 0u) << r.describe();
  EXPECT_EQ(shimLines(socksd->err()), "") << "the library spoke inside socksd";
  expectDestSawOnlyProxy();

  // The same configuration does apply to an ordinary program there.
  r = sys(*t, lab_->proxyNs(0), {helper("tcp_client"), lab_->destAddr(), "7"});
  EXPECT_NE(r.exit_code, 0) << "an ordinary program in the proxy namespace should have gone to the dead proxy\n"
                            << r.describe();
}

TEST_F(SystemWide, DantedUnderThePreloadDoesNotRecurse) {
  const std::string danted = findTool("danted");
  if (danted.empty()) GTEST_SKIP() << "danted (dante-server) is not installed";
  // Every destination through this very danted, and no exclude line: the
  // library must see that the process listens on the proxy's port, and go direct.
  const std::string self = lab_->proxyAddr(0) + ":1080";
  auto t = tree(lab_->proxyNs(0), "proxy self = socks5://" + self + "\nroute * -> self\n");
  ASSERT_FALSE(HasFailure());
  const std::string conf = t->write("danted.conf",
                                    "logoutput: stderr\n"
                                    "internal: " + lab_->proxyAddr(0) + " port = 1080\n"
                                    "external: " + lab_->proxyExternal(0) + "\n"
                                    "clientmethod: none\nsocksmethod: none\n"
                                    "user.privileged: root\nuser.unprivileged: nobody\n"
                                    "client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }\n"
                                    "socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }\n");
  auto d = sysStart(*t, lab_->proxyNs(0), {danted, "-f", conf, "-N", "1", "-p", t->root() + "/danted.pid"});
  ASSERT_TRUE(waitTcpReady(lab_->proxyNs(0), lab_->proxyAddr(0), 1080, 10s)) << d->err();
  EXPECT_TRUE(contains(slurp("/proc/" + std::to_string(d->pid()) + "/maps"), "libsocksify"))
      << "danted should run with the library preloaded";

  RunResult r = runSocksified({helper("tcp_client"), lab_->destAddr(), "7"}, client({"socks5://" + self}));
  ASSERT_EQ(r.exit_code, 0) << r.describe() << "\ndanted stderr:\n" << d->err();
  EXPECT_EQ(r.out.rfind(peerViaProxy(), 0), 0u) << r.describe();
  EXPECT_TRUE(contains(r.out, "\nhello\n")) << r.describe();
  expectDestSawOnlyProxy();
  EXPECT_EQ(shimLines(d->err()), "") << "the library spoke inside danted";

  // The configuration is live there: an ordinary program goes through danted
  // (so danted itself would have connected to itself, without the guard).
  r = sys(*t, lab_->proxyNs(0), {helper("tcp_client"), lab_->destAddr(), "7"}, {"SOCKSIFY_LOG=info"});
  ASSERT_EQ(r.exit_code, 0) << r.describe() << "\ndanted stderr:\n" << d->err();
  EXPECT_TRUE(contains(r.err, "via self")) << "expected the library to route this program through danted\n"
                                           << r.describe();
}

TEST_F(SystemWide, SecureExecutionIgnoresTheEnvironment) {
  if (findTool("setcap").empty() || findTool("setpriv").empty())
    GTEST_SKIP() << "setcap (libcap2-bin) or setpriv (util-linux) is not installed";
  const std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  // Two copies of the same client: one plain, one with a file capability
  // (exec'ed by an unprivileged user, it runs in secure-execution mode).
  TempDir bins;
  const std::string plain = bins.path() + "/tcp_client_plain";
  const std::string capped = bins.path() + "/tcp_client_capped";
  fs::copy_file(helper("tcp_client"), plain);
  fs::copy_file(helper("tcp_client"), capped);
  chmod(plain.c_str(), 0755);
  chmod(capped.c_str(), 0755);
  RunResult sc = run({findTool("setcap"), "cap_net_raw+ep", capped}, {}, 10s);
  if (sc.exit_code != 0) GTEST_SKIP() << "cannot set a file capability here: " << sc.describe();

  const Argv asNobody = {findTool("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
  auto cmd = [&](const std::string& bin) {
    Argv a = asNobody;
    a.insert(a.end(), {bin, lab_->destAddr(), "7"});
    return a;
  };
  const std::string envConf = bins.write("env.conf", "proxy lab = socks5://" + proxy + "\nroute * -> lab\n");
  const Env hostile = {"SOCKSIFY_PROXY=socks5://" + proxy, "SOCKSIFY_CONF=" + envConf, "SOCKSIFY_LOG=debug"};

  auto t = tree(lab_->clientNs());  // ld.so.preload, no /etc configuration
  ASSERT_FALSE(HasFailure());
  // The environment does apply to an ordinary program of the same user.
  RunResult r = sys(*t, lab_->clientNs(), cmd(plain), hostile);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out.rfind(peerViaProxy(), 0), 0u) << r.describe();
  // The secure program behaves exactly as without the environment: no route, no log.
  RunResult without = sys(*t, lab_->clientNs(), cmd(capped));
  RunResult with = sys(*t, lab_->clientNs(), cmd(capped), hostile);
  EXPECT_NE(without.exit_code, 0) << without.describe();
  EXPECT_EQ(with.exit_code, without.exit_code) << with.describe();
  EXPECT_EQ(with.out, without.out) << with.describe();
  EXPECT_EQ(with.err, without.err) << with.describe();
  EXPECT_EQ(shimLines(with.err), "") << with.describe();

  // Only /etc/socksify/socks.conf applies to it: through the lab proxy, while the
  // environment names a proxy that does not exist and a missing file.
  auto etc = tree(lab_->clientNs(), labConf());
  ASSERT_FALSE(HasFailure());
  const Env misleading = {"SOCKSIFY_PROXY=socks5://" + lab_->proxyAddr(0) + ":9", "SOCKSIFY_CONF=/nonexistent/socks.conf",
                          "SOCKSIFY_LOG=debug"};
  r = sys(*etc, lab_->clientNs(), cmd(capped), misleading);
  EXPECT_EQ(r.exit_code, 0) << "the secure program should follow /etc/socksify/socks.conf\n" << r.describe();
  EXPECT_EQ(r.out.rfind(peerViaProxy(), 0), 0u) << r.describe();
  EXPECT_EQ(shimLines(r.err), "") << r.describe();
}

TEST_F(SystemWide, UninstallRemovesTheLibrary) {
  auto t = tree(lab_->clientNs(), labConf());
  ASSERT_FALSE(HasFailure());
  RunResult r = sys(*t, lab_->clientNs(), {"/bin/sh", "-c", kProbeMaps});
  EXPECT_EQ(r.out, "preloaded\n") << r.describe();
  r = t->uninstall();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  if (preloadPrefix().empty()) {
    EXPECT_FALSE(exists(t->preloadFile())) << slurp(t->preloadFile());
  } else {
    EXPECT_EQ(slurp(t->preloadFile()), preloadPrefix());
  }
  EXPECT_EQ(slurp(t->confFile()), labConf()) << "the configuration stays without --purge";
  r = sys(*t, lab_->clientNs(), {"/bin/sh", "-c", kProbeMaps});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "clean\n") << r.describe();
  EXPECT_EQ(r.err, "") << r.describe();
  if (const std::string py = python3Path(); !py.empty()) {
    r = sys(*t, lab_->clientNs(), {py, "-c", "print(open('/proc/self/maps').read().count('libsocksify'))"});
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.out, "0\n") << r.describe();
  }
}

}  // namespace
}  // namespace sfy::it
