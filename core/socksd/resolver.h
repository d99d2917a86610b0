// resolver.h — socksd's non-blocking name resolution: the --hosts table
// first, then c-ares driven by the worker's event loop (its sockets live in
// the same epoll set, its timeouts on a loop timer). Never blocks the loop.
#pragma once

#include <ares.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "event_loop.h"
#include "options.h"
#include "socks/address.h"

namespace socksd {

struct Resolution {
  enum class Outcome : std::uint8_t { kOk, kNotFound, kFailed };
  Outcome outcome = Outcome::kFailed;
  std::vector<socks::Address> addresses;  // port 0, in the order to try
  const char* reason = "";                // for logs
};

class Resolver {
 public:
  using Callback = std::function<void(const Resolution&)>;

  // hosts may be null; it must outlive the resolver.
  Resolver(EventLoop& loop, const socks::HostTable* hosts);
  // Pending callbacks are dropped, never called.
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Initialises c-ares (ares_library_init must have been called); false with
  // *error set on failure.
  bool init(std::string& error);

  // Resolves name (IPv4 and IPv6). The callback always runs later from the
  // loop, never from inside resolve(). Returns an id for cancel().
  std::uint64_t resolve(std::string_view name, Callback callback);
  // The callback of id will not be called.
  void cancel(std::uint64_t id) { pending_.erase(id); }

 private:
  class Socket;
  struct Query;

  static void onSocketState(void* data, ares_socket_t fd, int readable, int writable);
  static void onAddrInfo(void* arg, int status, int timeouts, ares_addrinfo* result);
  void finish(std::uint64_t id, Resolution resolution);
  void process(ares_socket_t read_fd, ares_socket_t write_fd);
  void rearmTimer();

  EventLoop& loop_;
  const socks::HostTable* hosts_;
  ares_channel channel_ = nullptr;
  bool destroying_ = false;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, Callback> pending_;
  std::unordered_map<int, std::unique_ptr<Socket>> sockets_;
  EventLoop::Timer timer_;
};

}  // namespace socksd
