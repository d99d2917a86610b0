// SOCKS BIND (incoming TCP) in network namespaces: the active-FTP dance of
// bind_client against tcp_server --portback, a raw BIND through each server, real
// active FTP (curl against pyftpdlib), socksd's peer check and time limit, the
// cancellation by close, and listeners that must stay local.
//
// In the lab the destination cannot reach the client at all: a connection from the
// destination that arrives at the program can only have come through the proxy.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "lab_fixture.h"

namespace sfy::it {
namespace {

using namespace std::chrono_literals;

constexpr int kPortbackPort = 2021;  // tcp_server --portback in the destination namespace
constexpr int kFtpPort = 21;         // pyftpdlib in the destination namespace

// bind_client prints "[N] key value" lines; the value of the first such line, or "".
std::string field(const std::string& out, int round, const std::string& key) {
  const std::string prefix = "[" + std::to_string(round) + "] " + key + " ";
  for (const auto& l : lines(out))
    if (l.rfind(prefix, 0) == 0) return l.substr(prefix.size());
  return "";
}

// "198.51.100.1:40000" -> "198.51.100.1"; "[2001:db8::1]:40000" -> "2001:db8::1".
std::string hostOf(const std::string& hp) {
  auto colon = hp.rfind(':');
  std::string h = colon == std::string::npos ? hp : hp.substr(0, colon);
  if (!h.empty() && h.front() == '[') h = h.substr(1, h.size() - 2);
  return h;
}

int portOf(const std::string& hp) {
  auto colon = hp.rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(hp.c_str() + colon + 1);
}

struct Combo {
  ProxyKind kind;
  std::string scheme;
};

void PrintTo(const Combo& c, std::ostream* os) { *os << kindName(c.kind) << " " << c.scheme; }

// The servers that implement BIND (microsocks does not), with every scheme they speak.
std::vector<Combo> bindCombos() {
  std::vector<Combo> v;
  for (ProxyKind k : {ProxyKind::kSocksd, ProxyKind::kDanted})
    for (const char* s : {"socks4", "socks4a", "socks5", "socks5h"})
      if (speaks(k, s)) v.push_back({k, s});
  return v;
}

std::string comboName(const ::testing::TestParamInfo<Combo>& info) {
  return std::string(kindName(info.param.kind)) + "_" + info.param.scheme;
}

// A raw SOCKS client (no shim): CONNECT a control connection to HOST PORT, BIND for
// the same destination, publish the first reply's address with "PORT", then read the
// second reply and exchange a line over the incoming connection.
const char* kPyRawBind = R"(
import socket, struct, sys
phost, pport, ver, host, port = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("the proxy closed after %d of %d bytes" % (len(b), n))
        b += c
    return b
def line(s):
    b = b""
    while not b.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            break
        b += c
    return b.decode().rstrip("\n")
def reply(s):
    if ver in ("4", "4a"):
        r = recvn(s, 8)
        return r[1], "%s:%d" % (socket.inet_ntoa(r[4:8]), struct.unpack("!H", r[2:4])[0])
    h = recvn(s, 4)
    if h[3] == 1:
        a = socket.inet_ntop(socket.AF_INET, recvn(s, 4))
    elif h[3] == 4:
        a = "[%s]" % socket.inet_ntop(socket.AF_INET6, recvn(s, 16))
    else:
        a = recvn(s, recvn(s, 1)[0]).decode()
    return h[1], "%s:%d" % (a, struct.unpack("!H", recvn(s, 2))[0])
def request(cmd):
    s = socket.create_connection((phost, pport), timeout=20)
    if ver == "4":
        s.sendall(struct.pack("!BBH", 4, cmd, port) + socket.inet_aton(host) + b"\0")
    elif ver == "4a":
        s.sendall(struct.pack("!BBH", 4, cmd, port) + bytes([0, 0, 0, 1]) + b"\0" + host.encode() + b"\0")
    else:
        s.sendall(b"\x05\x01\x00")
        if recvn(s, 2) != b"\x05\x00":
            raise RuntimeError("no acceptable method")
        try:
            a = b"\x01" + socket.inet_aton(host)
        except OSError:
            a = b"\x03" + bytes([len(host)]) + host.encode()
        s.sendall(b"\x05" + bytes([cmd]) + b"\x00" + a + struct.pack("!H", port))
    return s
ctl = request(1)
print("connect-reply %d %s" % reply(ctl), flush=True)
print("greeting", line(ctl), flush=True)
b = request(2)
code, bnd = reply(b)
print("first-reply %d %s" % (code, bnd), flush=True)
if bnd.startswith("0.0.0.0:"):
    bnd = phost + bnd[7:]
ctl.sendall(("PORT %s\n" % bnd).encode())
print("second-reply %d %s" % reply(b), flush=True)
print("data", line(b), flush=True)
b.sendall(b"raw-ping\n")
print("echo", line(b), flush=True)
b.close()
for _ in range(2):
    print("server", line(ctl), flush=True)
)";

// Makes one proxied connection (to the destination's echo service), then serves on
// ADDR PORT: prints "listening A:P" (getsockname), accepts one connection (20 s limit),
// sends "local-peer A:P", echoes until EOF.
const char* kPyLocalServer = R"(
import socket, sys
host, port, addr, lport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
if host != "-":
    c = socket.create_connection((host, port), timeout=20)
    print("proxied", c.recv(4096).decode().strip(), flush=True)
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((addr, lport))
l.listen(4)
print("listening %s:%d" % l.getsockname()[:2], flush=True)
l.settimeout(20)
s, peer = l.accept()
s.settimeout(20)
print("accepted %s:%d" % peer[:2], flush=True)
s.sendall(("local-peer %s:%d\n" % peer[:2]).encode())
while True:
    d = s.recv(4096)
    if not d:
        break
    s.sendall(d)
)";

