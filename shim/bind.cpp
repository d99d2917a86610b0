// listen(), accept(), accept4(), getsockname(): incoming TCP through SOCKS BIND.
//
// Which sockets: with SOCKSIFY_BIND=auto, in a process that has made a
// proxied connection, a TCP socket bound to port 0 (or never bound) at the
// wildcard address or at a proxied connection's local address — the
// active-FTP pattern. bind() marks such a socket; the BIND starts at the
// first getsockname() or listen(), whichever comes first (curl asks for the
// address before it listens), and a connect() on the socket cancels it.
// Sockets bound to an explicit port are real local servers and stay alone.
//
// The socket stays a real listening socket — the descriptor the program
// polls — and gets a control connection of ours to the proxy carrying a BIND
// for the primary connection's destination, run up to its first reply
// (bounded by the connect timeout), so getsockname() answers the address the
// proxy listens on. A watcher thread waits for the second reply
// on every outstanding control connection; when it comes, the watcher makes
// the program's listener readable by connecting a socket of its own to it.
// accept() recognises that wake-up connection, drops it, and hands the
// program the control connection instead: after the second reply it *is* the
// relayed connection to the remote peer. One BIND carries one connection, so
// accept() starts the next BIND before it returns. A BIND that fails (peer
// mismatch, timeout at the proxy) wakes the listener too, and accept()
// reports ECONNABORTED.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "bind.h"
#include "export.h"
#include "fd_table.h"
#include "real.h"
#include "socks/log.h"
#include "socks/net.h"
#include "sockets.h"
#include "state.h"

namespace socksify {

struct BindListener {
  enum class Phase : std::uint8_t {
    kIdle,     // no BIND outstanding
    kWaiting,  // first reply received, waiting for the second (the watcher has it)
    kReady,    // second reply: success; the listener has been woken
    kFailed,   // second reply: failure (or the proxy closed); woken too
  };

  std::mutex mu;
  Phase phase = Phase::kIdle;
  bool started = false;        // a first BIND was attempted (getsockname/listen)
  int family = AF_INET;        // the listener's
  sockaddr_storage wake_target{};  // where a wake-up connects (the listener itself)
  socklen_t wake_target_len = 0;
  socks::Address dst;          // what BIND asks for: the primary connection's destination
  const Chain* chain = nullptr;  // the chain the primary connection went through
  int control = -1;            // our connection to the proxy (close-on-exec)
  std::optional<socks::ClientHandshake> hs;
  socks::Address bnd;          // where the proxy listens: what getsockname() answers
  socks::Address peer;         // the second reply: who connected
  int wake = -1;               // our wake-up connection to the listener
  socks::Address wake_local;   // its local address, to recognise it in accept()

  ~BindListener();
};

namespace {

// ---- the primary connection ----------------------------------------------------

// What CONNECT has told us: the latest proxied destination, and the local
// addresses proxied connections use (a listener bound to one of them with an
// ephemeral port is the active-FTP pattern).
struct Primary {
  struct Local {
    socks::Address real;       // the connection's true local address
    socks::Address published;  // what getsockname() answers for it (the proxy's side)
  };
  std::mutex mu;
  bool any = false;
  socks::Address dst;
  const Chain* chain = nullptr;
  std::array<Local, 8> locals{};
  std::size_t nlocals = 0;
};

Primary& primary() {
  static Primary* p = new Primary;  // never destroyed: hooks may run during exit
  return *p;
}

bool sameIp(const socks::Address& a, const socks::Address& b) {
  return a.type == b.type && a.ip == b.ip;
}

// ---- the watcher thread -----------------------------------------------------------

void driveSecondReply(BindListener& l, int epfd);

class Watcher {
 public:
  // Starts watching `control` for `listener`'s second reply. Starts the thread
  // on first use, and again in a forked child (threads do not survive fork).
  bool add(int control, const std::shared_ptr<BindListener>& listener) {
    std::lock_guard<std::mutex> lock(mu_);
    if (pid_ != getpid()) {
      if (epfd_ >= 0) {
        fdtable::disown(epfd_);
        real::close(epfd_);  // the parent's, inherited
      }
      regs_.clear();
      epfd_ = epoll_create1(EPOLL_CLOEXEC);
      if (epfd_ < 0) {
        return false;
      }
      fdtable::own(epfd_);
      pid_ = getpid();
      try {
        std::thread(&Watcher::run, this, epfd_).detach();
      } catch (...) {
        fdtable::disown(epfd_);
        real::close(epfd_);
        epfd_ = -1;
        pid_ = 0;
        return false;
      }
    }
    regs_[control] = listener;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = control;
    return epoll_ctl(epfd_, EPOLL_CTL_ADD, control, &ev) == 0;
  }

