// UDP through the proxy (SOCKS5 UDP ASSOCIATE) in network namespaces: every socket
// call family of udp_client against udp_server (sendto/recvfrom, connect + send/recv/
// read/write/readv/writev, sendmsg/recvmsg with control messages, sendmmsg/recvmmsg,
// non-blocking with poll/epoll, MSG_PEEK, MSG_TRUNC), IPv6, names only the proxy
// resolves, big and many datagrams, threads, a socket that talks to a direct and a
// proxied peer, the end of the association, dig against dnsmasq, python3 (socket and
// asyncio), SOCKS4 routes (no UDP: ENETUNREACH), and socksd's relay seen from a raw
// client (FRAG, the client's port, --no-udp, the end with the control connection).
//
// In the lab the client has no route to the destination: a datagram that reaches the
// destination, or an answer that reaches the program, can only have gone through the
// proxy's relay. udp_server reports the source of every datagram it gets.

#include <gtest/gtest.h>

#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "harness.h"
#include "lab_fixture.h"

namespace sfy::it {
namespace {

using namespace std::chrono_literals;

constexpr int kUdpEchoPort = 7;  // udp_server in the destination namespace (UDP; TCP 7 is tcp_server)
constexpr const char* kDnsName = "test.example";
constexpr const char* kDnsAnswer = "203.0.113.77";

struct Combo {
  ProxyKind kind;
  std::string scheme;
};

void PrintTo(const Combo& c, std::ostream* os) { *os << kindName(c.kind) << " " << c.scheme; }

std::string comboName(const ::testing::TestParamInfo<Combo>& info) {
  return std::string(kindName(info.param.kind)) + "_" + info.param.scheme;
}

// The servers that implement UDP ASSOCIATE (microsocks does not), with the SOCKS5 schemes.
std::vector<Combo> udpCombos() {
  std::vector<Combo> v;
  for (ProxyKind k : {ProxyKind::kSocksd, ProxyKind::kDanted})
    for (const char* s : {"socks5", "socks5h"}) v.push_back({k, s});
  return v;
}

std::string kindParamName(const ::testing::TestParamInfo<ProxyKind>& info) { return kindName(info.param); }

// "reply OP source A:P saw X:Y len N" lines of udp_client.
std::vector<std::string> replyLines(const std::string& out, const std::string& label = "reply ") {
  std::vector<std::string> v;
  for (const auto& l : lines(out))
    if (l.rfind(label, 0) == 0) v.push_back(l);
  return v;
}

std::string fieldAfter(const std::string& line, const std::string& key) {
  auto p = line.find(" " + key + " ");
  if (p == std::string::npos) return "";
  p += key.size() + 2;
  return line.substr(p, line.find(' ', p) - p);
}

std::string resolvedOf(const std::string& out) {
  for (const auto& l : lines(out))
    if (l.rfind("resolved ", 0) == 0) return l.substr(9);
  return "";
}

std::string hostOf(const std::string& hp) {
  auto colon = hp.rfind(':');
  std::string h = colon == std::string::npos ? hp : hp.substr(0, colon);
  if (!h.empty() && h.front() == '[') h = h.substr(1, h.size() - 2);
  return h;
}

// A raw SOCKS5 UDP client (no shim): UDP ASSOCIATE over a control connection to PHOST
// PPORT, then datagrams with the SOCKS5 UDP header straight to the relay. Prints
// "associate-reply CODE [BND]" and, per step, "answer ATYP ADDR:PORT DATA" or
// "no-answer STEP". Steps (argv[3]): basic (IPv4, then domain DEST_NAME, then IPv6
// DEST6 if not "-"), frag (FRAG=1 is dropped, FRAG=0 answered), port (the request
// names the client's port: datagrams from another port are dropped), close (after
// the control connection closes, nothing is relayed), idle (the server closes the
// control connection of an idle association: "control-closed SECONDS").
const char* kPyRawUdp = R"(
import socket, struct, sys, time
phost, pport, step, dst, dport, dname, dst6 = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6], sys.argv[7]
def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("the proxy closed after %d of %d bytes" % (len(b), n))
        b += c
    return b
def enc(host, port):
    try:
        return b"\x01" + socket.inet_aton(host) + struct.pack("!H", port)
    except OSError:
        pass
    try:
        return b"\x04" + socket.inet_pton(socket.AF_INET6, host) + struct.pack("!H", port)
    except OSError:
        return b"\x03" + bytes([len(host)]) + host.encode() + struct.pack("!H", port)
def dec(d):
    if d[3] == 1:
        return d[3], socket.inet_ntoa(d[4:8]), struct.unpack("!H", d[8:10])[0], d[10:]
    if d[3] == 4:
        return d[3], "[%s]" % socket.inet_ntop(socket.AF_INET6, d[4:20]), struct.unpack("!H", d[20:22])[0], d[22:]
    n = d[4]
    return d[3], d[5:5 + n].decode(), struct.unpack("!H", d[5 + n:7 + n])[0], d[7 + n:]
def associate(claim_host="0.0.0.0", claim_port=0):
    c = socket.create_connection((phost, pport), timeout=10)
    c.sendall(b"\x05\x01\x00")
    if recvn(c, 2) != b"\x05\x00":
        raise RuntimeError("no acceptable method")
    c.sendall(b"\x05\x03\x00" + enc(claim_host, claim_port))
    h = recvn(c, 4)
    if h[3] == 1:
        a = socket.inet_ntoa(recvn(c, 4))
    elif h[3] == 4:
        a = socket.inet_ntop(socket.AF_INET6, recvn(c, 16))
    else:
        a = recvn(c, recvn(c, 1)[0]).decode()
    p = struct.unpack("!H", recvn(c, 2))[0]
    print("associate-reply %d %s:%d" % (h[1], a, p), flush=True)
    if h[1] != 0:
        return c, None
    if a in ("0.0.0.0", "::"):
        a = phost
    return c, (a, p)
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((socket.gethostbyname(socket.gethostname()) if False else "0.0.0.0", 0))
    u.settimeout(3)
    return u
def exchange(u, relay, what, host, port, data, frag=0):
    u.sendto(b"\x00\x00" + bytes([frag]) + enc(host, port) + data, relay)
    try:
        d, src = u.recvfrom(70000)
    except socket.timeout:
        print("no-answer", what, flush=True)
        return False
    if src[0] != relay[0] or src[1] != relay[1]:
        print("answer-from-elsewhere", what, src, flush=True)
    if d[0:3] != b"\x00\x00\x00":
        print("bad-header", what, d[0:3].hex(), flush=True)
    atyp, a, p, payload = dec(d)
    print("answer %s %d %s:%d %s" % (what, atyp, a, p, payload.decode(errors="replace")), flush=True)
    return True
if step == "noudp":
    c, relay = associate()
    sys.exit(0)
if step == "port":
    u = udp()
    c, relay = associate("0.0.0.0", u.getsockname()[1])
    other = udp()
    exchange(other, relay, "other-port", dst, dport, b"from-another-port")
    exchange(u, relay, "claimed-port", dst, dport, b"from-the-claimed-port")
    sys.exit(0)
c, relay = associate()
if relay is None:
    sys.exit(1)
u = udp()
if step == "basic":
    exchange(u, relay, "ipv4", dst, dport, b"raw-ipv4")
    exchange(u, relay, "domain", dname, dport, b"raw-domain")
    if dst6 != "-":
        exchange(u, relay, "ipv6", dst6, dport, b"raw-ipv6")
elif step == "frag":
    exchange(u, relay, "frag1", dst, dport, b"raw-frag-one", frag=1)
    exchange(u, relay, "frag0", dst, dport, b"raw-frag-0")
elif step == "close":
    exchange(u, relay, "before-close", dst, dport, b"raw-before-close")
    c.close()
    time.sleep(1)
    exchange(u, relay, "after-close", dst, dport, b"raw-after-close")
elif step == "refused":
    exchange(u, relay, "closed-port", dst, 9, b"raw-to-a-closed-port")
    exchange(u, relay, "after-refused", dst, dport, b"raw-after-refused")
    c.settimeout(0.5)
    try:
        print("control", "closed" if c.recv(1) == b"" else "data", flush=True)
    except socket.timeout:
        print("control open", flush=True)
    except OSError as e:
        print("control error", e, flush=True)
elif step == "idle":
    exchange(u, relay, "before-idle", dst, dport, b"raw-before-idle")
    t0 = time.time()
    c.settimeout(15)
    try:
        d = c.recv(1)
        print("control-closed %.1f %r" % (time.time() - t0, d), flush=True)
    except socket.timeout:
        print("control-open-after 15 s", flush=True)
    except OSError as e:
        print("control-closed %.1f %s" % (time.time() - t0, e), flush=True)
)";