class BindLab : public LabTest {
 protected:
  void SetUp() override {
    buildLab(1);
    if (IsSkipped() || HasFatalFailure()) return;
    Argv l = {"--portback", "0.0.0.0:" + std::to_string(kPortbackPort)};
    if (lab_->hasIpv6()) l.insert(l.end(), {"--portback", "[::]:" + std::to_string(kPortbackPort)});
    portback_ = startTcpServer(lab_->destNs(), l);
    ASSERT_EQ(portback_.ports.size(), lab_->hasIpv6() ? 2u : 1u);
  }

  // bind_client HOST 2021 ARGS... under socksify -x URL.
  RunResult bindClient(const std::string& proxyUrl, const std::string& host, const Argv& args, Env env = {},
                       bool verbose = false) {
    ClientOptions o = client({proxyUrl});
    o.env = std::move(env);
    o.verbose = verbose;
    Argv argv = {helper("bind_client"), host, std::to_string(kPortbackPort)};
    argv.insert(argv.end(), args.begin(), args.end());
    return runSocksified(argv, o);
  }

  // The checks of one successful round of the dance through the proxy `proxyExt`
  // (the address the proxy uses toward the destination, where it listens for BIND).
  void expectRound(const RunResult& r, int round, const std::string& what, const std::string& proxyExt,
                   const std::string& destAddr, const std::string& flags) {
    SCOPED_TRACE(what + " round " + std::to_string(round));
    const std::string bnd = field(r.out, round, "listening-at");
    // The address to publish is on the proxy, not in the client's namespace.
    EXPECT_EQ(hostOf(bnd), proxyExt) << r.describe();
    EXPECT_NE(portOf(bnd), 0) << r.describe();
    // The destination connected back to that address, and from its own address.
    const std::string connected = field(r.out, round, "server connected");
    EXPECT_EQ(connected.rfind(bnd + " from ", 0), 0u) << "the destination did not connect to the published address\n"
                                                       << r.describe();
    const std::string from = connected.substr(connected.find(" from ") == std::string::npos ? connected.size()
                                                                                            : connected.find(" from ") + 6);
    EXPECT_EQ(hostOf(from), destAddr) << r.describe();
    EXPECT_TRUE(contains(portback_.proc->out(), "tcp_server: connect-back to " + bnd + " from " + from))
        << portback_.proc->out();
    // accept's address and getpeername are the remote peer; getsockname the BND address.
    EXPECT_EQ(field(r.out, round, "accepted-from"), from) << r.describe();
    EXPECT_EQ(field(r.out, round, "accepted-peer"), from) << r.describe();
    EXPECT_EQ(field(r.out, round, "accepted-local"), bnd) << r.describe();
    EXPECT_EQ(field(r.out, round, "accepted-flags"), flags) << r.describe();
    // The data went both ways.
    EXPECT_EQ(field(r.out, round, "data"), "dest-data from " + from) << r.describe();
    EXPECT_EQ(field(r.out, round, "echo"), "ping-through-bind") << r.describe();
    EXPECT_EQ(field(r.out, round, "server data-done"), "echoed=18") << r.describe();
  }

  DestServer portback_;
};

// ---------------------------------------------------------------- the dance, every server and scheme

class BindDanceTest : public BindLab, public ::testing::WithParamInterface<Combo> {
 protected:
  std::string startBindProxy() {
    if (kindTool(GetParam().kind).empty()) return "";
    std::string hp = startProxy(GetParam().kind);
    return GetParam().scheme + "://" + hp;
  }
};

