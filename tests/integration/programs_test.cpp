// Real programs through `socksify -x URL` against socksd, danted and microsocks,
// for every scheme each server speaks, in network namespaces: the client cannot
// reach the destination network except through the proxy, and the destination
// must report the proxy's address.

#include <gtest/gtest.h>

#include <ostream>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include "harness.h"
#include "lab_fixture.h"

namespace sfy::it {
namespace {

enum class Program {
  kClientBlocking,
  kClientNonBlocking,
  kClientEpoll,
  kBannerNonBlocking,
  kBannerEpoll,
  kCurl,
  kWget,
  kPythonBlocking,
  kPythonUrllib,
  kPythonAsyncio,
  kPythonAsyncioBanner,
  kNodeNet,
  kNodeHttp,
  kNcat,
  kSsh,
  kGetent,
};

const char* programName(Program p) {
  switch (p) {
    case Program::kClientBlocking: return "tcp_client_blocking";
    case Program::kClientNonBlocking: return "tcp_client_nonblocking";
    case Program::kClientEpoll: return "tcp_client_epoll";
    case Program::kBannerNonBlocking: return "banner_nonblocking";
    case Program::kBannerEpoll: return "banner_epoll";
    case Program::kCurl: return "curl";
    case Program::kWget: return "wget";
    case Program::kPythonBlocking: return "python_blocking";
    case Program::kPythonUrllib: return "python_urllib";
    case Program::kPythonAsyncio: return "python_asyncio";
    case Program::kPythonAsyncioBanner: return "python_asyncio_banner";
    case Program::kNodeNet: return "node_net";
    case Program::kNodeHttp: return "node_http";
    case Program::kNcat: return "ncat";
    case Program::kSsh: return "ssh";
    case Program::kGetent: return "getent";
  }
  return "?";
}

struct Combo {
  ProxyKind kind;
  std::string scheme;
};

void PrintTo(const Combo& c, std::ostream* os) { *os << kindName(c.kind) << " " << c.scheme; }
void PrintTo(Program p, std::ostream* os) { *os << programName(p); }

std::vector<Combo> combos() {
  std::vector<Combo> v;
  for (ProxyKind k : {ProxyKind::kSocksd, ProxyKind::kDanted, ProxyKind::kMicrosocks})
    for (const char* s : {"socks4", "socks4a", "socks5", "socks5h"})
      if (speaks(k, s)) v.push_back({k, s});
  return v;
}

std::vector<Program> programs() {
  return {Program::kClientBlocking, Program::kClientNonBlocking, Program::kClientEpoll, Program::kBannerNonBlocking,
          Program::kBannerEpoll,    Program::kCurl,              Program::kWget,        Program::kPythonBlocking,
          Program::kPythonUrllib,   Program::kPythonAsyncio,     Program::kPythonAsyncioBanner,
          Program::kNodeNet,        Program::kNodeHttp,          Program::kNcat,        Program::kSsh,
          Program::kGetent};
}

const char* kPyBlocking = R"(
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
print("getpeername %s:%d" % s.getpeername()[:2])
s.sendall(b"hello\n")
data = b""
while not data.endswith(b"hello\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
)";

const char* kPyUrllib = R"(
import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("http://%s/" % sys.argv[1], timeout=20).read().decode())
)";

const char* kPyAsyncio = R"(
import asyncio, sys
async def main(host, port, banner):
    r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 20)
    out = ""
    if banner:
        out += (await asyncio.wait_for(r.readline(), 20)).decode()
    w.write(b"hello\n")
    await w.drain()
    out += (await asyncio.wait_for(r.readuntil(b"hello\n"), 20)).decode()
    sys.stdout.write(out)
    w.close()
asyncio.run(main(sys.argv[1], int(sys.argv[2]), len(sys.argv) > 3))
)";

const char* kNodeNet = R"(
const net = require('net');
const s = net.connect({host: process.argv[1], port: +process.argv[2]});
let buf = '';
s.setTimeout(20000, () => { console.error('timeout'); process.exit(3); });
s.on('connect', () => { s.write('hello\n'); });
s.on('data', d => {
  buf += d;
  if (buf.endsWith('hello\n')) { process.stdout.write(buf); s.destroy(); }
});
s.on('end', () => { console.error('EOF before the echo: ' + JSON.stringify(buf)); process.exit(4); });
s.on('error', e => { console.error('error: ' + e.code); process.exit(1); });
)";

const char* kNodeHttp = R"(
const http = require('http');
const req = http.get('http://' + process.argv[1] + '/', {timeout: 20000}, res => {
  let body = '';
  res.on('data', d => { body += d; });
  res.on('end', () => { process.stdout.write(body); });
});
req.on('timeout', () => { console.error('timeout'); process.exit(3); });
req.on('error', e => { console.error('error: ' + e.code); process.exit(1); });
)";

