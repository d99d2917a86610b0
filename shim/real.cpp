// The real libc functions, resolved once with dlsym(RTLD_NEXT) (never
// dlopen("libc"), which would skip any library preloaded after us).
#include "real.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>

#include "socks/log.h"


namespace socksify {
namespace {

std::atomic<bool> g_broken{false};

// Whether addr lies inside this library (dladdr of one of our own functions
// gives our load base).
bool insideThisLibrary(void* addr) {
  Dl_info self{};
  Dl_info other{};
  return dladdr(reinterpret_cast<void*>(&insideThisLibrary), &self) != 0 &&
         dladdr(addr, &other) != 0 && self.dli_fbase == other.dli_fbase;
}

}  // namespace

void* resolveRealSymbol(const char* name) noexcept {
  void* fn = dlsym(RTLD_NEXT, name);
  if (fn == nullptr || insideThisLibrary(fn)) {
    // The proxychains-ng check, but inert instead of abort(): a missing or
    // circular symbol makes the shim forward nothing it cannot forward.
    if (!g_broken.exchange(true)) {
      SOCKS_LOG(kError, "cannot find the real %s(); the library is inert", name);
    }
    return nullptr;
  }
  return fn;
}

bool shimBroken() noexcept { return g_broken.load(std::memory_order_relaxed); }

namespace real {
RealFn<decltype(&::socket)> socket{"socket"};
RealFn<decltype(&::connect)> connect{"connect"};
RealFn<decltype(&::close)> close{"close"};
RealFn<int (*)(unsigned int, unsigned int, int)> close_range{"close_range"};
RealFn<decltype(&::dup)> dup{"dup"};
RealFn<decltype(&::dup2)> dup2{"dup2"};
RealFn<decltype(&::dup3)> dup3{"dup3"};
RealFn<int (*)(int, int, ...)> fcntl{"fcntl"};
RealFn<int (*)(int, int, ...)> fcntl64{"fcntl64"};
RealFn<decltype(&::fclose)> fclose{"fclose"};
RealFn<decltype(&::getpeername)> getpeername{"getpeername"};
RealFn<decltype(&::getsockname)> getsockname{"getsockname"};
RealFn<decltype(&::bind)> bind{"bind"};
RealFn<decltype(&::listen)> listen{"listen"};
RealFn<decltype(&::accept)> accept{"accept"};
RealFn<decltype(&::accept4)> accept4{"accept4"};
RealFn<int (*)(pollfd*, nfds_t, int)> poll{"poll"};
RealFn<ssize_t (*)(int, void*, size_t)> read{"read"};
RealFn<ssize_t (*)(int, const void*, size_t)> write{"write"};
RealFn<ssize_t (*)(int, const iovec*, int)> readv{"readv"};
RealFn<ssize_t (*)(int, const iovec*, int)> writev{"writev"};
RealFn<ssize_t (*)(int, void*, size_t, int)> recv{"recv"};
RealFn<ssize_t (*)(int, const void*, size_t, int)> send{"send"};
RealFn<ssize_t (*)(int, void*, size_t, int, sockaddr*, socklen_t*)> recvfrom{"recvfrom"};
RealFn<ssize_t (*)(int, const void*, size_t, int, const sockaddr*, socklen_t)> sendto{"sendto"};
RealFn<ssize_t (*)(int, msghdr*, int)> recvmsg{"recvmsg"};
RealFn<ssize_t (*)(int, const msghdr*, int)> sendmsg{"sendmsg"};
RealFn<int (*)(int, mmsghdr*, unsigned int, int, timespec*)> recvmmsg{"recvmmsg"};
RealFn<int (*)(int, mmsghdr*, unsigned int, int)> sendmmsg{"sendmmsg"};
RealFn<int (*)(pollfd*, nfds_t, const timespec*, const sigset_t*)> ppoll{"ppoll"};
RealFn<decltype(&::getaddrinfo)> getaddrinfo{"getaddrinfo"};
RealFn<decltype(&::freeaddrinfo)> freeaddrinfo{"freeaddrinfo"};
RealFn<decltype(&::getnameinfo)> getnameinfo{"getnameinfo"};
RealFn<hostent* (*)(const char*)> gethostbyname{"gethostbyname"};
RealFn<hostent* (*)(const char*, int)> gethostbyname2{"gethostbyname2"};
RealFn<int (*)(const char*, hostent*, char*, size_t, hostent**, int*)> gethostbyname_r{"gethostbyname_r"};
RealFn<int (*)(const char*, int, hostent*, char*, size_t, hostent**, int*)> gethostbyname2_r{"gethostbyname2_r"};
RealFn<hostent* (*)(const void*, socklen_t, int)> gethostbyaddr{"gethostbyaddr"};
RealFn<int (*)(const void*, socklen_t, int, hostent*, char*, size_t, hostent**, int*)>
    gethostbyaddr_r{"gethostbyaddr_r"};
RealFn<int (*)(const char*, int, int, unsigned char*, int)> res_query{"res_query"};
RealFn<int (*)(const char*, int, int, unsigned char*, int)> res_search{"res_search"};
RealFn<int (*)(const char*, const char*, int, int, unsigned char*, int)> res_querydomain{
    "res_querydomain"};
RealFn<int (*)(const unsigned char*, int, unsigned char*, int)> res_send{"res_send"};
RealFn<int (*)(struct __res_state*, const char*, int, int, unsigned char*, int)> res_nquery{"res_nquery"};
RealFn<int (*)(struct __res_state*, const char*, int, int, unsigned char*, int)> res_nsearch{
    "res_nsearch"};
RealFn<int (*)(struct __res_state*, const char*, const char*, int, int, unsigned char*, int)>
    res_nquerydomain{"res_nquerydomain"};
RealFn<int (*)(struct __res_state*, const unsigned char*, int, unsigned char*, int)> res_nsend{
    "res_nsend"};
RealFn<int (*)(int, gaicb**, int, sigevent*)> getaddrinfo_a{"getaddrinfo_a"};
}  // namespace real

namespace {

// SocketOps entries: thin thunks into the real functions. The ones we do not
// interpose (bind, listen, send, ...) still go through dlsym so that a later
// issue can interpose them without touching core.
RealFn<decltype(&::getsockopt)> g_getsockopt{"getsockopt"};
RealFn<decltype(&::setsockopt)> g_setsockopt{"setsockopt"};

int opSocket(int d, int t, int p) { return real::socket(d, t, p); }
int opConnect(int fd, const sockaddr* a, socklen_t l) { return real::connect(fd, a, l); }
int opBind(int fd, const sockaddr* a, socklen_t l) { return real::bind(fd, a, l); }
int opListen(int fd, int b) { return real::listen(fd, b); }
int opAccept4(int fd, sockaddr* a, socklen_t* l, int f) { return real::accept4(fd, a, l, f); }
int opClose(int fd) { return real::close(fd); }
ssize_t opRead(int fd, void* b, size_t n) { return real::read(fd, b, n); }
ssize_t opWrite(int fd, const void* b, size_t n) { return real::write(fd, b, n); }
ssize_t opSend(int fd, const void* b, size_t n, int f) { return real::send(fd, b, n, f); }
ssize_t opRecv(int fd, void* b, size_t n, int f) { return real::recv(fd, b, n, f); }
ssize_t opSendto(int fd, const void* b, size_t n, int f, const sockaddr* a, socklen_t l) {
  return real::sendto(fd, b, n, f, a, l);
}
ssize_t opRecvfrom(int fd, void* b, size_t n, int f, sockaddr* a, socklen_t* l) {
  return real::recvfrom(fd, b, n, f, a, l);
}
int opPoll(pollfd* p, nfds_t n, int t) { return real::poll(p, n, t); }
int opGetsockopt(int fd, int lv, int nm, void* v, socklen_t* l) { return g_getsockopt(fd, lv, nm, v, l); }
int opSetsockopt(int fd, int lv, int nm, const void* v, socklen_t l) {
  return g_setsockopt(fd, lv, nm, v, l);
}
int opGetsockname(int fd, sockaddr* a, socklen_t* l) { return real::getsockname(fd, a, l); }
int opGetpeername(int fd, sockaddr* a, socklen_t* l) { return real::getpeername(fd, a, l); }
// Only F_GETFL / F_SETFL-style integer commands are used through the table.
int opFcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const long arg = va_arg(ap, long);
  va_end(ap);
  return real::fcntl(fd, cmd, arg);
}

constexpr socks::SocketOps kRealOps{
    .socket = opSocket,
    .connect = opConnect,
    .bind = opBind,
    .listen = opListen,
    .accept4 = opAccept4,
    .close = opClose,
    .read = opRead,
    .write = opWrite,
    .send = opSend,
    .recv = opRecv,
    .sendto = opSendto,
    .recvfrom = opRecvfrom,
    .poll = opPoll,
    .getsockopt = opGetsockopt,
    .setsockopt = opSetsockopt,
    .getsockname = opGetsockname,
    .getpeername = opGetpeername,
    .fcntl = opFcntl,
};

}  // namespace

const socks::SocketOps& realSocketOps() noexcept { return kRealOps; }

}  // namespace socksify