// Every accept mode, with the listener bound to the control connection's local address
// (curl -P -), left unbound, and bound to the wildcard: the BND address is the proxy's,
// the destination's connection arrives, accept reports the destination.
TEST_P(BindDanceTest, EveryAcceptModeCarriesTheIncomingConnection) {
  const Combo& c = GetParam();
  if (kindTool(c.kind).empty()) GTEST_SKIP() << kindName(c.kind) << " is not installed";
  std::string url = startBindProxy();
  ASSERT_FALSE(HasFailure());
  const std::string host = targetFor(c.scheme);
  struct Mode {
    const char* accept;
    const char* flags;
  };
  // accept() never inherits O_NONBLOCK from the listener on Linux; accept4 sets both.
  for (Mode m : {Mode{"blocking", "nonblock=0 cloexec=0"}, Mode{"poll", "nonblock=0 cloexec=0"},
                 Mode{"epoll", "nonblock=0 cloexec=0"}, Mode{"accept4", "nonblock=1 cloexec=1"}}) {
    for (const char* listen : {"local", "none", "any"}) {
      if (std::string(listen) == "any" && std::string(m.accept) != "epoll") continue;
      const std::string what = std::string(m.accept) + " --listen " + listen;
      RunResult r = bindClient(url, host, {"--accept", m.accept, "--listen", listen});
      EXPECT_EQ(r.exit_code, 0) << what << "\n" << r.describe();
      if (r.exit_code != 0) continue;
      expectRound(r, 1, what, lab_->proxyExternal(0), lab_->destAddr(), m.flags);
    }
  }
  if (remoteNames(c.scheme)) expectNoDnsLeak();
}

// One BIND carries one connection: a second accept on the same listener gets a new
// BIND, which a second getsockname shows (a new port).
TEST_P(BindDanceTest, SecondAcceptOnTheSameListenerIsANewBind) {
  const Combo& c = GetParam();
  if (kindTool(c.kind).empty()) GTEST_SKIP() << kindName(c.kind) << " is not installed";
  std::string url = startBindProxy();
  ASSERT_FALSE(HasFailure());
  for (const char* mode : {"blocking", "epoll"}) {
    RunResult r = bindClient(url, targetFor(c.scheme), {"--accept", mode, "--twice"});
    ASSERT_EQ(r.exit_code, 0) << mode << "\n" << r.describe();
    expectRound(r, 1, mode, lab_->proxyExternal(0), lab_->destAddr(), "nonblock=0 cloexec=0");
    expectRound(r, 2, mode, lab_->proxyExternal(0), lab_->destAddr(), "nonblock=0 cloexec=0");
    EXPECT_NE(field(r.out, 1, "listening-at"), field(r.out, 2, "listening-at"))
        << "the second BIND has the first one's port\n" << r.describe();
    EXPECT_TRUE(contains(r.out, "[2] done")) << r.describe();
  }
}

// socksify -v: one line per BIND ("bind ... listening at BND") and per accepted connection.
TEST_P(BindDanceTest, VerboseLogsTheBindAndTheAcceptedConnection) {
  const Combo& c = GetParam();
  if (kindTool(c.kind).empty()) GTEST_SKIP() << kindName(c.kind) << " is not installed";
  std::string url = startBindProxy();
  ASSERT_FALSE(HasFailure());
  RunResult r = bindClient(url, targetFor(c.scheme), {"--accept", "blocking"}, {}, true);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  const std::string bnd = field(r.out, 1, "listening-at");
  const std::string from = field(r.out, 1, "accepted-from");
  size_t bindLines = 0, acceptLines = 0;
  for (const auto& l : lines(r.err)) {
    if (contains(l, "bind") && contains(l, "listening at " + bnd)) ++bindLines;
    if (contains(l, from) && !contains(l, "listening at")) ++acceptLines;
  }
  EXPECT_EQ(bindLines, 1u) << "expected one 'bind ... listening at " << bnd << "' line\n" << r.describe();
  EXPECT_GE(acceptLines, 1u) << "expected a line for the connection accepted from " << from << "\n" << r.describe();
}

INSTANTIATE_TEST_SUITE_P(Bind, BindDanceTest, ::testing::ValuesIn(bindCombos()), comboName);

// ---------------------------------------------------------------- the servers alone (no shim)

class BindServerTest : public BindLab, public ::testing::WithParamInterface<Combo> {};