  void remove(int control) {
    std::lock_guard<std::mutex> lock(mu_);
    if (pid_ == getpid() && regs_.erase(control) > 0) {
      epoll_ctl(epfd_, EPOLL_CTL_DEL, control, nullptr);
    }
  }

 private:
  void run(int epfd) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);  // the host's handlers run on its threads
    epoll_event events[16];
    for (;;) {
      const int n = epoll_wait(epfd, events, 16, -1);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        SOCKS_LOG(kError, "BIND watcher: epoll_wait: %s", strerror(errno));
        return;
      }
      for (int i = 0; i < n; ++i) {
        std::shared_ptr<BindListener> listener;
        {
          std::lock_guard<std::mutex> lock(mu_);
          auto it = regs_.find(events[i].data.fd);
          if (it != regs_.end()) {
            listener = it->second.lock();
            if (!listener) {
              regs_.erase(it);
            }
          }
          if (!listener) {
            epoll_ctl(epfd, EPOLL_CTL_DEL, events[i].data.fd, nullptr);
            continue;
          }
        }
        std::lock_guard<std::mutex> lock(listener->mu);  // released before `listener`
        driveSecondReply(*listener, epfd);
      }
    }
  }

  std::mutex mu_;
  int epfd_ = -1;
  pid_t pid_ = 0;
  std::unordered_map<int, std::weak_ptr<BindListener>> regs_;
};

Watcher& watcher() {
  static Watcher* w = new Watcher;  // never destroyed: its thread outlives main()
  return *w;
}

// ---- helpers ---------------------------------------------------------------------

socklen_t toSockaddr(const socks::Address& a, int family, sockaddr_storage& out) {
  return a.toSockaddr(out, family);
}

void copyOut(const sockaddr_storage& ss, socklen_t ss_len, sockaddr* addr, socklen_t* len) {
  if (addr == nullptr || len == nullptr) {
    return;
  }
  const socklen_t n = *len < ss_len ? *len : ss_len;
  std::memcpy(addr, &ss, n);
  *len = ss_len;
}

// Makes the program's listener readable: a connection of ours to it, which
// accept() will recognise and drop.
void wakeUp(BindListener& l) {
  const int s = real::socket(l.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) {
    SOCKS_LOG(kError, "BIND: cannot wake the listener: socket: %s", strerror(errno));
    return;
  }
  fdtable::own(s);
  if (real::connect(s, reinterpret_cast<const sockaddr*>(&l.wake_target), l.wake_target_len) != 0 &&
      errno != EINPROGRESS) {
    SOCKS_LOG(kError, "BIND: cannot wake the listener: connect: %s", strerror(errno));
    fdtable::disown(s);
    real::close(s);
    return;
  }
  sockaddr_storage local{};
  socklen_t local_len = sizeof local;
  real::getsockname(s, reinterpret_cast<sockaddr*>(&local), &local_len);
  auto addr = socks::Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&local), local_len);
  l.wake = s;
  l.wake_local = addr ? *addr : socks::Address();
}

void closeControl(BindListener& l, int epfd) {
  if (l.control >= 0) {
    if (epfd >= 0) {
      epoll_ctl(epfd, EPOLL_CTL_DEL, l.control, nullptr);
    }
    watcher().remove(l.control);
    fdtable::disown(l.control);
    real::close(l.control);
    l.control = -1;
  }
}