// python3 through the shim: socket.sendto/recvfrom with a host name, a connected
// socket, and asyncio's create_datagram_endpoint (connected and not). Prints one
// "NAME resolved A:P source A:P data DATA" line per exchange.
const char* kPyUdpClient = R"(
import asyncio, socket, sys
host, port, family = sys.argv[1], int(sys.argv[2]), socket.AF_INET6 if sys.argv[3] == "6" else socket.AF_INET
def fmt(a):
    return ("[%s]:%d" if ":" in a[0] else "%s:%d") % (a[0], a[1])
ai = socket.getaddrinfo(host, port, family, socket.SOCK_DGRAM)[0][4]
s = socket.socket(family, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto(b"py-sendto", (host, port))
d, src = s.recvfrom(65535)
print("sendto resolved %s source %s data %s" % (fmt(ai), fmt(src), d.decode()), flush=True)
s.close()
s = socket.socket(family, socket.SOCK_DGRAM)
s.settimeout(10)
s.connect((host, port))
s.send(b"py-connected")
d = s.recv(65535)
print("connected resolved %s source %s data %s" % (fmt(ai), fmt(s.getpeername()), d.decode()), flush=True)
s.close()
class Proto(asyncio.DatagramProtocol):
    def __init__(self, fut):
        self.fut = fut
    def datagram_received(self, data, addr):
        if not self.fut.done():
            self.fut.set_result((data, addr))
    def error_received(self, exc):
        if not self.fut.done():
            self.fut.set_exception(exc)
async def main():
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    tr, _ = await loop.create_datagram_endpoint(lambda: Proto(fut), remote_addr=(host, port), family=family)
    tr.sendto(b"py-asyncio-connected")
    d, src = await asyncio.wait_for(fut, 10)
    print("asyncio-connected resolved %s source %s data %s" % (fmt(ai), fmt(src), d.decode()), flush=True)
    tr.close()
    fut = loop.create_future()
    tr, _ = await loop.create_datagram_endpoint(lambda: Proto(fut), family=family)
    tr.sendto(b"py-asyncio-sendto", ai)
    d, src = await asyncio.wait_for(fut, 10)
    print("asyncio-sendto resolved %s source %s data %s" % (fmt(ai), fmt(src), d.decode()), flush=True)
    tr.close()
asyncio.run(main())
)";

class UdpLab : public LabTest {
 protected:
  void SetUp() override {
    buildLab(1);
    if (IsSkipped() || HasFatalFailure()) return;
    startUdpDest();
  }