// A raw BIND through the server, no shim involved: which side fails when the dance
// fails. First reply = the proxy's external address and a port; second reply = success
// with the destination's address; the data flows.
TEST_P(BindServerTest, RawBindWithoutTheShim) {
  const Combo& c = GetParam();
  if (kindTool(c.kind).empty()) GTEST_SKIP() << kindName(c.kind) << " is not installed";
  std::string hp = startProxy(c.kind);
  ASSERT_FALSE(HasFailure());
  // A raw client resolves nothing itself: names go to the proxy (4a, 5h), the IP otherwise.
  const std::string host = remoteNames(c.scheme) ? NetLab::kRemoteName : lab_->destAddr();
  const std::string ver = c.scheme == "socks4" ? "4" : c.scheme == "socks4a" ? "4a" : "5";
  SpawnOptions so;
  so.netns = lab_->clientNs();
  RunResult r = run({python3Path(), "-c", kPyRawBind, lab_->proxyAddr(0), "1080", ver, host,
                     std::to_string(kPortbackPort)},
                    so, 40s);
  ASSERT_EQ(r.exit_code, 0) << r.describe() << "\nproxy stderr:\n" << servers_.back().proc->err();
  const std::string ok = ver == "5" ? "0 " : "90 ";
  EXPECT_TRUE(contains(r.out, "first-reply " + ok + lab_->proxyExternal(0) + ":")) << r.describe();
  EXPECT_TRUE(contains(r.out, "second-reply " + ok + lab_->destAddr() + ":")) << r.describe();
  EXPECT_TRUE(contains(r.out, "data dest-data from " + lab_->destAddr() + ":")) << r.describe();
  EXPECT_TRUE(contains(r.out, "echo raw-ping\n")) << r.describe();
  EXPECT_TRUE(contains(r.out, "server data-done echoed=9")) << r.describe();
}

INSTANTIATE_TEST_SUITE_P(Bind, BindServerTest, ::testing::ValuesIn(bindCombos()), comboName);

// ---------------------------------------------------------------- real active FTP

class BindFtpLab : public BindLab {
 protected:
  void SetUp() override {
    BindLab::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    curl_ = findTool("curl");
    if (curl_.empty()) GTEST_SKIP() << "curl is not installed (or unusable under ASan)";
    SpawnOptions probe;
    if (run({python3Path(), "-c", "import pyftpdlib"}, probe, 20s).exit_code != 0)
      GTEST_SKIP() << "python3-pyftpdlib is not installed";
    // 200 KB of pseudo-random bytes (fixed seed), served anonymously, read-only.
    std::mt19937 gen(20240603);
    content_.resize(200 * 1024);
    for (auto& ch : content_) ch = static_cast<char>(gen() & 0xff);
    files_.write("file.bin", content_);
    SpawnOptions so;
    so.netns = lab_->destNs();
    ftp_ = std::make_unique<Process>(Argv{python3Path(), "-m", "pyftpdlib", "-i", lab_->destAddr(), "-p",
                                          std::to_string(kFtpPort), "-d", files_.path()},
                                     so);
    ASSERT_TRUE(waitTcpReady(lab_->destNs(), lab_->destAddr(), kFtpPort, 15s)) << "pyftpdlib did not start\n"
                                                                               << ftp_->err();
  }

  // curl -P - (active mode, data socket bound to the control connection's local
  // address, port 0) under socksify; returns the run and whether the bytes match.
  RunResult fetch(const std::vector<std::string>& proxies, const std::string& host, Env env, bool& same) {
    std::string out = scratch_.path() + "/out-" + std::to_string(++fetches_);
    ClientOptions o = client(proxies);
    o.env = std::move(env);
    o.verbose = true;  // socksify's lines interleave with curl's: the order tells what happened
    RunResult r = runSocksified({curl_, "-sS", "-v", "--max-time", "30", "-P", "-",
                                 "ftp://" + host + ":" + std::to_string(kFtpPort) + "/file.bin", "-o", out},
                                o);
    std::ifstream f(out, std::ios::binary);
    std::string got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    same = got == content_;
    return r;
  }

  std::string curl_, content_;
  TempDir files_, scratch_;
  std::unique_ptr<Process> ftp_;
  int fetches_ = 0;
};

class BindFtpTest : public BindFtpLab, public ::testing::WithParamInterface<Combo> {};