// Runs on the watcher thread with l.mu held: reads exactly what the second
// reply still needs (never the relayed bytes behind it).
void driveSecondReply(BindListener& l, int epfd) {
  if (l.phase != BindListener::Phase::kWaiting || l.control < 0 || !l.hs) {
    return;
  }
  std::uint8_t buf[socks::v5::kMaxReply];
  for (int rounds = 0; rounds < 8; ++rounds) {
    const std::size_t want = l.hs->wantRead();
    if (want == 0) {
      break;
    }
    const ssize_t n = realSocketOps().recv(l.control, buf, want < sizeof buf ? want : sizeof buf,
                                           MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return;  // the rest comes later
    }
    if (n <= 0) {
      SOCKS_LOG(kInfo, "bind: the proxy closed the connection before a peer connected");
      closeControl(l, epfd);
      l.phase = BindListener::Phase::kFailed;
      wakeUp(l);
      return;
    }
    l.hs->feed(socks::Bytes(buf, static_cast<std::size_t>(n)));
  }
  if (l.hs->state() == socks::ClientHandshake::State::kDone) {
    l.peer = l.hs->peer();
    l.phase = BindListener::Phase::kReady;
    epoll_ctl(epfd, EPOLL_CTL_DEL, l.control, nullptr);
    watcher().remove(l.control);
    wakeUp(l);
  } else if (l.hs->state() == socks::ClientHandshake::State::kFailed) {
    char why[200];
    SOCKS_LOG(kInfo, "bind: no connection: %s", socks::describe(l.hs->status(), why, sizeof why));
    closeControl(l, epfd);
    l.phase = BindListener::Phase::kFailed;
    wakeUp(l);
  }
}

// Opens a control connection and runs a BIND up to its first reply. l.mu
// must be held (or l not yet shared). Returns 0 or an errno.
int startBind(const std::shared_ptr<BindListener>& lp, const ProcessState& state) {
  BindListener& l = *lp;
  if (l.chain == nullptr) {
    return ENETUNREACH;
  }
  const Chain& chain = *l.chain;
  const socks::Address& first = chain.hops.front().addr;
  const int ctl = real::socket(first.type == socks::Address::Type::kIPv6 ? AF_INET6 : AF_INET,
                               SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ctl < 0) {
    return errno;
  }
  fdtable::own(ctl);
  const socks::Hop& last = chain.hops.back();
  socks::ClientHandshake hs(last.kind, socks::Command::kBind, l.dst);
  const socks::net::Deadline deadline(state.config.connect_timeout);
  const socks::net::ChainOutcome outcome = socks::net::connectThroughChain(
      realSocketOps(), ctl, chain.hops, l.dst, socks::Command::kBind, deadline, &hs);
  if (!outcome.status.ok()) {
    char why[200];
    SOCKS_LOG(kWarn, "bind via %s: failed: %s", last.label.c_str(),
              socks::describe(outcome.status, why, sizeof why));
    fdtable::disown(ctl);
    real::close(ctl);
    return socks::toErrno(outcome.status);
  }
  socks::Address bnd = outcome.bound;
  if (bnd.type == socks::Address::Type::kDomain) {
    SOCKS_LOG(kWarn, "bind via %s: the proxy listens at a name, which cannot be published",
              last.label.c_str());
    fdtable::disown(ctl);
    real::close(ctl);
    return EADDRNOTAVAIL;
  }
  if (bnd.type == socks::Address::Type::kNone || bnd.isUnspecified()) {
    // The SOCKS4 document: DSTIP 0 means "the SOCKS server's own address".
    const std::uint16_t port = bnd.port;
    bnd = last.addr;
    bnd.port = port;
  }
  if (l.family == AF_INET && bnd.type == socks::Address::Type::kIPv6) {
    fdtable::disown(ctl);
    real::close(ctl);
    return EAFNOSUPPORT;  // an AF_INET socket cannot show an IPv6 address
  }
  l.control = ctl;
  l.hs.emplace(hs);
  l.bnd = bnd;
  l.peer = socks::Address();
  l.phase = BindListener::Phase::kWaiting;
  if (!watcher().add(ctl, lp)) {
    SOCKS_LOG(kError, "bind: cannot start the watcher thread");
    closeControl(l, -1);
    l.phase = BindListener::Phase::kIdle;
    return EAGAIN;
  }
  if (socks::log::enabled(socks::log::Level::kInfo)) {
    char dst[300];
    char at[64];
    l.dst.format(dst, sizeof dst);
    bnd.format(at, sizeof at);
    SOCKS_LOG(kInfo, "bind for %s via %s: listening at %s", dst, last.label.c_str(), at);
  }
  return 0;
}