class ProgramsTest : public LabTest, public ::testing::WithParamInterface<std::tuple<Combo, Program>> {
 protected:
  void SetUp() override {
    buildLab(1);
    if (IsSkipped() || HasFatalFailure()) return;
  }
};

TEST_P(ProgramsTest, ReachesDestinationOnlyThroughProxy) {
  const auto& [combo, program] = GetParam();
  if (kindTool(combo.kind).empty()) GTEST_SKIP() << kindName(combo.kind) << " is not installed";
  const std::string proxy = startProxy(combo.kind);
  ASSERT_FALSE(HasFailure());
  const std::string url = combo.scheme + "://" + proxy;
  const std::string host = targetFor(combo.scheme);
  const std::string peer = peerViaProxy();
  const std::string banner = std::string(kBanner) + "\r\n";
  ClientOptions o = client({url});

  auto needTool = [&](const char* name) -> std::string {
    std::string t = std::string(name) == "python3" ? python3Path() : findTool(name);
    return t;
  };

  RunResult r;
  bool expectDest = true;
  switch (program) {
    case Program::kClientBlocking:
    case Program::kClientNonBlocking:
    case Program::kClientEpoll: {
      const char* mode = program == Program::kClientBlocking      ? "--blocking"
                         : program == Program::kClientNonBlocking ? "--nonblocking"
                                                                  : "--epoll";
      r = runSocksified({helper("tcp_client"), host, "7", mode, "--print-peer"}, o);
      ASSERT_EQ(r.exit_code, 0) << r.describe();
      auto ls = lines(r.out);
      ASSERT_GE(ls.size(), 4u) << r.describe();
      // getpeername answers with the destination the program connected to, not the proxy.
      ASSERT_EQ(ls[0].rfind("connected-to ", 0), 0u) << r.describe();
      ASSERT_EQ(ls[1].rfind("getpeername ", 0), 0u) << r.describe();
      EXPECT_EQ(ls[0].substr(13), ls[1].substr(12)) << r.describe();
      if (remoteNames(combo.scheme)) {
        EXPECT_TRUE(std::regex_match(ls[0], std::regex("connected-to 198\\.1[89]\\.[0-9]+\\.[0-9]+:7")))
            << "a name only the proxy knows should resolve to a fake 198.18.0.0/15 address\n" << r.describe();
      } else {
        EXPECT_EQ(ls[0], "connected-to " + lab_->destAddr() + ":7") << r.describe();
      }
      EXPECT_EQ(ls[2].rfind(peer, 0), 0u) << r.describe();
      EXPECT_EQ(ls[3], "hello") << r.describe();
      EXPECT_EQ(ls.size(), 4u) << "extra bytes (handshake leaking into the data?)\n" << r.describe();
      break;
    }
    case Program::kBannerNonBlocking:
    case Program::kBannerEpoll: {
      const char* mode = program == Program::kBannerNonBlocking ? "--nonblocking" : "--epoll";
      r = runSocksified({helper("tcp_client"), host, "22", mode, "--read-first"}, o);
      ASSERT_EQ(r.exit_code, 0) << r.describe();
      // The server speaks first: its banner must be the very first bytes the program reads.
      EXPECT_EQ(r.out.rfind(banner + peer, 0), 0u) << r.describe();
      EXPECT_TRUE(contains(r.out, "\nhello\n")) << r.describe();
      break;
    }
    case Program::kCurl: {
      std::string curl = needTool("curl");
      if (curl.empty()) GTEST_SKIP() << "curl is not installed";
      r = runSocksified({curl, "-sS", "--max-time", "20", "http://" + host + "/"}, o);
      ASSERT_EQ(r.exit_code, 0) << r.describe();
      EXPECT_EQ(r.out.rfind(peer, 0), 0u) << r.describe();
      break;
    }
    case Program::kWget: {
      std::string wget = needTool("wget");
      if (wget.empty()) GTEST_SKIP() << "wget is not installed";
      r = runSocksified({wget, "-q", "-O", "-", "--timeout=20", "--tries=1", "http://" + host + "/"}, o);
      ASSERT_EQ(r.exit_code, 0) << r.describe();
      EXPECT_EQ(r.out.rfind(peer, 0), 0u) << r.describe();
      break;
    }
    case Program::kPythonBlocking: {
      std::string py = needTool("python3");
      if (py.empty()) GTEST_SKIP() << "python3 is not installed";
      r = runSocksified({py, "-c", kPyBlocking, host, "7"}, o);
      ASSERT_EQ(r.exit_code, 0) << r.describe();
      auto ls = lines(r.out);
      ASSERT_EQ(ls.size(), 3u) << r.describe();
      if (!remoteNames(combo.scheme)) {
        EXPECT_EQ(ls[0], "getpeername " + lab_->destAddr() + ":7") << r.describe();
      }
      EXPECT_EQ(ls[1].rfind(peer, 0), 0u) << r.describe();
      EXPECT_EQ(ls[2], "hello") << r.describe();
      break;
    }
    case Program::kPythonUrllib: {
      std::string py = needTool("python3");
      if (py.empty()) GTEST_SKIP() << "python3 is not installed";
      r = runSocksified({py, "-c", kPyUrllib, host}, o);
      ASSERT_EQ(r.exit_code, 0) << r.describe();
      EXPECT_EQ(r.out.rfind(peer, 0), 0u) << r.describe();
      break;
    }
    case Program::kPythonAsyncio:
    case Program::kPythonAsyncioBanner: {
      std::string py = needTool("python3");
      if (py.empty()) GTEST_SKIP() << "python3 is not installed";
      bool b = program == Program::kPythonAsyncioBanner;
      Argv argv = {py, "-c", kPyAsyncio, host, b ? "22" : "7"};
      if (b) argv.push_back("banner");
      r = runSocksified(argv, o);
      ASSERT_EQ(r.exit_code, 0) << r.describe();
      EXPECT_EQ(r.out.rfind((b ? banner : "") + peer, 0), 0u) << r.describe();
      EXPECT_TRUE(contains(r.out, "\nhello\n")) << r.describe();
      break;
    }
    case Program::kNodeNet:
    case Program::kNodeHttp: {
      std::string node = needTool("node");
      if (node.empty()) GTEST_SKIP() << "node is not installed";
      bool http = program == Program::kNodeHttp;
      Argv argv = {node, "-e", http ? kNodeHttp : kNodeNet, host};
      if (!http) argv.push_back("22");  // banner port: the server speaks first
      r = runSocksified(argv, o);
      ASSERT_EQ(r.exit_code, 0) << r.describe();
      EXPECT_EQ(r.out.rfind((http ? "" : banner) + peer, 0), 0u) << r.describe();
      break;
    }
    case Program::kNcat: {
      std::string ncat = needTool("ncat");
      if (ncat.empty()) GTEST_SKIP() << "ncat is not installed";
      // HTTP by hand: the server closes after its answer; --no-shutdown keeps ncat from
      // half-closing at the end of stdin (which microsocks treats as a full close).
      TempDir d;
      o.stdin_file = d.write("in", "GET / HTTP/1.0\r\nHost: " + host + "\r\n\r\n");
      r = runSocksified({ncat, "--no-shutdown", "-w", "20", host, "80"}, o);
      ASSERT_EQ(r.exit_code, 0) << r.describe();
      EXPECT_EQ(r.out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r.describe();
      EXPECT_TRUE(contains(r.out, "\r\n\r\n" + peer)) << r.describe();
      break;
    }
    case Program::kSsh: {
      std::string ssh = needTool("ssh");
      if (ssh.empty()) GTEST_SKIP() << "ssh is not installed";
      // The destination is a banner server: ssh must read the banner intact, then
      // give up on the key exchange. That is enough to prove the path.
      r = runSocksified({ssh, "-v", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o",
                         "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=20", "-p", "22", "nobody@" + host,
                         "true"},
                        o);
      EXPECT_TRUE(contains(r.err, "remote software version SocksifyTestBanner")) << r.describe();
      break;
    }
    case Program::kGetent: {
      expectDest = false;
      std::string getent = needTool("getent");
      if (getent.empty()) GTEST_SKIP() << "getent is not installed";
      r = runSocksified({getent, "ahosts", host}, o);
      ASSERT_EQ(r.exit_code, 0) << r.describe();
      if (remoteNames(combo.scheme)) {
        EXPECT_TRUE(std::regex_search(r.out, std::regex("^198\\.1[89]\\.[0-9]+\\.[0-9]+ ")))
            << "expected a fake 198.18.0.0/15 address\n" << r.describe();
      } else {
        EXPECT_TRUE(contains(r.out, lab_->destAddr())) << r.describe();
      }
      break;
    }
  }
  if (expectDest) expectDestSawOnlyProxy();
  if (remoteNames(combo.scheme)) expectNoDnsLeak();
}

std::string paramName(const ::testing::TestParamInfo<std::tuple<Combo, Program>>& info) {
  const auto& [c, p] = info.param;
  return std::string(kindName(c.kind)) + "_" + c.scheme + "_" + programName(p);
}

INSTANTIATE_TEST_SUITE_P(All, ProgramsTest, ::testing::Combine(::testing::ValuesIn(combos()), ::testing::ValuesIn(programs())),
                         paramName);

}  // namespace
}  // namespace sfy::it