TEST_P(BindFtpTest, CurlActiveModeDownloadsTheFile) {
  const Combo& c = GetParam();
  if (kindTool(c.kind).empty()) GTEST_SKIP() << kindName(c.kind) << " is not installed";
  std::string hp = startProxy(c.kind);
  ASSERT_FALSE(HasFailure());
  bool same = false;
  RunResult r = fetch({c.scheme + "://" + hp}, targetFor(c.scheme), {}, same);
  EXPECT_EQ(r.exit_code, 0) << r.describe() << "\npyftpdlib:\n" << ftp_->err() << "\n" << kindName(c.kind) << ":\n"
                            << servers_.back().proc->out() << servers_.back().proc->err();
  EXPECT_TRUE(same) << "the downloaded bytes differ from the served file";
  // The data connection was active mode, to the proxy's address.
  std::string commas = lab_->proxyExternal(0);
  std::replace(commas.begin(), commas.end(), '.', ',');
  EXPECT_TRUE(contains(r.err, "EPRT |1|" + lab_->proxyExternal(0) + "|") || contains(r.err, "PORT " + commas + ","))
      << r.describe();
  if (remoteNames(c.scheme)) expectNoDnsLeak();
}

INSTANTIATE_TEST_SUITE_P(Bind, BindFtpTest, ::testing::ValuesIn(bindCombos()), comboName);

class BindFtpDirectTest : public BindFtpLab {};

// Without the proxy's BIND, active FTP cannot work here: the client cannot reach the
// server, the server cannot reach the client, and a proxied control connection alone
// (SOCKSIFY_BIND=off) publishes an address the server refuses or cannot reach.
TEST_F(BindFtpDirectTest, ActiveFtpNeedsTheBind) {
  SpawnOptions so;
  so.netns = lab_->clientNs();
  std::string out = scratch_.path() + "/direct";
  RunResult direct = run({curl_, "-sS", "--max-time", "10", "-P", "-",
                          "ftp://" + lab_->destAddr() + ":" + std::to_string(kFtpPort) + "/file.bin", "-o", out},
                         so, 30s);
  EXPECT_NE(direct.exit_code, 0) << direct.describe();
  SpawnOptions sd;
  sd.netns = lab_->destNs();
  RunResult back = run({helper("tcp_client"), lab_->clientAddr(), "21", "--timeout", "3"}, sd, 20s);
  EXPECT_EQ(back.exit_code, 1) << "the destination reached the client directly\n" << back.describe();
  EXPECT_TRUE(contains(back.err, "ENETUNREACH") || contains(back.err, "EHOSTUNREACH")) << back.describe();

  std::string hp = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  bool same = true;
  RunResult off = fetch({"socks5h://" + hp}, NetLab::kRemoteName, {"SOCKSIFY_BIND=off"}, same);
  EXPECT_NE(off.exit_code, 0) << off.describe();
  EXPECT_FALSE(same) << off.describe();
  // With BIND on, the same command works (the difference is the BIND).
  RunResult on = fetch({"socks5h://" + hp}, NetLab::kRemoteName, {}, same);
  EXPECT_EQ(on.exit_code, 0) << on.describe() << "\npyftpdlib:\n" << ftp_->err();
  EXPECT_TRUE(same) << on.describe();
}

// ---------------------------------------------------------------- socksd: peer check, time limit, refusal, close

class BindSocksdTest : public BindLab {
 protected:
  std::string startSocksdWith(const std::vector<std::string>& extra) {
    ProxyStart ps;
    ps.extra = extra;
    return startProxy(ProxyKind::kSocksd, 0, ps);
  }
};

// The connection arrives from another address than the BIND's DST.ADDR: socksd sends
// a failure second reply and closes both; the program's accept fails with ECONNABORTED.
TEST_F(BindSocksdTest, PeerOtherThanTheDestinationIsRefused) {
  const std::string other = "198.51.100.3";
  ASSERT_TRUE(lab_->addDestAddr(other)) << lab_->error();
  std::string hp = startSocksdWith({});
  ASSERT_FALSE(HasFailure());
  for (const char* scheme : {"socks4", "socks5", "socks5h"}) {
    for (const char* mode : {"blocking", "poll"}) {
      const std::string what = std::string(scheme) + " " + mode;
      RunResult r = bindClient(std::string(scheme) + "://" + hp, targetFor(scheme), {"--accept", mode, "--from", other});
      EXPECT_EQ(r.exit_code, 1) << what << "\n" << r.describe();
      EXPECT_TRUE(contains(r.err, "error: accept") && contains(r.err, "ECONNABORTED")) << what << "\n" << r.describe();
      EXPECT_LT(r.seconds, 8.0) << what << "\n" << r.describe();
      const std::string bnd = field(r.out, 1, "listening-at");
      EXPECT_EQ(hostOf(bnd), lab_->proxyExternal(0)) << what << "\n" << r.describe();
      // socksd closed the destination's connection without relaying anything.
      EXPECT_TRUE(portback_.proc->waitForLine("tcp_server: connect-back to " + bnd + " from " + other + ":", 5s))
          << what << "\n" << portback_.proc->out();
      bool closed = false;
      for (const auto& l : lines(portback_.proc->out()))
        if (contains(l, "data connection from " + other + ":") && contains(l, "closed: echoed=0") &&
            !contains(l, "silent for"))
          closed = true;
      if (!closed) {
        std::this_thread::sleep_for(3s);
        for (const auto& l : lines(portback_.proc->out()))
          if (contains(l, "data connection from " + other + ":") && contains(l, "closed: echoed=0") &&
              !contains(l, "silent for"))
            closed = true;
      }
      EXPECT_TRUE(closed) << what << ": socksd did not close the destination's connection\n" << portback_.proc->out();
    }
  }
  // The same from the destination's own address works (the address made the difference).
  RunResult good = bindClient("socks5h://" + hp, NetLab::kRemoteName, {"--from", lab_->destAddr()});
  EXPECT_EQ(good.exit_code, 0) << good.describe();
  EXPECT_EQ(hostOf(field(good.out, 1, "accepted-from")), lab_->destAddr()) << good.describe();
}