// Whether a socket at `local` whose port the kernel picks becomes a BIND
// (auto mode): the wildcard, or the local address of a proxied connection.
bool isPublishable(const socks::Address& local) {
  if (local.isUnspecified()) {
    return true;
  }
  Primary& p = primary();
  std::lock_guard<std::mutex> lock(p.mu);
  for (std::size_t i = 0; i < p.nlocals; ++i) {
    if (sameIp(p.locals[i].real, local)) {
      return true;
    }
  }
  return false;
}

// If `requested` is the published (proxy-side) address of a proxied
// connection, the true local address to bind instead.
std::optional<socks::Address> localForPublished(const socks::Address& requested) {
  Primary& p = primary();
  std::lock_guard<std::mutex> lock(p.mu);
  for (std::size_t i = 0; i < p.nlocals; ++i) {
    if (p.locals[i].published.isIp() && sameIp(p.locals[i].published, requested) &&
        !sameIp(p.locals[i].real, requested)) {
      return p.locals[i].real;
    }
  }
  return std::nullopt;
}

void applyAcceptFlags(int fd, int flags) {
  const int fdflags = real::fcntl(fd, F_GETFD);
  if (fdflags >= 0) {
    real::fcntl(fd, F_SETFD,
                (flags & SOCK_CLOEXEC) != 0 ? (fdflags | FD_CLOEXEC) : (fdflags & ~FD_CLOEXEC));
  }
  const int fl = real::fcntl(fd, F_GETFL);
  if (fl >= 0) {
    real::fcntl(fd, F_SETFL, (flags & SOCK_NONBLOCK) != 0 ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
  }
}

// The primary connection's destination, if the process has one.
struct PrimaryDestination {
  socks::Address dst;
  const Chain* chain = nullptr;
};

std::optional<PrimaryDestination> primaryDestination() {
  Primary& p = primary();
  std::lock_guard<std::mutex> lock(p.mu);
  if (!p.any) {
    return std::nullopt;
  }
  return PrimaryDestination{p.dst, p.chain};
}

const ProcessState* bindState() {
  const ProcessState* state = processState();
  if (state == nullptr || state->config.bind == socks::BindMode::kOff) {
    return nullptr;
  }
  return state;
}

// Tracks fd (bound at `local`, with the kernel's port) as a BIND listener to
// be; the BIND itself starts later (ensureStarted).
void trackCandidate(int fd, const sockaddr_storage& local_ss, const socks::Address& local,
                    const PrimaryDestination& primary) {
  auto listener = std::make_shared<BindListener>();
  listener->family = local_ss.ss_family;
  listener->dst = primary.dst;
  listener->chain = primary.chain;
  // The wake-up connects to the listener itself; a wildcard means loopback.
  socks::Address target = local;
  if (target.isUnspecified()) {
    const std::uint8_t v4[4] = {127, 0, 0, 1};
    const std::uint8_t v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    target = local.type == socks::Address::Type::kIPv6 ? socks::Address::ipv6(v6, local.port)
                                                       : socks::Address::ipv4(v4, local.port);
  }
  listener->wake_target_len = toSockaddr(target, listener->family, listener->wake_target);
  auto* entry = new FdState;
  entry->kind = FdKind::kBindListener;
  entry->listener = std::move(listener);
  fdtable::set(fd, entry);
}

// The first BIND of a listener, at its first getsockname() or listen().
// Returns 0 or an errno (then the socket stays local, and the next call tries
// again).
int ensureStarted(const std::shared_ptr<BindListener>& lp) {
  const ProcessState* state = loadedState();
  std::lock_guard<std::mutex> lock(lp->mu);
  if (lp->started || state == nullptr) {
    return 0;
  }
  const int err = startBind(lp, *state);
  lp->started = err == 0;
  return err;
}

std::optional<std::pair<sockaddr_storage, socks::Address>> localAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (real::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return std::nullopt;
  }
  auto a = socks::Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
  if (!a) {
    return std::nullopt;
  }
  return std::make_pair(ss, *a);
}