  void startUdpDest() {
    Argv argv = {helper("udp_server"), "--echo", "0.0.0.0:" + std::to_string(kUdpEchoPort)};
    if (lab_->hasIpv6()) argv.insert(argv.end(), {"--echo", "[::]:" + std::to_string(kUdpEchoPort)});
    SpawnOptions so;
    so.netns = lab_->destNs();
    udpDest_ = std::make_unique<Process>(argv, so);
    const size_t want = lab_->hasIpv6() ? 2 : 1;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (countOccurrences(udpDest_->out(), "udp_server: listening on ") < want) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "udp_server did not start: " << udpDest_->err();
      ASSERT_TRUE(udpDest_->running()) << "udp_server exited: " << udpDest_->err();
      std::this_thread::sleep_for(10ms);
    }
  }

  std::string proxyUrl(ProxyKind kind, const std::string& scheme, const ProxyStart& ps = {}) {
    std::string hp = startProxy(kind, 0, ps);
    return scheme + "://" + hp;
  }

  RunResult udpClient(const std::vector<std::string>& proxies, const std::string& host, const Argv& args,
                      bool verbose = false, Env env = {}) {
    ClientOptions o = client(proxies);
    o.verbose = verbose;
    o.env = std::move(env);
    o.timeout = 60s;
    Argv argv = {helper("udp_client"), host, std::to_string(kUdpEchoPort)};
    argv.insert(argv.end(), args.begin(), args.end());
    return runSocksified(argv, o);
  }

  // Every "reply" line names the address the program sent to as the source, and
  // udp_server saw the proxy's address; at least `n` of them.
  void expectReplies(const RunResult& r, size_t n, const std::string& what, bool ipv6 = false) {
    SCOPED_TRACE(what);
    EXPECT_FALSE(contains(r.err, "runtime error:") || contains(r.err, "AddressSanitizer")) << r.describe();
    const auto rl = replyLines(r.out);
    EXPECT_GE(rl.size(), n) << r.describe();
    const std::string resolved = resolvedOf(r.out);
    const std::string ext = ipv6 ? lab_->proxyExternal6(0) : lab_->proxyExternal(0);
    for (const auto& l : rl) {
      EXPECT_EQ(fieldAfter(l, "source"), resolved) << l << "\n" << r.describe();
      EXPECT_EQ(hostOf(fieldAfter(l, "saw")), ext) << "the destination saw another address than the proxy's\n"
                                                          << l << "\n" << r.describe();
    }
  }

  // udp_server's datagram lines.
  std::vector<std::string> destDatagrams() const {
    std::vector<std::string> v;
    if (!udpDest_) return v;
    for (const auto& l : lines(udpDest_->out()))
      if (contains(l, "udp_server: datagram from ")) v.push_back(l);
    return v;
  }

  // Every datagram udp_server got came from the proxy; at least one.
  void expectUdpDestSawOnlyProxy() const {
    const auto d = destDatagrams();
    EXPECT_GE(d.size(), 1u) << udpDest_->out();
    for (const auto& l : d) {
      const bool v4 = contains(l, "datagram from " + lab_->proxyExternal(0) + ":");
      const bool v6 = contains(l, "datagram from [" + lab_->proxyExternal6(0) + "]:");
      EXPECT_TRUE(v4 || v6) << "the destination got a datagram not from the proxy: " << l;
    }
  }

  std::unique_ptr<Process> udpDest_;
};

// ---------------------------------------------------------------- every mode, both servers, both schemes

class UdpModesTest : public UdpLab, public ::testing::WithParamInterface<Combo> {
 protected:
  void SetUp() override {
    if (kindTool(GetParam().kind).empty()) GTEST_SKIP() << kindName(GetParam().kind) << " is not installed";
    UdpLab::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    url_ = proxyUrl(GetParam().kind, GetParam().scheme);
    ASSERT_FALSE(HasFailure());
  }

  RunResult mode(const Argv& args) { return udpClient({url_}, targetFor(GetParam().scheme), args); }

  void afterRun(const RunResult& r) {
    // With socks5h the name went to the proxy: the program got a fake address.
    if (GetParam().scheme == "socks5h") {
      EXPECT_NE(hostOf(resolvedOf(r.out)), lab_->destAddr()) << "socks5h: the name was resolved locally?\n"
                                                             << r.describe();
    } else {
      EXPECT_EQ(resolvedOf(r.out), lab_->destAddr() + ":" + std::to_string(kUdpEchoPort)) << r.describe();
    }
    expectUdpDestSawOnlyProxy();
    expectNoDnsLeak();
  }

  std::string url_;
};