// socksd --bind-timeout 1, nobody connects back: accept fails with ECONNABORTED within
// a few seconds; a non-blocking listener first polls readable.
TEST_F(BindSocksdTest, TimeLimitEndsTheBind) {
  std::string hp = startSocksdWith({"--bind-timeout", "1"});
  ASSERT_FALSE(HasFailure());
  for (const char* scheme : {"socks4", "socks5h"}) {
    for (const char* mode : {"blocking", "poll", "epoll", "accept4"}) {
      const std::string what = std::string(scheme) + " " + mode;
      RunResult r = bindClient(std::string(scheme) + "://" + hp, targetFor(scheme),
                               {"--accept", mode, "--no-port", "--timeout", "15"});
      EXPECT_EQ(r.exit_code, 1) << what << "\n" << r.describe();
      EXPECT_TRUE(contains(r.err, "error: accept") && contains(r.err, "ECONNABORTED")) << what << "\n" << r.describe();
      EXPECT_FALSE(contains(r.err, "helper timeout")) << what << "\n" << r.describe();
      EXPECT_LT(r.seconds, 6.0) << what << "\n" << r.describe();
      EXPECT_EQ(hostOf(field(r.out, 1, "listening-at")), lab_->proxyExternal(0)) << what << "\n" << r.describe();
      if (std::string(mode) == "poll" || std::string(mode) == "epoll") {
        EXPECT_EQ(field(r.out, 1, "accept-first"), "EAGAIN") << what << "\n" << r.describe();
        EXPECT_FALSE(field(r.out, 1, "ready").empty()) << what << ": no readiness before the error\n" << r.describe();
      }
    }
  }
}

// socksd --no-bind refuses BIND: the program fails cleanly (an error, no hang).
TEST_F(BindSocksdTest, RefusedBindFailsCleanly) {
  std::string hp = startSocksdWith({"--no-bind"});
  ASSERT_FALSE(HasFailure());
  for (const char* scheme : {"socks4", "socks5h"}) {
    RunResult r = bindClient(std::string(scheme) + "://" + hp, targetFor(scheme), {"--timeout", "10"});
    EXPECT_EQ(r.exit_code, 1) << scheme << "\n" << r.describe();
    EXPECT_TRUE(contains(r.err, "error: ")) << scheme << "\n" << r.describe();
    EXPECT_FALSE(contains(r.err, "helper timeout")) << scheme << "\n" << r.describe();
    EXPECT_LT(r.seconds, 8.0) << scheme << "\n" << r.describe();
    EXPECT_EQ(countOccurrences(portback_.proc->out(), "data connection"), 0u) << portback_.proc->out();
  }
}

