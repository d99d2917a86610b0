// resolv_client — calls libresolv's query API and getaddrinfo_a the way
// programs do (for the resolv_test integration tests).
//
//   resolv_client query NAME         res_query(NAME, C_IN, T_A)
//   resolv_client search NAME        res_search
//   resolv_client querydomain NAME DOMAIN
//   resolv_client nquery NAME        res_ninit + res_nquery on a private state
//   resolv_client old-query NAME     __res_query@GLIBC_2.2.5 (what binaries built
//                                    against glibc < 2.34 with -lresolv call)
//   resolv_client send NAME          a hand-built A query through res_send
//   resolv_client gai-a NAME PORT MODE [--connect]
//        MODE: wait (GAI_WAIT), none (GAI_NOWAIT, SIGEV_NONE), thread
//        (SIGEV_THREAD), signal (SIGEV_SIGNAL, SIGRTMIN); --connect: a TCP
//        connection to the first address, a line echoed back.
//
// Output (one line each, parsed by the tests):
//   "res_query rc=N h_errno=NAME errno=ENAME [rcode=R ancount=A id=ok|bad]"
//   "gai_error=N addr=IP" / "notified thread value=V" / "notified signal value=V" /
//   "gai_suspend=N gai_cancel=N" / "peer A:P" (what the echo server saw) / "echo ok"
// Exit status 0 when the call itself returned (whatever it returned), 1 on a
// helper failure (bad usage, a notification that never came, a failed echo).

#include <netdb.h>
#include <resolv.h>
#include <semaphore.h>
#include <signal.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "helper_util.h"

// The old compat name (GLIBC_2.2.5), as a binary linked against glibc < 2.34
// references it.
extern "C" int old_res_query(const char*, int, int, unsigned char*, int);
__asm__(".symver old_res_query,__res_query@GLIBC_2.2.5");

namespace {

using namespace helper;

const char* herrnoName(int h) {
  switch (h) {
    case NETDB_INTERNAL: return "NETDB_INTERNAL";
    case NETDB_SUCCESS: return "NETDB_SUCCESS";
    case HOST_NOT_FOUND: return "HOST_NOT_FOUND";
    case TRY_AGAIN: return "TRY_AGAIN";
    case NO_RECOVERY: return "NO_RECOVERY";
    case NO_DATA: return "NO_DATA";
    default: return "?";
  }
}

constexpr int kClassIn = 1;  // C_IN
constexpr int kTypeA = 1;    // T_A

// A standard query for NAME/A/IN with ID 0x4242 and RD (RFC 1035 §4.1).
int buildQuery(const std::string& name, unsigned char* out, int size) {
  if (size < 12 + 2 + 4 + static_cast<int>(name.size())) return -1;
  const unsigned char header[12] = {0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  std::memcpy(out, header, sizeof(header));
  int at = 12;
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    const std::size_t len = dot - start;
    if (len == 0 || len > 63) return -1;
    out[at++] = static_cast<unsigned char>(len);
    std::memcpy(out + at, name.data() + start, len);
    at += static_cast<int>(len);
    start = dot + 1;
  }
  out[at++] = 0;
  out[at++] = 0;
  out[at++] = kTypeA;
  out[at++] = 0;
  out[at++] = kClassIn;
  return at;
}

void report(const char* fn, int rc, const unsigned char* answer, bool check_id = false) {
  const int saved_errno = errno;
  std::string line = std::string(fn) + " rc=" + std::to_string(rc) + " h_errno=" + herrnoName(h_errno) +
                     " errno=" + errnoName(saved_errno);
  if (rc >= 12) {
    line += " rcode=" + std::to_string(answer[3] & 0x0F) +
            " ancount=" + std::to_string((answer[6] << 8) | answer[7]);
    if (check_id) line += std::string(" id=") + (answer[0] == 0x42 && answer[1] == 0x42 ? "ok" : "bad");
  }
  say(line);
}

sem_t g_notified;
std::atomic<int> g_value{0};

void onNotify(sigval v) {
  g_value.store(v.sival_int);
  sem_post(&g_notified);
}

bool waitSem(int seconds) {
  timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += seconds;
  while (sem_timedwait(&g_notified, &deadline) != 0) {
    if (errno != EINTR) return false;
  }
  return true;
}

bool echoThrough(const addrinfo* ai) {
  const int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    say(errorText("connect", errno));
    if (fd >= 0) close(fd);
    return false;
  }
  // tcp_server's echo port first says "peer A:P\n" (the address it saw), then echoes.
  writeAll(fd, "ping\n");
  char buf[128];
  std::string got;
  pollfd p{fd, POLLIN, 0};
  while (got.find("ping\n") == std::string::npos && got.size() < 512 && poll(&p, 1, 5000) > 0) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  const std::size_t eol = got.find('\n');
  if (got.find("ping\n") == std::string::npos || eol == std::string::npos) {
    say("echo failed: " + got);
    return false;
  }
  say(got.substr(0, eol));
  say("echo ok");
  return true;
}

