// Hook overhead on the paths every program pays for: descriptors the shim
// does not track, and connects it leaves direct. Run the same binary with and
// without the shim preloaded (scripts/bench.sh does both and prints them side
// by side); the difference is the cost of interposition.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

// close(dup(fd)) on an untracked descriptor: two hooks, each one load.
void BM_DupClose(benchmark::State& state) {
  int fds[2];
  if (pipe(fds) != 0) {
    state.SkipWithError("pipe");
    return;
  }
  for (auto _ : state) {
    const int d = dup(fds[0]);
    benchmark::DoNotOptimize(d);
    close(d);
  }
  close(fds[0]);
  close(fds[1]);
}
BENCHMARK(BM_DupClose);

// fcntl(F_GETFL): the hook forwards every command but F_DUPFD*.
void BM_FcntlGetfl(benchmark::State& state) {
  int fds[2];
  if (pipe(fds) != 0) {
    state.SkipWithError("pipe");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(fcntl(fds[0], F_GETFL));
  }
  close(fds[0]);
  close(fds[1]);
}
BENCHMARK(BM_FcntlGetfl);

// getpeername on an untracked connected socket.
void BM_GetpeernameUntracked(benchmark::State& state) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    state.SkipWithError("socketpair");
    return;
  }
  sockaddr_storage ss{};
  for (auto _ : state) {
    socklen_t len = sizeof ss;
    benchmark::DoNotOptimize(getpeername(sv[0], reinterpret_cast<sockaddr*>(&ss), &len));
  }
  close(sv[0]);
  close(sv[1]);
}
BENCHMARK(BM_GetpeernameUntracked);

// write+read on an untracked socketpair: the data-path hooks' fast path.
void BM_WriteReadUntracked(benchmark::State& state) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    state.SkipWithError("socketpair");
    return;
  }
  char buf[64] = {};
  for (auto _ : state) {
    benchmark::DoNotOptimize(write(sv[0], buf, sizeof buf));
    benchmark::DoNotOptimize(read(sv[1], buf, sizeof buf));
  }
  close(sv[0]);
  close(sv[1]);
}
BENCHMARK(BM_WriteReadUntracked);

// A loopback TCP connect the shim leaves direct (socket + connect + close).
void BM_ConnectLoopbackDirect(benchmark::State& state) {
  const int l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  if (bind(l, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 || listen(l, 4096) != 0 ||
      getsockname(l, reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
    state.SkipWithError("listen");
    return;
  }
  for (auto _ : state) {
    const int c = socket(AF_INET, SOCK_STREAM, 0);
    benchmark::DoNotOptimize(connect(c, reinterpret_cast<sockaddr*>(&sin), sizeof sin));
    const int a = accept(l, nullptr, nullptr);
    close(a);
    close(c);
  }
  close(l);
}
BENCHMARK(BM_ConnectLoopbackDirect);

// getaddrinfo of a numeric host: forwarded to libc after one check.
void BM_GetaddrinfoNumeric(benchmark::State& state) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  for (auto _ : state) {
    addrinfo* res = nullptr;
    benchmark::DoNotOptimize(getaddrinfo("127.0.0.1", "80", &hints, &res));
    freeaddrinfo(res);
  }
}
BENCHMARK(BM_GetaddrinfoNumeric);

}  // namespace

BENCHMARK_MAIN();
