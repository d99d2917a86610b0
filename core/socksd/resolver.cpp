// resolver.cpp — see resolver.h. c-ares 1.18.1: ARES_OPT_SOCK_STATE_CB tells
// us which of its sockets to watch, ares_process_fd() handles one that is
// ready, ares_timeout() says when to call it with no socket at all.
#include "resolver.h"

#include <sys/epoll.h>

#include <algorithm>
#include <cstring>

#include "socks/log.h"

namespace socksd {
namespace {

using socks::Address;

// Per attempt and number of attempts per server: a name that cannot be
// resolved fails within a few seconds, well inside --connect-timeout.
constexpr int kAttemptTimeoutMs = 2000;
constexpr int kTries = 2;

}  // namespace

// One c-ares socket registered in the loop (level-triggered: c-ares reads
// only what it wants per call).
class Resolver::Socket : public EventLoop::Handler, public Disposable {
 public:
  Socket(Resolver& owner, int fd) : owner_(owner), fd_(fd) {}
  void onEvents(std::uint32_t events) override {
    if (dead_) {
      return;
    }
    const bool readable = (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0;
    const bool writable = (events & EPOLLOUT) != 0;
    owner_.process(readable ? fd_ : ARES_SOCKET_BAD, writable ? fd_ : ARES_SOCKET_BAD);
  }
  void kill() { dead_ = true; }

 private:
  Resolver& owner_;
  int fd_;
  bool dead_ = false;
};

struct Resolver::Query {
  Resolver* resolver;
  std::uint64_t id;
};

Resolver::Resolver(EventLoop& loop, const socks::HostTable* hosts)
    : loop_(loop), hosts_(hosts), timer_(loop, [this] { process(ARES_SOCKET_BAD, ARES_SOCKET_BAD); }) {}

Resolver::~Resolver() {
  destroying_ = true;
  pending_.clear();
  if (channel_ != nullptr) {
    ares_destroy(channel_);  // runs every callback with ARES_EDESTRUCTION
  }
  timer_.disarm();
  sockets_.clear();
}

bool Resolver::init(std::string& error) {
  ares_options options{};
  options.sock_state_cb = &Resolver::onSocketState;
  options.sock_state_cb_data = this;
  options.timeout = kAttemptTimeoutMs;
  options.tries = kTries;
  const int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  const int rc = ares_init_options(&channel_, &options, mask);
  if (rc != ARES_SUCCESS) {
    error = std::string("c-ares: ") + ares_strerror(rc);
    channel_ = nullptr;
    return false;
  }
  return true;
}

std::uint64_t Resolver::resolve(std::string_view name, Callback callback) {
  const std::uint64_t id = next_id_++;
  pending_.emplace(id, std::move(callback));

  // The --hosts file first, then literal addresses, then DNS (c-ares reads
  // /etc/hosts itself).
  if (hosts_ != nullptr) {
    if (const auto* found = hosts_->lookup(name); found != nullptr) {
      finish(id, Resolution{Resolution::Outcome::kOk, *found, ""});
      return id;
    }
  }
  if (auto numeric = Address::parseNumeric(name, 0); numeric && name.front() != '[') {
    finish(id, Resolution{Resolution::Outcome::kOk, {*numeric}, ""});
    return id;
  }
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const std::string host(name);
  ares_getaddrinfo(channel_, host.c_str(), nullptr, &hints, &Resolver::onAddrInfo, new Query{this, id});
  rearmTimer();
  return id;
}

void Resolver::onAddrInfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  std::unique_ptr<Query> query(static_cast<Query*>(arg));
  Resolver& self = *query->resolver;
  Resolution resolution;
  if (status == ARES_SUCCESS && result != nullptr) {
    for (const ares_addrinfo_node* node = result->nodes; node != nullptr; node = node->ai_next) {
      auto addr = Address::fromSockaddr(node->ai_addr, static_cast<socklen_t>(node->ai_addrlen));
      if (addr && std::find(resolution.addresses.begin(), resolution.addresses.end(), *addr) ==
                      resolution.addresses.end()) {
        resolution.addresses.push_back(*addr);
      }
    }
  }
  if (result != nullptr) {
    ares_freeaddrinfo(result);
  }
  if (self.destroying_) {
    return;
  }
  if (!resolution.addresses.empty()) {
    resolution.outcome = Resolution::Outcome::kOk;
  } else if (status == ARES_SUCCESS || status == ARES_ENOTFOUND || status == ARES_ENODATA) {
    resolution.outcome = Resolution::Outcome::kNotFound;
    resolution.reason = "no such name";
  } else {
    resolution.outcome = Resolution::Outcome::kFailed;
    resolution.reason = ares_strerror(status);
  }
  self.finish(query->id, std::move(resolution));
}

void Resolver::finish(std::uint64_t id, Resolution resolution) {
  // Always deferred: the caller of resolve() may still be on the stack.
  loop_.post([this, id, r = std::move(resolution)] {
    const auto it = pending_.find(id);
    if (it == pending_.end()) {
      return;  // cancelled
    }
    Callback callback = std::move(it->second);
    pending_.erase(it);
    callback(r);
  });
}

void Resolver::onSocketState(void* data, ares_socket_t fd, int readable, int writable) {
  auto& self = *static_cast<Resolver*>(data);
  const auto it = self.sockets_.find(fd);
  if (readable == 0 && writable == 0) {
    if (it != self.sockets_.end()) {
      self.loop_.remove(fd);  // c-ares closes it right after this call
      it->second->kill();
      if (!self.destroying_) {
        self.loop_.disposeLater(std::move(it->second));
      }
      self.sockets_.erase(it);
    }
    return;
  }
  const std::uint32_t events = (readable != 0 ? EPOLLIN : 0u) | (writable != 0 ? EPOLLOUT : 0u);
  if (it == self.sockets_.end()) {
    auto socket = std::make_unique<Socket>(self, fd);
    if (!self.loop_.add(fd, events, socket.get())) {
      SOCKS_LOG(kWarn, "resolver: cannot watch socket %d: %s", fd, strerror(errno));
      return;  // the query then ends by its timeout
    }
    self.sockets_.emplace(fd, std::move(socket));
  } else {
    self.loop_.modify(fd, events, it->second.get());
  }
}

void Resolver::process(ares_socket_t read_fd, ares_socket_t write_fd) {
  ares_process_fd(channel_, read_fd, write_fd);
  rearmTimer();
}

void Resolver::rearmTimer() {
  timeval tv{};
  if (ares_timeout(channel_, nullptr, &tv) == nullptr) {
    timer_.disarm();
    return;
  }
  const auto delay = std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
  timer_.armAt(Clock::now() + std::chrono::duration_cast<Clock::duration>(delay));
}

}  // namespace socksd
