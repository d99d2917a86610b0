// worker.h — one socksd event-loop thread: its listeners, its clients, its
// resolver. socksd runs one Worker on the main thread; more could run side by
// side (each with SO_REUSEPORT listeners of its own), since a Worker shares
// nothing mutable with anything else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "connection.h"
#include "event_loop.h"
#include "options.h"
#include "resolver.h"
#include "socks/server.h"

namespace socksd {

class Worker {
 public:
  // users and hosts may be null; everything given must outlive the worker.
  Worker(const Config& config, const socks::UserTable* users, const socks::HostTable* hosts);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  bool init(std::string& error);
  // Takes ownership of a bound, listening, non-blocking socket.
  bool addListener(int fd, std::string& error);
  // Takes ownership of a signalfd; any signal read from it stops the worker.
  bool addSignalFd(int fd, std::string& error);

  // Serves until stop() or a signal; then every connection is closed.
  bool run();
  void stop();

  // For connections.
  EventLoop& loop() { return loop_; }
  Resolver& resolver() { return resolver_; }
  const Config& config() const { return config_; }
  const socks::ServerOptions& sessionOptions() const { return session_options_; }
  // A closed connection: dispose of it after this round.
  void release(Connection& connection);
  // Calls connection.resume() in this round's deferred work, if it still lives.
  void scheduleResume(std::uint64_t id);
  // Scratch space for one UDP datagram of any size (64 KiB, plus room for a
  // SOCKS5 UDP header in front), shared by every association of this worker:
  // valid until the caller returns to the loop.
  socks::MutableBytes datagramBuffer() { return {datagram_buffer_.get(), kDatagramBufferSize}; }

 private:
  struct Watched : EventLoop::Handler {
    Watched(Worker& w, int f, void (Worker::*fn)(Watched&)) : worker(w), fd(f), on(fn) {}
    void onEvents(std::uint32_t) override { (worker.*on)(*this); }
    Worker& worker;
    int fd;
    void (Worker::*on)(Watched&);
  };

  void onAcceptable(Watched& listener);
  void onSignal(Watched& signal);
  void updateAccepting();

  const Config& config_;
  socks::ServerOptions session_options_;
  EventLoop loop_;
  Resolver resolver_;
  std::vector<std::unique_ptr<Watched>> listeners_;
  std::unique_ptr<Watched> signal_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  std::uint64_t next_id_ = 1;
  bool accepting_ = false;        // listeners registered with the loop
  bool stopping_ = false;
  EventLoop::Timer accept_backoff_;  // armed after EMFILE and alike
  static constexpr std::size_t kDatagramBufferSize = 64 * 1024 + 64;
  std::unique_ptr<std::uint8_t[]> datagram_buffer_;
};

}  // namespace socksd