int hookBind(int fd, const sockaddr* addr, socklen_t len) {
  if (addr == nullptr || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)) {
    return real::bind(fd, addr, len);
  }
  const ProcessState* state = bindState();
  if (state == nullptr || !isTcpSocket(fd)) {
    return real::bind(fd, addr, len);
  }
  auto requested = socks::Address::fromSockaddr(addr, len);
  // The program binds to what getsockname() told it a proxied connection's
  // local address is — the proxy's side. Only BIND can listen there: bind
  // to the connection's true local address instead (the port as asked; the
  // BIND's port is the proxy's anyway).
  if (requested) {
    if (auto local = localForPublished(*requested)) {
      local->port = requested->port;
      sockaddr_storage ss{};
      const socklen_t ss_len = local->toSockaddr(ss, addr->sa_family);
      if (ss_len != 0 && real::bind(fd, reinterpret_cast<const sockaddr*>(&ss), ss_len) == 0) {
        auto dst = primaryDestination();
        auto bound = localAddress(fd);
        if (dst && bound) {
          trackCandidate(fd, bound->first, bound->second, *dst);
        }
        return 0;
      }
    }
  }
  const int rc = real::bind(fd, addr, len);
  if (rc != 0) {
    return rc;
  }
  if (!requested || (requested->port != 0 && state->config.bind != socks::BindMode::kAll)) {
    return rc;  // an explicit port: a real local server
  }
  auto dst = primaryDestination();
  if (!dst || (state->config.bind == socks::BindMode::kAuto && !isPublishable(*requested))) {
    return rc;
  }
  if (auto local = localAddress(fd)) {
    trackCandidate(fd, local->first, local->second, *dst);
  }
  return rc;
}

int hookListen(int fd, int backlog) {
  if (fdtable::tracked(fd)) {
    FdRef ref = fdtable::get(fd);
    if (ref && ref->kind == FdKind::kBindListener) {
      const std::shared_ptr<BindListener> lp = ref->listener;
      const int err = ensureStarted(lp);
      if (err != 0) {
        errno = err;
        return -1;
      }
      return real::listen(fd, backlog);
    }
  }
  noteListening(fd);  // a configured proxy's own port: this process is that proxy
  const ProcessState* state = bindState();
  if (state == nullptr || !isTcpSocket(fd)) {
    return real::listen(fd, backlog);
  }
  auto dst = primaryDestination();
  auto before = localAddress(fd);
  // Never bound (the kernel will pick the port) or, with "all", any socket.
  const bool candidate = dst && before &&
                         (before->second.port == 0 || state->config.bind == socks::BindMode::kAll);
  if (real::listen(fd, backlog) != 0) {
    return -1;
  }
  if (!candidate) {
    return 0;
  }
  auto local = localAddress(fd);
  if (!local || (state->config.bind == socks::BindMode::kAuto && !isPublishable(local->second))) {
    return 0;
  }
  trackCandidate(fd, local->first, local->second, *dst);
  FdRef ref = fdtable::get(fd);
  if (ref) {
    const std::shared_ptr<BindListener> lp = ref->listener;
    const int err = ensureStarted(lp);
    if (err != 0) {
      errno = err;
      return -1;
    }
  }
  return 0;
}

