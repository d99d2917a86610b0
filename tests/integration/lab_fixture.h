// A GoogleTest fixture over NetLab: client, proxy namespace(s) and a destination
// namespace running tcp_server (echo on 7, HTTP on 80, banner on 22).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace sfy::it {

enum class ProxyKind { kSocksd, kDanted, kMicrosocks };

inline const char* kindName(ProxyKind k) {
  switch (k) {
    case ProxyKind::kSocksd: return "socksd";
    case ProxyKind::kDanted: return "danted";
    case ProxyKind::kMicrosocks: return "microsocks";
  }
  return "?";
}

// Which schemes each server speaks (danted: SOCKS4 and SOCKS5, no 4a; microsocks: SOCKS5).
inline bool speaks(ProxyKind k, const std::string& scheme) {
  switch (k) {
    case ProxyKind::kSocksd: return true;
    case ProxyKind::kDanted: return scheme != "socks4a";
    case ProxyKind::kMicrosocks: return scheme == "socks5" || scheme == "socks5h";
  }
  return false;
}

inline bool remoteNames(const std::string& scheme) { return scheme == "socks4a" || scheme == "socks5h"; }

inline std::string kindTool(ProxyKind k) {
  switch (k) {
    case ProxyKind::kSocksd: return socksdPath();
    case ProxyKind::kDanted: return findTool("danted");
    case ProxyKind::kMicrosocks: return findTool("microsocks");
  }
  return "";
}

struct ProxyStart {
  std::string user, password;  // socksd users file / microsocks -u -P
  std::vector<std::string> extra = {};  // socksd only: more arguments (e.g. --bind-timeout 1)
};

class LabTest : public ::testing::Test {
 protected:
  static constexpr int kEchoPort = 7;
  static constexpr int kHttpPort = 80;
  static constexpr int kBannerPort = 22;
  static constexpr const char* kBanner = "SSH-2.0-SocksifyTestBanner";

  // Builds the lab with `proxies` proxy namespaces and starts the destination.
  // Skips (GTEST_SKIP from the caller's SetUp via IsSkipped()) when unavailable.
  void buildLab(int proxies = 1) {
    static const std::string reason = NetLab::unavailableReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
    lab_ = std::make_unique<NetLab>(proxies);
    ASSERT_TRUE(lab_->ok()) << lab_->error();
    Argv listeners = {"--echo", "0.0.0.0:7", "--http", "0.0.0.0:80", "--banner", "0.0.0.0:22"};
    if (lab_->hasIpv6()) listeners.insert(listeners.end(), {"--echo", "[::]:7", "--http", "[::]:80"});
    dest_ = startTcpServer(lab_->destNs(), listeners);
    ASSERT_EQ(dest_.ports.size(), lab_->hasIpv6() ? 5u : 3u);
  }

  // Starts a proxy of `kind` in proxy namespace `index`; returns its "host:port".
  std::string startProxy(ProxyKind kind, int index = 0, const ProxyStart& ps = {}) {
    const std::string tool = kindTool(kind);
    if (tool.empty()) {
      ADD_FAILURE() << kindName(kind) << " not installed";
      return "";
    }
    Server s;
    if (kind == ProxyKind::kSocksd) {
      SocksdOptions o;
      o.netns = lab_->proxyNs(index);
      o.listen = lab_->proxyAddr(index) + ":1080";
      o.external = lab_->proxyExternal(index);
      o.hosts = std::string(lab_->destAddr()) + " " + NetLab::kRemoteName + "\n";
      if (!ps.user.empty()) o.users = ps.user + ":" + ps.password + "\n";
      if (lab_->hasIpv6()) o.extra = {"--listen", "[" + lab_->proxyAddr6(index) + "]:1080"};
      o.extra.insert(o.extra.end(), ps.extra.begin(), ps.extra.end());
      s = startSocksd(o);
    } else {
      ThirdPartyOptions o;
      o.netns = lab_->proxyNs(index);
      o.listen_addr = lab_->proxyAddr(index);
      o.port = 1080;
      o.external = lab_->proxyExternal(index);
      if (kind == ProxyKind::kDanted && lab_->hasIpv6())
        o.external6 = lab_->proxyExternal6(index);
      o.user = ps.user;
      o.password = ps.password;
      s = kind == ProxyKind::kDanted ? startDanted(o) : startMicrosocks(o);
    }
    std::string hp = s.hostPort();
    servers_.push_back(std::move(s));
    return hp;
  }

  // The destination host a program should use with `scheme`: an IP for socks4, a name
  // only the client resolves for socks5, a name only the proxy resolves for 4a/5h.
  std::string targetFor(const std::string& scheme) const {
    if (scheme == "socks4") return lab_->destAddr();
    if (scheme == "socks5") return NetLab::kLocalName;
    return NetLab::kRemoteName;
  }

  // "peer 198.51.100.1:" — what the destination reports for a connection via the last proxy.
  std::string peerViaProxy(int lastIndex = 0) const { return "peer " + lab_->proxyExternal(lastIndex) + ":"; }

  // The destination saw at least `n` connections, all from the proxy's address.
  void expectDestSawOnlyProxy(int lastIndex = 0) const {
    std::string out = dest_.proc->out();
    size_t accepted = countOccurrences(out, "tcp_server: accepted from ");
    size_t viaProxy = countOccurrences(out, "tcp_server: accepted from " + lab_->proxyExternal(lastIndex) + ":") +
                      countOccurrences(out, "tcp_server: accepted from [" + lab_->proxyExternal6(lastIndex) + "]:");
    EXPECT_GE(accepted, 1u) << out;
    EXPECT_EQ(accepted, viaProxy) << "the destination saw a connection not from the proxy:\n" << out;
  }

  void expectNoDnsLeak() const {
    auto q = lab_->dnsQueries();
    std::string all;
    for (const auto& l : q) all += l + "\n";
    EXPECT_TRUE(q.empty()) << "DNS queries left the client namespace:\n" << all;
  }

  ClientOptions client(const std::vector<std::string>& proxies) const {
    ClientOptions o;
    o.netns = lab_->clientNs();
    o.proxies = proxies;
    return o;
  }

  std::unique_ptr<NetLab> lab_;
  DestServer dest_;
  std::vector<Server> servers_;
};

}  // namespace sfy::it
