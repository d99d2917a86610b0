// worker.cpp — see worker.h.
#include "worker.h"

#include <errno.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "socks/log.h"

namespace socksd {
namespace {

// Connections accepted per readiness report of one listener, so one busy
// listener cannot hold the loop (it is level-triggered: the rest comes next round).
constexpr int kAcceptBatch = 64;
// Pause after running out of descriptors or memory: accept() would fail
// again at once, and a level-triggered listener would spin.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

}  // namespace

Worker::Worker(const Config& config, const socks::UserTable* users, const socks::HostTable* hosts)
    : config_(config),
      resolver_(loop_, hosts),
      accept_backoff_(loop_, [this] { updateAccepting(); }),
      datagram_buffer_(std::make_unique<std::uint8_t[]>(kDatagramBufferSize)) {
  session_options_.authenticator = users;
  session_options_.allow_bind = config.allow_bind;
  session_options_.allow_udp_associate = config.allow_udp;
}

Worker::~Worker() {
  connections_.clear();  // closes every client and upstream socket
  for (auto& listener : listeners_) {
    if (accepting_) {
      loop_.remove(listener->fd);
    }
    ::close(listener->fd);
  }
  if (signal_) {
    loop_.remove(signal_->fd);
    ::close(signal_->fd);
  }
}

bool Worker::init(std::string& error) {
  if (!loop_.init()) {
    error = std::string("epoll_create1: ") + strerror(errno);
    return false;
  }
  return resolver_.init(error);
}

bool Worker::addListener(int fd, std::string& error) {
  listeners_.push_back(std::make_unique<Watched>(*this, fd, &Worker::onAcceptable));
  if (accepting_ && !loop_.add(fd, EPOLLIN, listeners_.back().get())) {
    error = std::string("epoll_ctl: ") + strerror(errno);
    return false;
  }
  return true;
}

bool Worker::addSignalFd(int fd, std::string& error) {
  signal_ = std::make_unique<Watched>(*this, fd, &Worker::onSignal);
  if (!loop_.add(fd, EPOLLIN, signal_.get())) {
    error = std::string("epoll_ctl: ") + strerror(errno);
    return false;
  }
  return true;
}

bool Worker::run() {
  updateAccepting();
  return loop_.run();
}

void Worker::stop() {
  stopping_ = true;
  updateAccepting();
  loop_.stop();
}

void Worker::updateAccepting() {
  const bool want = !stopping_ && connections_.size() < config_.max_clients && !accept_backoff_.armed();
  if (want == accepting_) {
    return;
  }
  accepting_ = want;
  for (auto& listener : listeners_) {
    if (want) {
      if (!loop_.add(listener->fd, EPOLLIN, listener.get())) {
        SOCKS_LOG(kError, "cannot watch a listener: %s", strerror(errno));
      }
    } else {
      loop_.remove(listener->fd);
    }
  }
}

void Worker::onAcceptable(Watched& listener) {
  for (int i = 0; i < kAcceptBatch && accepting_; ++i) {
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    const int fd = ::accept4(listener.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        return;
      }
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        SOCKS_LOG(kWarn, "accept: %s; pausing new connections", strerror(err));
        accept_backoff_.armAfter(kAcceptBackoff);
        updateAccepting();
        return;
      }
      if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM) {
        continue;  // that one connection is gone; others may wait
      }
      SOCKS_LOG(kWarn, "accept: %s", strerror(err));
      return;
    }
    const auto peer = socks::Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
    if (!config_.allow.empty() && (!peer || !socks::AddressRange::anyContains(config_.allow, *peer))) {
      char name[64] = "?";
      if (peer) {
        peer->format(name, sizeof(name));
      }
      SOCKS_LOG(kInfo, "%s: client not allowed (--allow)", name);
      ::close(fd);
      continue;
    }
    const std::uint64_t id = next_id_++;
    auto owned = std::make_unique<Connection>(*this, id, fd, peer.value_or(socks::Address()));
    Connection& connection = *owned;
    connections_.emplace(id, std::move(owned));
    if (!connection.start()) {
      SOCKS_LOG(kWarn, "cannot watch a client: %s", strerror(errno));
      connection.close("cannot watch the socket");
    }
    updateAccepting();  // pauses at --max-clients
  }
}

void Worker::onSignal(Watched& signal) {
  signalfd_siginfo info;
  const ssize_t n = ::read(signal.fd, &info, sizeof(info));
  if (n == static_cast<ssize_t>(sizeof(info))) {
    SOCKS_LOG(kInfo, "%s: shutting down", strsignal(static_cast<int>(info.ssi_signo)));
  }
  stop();
}

void Worker::release(Connection& connection) {
  const auto it = connections_.find(connection.id());
  if (it == connections_.end()) {
    return;
  }
  loop_.disposeLater(std::move(it->second));
  connections_.erase(it);
  updateAccepting();
}

void Worker::scheduleResume(std::uint64_t id) {
  // By id, not by pointer: the connection may be gone when the task runs.
  loop_.post([this, id] {
    const auto it = connections_.find(id);
    if (it != connections_.end()) {
      it->second->resume();
    }
  });
}

}  // namespace socksd