int hookAccept(int fd, sockaddr* addr, socklen_t* len, int flags) {
  FdRef ref = fdtable::get(fd);
  if (!ref || ref->kind != FdKind::kBindListener) {
    return real::accept4(fd, addr, len, flags);
  }
  std::shared_ptr<BindListener> lp = ref->listener;
  BindListener& l = *lp;
  const ProcessState* state = loadedState();
  {
    std::lock_guard<std::mutex> lock(l.mu);
    if (l.phase == BindListener::Phase::kIdle && state != nullptr && l.chain != nullptr) {
      const int err = startBind(lp, *state);
      if (err != 0) {
        errno = err;
        return -1;
      }
      l.started = true;
    }
  }
  // Bounded: each round takes one real connection off the queue.
  for (int round = 0; round < 64; ++round) {
    sockaddr_storage ss{};
    socklen_t ss_len = sizeof ss;
    const int c = real::accept4(fd, reinterpret_cast<sockaddr*>(&ss), &ss_len, flags);
    if (c < 0) {
      return -1;
    }
    auto from = socks::Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&ss), ss_len);
    std::unique_lock<std::mutex> lock(l.mu);
    if (l.wake < 0 || !from || !(*from == l.wake_local)) {
      lock.unlock();
      copyOut(ss, ss_len, addr, len);  // a real local connection: the program's own
      return c;
    }
    real::close(c);
    fdtable::disown(l.wake);
    real::close(l.wake);
    l.wake = -1;
    if (l.phase == BindListener::Phase::kFailed) {
      l.phase = BindListener::Phase::kIdle;
      if (state != nullptr && l.chain != nullptr) {
        (void)startBind(lp, *state);  // ready for the next accept; failures were logged
      }
      errno = ECONNABORTED;
      return -1;
    }
    if (l.phase != BindListener::Phase::kReady) {
      continue;
    }
    const int conn = l.control;
    socks::Address peer = l.peer;
    if ((!peer.isIp() || peer.isUnspecified()) && l.dst.isIp()) {
      // Some servers (danted, SOCKS4) leave the second reply's address empty.
      // The peer check guarantees the peer's IP is the BIND's DST.
      peer = l.dst;
      peer.port = 0;
    }
    const socks::Address bnd = l.bnd;
    const int family = l.family;
    l.control = -1;
    l.hs.reset();
    l.phase = BindListener::Phase::kIdle;
    if (state != nullptr && l.chain != nullptr) {
      (void)startBind(lp, *state);  // one BIND carries one connection: the next one now
    }
    lock.unlock();

    applyAcceptFlags(conn, flags);
    auto* entry = new FdState;
    entry->kind = FdKind::kProxiedStream;
    entry->peer_len = toSockaddr(peer, family, entry->peer);
    entry->local_len = toSockaddr(bnd, family, entry->local);
    entry->first_hop = l.chain != nullptr ? l.chain->hops.front().addr : socks::Address();
    entry->dst = peer;
    fdtable::set(conn, entry);
    copyOut(entry->peer, entry->peer_len, addr, len);
    if (socks::log::enabled(socks::log::Level::kInfo)) {
      char who[64];
      char at[64];
      peer.format(who, sizeof who);
      bnd.format(at, sizeof at);
      SOCKS_LOG(kInfo, "accept at %s: connection from %s", at, who);
    }
    return conn;
  }
  errno = ECONNABORTED;
  return -1;
}

