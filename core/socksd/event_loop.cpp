// event_loop.cpp — see event_loop.h.
#include "event_loop.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "socks/log.h"

namespace socksd {
namespace {

constexpr int kMaxEventsPerRound = 256;
// Upper bound of one epoll_wait, so a clock oddity can never park the loop.
constexpr int kMaxWaitMs = 60 * 1000;

}  // namespace

EventLoop::Timer::Timer(EventLoop& loop, std::function<void()> callback)
    : loop_(loop), callback_(std::move(callback)) {}

EventLoop::Timer::~Timer() { disarm(); }

void EventLoop::Timer::armAt(Clock::time_point when) {
  disarm();
  at_ = loop_.timers_.emplace(when, this);
  armed_ = true;
}

void EventLoop::Timer::disarm() {
  if (armed_) {
    loop_.timers_.erase(at_);
    armed_ = false;
  }
}

EventLoop::~EventLoop() {
  // Timers still armed belong to objects destroyed after us at worst; they
  // only unlink themselves, which needs the map: clear their links first.
  for (auto& [when, timer] : timers_) {
    timer->armed_ = false;
  }
  timers_.clear();
  posted_.clear();
  graveyard_.clear();
  if (epfd_ >= 0) {
    ::close(epfd_);
  }
}

bool EventLoop::init() {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  return epfd_ >= 0;
}

bool EventLoop::add(int fd, std::uint32_t events, Handler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::modify(int fd, std::uint32_t events, Handler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

void EventLoop::remove(int fd) {
  epoll_event ev{};  // non-null for kernels before 2.6.9
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev);
}

void EventLoop::post(std::function<void()> task) { posted_.push_back(std::move(task)); }

void EventLoop::disposeLater(std::unique_ptr<Disposable> object) {
  graveyard_.push_back(std::move(object));
}

int EventLoop::timeoutMs() const {
  if (!posted_.empty()) {
    return 0;
  }
  if (timers_.empty()) {
    return kMaxWaitMs;
  }
  const auto left = timers_.begin()->first - Clock::now();
  if (left <= Clock::duration::zero()) {
    return 0;
  }
  // Round up: waking a little late is fine, waking early spins.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<long long>(ms, kMaxWaitMs));
}

void EventLoop::runTimers() {
  // Bounded: a callback that re-arms its timer for a time already past would
  // otherwise keep this loop going; it runs in the next round instead.
  std::size_t budget = timers_.size();
  while (budget-- > 0 && !timers_.empty() && timers_.begin()->first <= now_) {
    Timer* timer = timers_.begin()->second;
    timers_.erase(timers_.begin());
    timer->armed_ = false;
    timer->callback_();
  }
}

void EventLoop::runPosted() {
  // Tasks posted by tasks run in the next round (after an epoll_wait(0)).
  std::vector<std::function<void()>> tasks;
  tasks.swap(posted_);
  for (auto& task : tasks) {
    task();
  }
}

bool EventLoop::run() {
  epoll_event events[kMaxEventsPerRound];
  while (!stopped_) {
    const int n = ::epoll_wait(epfd_, events, kMaxEventsPerRound, timeoutMs());
    if (n < 0 && errno != EINTR) {
      SOCKS_LOG(kError, "epoll_wait: %s", strerror(errno));
      return false;
    }
    now_ = Clock::now();
    for (int i = 0; i < n; ++i) {
      static_cast<Handler*>(events[i].data.ptr)->onEvents(events[i].events);
    }
    runTimers();
    runPosted();
    graveyard_.clear();
  }
  return true;
}

}  // namespace socksd