TEST_P(UdpModesTest, SendtoRecvfrom) {
  RunResult r = mode({"--sendto"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  expectReplies(r, 2, "sendto");
  EXPECT_TRUE(contains(r.out, "drained EAGAIN")) << r.describe();
  afterRun(r);
}

TEST_P(UdpModesTest, ConnectedSocketAllCalls) {
  RunResult r = mode({"--connect", "--print-peer"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  expectReplies(r, 10, "connect");
  for (const char* op : {"send/recv", "write/read", "writev/readv", "send/recvfrom", "sendmsg/recvmsg",
                         "sendmmsg/recvmmsg"})
    EXPECT_TRUE(contains(r.out, std::string("reply ") + op + " ")) << op << "\n" << r.describe();
  // getpeername answers the destination the program connected to.
  const std::string resolved = resolvedOf(r.out);
  EXPECT_TRUE(contains(r.out, "connected-to " + resolved + "\n")) << r.describe();
  EXPECT_TRUE(contains(r.out, "getpeername " + resolved + "\n")) << r.describe();
  afterRun(r);
}

TEST_P(UdpModesTest, SendmsgRecvmsgPassControlMessages) {
  RunResult r = mode({"--msg"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  expectReplies(r, 2, "msg");
  EXPECT_EQ(countOccurrences(r.out, "cmsg timestamp pktinfo") + countOccurrences(r.out, "cmsg pktinfo timestamp"), 2u)
      << r.describe();
  afterRun(r);
}

TEST_P(UdpModesTest, SendmmsgRecvmmsg) {
  RunResult r = mode({"--mmsg"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  expectReplies(r, 5, "mmsg");
  EXPECT_TRUE(contains(r.out, "sendmmsg sent 5")) << r.describe();
  afterRun(r);
}

TEST_P(UdpModesTest, NonBlockingPollAndEpoll) {
  RunResult r;
  for (const char* m : {"--nonblocking", "--epoll"}) {
    for (const char* call : {"--sendto", "--connect", "--msg", "--mmsg"}) {
      r = mode({m, call});
      ASSERT_EQ(r.exit_code, 0) << m << " " << call << "\n" << r.describe();
      expectReplies(r, 2, std::string(m) + " " + call);
      EXPECT_TRUE(contains(r.out, "drained EAGAIN")) << r.describe();
    }
  }
  afterRun(r);
}

TEST_P(UdpModesTest, PeekThenRead) {
  RunResult r = mode({"--peek"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  expectReplies(r, 1, "peek");
  EXPECT_TRUE(contains(r.out, "peek source " + resolvedOf(r.out) + " len ")) << r.describe();
  afterRun(r);
}

TEST_P(UdpModesTest, TruncatedDatagrams) {
  RunResult r = mode({"--trunc"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "trunc-return ")) << r.describe();
  EXPECT_TRUE(contains(r.out, "trunc-flag MSG_TRUNC returned 16")) << r.describe();
  expectReplies(r, 1, "after trunc");
  afterRun(r);
}

TEST_P(UdpModesTest, LargeDatagram60000Bytes) {
  RunResult r = mode({"--size", "60000"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  expectReplies(r, 2, "60000 bytes");
  EXPECT_TRUE(contains(r.out, " len 60000\n")) << r.describe();
  afterRun(r);
}

// Near the limit: 65 400 bytes (the answer, with udp_server's prefix and the relay's
// header, still fits in one datagram) passes; 65 507 bytes (the most a plain IPv4
// socket may send) cannot fit with the SOCKS header: sendto fails with EMSGSIZE
// instead of sending something else, and nothing reaches the destination.
TEST_P(UdpModesTest, DatagramsAtTheSizeLimit) {
  RunResult r = mode({"--size", "65400"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  expectReplies(r, 2, "65400 bytes");
  const size_t before = destDatagrams().size();
  RunResult big = mode({"--size", "65507", "--timeout", "3"});
  EXPECT_EQ(big.exit_code, 1) << big.describe();
  EXPECT_TRUE(contains(big.err, "error: sendto to " + resolvedOf(big.out) + ": Message too long (errno=90 EMSGSIZE)"))
      << big.describe();
  EXPECT_EQ(destDatagrams().size(), before) << udpDest_->out();
  afterRun(r);
}

TEST_P(UdpModesTest, TwoThousandSmallDatagramsWithoutLoss) {
  RunResult r = mode({"--count", "2000"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "summary sent=2000 received=2000 lost=0 bad=0")) << r.describe();
  afterRun(r);
}

TEST_P(UdpModesTest, EightThreadsFiftyDatagramsEach) {
  RunResult r = mode({"--threads", "8", "--count", "50"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "summary threads=8 ok=8 failed=0")) << r.describe();
  EXPECT_GE(destDatagrams().size(), 400u);
  afterRun(r);
}

// One socket talks to a loopback udp_server directly and to the destination through
// the proxy: direct first (before the association exists), then proxied, and again.
TEST_P(UdpModesTest, DirectAndProxiedPeersOnOneSocket) {
  Argv argv = {helper("udp_server"), "--echo", "127.0.0.1:0"};
  SpawnOptions so;
  so.netns = lab_->clientNs();
  Process local(argv, so);
  auto line = local.waitForLine("udp_server: listening on ", 10s);
  ASSERT_TRUE(line.has_value()) << local.err();
  const std::string direct = line->substr(line->find("listening on ") + 13);
  for (const char* call : {"--sendto", "--msg"}) {
    RunResult r = mode({call, "--direct", direct});
    ASSERT_EQ(r.exit_code, 0) << call << "\n" << r.describe();
    expectReplies(r, 2, call);
    const auto dl = replyLines(r.out, "direct ");
    EXPECT_EQ(dl.size(), 2u) << r.describe();
    for (const auto& l : dl) {
      EXPECT_EQ(fieldAfter(l, "source"), direct) << l;
      EXPECT_EQ(hostOf(fieldAfter(l, "saw")), "127.0.0.1") << l;
    }
    afterRun(r);
  }
}

INSTANTIATE_TEST_SUITE_P(Udp, UdpModesTest, ::testing::ValuesIn(udpCombos()), comboName);

// ---------------------------------------------------------------- per server

class UdpServerTest : public UdpLab, public ::testing::WithParamInterface<ProxyKind> {
 protected:
  void SetUp() override {
    if (kindTool(GetParam()).empty()) GTEST_SKIP() << kindName(GetParam()) << " is not installed";
    UdpLab::SetUp();
  }
};

// Without the shim the client has no way to the destination.
TEST_P(UdpServerTest, DirectUdpFromTheClientIsImpossible) {
  SpawnOptions so;
  so.netns = lab_->clientNs();
  RunResult r = run({helper("udp_client"), lab_->destAddr(), std::to_string(kUdpEchoPort), "--timeout", "2"}, so, 20s);
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "ENETUNREACH")) << r.describe();
  EXPECT_TRUE(destDatagrams().empty()) << udpDest_->out();
}

// IPv6 destinations (ATYP 4) through the proxy's IPv4 and IPv6 addresses, and a fake
// IPv6 address for a name only the proxy resolves.
TEST_P(UdpServerTest, Ipv6Destination) {
  if (!lab_->hasIpv6()) GTEST_SKIP() << "IPv6 is not available in network namespaces here";
  std::string proxy = startProxy(GetParam());
  ASSERT_FALSE(HasFailure());
  std::vector<std::string> proxies = {proxy};
  // The harness's danted listens on IPv4 only.
  if (GetParam() == ProxyKind::kSocksd) proxies.push_back("[" + lab_->proxyAddr6(0) + "]:1080");
  for (const std::string& p : proxies) {
    for (const char* call : {"--sendto", "--connect", "--msg"}) {
      RunResult r = udpClient({"socks5://" + p}, lab_->destAddr6(), {call});
      EXPECT_EQ(r.exit_code, 0) << p << " " << call << "\n" << r.describe();
      expectReplies(r, 2, p + " " + call, true);
    }
    RunResult h = udpClient({"socks5h://" + p}, NetLab::kRemoteName, {"--family", "6", "--msg"});
    EXPECT_EQ(h.exit_code, 0) << p << "\n" << h.describe();
    EXPECT_TRUE(contains(h.out, "resolved [fd53:6f63:6b73:")) << h.describe();
    // The proxy resolves the name to its IPv4 address: udp_server sees the IPv4 side.
    expectReplies(h, 2, p + " socks5h --family 6");
  }
  expectUdpDestSawOnlyProxy();
  expectNoDnsLeak();
}

// A destination port where nobody answers: a blocking recvfrom with SO_RCVTIMEO ends
// with EAGAIN after the timeout, and poll/epoll time out: no hang, no phantom datagram
// (danted may make a connected socket see ECONNREFUSED instead, see below).
TEST_P(UdpServerTest, NoAnswerTimesOut) {
  std::string proxy = startProxy(GetParam());
  ASSERT_FALSE(HasFailure());
  for (const Argv& mode : {Argv{"--sendto"}, Argv{"--connect"}, Argv{"--epoll"}}) {
    Argv argv = {helper("udp_client"), lab_->destAddr(), "9", "--timeout", "2"};
    argv.insert(argv.end(), mode.begin(), mode.end());
    RunResult r = runSocksified(argv, client({"socks5://" + proxy}));
    EXPECT_EQ(r.exit_code, 1) << mode[0] << "\n" << r.describe();
    if (mode[0] == "--epoll") {
      EXPECT_TRUE(contains(r.err, "helper timeout waiting for the socket to become readable")) << r.describe();
    } else if (mode[0] == "--connect" && GetParam() == ProxyKind::kDanted &&
               contains(r.err, "error: recv: Connection refused (errno=111 ECONNREFUSED)")) {
      // danted answers a datagram its destination refused with an ICMP error toward
      // the client (a raw client's socket connected to its relay sees it too), and the
      // shim's socket is connected to the relay: ECONNREFUSED, as a direct connected
      // UDP socket would get. Fine, and not a hang.
      continue;
    } else {
      EXPECT_TRUE(contains(r.err, "no reply within the timeout: Resource temporarily unavailable (errno=11 EAGAIN)"))
          << mode[0] << "\n" << r.describe();
    }
    EXPECT_GE(r.seconds, 1.5) << r.describe();
    EXPECT_LT(r.seconds, 10.0) << r.describe();
  }
}

// Sockets the program bound itself before sending (to its own address and a fixed
// port, or to the wildcard), and IPv6 sockets sending to IPv4-mapped addresses: the
// answers come back, reported from the address the program used.
TEST_P(UdpServerTest, BoundAndDualStackSockets) {
  std::string proxy = startProxy(GetParam());
  ASSERT_FALSE(HasFailure());
  const std::string url = "socks5://" + proxy;
  for (const char* call : {"--sendto", "--connect", "--msg"}) {
    RunResult a = udpClient({url}, lab_->destAddr(), {call, "--bind", lab_->clientAddr() + ":40000"});
    EXPECT_EQ(a.exit_code, 0) << call << "\n" << a.describe();
    expectReplies(a, 2, std::string("bound ") + call);
    RunResult b = udpClient({url}, lab_->destAddr(), {call, "--bind", "0.0.0.0:0"});
    EXPECT_EQ(b.exit_code, 0) << call << "\n" << b.describe();
    expectReplies(b, 2, std::string("bound to the wildcard ") + call);
    RunResult c = udpClient({url}, "::ffff:" + lab_->destAddr(), {call});
    EXPECT_EQ(c.exit_code, 0) << call << "\n" << c.describe();
    EXPECT_EQ(resolvedOf(c.out), "[::ffff:" + lab_->destAddr() + "]:7") << c.describe();
    expectReplies(c, 2, std::string("v4-mapped ") + call);
  }
  expectUdpDestSawOnlyProxy();
}

// The association lives as long as the socket: while it is open the proxy has a relay
// and the client a control connection; after close() both are gone (the program is
// still running).
TEST_P(UdpServerTest, AssociationEndsWhenTheSocketCloses) {
  const std::string ss = findTool("ss");
  if (ss.empty()) GTEST_SKIP() << "ss (iproute2) is not installed";
  std::string proxy = startProxy(GetParam());
  ASSERT_FALSE(HasFailure());
  auto count = [&](const std::string& ns, const Argv& args, const std::string& needle) -> size_t {
    SpawnOptions so;
    so.netns = ns;
    Argv argv = {ss};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = run(argv, so, 10s);
    size_t n = 0;
    for (const auto& l : lines(r.out))
      if (contains(l, needle)) ++n;
    return n;
  };
  const std::string proxyAt = lab_->proxyAddr(0) + ":";
  const size_t relaysBefore = count(lab_->proxyNs(0), {"-uan"}, proxyAt);
  Argv argv = {launcherPath(), "-x", "socks5://" + proxy, "--", helper("udp_client"), lab_->destAddr(),
               std::to_string(kUdpEchoPort), "--pause", "4"};
  SpawnOptions so;
  so.netns = lab_->clientNs();
  Process p(argv, so);
  ASSERT_TRUE(p.waitForLine("exchanged", 20s)) << p.out() << p.err();
  const size_t relaysOpen = count(lab_->proxyNs(0), {"-uan"}, proxyAt);
  const size_t controlOpen = count(lab_->clientNs(), {"-tn", "state", "established"}, proxy);
  EXPECT_GT(relaysOpen, relaysBefore) << "no relay socket at " << proxyAt << " on the proxy during the association";
  EXPECT_EQ(controlOpen, 1u) << "the client should hold one control connection to " << proxy;
  ASSERT_TRUE(p.waitForLine("closed", 10s)) << p.out() << p.err();
  auto deadline = std::chrono::steady_clock::now() + 3s;
  size_t relaysAfter = 0, controlAfter = 0;
  do {
    std::this_thread::sleep_for(100ms);
    relaysAfter = count(lab_->proxyNs(0), {"-uan"}, proxyAt);
    controlAfter = count(lab_->clientNs(), {"-tn", "state", "established"}, proxy);
  } while ((relaysAfter > relaysBefore || controlAfter > 0) && std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(p.running()) << "the program ended early: " << p.out() << p.err();
  EXPECT_EQ(controlAfter, 0u) << "the control connection outlived the socket";
  EXPECT_EQ(relaysAfter, relaysBefore) << "the proxy's relay outlived the socket";
  RunResult r = p.wait(20s);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  if (GetParam() == ProxyKind::kSocksd) {
    const std::string log = servers_.back().proc->out() + servers_.back().proc->err();
    EXPECT_EQ(countOccurrences(log, " UDP-ASSOCIATE "), 1u) << "socksd -v should log the one association:\n" << log;
  }
}

// Sends a stranger's datagrams to HOST PORT: plain junk, and one with a SOCKS5 UDP
// header claiming to come from DEST DPORT.
const char* kPyInject = R"(
import socket, struct, sys
h, p, d, dp = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"junk-plain", (h, p))
s.sendto(b"\0\0\0\x01" + socket.inet_aton(d) + struct.pack("!H", dp) + b"from 198.51.100.1:1 spoofed", (h, p))
print("injected", flush=True)
)";

// Datagrams from anyone but the relay never reach the program: a stranger on the
// proxy's host (another port than the relay's) and one on the client's own host send
// junk and forged relay datagrams to the program's socket while it waits; its next
// exchange gets exactly its answer and nothing else is pending.
TEST_P(UdpServerTest, StrangersDatagramsAreDropped) {
  const std::string py = python3Path(), ss = findTool("ss");
  if (py.empty()) GTEST_SKIP() << "python3 is not installed";
  if (ss.empty()) GTEST_SKIP() << "ss (iproute2) is not installed";
  std::string proxy = startProxy(GetParam());
  ASSERT_FALSE(HasFailure());
  TempDir dir;
  const std::string inject = dir.write("inject.py", kPyInject);
  for (const Argv& call : {Argv{"--sendto"}, Argv{"--connect"}, Argv{"--sendto", "--epoll"}}) {
    SCOPED_TRACE(call.back());
    Argv argv = {launcherPath(), "-x", "socks5h://" + proxy, "--", helper("udp_client"), NetLab::kRemoteName,
                 std::to_string(kUdpEchoPort), "--hold", "2"};
    argv.insert(argv.end(), call.begin(), call.end());
    SpawnOptions so;
    so.netns = lab_->clientNs();
    Process p(argv, so);
    ASSERT_TRUE(p.waitForLine("holding", 20s)) << p.out() << p.err();
    // The program's UDP socket, as ss in the client namespace shows it.
    RunResult s = run({ss, "-uanpH"}, so, 10s);
    std::string local;
    for (const auto& l : lines(s.out)) {
      if (!contains(l, "\"udp_client\"")) continue;
      std::vector<std::string> cols;
      std::string col;
      for (std::istringstream is(l); is >> col;) cols.push_back(col);
      if (cols.size() >= 4) local = cols[3];
    }
    ASSERT_FALSE(local.empty()) << "no UDP socket of udp_client in:\n" << s.out;
    const std::string port = local.substr(local.rfind(':') + 1);
    SCOPED_TRACE("udp_client's socket: " + local);
    std::string host = hostOf(local);
    SpawnOptions sp;
    sp.netns = lab_->proxyNs(0);
    RunResult a = run({py, inject, lab_->clientAddr(), port, lab_->destAddr(), std::to_string(kUdpEchoPort)}, sp, 10s);
    EXPECT_EQ(a.exit_code, 0) << a.describe();
    RunResult b = run({py, inject, host == "0.0.0.0" || host == "*" ? "127.0.0.1" : host, port, lab_->destAddr(),
                       std::to_string(kUdpEchoPort)},
                      so, 10s);
    EXPECT_EQ(b.exit_code, 0) << b.describe();
    RunResult r = p.wait(30s);
    EXPECT_EQ(r.exit_code, 0) << "local " << local << "\n" << r.describe();
    EXPECT_FALSE(contains(r.out, "spoofed")) << r.describe();
    EXPECT_TRUE(contains(r.out, "drained EAGAIN")) << r.describe();
    expectReplies(r, 2, call.back());
  }
}

// dig over UDP through the proxy to dnsmasq in the destination namespace: the answer
// arrives, and dnsmasq saw only the proxy. With socks5h the server's name itself is
// resolved by the proxy: dig gets a fake address and accepts replies "from" it.
TEST_P(UdpServerTest, DigOverUdp) {
  const std::string dig = findTool("dig"), dnsmasq = findTool("dnsmasq");
  if (dig.empty()) GTEST_SKIP() << "dig (bind9-dnsutils) is not installed";
  if (dnsmasq.empty()) GTEST_SKIP() << "dnsmasq is not installed";
  std::string proxy = startProxy(GetParam());
  ASSERT_FALSE(HasFailure());
  TempDir dir;
  SpawnOptions so;
  so.netns = lab_->destNs();
  Process dns({dnsmasq, "--no-daemon", "--keep-in-foreground", "--port=53", "--listen-address=" + lab_->destAddr(),
               "--bind-interfaces", "--no-resolv", "--no-hosts", "--address=/" + std::string(kDnsName) + "/" + kDnsAnswer,
               "--log-queries", "--log-facility=-", "--user=root", "--pid-file=" + dir.path() + "/dnsmasq.pid",
               "-C", "/dev/null"},
              so);
  ASSERT_TRUE(waitTcpReady(lab_->destNs(), lab_->destAddr(), 53, 10s)) << "dnsmasq did not start: " << dns.err();
  struct Case {
    std::string scheme, server;
    Argv extra;
  };
  for (const Case& c : {Case{"socks5", lab_->destAddr(), {}}, Case{"socks5", lab_->destAddr(), {"+notcp"}},
                        Case{"socks5h", lab_->destAddr(), {"+notcp"}}, Case{"socks5h", NetLab::kRemoteName, {"+notcp"}}}) {
    Argv argv = {dig, "@" + c.server, kDnsName, "+short", "+tries=1", "+time=5"};
    argv.insert(argv.end(), c.extra.begin(), c.extra.end());
    RunResult r = runSocksified(argv, client({c.scheme + "://" + proxy}));
    EXPECT_EQ(r.exit_code, 0) << c.scheme << " @" << c.server << "\n" << r.describe();
    EXPECT_EQ(r.out, std::string(kDnsAnswer) + "\n") << c.scheme << " @" << c.server << "\n" << r.describe();
  }
  const std::string log = dns.err() + dns.out();
  const size_t queries = countOccurrences(log, std::string("query[A] ") + kDnsName + " from ");
  EXPECT_GE(queries, 4u) << log;
  EXPECT_EQ(countOccurrences(log, std::string("query[A] ") + kDnsName + " from " + lab_->proxyExternal(0) + "\n"),
            queries)
      << "dnsmasq saw a query not from the proxy:\n"
      << log;
  expectNoDnsLeak();
}

// A program that closes every descriptor it does not know (closefrom with
// close_range, then a close() loop) must not close the shim's control
// connection under its own association: datagrams keep flowing.
const char* kPyCloseEverything = R"(
import os, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
me = s.fileno()
def exchange(tag):
    s.sendto(tag.encode(), (host, port))
    d, _ = s.recvfrom(65535)
    print("%s %s" % (tag, d.decode()), flush=True)
exchange("before")
os.closerange(3, me)
os.closerange(me + 1, 4096)
exchange("after-closerange")
for fd in range(3, 4096):
    if fd != me:
        try:
            os.close(fd)
        except OSError:
            pass
exchange("after-close-loop")
)";

TEST_P(UdpServerTest, ClosingEveryOtherDescriptorKeepsTheAssociation) {
  const std::string py = python3Path();
  if (py.empty()) GTEST_SKIP() << "python3 is not installed";
  std::string proxy = startProxy(GetParam());
  ASSERT_FALSE(HasFailure());
  TempDir dir;
  RunResult r = runSocksified({py, dir.write("closeall.py", kPyCloseEverything), lab_->destAddr(),
                               std::to_string(kUdpEchoPort)},
                              client({"socks5://" + proxy}));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  const std::string ext = lab_->proxyExternal(0) + ":";
  for (const char* tag : {"before", "after-closerange", "after-close-loop"}) {
    EXPECT_TRUE(contains(r.out, std::string(tag) + " from " + ext)) << tag << "\n" << r.describe();
  }
}

TEST_P(UdpServerTest, Python3SocketAndAsyncio) {
  const std::string py = python3Path();
  if (py.empty()) GTEST_SKIP() << "python3 is not installed";
  std::string proxy = startProxy(GetParam());
  ASSERT_FALSE(HasFailure());
  TempDir dir;
  const std::string script = dir.write("udp.py", kPyUdpClient);
  struct Case {
    std::string scheme, host, family;
  };
  std::vector<Case> cases = {{"socks5", lab_->destAddr(), "4"}, {"socks5h", NetLab::kRemoteName, "4"}};
  if (lab_->hasIpv6()) cases.push_back({"socks5", lab_->destAddr6(), "6"});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.scheme + " " + c.host);
    RunResult r = runSocksified({py, script, c.host, std::to_string(kUdpEchoPort), c.family},
                                client({c.scheme + "://" + proxy}));
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    const auto ls = lines(r.out);
    ASSERT_EQ(ls.size(), 4u) << r.describe();
    const std::string ext = c.family == "6" ? "[" + lab_->proxyExternal6(0) + "]:" : lab_->proxyExternal(0) + ":";
    for (const auto& l : ls) {
      EXPECT_EQ(fieldAfter(l, "resolved"), fieldAfter(l, "source")) << l;
      EXPECT_TRUE(contains(l, " data from " + ext)) << l;
    }
    if (c.scheme == "socks5h") {
      EXPECT_NE(hostOf(fieldAfter(ls[0], "resolved")), lab_->destAddr()) << r.describe();
    }
  }
  expectUdpDestSawOnlyProxy();
  expectNoDnsLeak();
}

// A TCP program through the same proxy while UDP traffic flows is unaffected.
TEST_P(UdpServerTest, TcpAlongsideUdp) {
  std::string proxy = startProxy(GetParam());
  ASSERT_FALSE(HasFailure());
  ClientOptions o = client({"socks5h://" + proxy});
  Argv argv = {launcherPath(), "-x", "socks5h://" + proxy, "--", helper("udp_client"), NetLab::kRemoteName,
               std::to_string(kUdpEchoPort), "--threads", "4", "--count", "200"};
  SpawnOptions so;
  so.netns = lab_->clientNs();
  Process udp(argv, so);
  RunResult t = runSocksified({helper("tcp_client"), NetLab::kRemoteName, "7", "--threads", "4", "--conns", "5"}, o);
  EXPECT_EQ(t.exit_code, 0) << t.describe();
  EXPECT_TRUE(contains(t.out, "summary ok=20 failed=0")) << t.describe();
  RunResult u = udp.wait(60s);
  EXPECT_EQ(u.exit_code, 0) << u.describe();
  EXPECT_TRUE(contains(u.out, "summary threads=4 ok=4 failed=0")) << u.describe();
  expectDestSawOnlyProxy();
  expectUdpDestSawOnlyProxy();
}

// The relay seen from a raw SOCKS5 client (no shim): IPv4, domain and IPv6
// destinations; FRAG != 0 dropped; nothing relayed after the control connection ends.
TEST_P(UdpServerTest, RawRelay) {
  const std::string py = python3Path();
  if (py.empty()) GTEST_SKIP() << "python3 is not installed";
  std::string proxy = startProxy(GetParam());
  ASSERT_FALSE(HasFailure());
  TempDir dir;
  const std::string script = dir.write("raw.py", kPyRawUdp);
  SpawnOptions so;
  so.netns = lab_->clientNs();
  auto raw = [&](const std::string& step) {
    return run({py, script, lab_->proxyAddr(0), "1080", step, lab_->destAddr(), std::to_string(kUdpEchoPort),
                NetLab::kRemoteName, lab_->hasIpv6() ? lab_->destAddr6() : "-"},
               so, 40s);
  };
  const std::string ext = lab_->proxyExternal(0);
  RunResult b = raw("basic");
  SCOPED_TRACE("proxy log:\n" + servers_.back().proc->out() + servers_.back().proc->err());
  ASSERT_EQ(b.exit_code, 0) << b.describe();
  EXPECT_TRUE(contains(b.out, "associate-reply 0 ")) << b.describe();
  EXPECT_TRUE(contains(b.out, "answer ipv4 1 " + lab_->destAddr() + ":7 from " + ext + ":")) << b.describe();
  // The reply to a domain destination carries the destination's address (its true source).
  EXPECT_TRUE(contains(b.out, "answer domain 1 " + lab_->destAddr() + ":7 from " + ext + ":")) << b.describe();
  if (lab_->hasIpv6()) {
    EXPECT_TRUE(contains(b.out, "answer ipv6 4 [" + lab_->destAddr6() + "]:7 from [" + lab_->proxyExternal6(0) + "]:"))
        << b.describe();
  }
  EXPECT_FALSE(contains(b.out, "answer-from-elsewhere")) << b.describe();
  EXPECT_FALSE(contains(b.out, "bad-header")) << b.describe();
  RunResult f = raw("frag");
  ASSERT_EQ(f.exit_code, 0) << f.describe();
  EXPECT_TRUE(contains(f.out, "no-answer frag1")) << f.describe();
  EXPECT_TRUE(contains(f.out, "answer frag0 1 ")) << f.describe();
  EXPECT_FALSE(contains(udpDest_->out(), "size 12 ")) << "a FRAG=1 datagram reached the destination\n"
                                                      << udpDest_->out();
  // A datagram to a port where nobody listens (ICMP port unreachable at the proxy)
  // does not end the association.
  RunResult x = raw("refused");
  ASSERT_EQ(x.exit_code, 0) << x.describe();
  EXPECT_TRUE(contains(x.out, "no-answer closed-port")) << x.describe();
  EXPECT_TRUE(contains(x.out, "answer after-refused 1 ")) << x.describe();
  EXPECT_TRUE(contains(x.out, "control open")) << x.describe();
  RunResult c = raw("close");
  ASSERT_EQ(c.exit_code, 0) << c.describe();
  EXPECT_TRUE(contains(c.out, "answer before-close 1 ")) << c.describe();
  EXPECT_TRUE(contains(c.out, "no-answer after-close")) << c.describe();
  expectUdpDestSawOnlyProxy();
}

INSTANTIATE_TEST_SUITE_P(Udp, UdpServerTest, ::testing::Values(ProxyKind::kSocksd, ProxyKind::kDanted), kindParamName);

// ---------------------------------------------------------------- socksd only

class UdpSocksdTest : public UdpLab {};

// The request names the client's port: datagrams from another port are dropped.
TEST_F(UdpSocksdTest, RelayAcceptsOnlyTheClaimedPort) {
  const std::string py = python3Path();
  if (py.empty()) GTEST_SKIP() << "python3 is not installed";
  std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  TempDir dir;
  SpawnOptions so;
  so.netns = lab_->clientNs();
  RunResult r = run({py, dir.write("raw.py", kPyRawUdp), lab_->proxyAddr(0), "1080", "port", lab_->destAddr(),
                     std::to_string(kUdpEchoPort), NetLab::kRemoteName, "-"},
                    so, 40s);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "no-answer other-port")) << r.describe();
  EXPECT_TRUE(contains(r.out, "answer claimed-port 1 ")) << r.describe();
  EXPECT_FALSE(contains(udpDest_->out(), "size 17 ")) << "the datagram from another port was relayed\n"
                                                      << udpDest_->out();
}

TEST_F(UdpSocksdTest, NoUdpRefusesWithCommandNotSupported) {
  const std::string py = python3Path();
  if (py.empty()) GTEST_SKIP() << "python3 is not installed";
  std::string proxy = startProxy(ProxyKind::kSocksd, 0, {"", "", {"--no-udp"}});
  ASSERT_FALSE(HasFailure());
  TempDir dir;
  SpawnOptions so;
  so.netns = lab_->clientNs();
  RunResult r = run({py, dir.write("raw.py", kPyRawUdp), lab_->proxyAddr(0), "1080", "noudp", lab_->destAddr(),
                     std::to_string(kUdpEchoPort), NetLab::kRemoteName, "-"},
                    so, 40s);
  EXPECT_TRUE(contains(r.out, "associate-reply 7 ")) << r.describe();
  // Through the shim, the program cannot send (and nothing leaks out directly).
  RunResult s = udpClient({"socks5://" + proxy}, lab_->destAddr(), {"--timeout", "3"});
  EXPECT_EQ(s.exit_code, 1) << s.describe();
  EXPECT_TRUE(destDatagrams().empty()) << udpDest_->out();
}

TEST_F(UdpSocksdTest, IdleTimeoutEndsTheAssociation) {
  const std::string py = python3Path();
  if (py.empty()) GTEST_SKIP() << "python3 is not installed";
  std::string proxy = startProxy(ProxyKind::kSocksd, 0, {"", "", {"--udp-idle-timeout", "2"}});
  ASSERT_FALSE(HasFailure());
  TempDir dir;
  SpawnOptions so;
  so.netns = lab_->clientNs();
  RunResult r = run({py, dir.write("raw.py", kPyRawUdp), lab_->proxyAddr(0), "1080", "idle", lab_->destAddr(),
                     std::to_string(kUdpEchoPort), NetLab::kRemoteName, "-"},
                    so, 40s);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "answer before-idle 1 ")) << r.describe();
  EXPECT_TRUE(contains(r.out, "control-closed ")) << r.describe();
}

// The shim's control connection is close-on-exec: a program run by a program with an
// open association does not inherit it.
TEST_F(UdpSocksdTest, ControlConnectionIsCloseOnExec) {
  const std::string py = python3Path();
  if (py.empty()) GTEST_SKIP() << "python3 is not installed";
  std::string proxy = startProxy(ProxyKind::kSocksd);
  ASSERT_FALSE(HasFailure());
  TempDir dir;
  const std::string script = dir.write("exec.py", R"(
import socket, subprocess, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto(b"before-exec", (sys.argv[1], int(sys.argv[2])))
print("answer", s.recvfrom(100)[0].decode(), flush=True)
child = "import os; [print('fd', f, os.readlink('/proc/self/fd/' + f)) for f in sorted(os.listdir('/proc/self/fd')) if os.path.exists('/proc/self/fd/' + f)]"
r = subprocess.run([sys.executable, "-c", child], close_fds=False, capture_output=True, text=True)
print(r.stdout, end="", flush=True)
)");
  RunResult r = runSocksified({py, script, lab_->destAddr(), std::to_string(kUdpEchoPort)}, client({"socks5://" + proxy}));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "answer from " + lab_->proxyExternal(0) + ":")) << r.describe();
  EXPECT_TRUE(contains(r.out, "fd 0 ")) << r.describe();
  EXPECT_FALSE(contains(r.out, "socket:[")) << "the child inherited a socket\n" << r.describe();
}

// ---------------------------------------------------------------- SOCKS4: no UDP

struct Socks4Case {
  ProxyKind kind;
  std::string scheme;
};

void PrintTo(const Socks4Case& c, std::ostream* os) { *os << kindName(c.kind) << " " << c.scheme; }

class UdpSocks4Test : public UdpLab, public ::testing::WithParamInterface<Socks4Case> {};

// UDP toward a proxied destination over a SOCKS4 route fails with ENETUNREACH and one
// log line, and never leaks out directly.
TEST_P(UdpSocks4Test, UdpFailsWithEnetunreach) {
  const Socks4Case& c = GetParam();
  if (kindTool(c.kind).empty()) GTEST_SKIP() << kindName(c.kind) << " is not installed";
  std::string proxy = startProxy(c.kind);
  ASSERT_FALSE(HasFailure());
  const std::string host = c.scheme == "socks4a" ? NetLab::kRemoteName : lab_->destAddr();
  for (const char* call : {"--sendto", "--connect", "--msg", "--mmsg"}) {
    RunResult r = udpClient({c.scheme + "://" + proxy}, host, {call, "--timeout", "3"});
    EXPECT_EQ(r.exit_code, 1) << call << "\n" << r.describe();
    EXPECT_TRUE(contains(r.err, "(errno=101 ENETUNREACH)")) << call << "\n" << r.describe();
    EXPECT_EQ(countOccurrences(r.err, "socksify:"), 1u) << call << "\n" << r.describe();
  }
  EXPECT_TRUE(destDatagrams().empty()) << udpDest_->out();
  expectNoDnsLeak();
}

INSTANTIATE_TEST_SUITE_P(Udp, UdpSocks4Test,
                         ::testing::Values(Socks4Case{ProxyKind::kSocksd, "socks4"}, Socks4Case{ProxyKind::kSocksd, "socks4a"},
                                           Socks4Case{ProxyKind::kDanted, "socks4"}),
                         [](const ::testing::TestParamInfo<Socks4Case>& i) {
                           return std::string(kindName(i.param.kind)) + "_" + i.param.scheme;
                         });

}  // namespace
}  // namespace sfy::it