int hookGetsockname(int fd, sockaddr* addr, socklen_t* len) {
  FdRef ref = fdtable::get(fd);
  if (!ref || addr == nullptr || len == nullptr) {
    return real::getsockname(fd, addr, len);
  }
  sockaddr_storage ss{};
  socklen_t ss_len = 0;
  if (ref->kind == FdKind::kBindListener) {
    if (ensureStarted(ref->listener) != 0) {
      return real::getsockname(fd, addr, len);  // the BIND failed (logged): what is true locally
    }
    std::lock_guard<std::mutex> lock(ref->listener->mu);
    if (ref->listener->bnd.isIp()) {
      ss_len = toSockaddr(ref->listener->bnd, ref->listener->family, ss);
    }
  } else if (ref->local_len > 0) {
    ss = ref->local;
    ss_len = ref->local_len;
  }
  if (ss_len == 0) {
    return real::getsockname(fd, addr, len);
  }
  copyOut(ss, ss_len, addr, len);
  return 0;
}

// ---- poll() and ppoll() -------------------------------------------------------
//
// The watcher thread wakes a listener soon after the second reply, but
// "soon" depends on the scheduler, and some programs treat the order of
// events as meaningful: curl, waiting for an active-FTP data connection,
// gives up if the server's reply on the control connection is readable
// before the data listener is. So when a poll set holds a BIND listener with
// a BIND outstanding, its control connection is polled too, and a second
// reply that arrives is handled right here, before poll() returns: the
// listener is readable by then. Sets without tracked descriptors cost one
// load per call.

constexpr nfds_t kMaxExtraPolls = 16;

// Adds the control connections of waiting BIND listeners in fds[0..n) to
// extra; returns how many.
nfds_t collectControls(const pollfd* fds, nfds_t n, pollfd* extra,
                       std::shared_ptr<BindListener>* owners) {
  nfds_t k = 0;
  for (nfds_t i = 0; i < n && k < kMaxExtraPolls; ++i) {
    if (fds[i].fd < 0 || !fdtable::tracked(fds[i].fd) || (fds[i].events & POLLIN) == 0) {
      continue;
    }
    FdRef ref = fdtable::get(fds[i].fd);
    if (!ref || ref->kind != FdKind::kBindListener) {
      continue;
    }
    std::lock_guard<std::mutex> lock(ref->listener->mu);
    if (ref->listener->phase == BindListener::Phase::kWaiting && ref->listener->control >= 0) {
      extra[k] = pollfd{ref->listener->control, POLLIN, 0};
      owners[k] = ref->listener;
      ++k;
    }
  }
  return k;
}

bool anyTracked(const pollfd* fds, nfds_t n) {
  if (fdtable::detail::g_entries.load(std::memory_order_acquire) == nullptr) {
    return false;
  }
  for (nfds_t i = 0; i < n; ++i) {
    if (fds[i].fd >= 0 && fdtable::tracked(fds[i].fd)) {
      return true;
    }
  }
  return false;
}

// Polls fds plus the control connections; drives any second reply that came
// and, if a listener was woken, polls the program's set once more without
// waiting so its answer includes that. `wait` runs the real poll.
template <class Wait>
int pollWithControls(pollfd* fds, nfds_t n, Wait&& wait) {
  pollfd extra_fds[kMaxExtraPolls];
  std::shared_ptr<BindListener> owners[kMaxExtraPolls];
  const nfds_t k = collectControls(fds, n, extra_fds, owners);
  if (k == 0 || n > 1024) {
    return wait(fds, n);
  }
  pollfd all[1024 + kMaxExtraPolls];
  std::memcpy(all, fds, n * sizeof(pollfd));
  std::memcpy(all + n, extra_fds, k * sizeof(pollfd));
  const int rc = wait(all, n + k);
  if (rc < 0) {
    return rc;
  }
  bool woke = false;
  for (nfds_t j = 0; j < k; ++j) {
    if (all[n + j].revents == 0) {
      continue;
    }
    std::lock_guard<std::mutex> lock(owners[j]->mu);
    const bool was_waiting = owners[j]->phase == BindListener::Phase::kWaiting;
    driveSecondReply(*owners[j], -1);
    woke = woke || (was_waiting && owners[j]->phase != BindListener::Phase::kWaiting);
  }
  if (woke) {
    return real::poll(fds, n, 0);  // the listener's readiness now included
  }
  std::memcpy(fds, all, n * sizeof(pollfd));
  int ready = 0;
  for (nfds_t i = 0; i < n; ++i) {
    ready += fds[i].revents != 0 ? 1 : 0;
  }
  if (ready == 0 && rc > 0) {
    // Only a control connection stirred (a partial reply): the program's
    // timeout has not passed; let it poll again rather than see 0 as expiry.
    return wait(fds, n);
  }
  return ready;
}

}  // namespace