int gaiA(const std::string& name, const std::string& port, const std::string& mode, bool do_connect) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  gaicb req{};
  req.ar_name = name.c_str();
  req.ar_service = port.c_str();
  req.ar_request = &hints;
  gaicb* list[2] = {&req, nullptr};  // a NULL entry is ignored
  sem_init(&g_notified, 0, 0);

  sigevent sev{};
  sev.sigev_notify = SIGEV_NONE;
  sigset_t rt;
  sigemptyset(&rt);
  sigaddset(&rt, SIGRTMIN);
  if (mode == "thread") {
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = onNotify;
    sev.sigev_value.sival_int = 17;
  } else if (mode == "signal") {
    pthread_sigmask(SIG_BLOCK, &rt, nullptr);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN;
    sev.sigev_value.sival_int = 23;
  }
  const int rc = getaddrinfo_a(mode == "wait" ? GAI_WAIT : GAI_NOWAIT, list, 2, &sev);
  say("getaddrinfo_a=" + std::to_string(rc));
  if (rc != 0) return 1;

  if (mode == "thread") {
    if (!waitSem(5)) {
      say("no notification thread");
      return 1;
    }
    say("notified thread value=" + std::to_string(g_value.load()));
  } else if (mode == "signal") {
    timespec limit{5, 0};
    siginfo_t info{};
    if (sigtimedwait(&rt, &info, &limit) != SIGRTMIN) {
      say("no notification signal");
      return 1;
    }
    say("notified signal value=" + std::to_string(info.si_value.sival_int));
  }
  // Whatever the mode, the request must now complete (bounded).
  const gaicb* wait_list[1] = {&req};
  timespec limit{10, 0};
  const int suspended = gai_suspend(wait_list, 1, &limit);
  const int err = gai_error(&req);
  std::string addr = "-";
  if (err == 0 && req.ar_result != nullptr) addr = formatAddr(req.ar_result->ai_addr);
  say("gai_error=" + std::to_string(err) + " addr=" + addr);
  say("gai_suspend=" + std::to_string(suspended) + " gai_cancel=" + std::to_string(gai_cancel(&req)));
  bool ok = true;
  if (do_connect && err == 0 && req.ar_result != nullptr) ok = echoThrough(req.ar_result);
  if (req.ar_result != nullptr) freeaddrinfo(req.ar_result);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: resolv_client query|search|querydomain|nquery|old-query|send|gai-a NAME ...\n");
    return 1;
  }
  const std::string cmd = argv[1];
  const char* name = argv[2];
  unsigned char answer[512];
  std::memset(answer, 0, sizeof(answer));
  errno = 0;
  h_errno = NETDB_SUCCESS;
  if (cmd == "query") {
    report("res_query", res_query(name, kClassIn, kTypeA, answer, sizeof(answer)), answer);
  } else if (cmd == "search") {
    report("res_search", res_search(name, kClassIn, kTypeA, answer, sizeof(answer)), answer);
  } else if (cmd == "querydomain" && argc >= 4) {
    report("res_querydomain", res_querydomain(name, argv[3], kClassIn, kTypeA, answer, sizeof(answer)), answer);
  } else if (cmd == "nquery") {
    struct __res_state st;
    std::memset(&st, 0, sizeof(st));
    if (res_ninit(&st) != 0) {
      say("res_ninit failed");
      return 1;
    }
    errno = 0;
    report("res_nquery", res_nquery(&st, name, kClassIn, kTypeA, answer, sizeof(answer)), answer);
    res_nclose(&st);
  } else if (cmd == "old-query") {
    report("__res_query", old_res_query(name, kClassIn, kTypeA, answer, sizeof(answer)), answer);
  } else if (cmd == "send") {
    unsigned char query[300];
    const int qlen = buildQuery(name, query, sizeof(query));
    if (qlen < 0) {
      say("bad name");
      return 1;
    }
    report("res_send", res_send(query, qlen, answer, sizeof(answer)), answer, true);
  } else if (cmd == "gai-a" && argc >= 5) {
    const bool do_connect = argc >= 6 && std::string(argv[5]) == "--connect";
    return gaiA(name, argv[3], argv[4], do_connect);
  } else {
    std::fprintf(stderr, "resolv_client: bad arguments\n");
    return 1;
  }
  return 0;
}
