// event_loop.h — socksd's epoll loop: descriptors, timers, deferred work.
//
// One EventLoop belongs to one thread (socksd runs one per worker). Handlers
// are registered by pointer in epoll_data, so a descriptor number reused
// within one batch of events can never reach the wrong object. Objects that
// own handlers are never destroyed while a batch is being dispatched: they
// are handed to disposeLater() and destroyed after it, with the timers and
// posted tasks of that round.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace socksd {

using Clock = std::chrono::steady_clock;

// Something destroyed by the loop at the end of a round (see disposeLater).
class Disposable {
 public:
  virtual ~Disposable() = default;
};

class EventLoop {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // events: the EPOLL* bits reported for the handler's descriptor.
    virtual void onEvents(std::uint32_t events) = 0;
  };

  // A one-shot timer owned by its user; destroying it disarms it.
  class Timer {
   public:
    Timer(EventLoop& loop, std::function<void()> callback);
    ~Timer();
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    void armAt(Clock::time_point when);
    void armAfter(Clock::duration delay) { armAt(loop_.now() + delay); }
    void disarm();
    bool armed() const { return armed_; }

   private:
    friend class EventLoop;
    EventLoop& loop_;
    std::function<void()> callback_;
    bool armed_ = false;
    std::multimap<Clock::time_point, Timer*>::iterator at_;
  };

  EventLoop() = default;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Creates the epoll instance; false with errno set on failure.
  bool init();

  // epoll_ctl wrappers; false with errno set on failure. remove() before
  // close() (a descriptor may have been duplicated elsewhere).
  bool add(int fd, std::uint32_t events, Handler* handler);
  bool modify(int fd, std::uint32_t events, Handler* handler);
  void remove(int fd);

  // Runs task after the current round's events and timers, never re-entrantly.
  void post(std::function<void()> task);
  // Destroys object after the current round.
  void disposeLater(std::unique_ptr<Disposable> object);

  // The time the current round started (cheap; monotonic).
  Clock::time_point now() const { return now_; }

  // Dispatches until stop(); returns false if epoll_wait failed for good.
  bool run();
  void stop() { stopped_ = true; }

 private:
  int timeoutMs() const;
  void runTimers();
  void runPosted();

  int epfd_ = -1;
  bool stopped_ = false;
  Clock::time_point now_ = Clock::now();
  std::multimap<Clock::time_point, Timer*> timers_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::unique_ptr<Disposable>> graveyard_;
};

}  // namespace socksd