BindListener::~BindListener() {
  // The last descriptor of the listener is gone: cancel the outstanding BIND.
  closeControl(*this, -1);
  if (wake >= 0) {
    fdtable::disown(wake);
    real::close(wake);
  }
}

void noteProxiedConnection(int fd, const socks::Address& dst, const socks::Address& published,
                           const Chain* chain) noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  std::optional<socks::Address> local;
  if (real::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    local = socks::Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
  }
  Primary& p = primary();
  std::lock_guard<std::mutex> lock(p.mu);
  p.any = true;
  p.dst = dst;
  p.chain = chain;
  if (!local) {
    return;
  }
  const Primary::Local entry{*local, published};
  for (std::size_t i = 0; i < p.nlocals; ++i) {
    if (sameIp(p.locals[i].real, *local)) {
      p.locals[i] = entry;
      return;
    }
  }
  // A small ring: the most recent proxied connections' addresses.
  static std::size_t next = 0;
  p.locals[next++ % p.locals.size()] = entry;
  p.nlocals = p.nlocals < p.locals.size() ? p.nlocals + 1 : p.nlocals;
}

}  // namespace socksify

SOCKSIFY_EXPORT int bind(int fd, const sockaddr* addr, socklen_t len) noexcept {
  return socksify::guard(-1, [&] { return socksify::hookBind(fd, addr, len); });
}

SOCKSIFY_EXPORT int listen(int fd, int backlog) noexcept {
  return socksify::guard(-1, [&] { return socksify::hookListen(fd, backlog); });
}

SOCKSIFY_EXPORT int accept(int fd, sockaddr* addr, socklen_t* len) {
  if (!socksify::fdtable::tracked(fd)) {
    return socksify::real::accept(fd, addr, len);
  }
  return socksify::guard(-1, [&] { return socksify::hookAccept(fd, addr, len, 0); });
}

SOCKSIFY_EXPORT int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  if (!socksify::fdtable::tracked(fd)) {
    return socksify::real::accept4(fd, addr, len, flags);
  }
  return socksify::guard(-1, [&] { return socksify::hookAccept(fd, addr, len, flags); });
}

// glibc declares poll()'s and ppoll()'s array __attr_access((write_only)),
// so GCC warns that the hooks read it; they must (the events asked for are
// the input of poll), and the kernel reads it the same way.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

SOCKSIFY_EXPORT int poll(pollfd* fds, nfds_t n, int timeout) {
  if (fds == nullptr || !socksify::anyTracked(fds, n)) {
    return socksify::real::poll(fds, n, timeout);
  }
  return socksify::guard(-1, [&] {
    return socksify::pollWithControls(
        fds, n, [&](pollfd* f, nfds_t m) { return socksify::real::poll(f, m, timeout); });
  });
}

SOCKSIFY_EXPORT int ppoll(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask) {
  if (fds == nullptr || !socksify::anyTracked(fds, n)) {
    return socksify::real::ppoll(fds, n, timeout, mask);
  }
  return socksify::guard(-1, [&] {
    return socksify::pollWithControls(fds, n, [&](pollfd* f, nfds_t m) {
      return socksify::real::ppoll(f, m, timeout, mask);
    });
  });
}

#pragma GCC diagnostic pop

SOCKSIFY_EXPORT int getsockname(int fd, sockaddr* addr, socklen_t* len) noexcept {
  if (!socksify::fdtable::tracked(fd)) {
    return socksify::real::getsockname(fd, addr, len);
  }
  return socksify::guard(-1, [&] { return socksify::hookGetsockname(fd, addr, len); });
}