// close() of the listener cancels the outstanding BIND: socksd stops listening on the
// BND port while the program (and its control connection) lives on.
TEST_F(BindSocksdTest, CloseOfTheListenerCancelsTheBind) {
  if (findTool("ss").empty()) GTEST_SKIP() << "ss (iproute2) is not installed";
  std::string hp = startSocksdWith({});
  ASSERT_FALSE(HasFailure());
  auto listening = [&](int port) {
    SpawnOptions so;
    so.netns = lab_->proxyNs(0);
    RunResult r = run({findTool("ss"), "-Htln", "sport = :" + std::to_string(port)}, so, 10s);
    return !r.out.empty();
  };
  SpawnOptions so;
  so.netns = lab_->clientNs();
  Process p({launcherPath(), "-x", "socks5h://" + hp, "--", helper("bind_client"), NetLab::kRemoteName,
             std::to_string(kPortbackPort), "--close-listener", "3", "--linger", "30"},
            so);
  auto line = p.waitForLine("listening-at ", 15s);
  ASSERT_TRUE(line) << p.out() << p.err();
  const std::string bnd = line->substr(line->find("listening-at ") + 13);
  ASSERT_EQ(hostOf(bnd), lab_->proxyExternal(0)) << p.out() << p.err();
  EXPECT_TRUE(listening(portOf(bnd))) << "socksd is not listening on the BND port " << bnd;
  ASSERT_TRUE(p.waitForLine("listener-closed", 10s)) << p.out() << p.err();
  bool gone = false;
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
    if (!listening(portOf(bnd))) {
      gone = true;
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(gone) << "socksd still listens on " << bnd << " 5 s after the listener was closed\nsocksd:\n"
                    << servers_.back().proc->err();
  EXPECT_TRUE(p.running()) << "the program should still be running (--linger)\n" << p.out() << p.err();
  // A connection to the old BND address is refused.
  SpawnOptions sd;
  sd.netns = lab_->destNs();
  RunResult probe = run({helper("tcp_client"), hostOf(bnd), std::to_string(portOf(bnd)), "--timeout", "3"}, sd, 20s);
  EXPECT_EQ(probe.exit_code, 1) << probe.describe();
  EXPECT_TRUE(contains(probe.err, "ECONNREFUSED")) << probe.describe();
}

// IPv6 end to end: the proxy on IPv6, an IPv6 destination, EPRT-style publication.
TEST_F(BindSocksdTest, Ipv6Destination) {
  if (!lab_->hasIpv6()) GTEST_SKIP() << "IPv6 is not available in network namespaces here";
  std::string hp = startSocksdWith({});
  ASSERT_FALSE(HasFailure());
  const std::string url = "socks5://[" + lab_->proxyAddr6(0) + "]:1080";
  for (const char* mode : {"blocking", "epoll", "accept4"}) {
    RunResult r = bindClient(url, lab_->destAddr6(), {"--accept", mode});
    ASSERT_EQ(r.exit_code, 0) << mode << "\n" << r.describe();
    expectRound(r, 1, mode, lab_->proxyExternal6(0), lab_->destAddr6(),
                std::string(mode) == "accept4" ? "nonblock=1 cloexec=1" : "nonblock=0 cloexec=0");
  }
}

// ---------------------------------------------------------------- listeners that stay local

class BindLocalTest : public BindLab {
 protected:
  void SetUp() override {
    BindLab::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    proxy_ = "socks5h://" + startProxy(ProxyKind::kSocksd);
    ASSERT_FALSE(HasFailure());
  }

  // The python server under socksify (after a proxied connection when `proxied`),
  // listening on addr:port; a local client (no shim) connects to connectAddr.
  void expectServesLocally(const std::string& addr, int port, const std::string& connectAddr, Env env = {},
                           bool proxied = true) {
    SCOPED_TRACE(addr + ":" + std::to_string(port));
    SpawnOptions so;
    so.netns = lab_->clientNs();
    so.env = std::move(env);
    Process p({launcherPath(), "-x", proxy_, "--", python3Path(), "-c", kPyLocalServer,
               proxied ? NetLab::kRemoteName : "-", std::to_string(kEchoPort), addr, std::to_string(port)},
              so);
    auto line = p.waitForLine("listening ", 20s);
    ASSERT_TRUE(line) << p.out() << p.err();
    if (proxied) {
      EXPECT_TRUE(contains(p.out(), "proxied peer " + lab_->proxyExternal(0) + ":")) << p.out() << p.err();
    }
    const std::string at = line->substr(line->find("listening ") + 10);
    EXPECT_EQ(hostOf(at), addr) << "the listener was moved: " << *line;
    if (port != 0) {
      EXPECT_EQ(portOf(at), port) << *line;
    }
    SpawnOptions sc;
    sc.netns = lab_->clientNs();
    RunResult r = run({helper("tcp_client"), connectAddr, std::to_string(portOf(at)), "--timeout", "10"}, sc, 30s);
    EXPECT_EQ(r.exit_code, 0) << r.describe() << "\nserver: " << p.out() << p.err();
    EXPECT_TRUE(contains(r.out, "local-peer ")) << r.describe();
    EXPECT_TRUE(contains(r.out, "hello\n")) << r.describe();
    RunResult done = p.wait(10s);
    EXPECT_EQ(done.exit_code, 0) << done.describe();
  }

  std::string proxy_;
};

TEST_F(BindLocalTest, FixedLoopbackPortServesLocally) { expectServesLocally("127.0.0.1", 8080, "127.0.0.1"); }

TEST_F(BindLocalTest, FixedWildcardPortServesLocally) {
  expectServesLocally("0.0.0.0", 8081, "127.0.0.1");
  expectServesLocally("0.0.0.0", 8082, lab_->clientAddr());
}

TEST_F(BindLocalTest, BindOffKeepsAnEphemeralWildcardListenerLocal) {
  expectServesLocally("0.0.0.0", 0, "127.0.0.1", {"SOCKSIFY_BIND=off"});
}

TEST_F(BindLocalTest, NoProxiedConnectionKeepsAnEphemeralWildcardListenerLocal) {
  expectServesLocally("0.0.0.0", 0, "127.0.0.1", {}, false);
}

// auto: an ephemeral loopback listener is neither the wildcard nor a proxied
// connection's local address; all: it is socksified too.
TEST_F(BindLocalTest, EphemeralLoopbackListenerIsLocalInAutoAndBoundInAll) {
  RunResult a = bindClient(proxy_, NetLab::kRemoteName, {"--listen", "loopback", "--listen-only"});
  ASSERT_EQ(a.exit_code, 0) << a.describe();
  EXPECT_EQ(hostOf(field(a.out, 1, "listening-at")), "127.0.0.1") << a.describe();
  RunResult all = bindClient(proxy_, NetLab::kRemoteName, {"--listen", "loopback"}, {"SOCKSIFY_BIND=all"});
  ASSERT_EQ(all.exit_code, 0) << all.describe();
  expectRound(all, 1, "SOCKSIFY_BIND=all --listen loopback", lab_->proxyExternal(0), lab_->destAddr(),
              "nonblock=0 cloexec=0");
  // off: the wildcard stays local.
  RunResult off = bindClient(proxy_, NetLab::kRemoteName, {"--listen", "any", "--listen-only"}, {"SOCKSIFY_BIND=off"});
  ASSERT_EQ(off.exit_code, 0) << off.describe();
  EXPECT_EQ(hostOf(field(off.out, 1, "listening-at")), "0.0.0.0") << off.describe();
  // off and the FTP pattern: the program binds to the control connection's local address
  // as getsockname reports it — the proxy's side, not an address of this host — so with
  // no BIND the bind fails (EADDRNOTAVAIL), like curl -P - under SOCKSIFY_BIND=off.
  RunResult offLocal =
      bindClient(proxy_, NetLab::kRemoteName, {"--listen", "local", "--listen-only"}, {"SOCKSIFY_BIND=off"});
  EXPECT_NE(hostOf(field(offLocal.out, 1, "listening-at")), lab_->proxyExternal(0)) << offLocal.describe();
  if (offLocal.exit_code != 0) {
    EXPECT_TRUE(contains(offLocal.err, "error: bind local:") && contains(offLocal.err, "EADDRNOTAVAIL"))
        << offLocal.describe();
  }
}

// A fixed port on the control connection's own local address is left alone as well.
TEST_F(BindLocalTest, FixedPortOnTheProxiedLocalAddressIsLocal) {
  RunResult r = bindClient(proxy_, NetLab::kRemoteName,
                           {"--listen", std::string(lab_->clientAddr()) + ":8083", "--listen-only"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(field(r.out, 1, "listening-at"), std::string(lab_->clientAddr()) + ":8083") << r.describe();
}

// python3 -m http.server on a loopback port under socksify serves a local client.
TEST_F(BindLocalTest, PythonHttpServerServesLocally) {
  TempDir root;
  root.write("index.html", "served-locally\n");
  SpawnOptions so;
  so.netns = lab_->clientNs();
  Process server({launcherPath(), "-x", proxy_, "--", python3Path(), "-m", "http.server", "--bind", "127.0.0.1",
                  "--directory", root.path(), "8000"},
                 so);
  ASSERT_TRUE(waitTcpReady(lab_->clientNs(), "127.0.0.1", 8000, 15s)) << server.err();
  SpawnOptions sc;
  sc.netns = lab_->clientNs();
  RunResult r = run({python3Path(), "-c",
                     "import urllib.request,sys;"
                     "sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:8000/index.html',timeout=10).read().decode())"},
                    sc, 30s);
  EXPECT_EQ(r.exit_code, 0) << r.describe() << "\nserver: " << server.err();
  EXPECT_EQ(r.out, "served-locally\n") << r.describe();
  const std::string curl = findTool("curl");
  if (!curl.empty()) {
    RunResult c = runSocksified({curl, "-sS", "--max-time", "10", "http://127.0.0.1:8000/index.html"}, client({proxy_}));
    EXPECT_EQ(c.exit_code, 0) << c.describe();
    EXPECT_EQ(c.out, "served-locally\n") << c.describe();
  }
}

}  // namespace
}  // namespace sfy::it
