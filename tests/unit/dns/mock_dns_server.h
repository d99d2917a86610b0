// mock_dns_server.h — a tiny UDP DNS server on 127.0.0.1:<ephemeral> for the
// resolver tests: answers A / AAAA / PTR from a table (NXDOMAIN for unknown
// names, NODATA for known names without the type), or stays silent. Counts
// every datagram it receives, so a test can prove that nothing was sent.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace socks::testing {

class MockDnsServer {
 public:
  static constexpr std::uint16_t kTypeA = 1;
  static constexpr std::uint16_t kTypePtr = 12;
  static constexpr std::uint16_t kTypeAaaa = 28;

  // answer=false: receive and count, never reply (the timeout case).
  explicit MockDnsServer(bool answer = true) : answer_(answer) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = 0;
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0) {
      socklen_t len = sizeof(sin);
      if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&sin), &len) == 0) {
        port_ = ntohs(sin.sin_port);
      }
    }
    thread_ = std::thread([this] { run(); });
  }

  ~MockDnsServer() {
    stop_.store(true);
    thread_.join();
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }

  MockDnsServer(const MockDnsServer&) = delete;
  MockDnsServer& operator=(const MockDnsServer&) = delete;

  bool ok() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }
  std::string servers() const { return "127.0.0.1:" + std::to_string(port_); }
  int queries() const { return queries_.load(); }
  std::vector<std::string> names() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

  void addA(const std::string& name, const char* text) {
    std::vector<std::uint8_t> rdata(4);
    inet_pton(AF_INET, text, rdata.data());
    add(name, kTypeA, std::move(rdata));
  }
  void addAaaa(const std::string& name, const char* text) {
    std::vector<std::uint8_t> rdata(16);
    inet_pton(AF_INET6, text, rdata.data());
    add(name, kTypeAaaa, std::move(rdata));
  }
  void addPtr(const std::string& name, const std::string& target) {
    add(name, kTypePtr, encodeName(target));
  }

 private:
  static std::vector<std::uint8_t> encodeName(const std::string& name) {
    std::vector<std::uint8_t> out;
    std::size_t start = 0;
    while (start < name.size()) {
      std::size_t dot = name.find('.', start);
      if (dot == std::string::npos) {
        dot = name.size();
      }
      out.push_back(static_cast<std::uint8_t>(dot - start));
      out.insert(out.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
      start = dot + 1;
    }
    out.push_back(0);
    return out;
  }

  void add(const std::string& name, std::uint16_t type, std::vector<std::uint8_t> rdata) {
    std::lock_guard<std::mutex> lock(mu_);
    names_.insert(lower(name));
    records_[{lower(name), type}].push_back(std::move(rdata));
  }

  static std::string lower(std::string s) {
    for (char& c : s) {
      if (c >= 'A' && c <= 'Z') {
        c = static_cast<char>(c - 'A' + 'a');
      }
    }
    return s;
  }

  void run() {
    while (!stop_.load()) {
      pollfd p{fd_, POLLIN, 0};
      if (fd_ < 0 || ::poll(&p, 1, 20) <= 0) {
        continue;
      }
      std::uint8_t buf[1500];
      sockaddr_storage from{};
      socklen_t from_len = sizeof(from);
      const ssize_t n = ::recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n <= 0) {
        continue;
      }
      queries_.fetch_add(1);
      std::vector<std::uint8_t> reply;
      if (!respond(buf, static_cast<std::size_t>(n), reply) || !answer_) {
        continue;
      }
      ::sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
    }
  }

  // RFC 1035 §4.1: header, one question; answers point back at it (0xC00C).
  bool respond(const std::uint8_t* q, std::size_t n, std::vector<std::uint8_t>& out) {
    if (n < 12) {
      return false;
    }
    std::size_t at = 12;
    std::string name;
    while (at < n && q[at] != 0) {
      const std::size_t len = q[at];
      if (len > 63 || at + 1 + len > n) {
        return false;
      }
      if (!name.empty()) {
        name.push_back('.');
      }
      name.append(reinterpret_cast<const char*>(q + at + 1), len);
      at += 1 + len;
    }
    if (at + 5 > n) {
      return false;
    }
    at += 1;
    const std::uint16_t type = static_cast<std::uint16_t>((q[at] << 8) | q[at + 1]);
    at += 4;  // type, class
    name = lower(name);

    std::vector<std::vector<std::uint8_t>> answers;
    bool known = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(name);
      known = names_.count(name) != 0;
      auto it = records_.find({name, type});
      if (it != records_.end()) {
        answers = it->second;
      }
    }
    out.assign(q, q + at);  // header + question
    out[2] = static_cast<std::uint8_t>(0x80 | (q[2] & 0x01));  // QR, opcode 0, RD copied
    out[3] = static_cast<std::uint8_t>(0x80 | (known ? 0 : 3));  // RA, NOERROR / NXDOMAIN
    out[4] = 0;
    out[5] = 1;
    out[6] = 0;
    out[7] = static_cast<std::uint8_t>(answers.size());
    out[8] = out[9] = out[10] = out[11] = 0;
    for (const auto& rdata : answers) {
      const std::uint8_t rr[] = {0xc0, 0x0c, static_cast<std::uint8_t>(type >> 8),
                                 static_cast<std::uint8_t>(type), 0, 1, 0, 0, 0, 60,
                                 static_cast<std::uint8_t>(rdata.size() >> 8),
                                 static_cast<std::uint8_t>(rdata.size())};
      out.insert(out.end(), rr, rr + sizeof(rr));
      out.insert(out.end(), rdata.begin(), rdata.end());
    }
    return true;
  }

  const bool answer_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  mutable std::mutex mu_;
  std::set<std::string> names_;
  std::map<std::pair<std::string, std::uint16_t>, std::vector<std::vector<std::uint8_t>>> records_;
  std::vector<std::string> seen_;
  std::thread thread_;
};

}  // namespace socks::testing
