// socksify — run a program with libsocksify.so preloaded.
//
//   socksify [-x URL]... [-v|-q] [--help] [--version] [--] PROGRAM [ARGS...]
//
// Repeated -x form a chain, first hop first. The library is found relative to
// this executable's real path (never the current directory: proxychains-ng
// CVE-2015-3887) and prepended to any LD_PRELOAD already set. Exit status:
// PROGRAM's own; 2 for a usage error or a bad URL; 126/127 when PROGRAM cannot
// be run, as a shell does.
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "socks/exempt.h"
#include "socks/proxy.h"

SOCKSIFY_EXEMPT_PROGRAM

namespace {

constexpr int kUsageError = 2;

const char kUsage[] =
    "Usage: socksify [-x URL]... [-v|-q] [--] PROGRAM [ARGS...]\n"
    "Run PROGRAM with its TCP connections (and, for socks5h/socks4a, its name\n"
    "lookups) sent through SOCKS proxies.\n"
    "\n"
    "  -x, --proxy URL   proxy to use; repeat to form a chain, first hop first.\n"
    "                    socks4://, socks4a://, socks5://, socks5h://\n"
    "                    [user[:password]@]host[:port] (port 1080 by default);\n"
    "                    default: $SOCKSIFY_PROXY\n"
    "  -v, --verbose     one line per routed connection on stderr (-vv: debug)\n"
    "  -q, --quiet       no messages at all\n"
    "  -h, --help        this text\n"
    "      --version     the version\n"
    "\n"
    "Environment: SOCKSIFY_PROXY=URL[,URL...], SOCKSIFY_LOG=quiet|error|warn|info|debug,\n"
    "SOCKSIFY_CONNECT_TIMEOUT=SECONDS (default 10), SOCKSIFY_BIND=auto|all|off (which\n"
    "listening sockets become a SOCKS BIND on the proxy; default auto).\n"
    "Exit status: PROGRAM's own; 2 for a usage error or a bad proxy URL.\n";

[[noreturn]] void usageError(const char* fmt, const char* arg) {
  std::fprintf(stderr, "socksify: ");
  std::fprintf(stderr, fmt, arg);
  std::fprintf(stderr, "\nTry 'socksify --help' for more information.\n");
  std::exit(kUsageError);
}

std::string dirOf(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// The library next to us: the install layout (bin/ -> lib/), then the build
// tree (the same directory).
std::string findLibrary() {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    return {};
  }
  self[n] = '\0';
  const std::string dir = dirOf(self);
  const std::string candidates[] = {
      dir + "/" SOCKSIFY_REL_LIBDIR "/libsocksify.so",
      dir + "/libsocksify.so",
  };
  for (const std::string& c : candidates) {
    char real[PATH_MAX];
    if (realpath(c.c_str(), real) != nullptr && access(real, R_OK) == 0) {
      return real;
    }
  }
  return {};
}

// Where PROGRAM would be found by execvp, for the setuid warning.
std::string whichProgram(const char* program) {
  if (strchr(program, '/') != nullptr) {
    return program;
  }
  const char* path = getenv("PATH");
  std::string p = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    const size_t end = p.find(':', start);
    std::string dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (dir.empty()) {
      dir = ".";
    }
    const std::string candidate = dir + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return {};
}

// The dynamic loader ignores LD_PRELOAD for setuid/setgid programs and for
// programs with file capabilities: say so rather than silently not proxying.
void warnIfSecure(const char* program) {
  const std::string path = whichProgram(program);
  struct stat st {};
  if (path.empty() || stat(path.c_str(), &st) != 0) {
    return;
  }
  const bool setid = (st.st_mode & (S_ISUID | S_ISGID)) != 0;
  const bool caps = getxattr(path.c_str(), "security.capability", nullptr, 0) > 0;
  if (setid || caps) {
    std::fprintf(stderr,
                 "socksify: warning: %s is %s; the dynamic loader ignores LD_PRELOAD for it, so "
                 "its connections will not be proxied\n",
                 path.c_str(), setid ? "setuid/setgid" : "given file capabilities");
  }
}

// LD_PRELOAD with lib prepended. Sanitizer runtimes must stay the first
// preloaded objects (ASan refuses to run otherwise), so leading ones keep
// their place; an entry for the same library is not repeated.
std::string preloadWith(const std::string& lib, const char* existing) {
  std::vector<std::string> entries;
  if (existing != nullptr) {
    std::string cur;
    for (const char* p = existing;; ++p) {
      if (*p == '\0' || *p == ' ' || *p == ':') {
        if (!cur.empty() && cur != lib) {
          entries.push_back(cur);
        }
        cur.clear();
        if (*p == '\0') {
          break;
        }
      } else {
        cur += *p;
      }
    }
  }
  auto isSanitizer = [](const std::string& path) {
    const std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    for (const char* prefix : {"libasan", "libtsan", "libubsan", "liblsan", "libclang_rt."}) {
      if (base.rfind(prefix, 0) == 0) {
        return true;
      }
    }
    return false;
  };
  std::string out;
  std::size_t k = 0;
  for (; k < entries.size() && isSanitizer(entries[k]); ++k) {
    out += entries[k] + " ";
  }
  out += lib;
  for (; k < entries.size(); ++k) {
    out += " " + entries[k];
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> proxies;
  int verbosity = 0;
  bool quiet = false;
  int i = 1;
  for (; i < argc; ++i) {
    const char* a = argv[i];
    if (strcmp(a, "--") == 0) {
      ++i;
      break;
    }
    if (a[0] != '-' || a[1] == '\0') {
      break;  // PROGRAM
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (strcmp(a, "--version") == 0) {
      std::printf("socksify %s\n", SOCKSIFY_VERSION);
      return 0;
    }
    if (strcmp(a, "-x") == 0 || strcmp(a, "--proxy") == 0) {
      if (i + 1 >= argc) {
        usageError("option '%s' needs a proxy URL", a);
      }
      proxies.emplace_back(argv[++i]);
    } else if (strncmp(a, "--proxy=", 8) == 0) {
      proxies.emplace_back(a + 8);
    } else if (strncmp(a, "-x", 2) == 0) {
      proxies.emplace_back(a + 2);
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      ++verbosity;
    } else if (strcmp(a, "-vv") == 0) {
      verbosity += 2;
    } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
      quiet = true;
    } else {
      usageError("unknown option '%s'", a);
    }
  }
  if (i >= argc) {
    usageError("%s", "no program given");
  }
  if (verbosity > 0 && quiet) {
    usageError("%s", "-v and -q contradict each other");
  }

  std::string chain;
  for (const std::string& p : proxies) {
    chain += chain.empty() ? "" : ",";
    chain += p;
  }
  if (chain.empty()) {
    const char* env = getenv("SOCKSIFY_PROXY");
    if (env == nullptr || *env == '\0') {
      usageError("%s", "no proxy given: use -x URL or set SOCKSIFY_PROXY");
    }
    chain = env;
  }
  auto parsed = socks::parseProxyList(chain);
  if (!parsed.ok()) {
    std::fprintf(stderr, "socksify: bad proxy URL '%s': column %u: %s\n", chain.c_str(),
                 parsed.status().column(), parsed.status().reason());
    return kUsageError;
  }

  const std::string lib = findLibrary();
  if (lib.empty()) {
    std::fprintf(stderr, "socksify: cannot find libsocksify.so next to this program\n");
    return kUsageError;
  }
  setenv("LD_PRELOAD", preloadWith(lib, getenv("LD_PRELOAD")).c_str(), 1);
  setenv("SOCKSIFY_PROXY", chain.c_str(), 1);
  if (quiet) {
    setenv("SOCKSIFY_LOG", "quiet", 1);
  } else if (verbosity == 1) {
    setenv("SOCKSIFY_LOG", "info", 1);
  } else if (verbosity > 1) {
    setenv("SOCKSIFY_LOG", "debug", 1);
  }

  warnIfSecure(argv[i]);
  execvp(argv[i], argv + i);
  const int err = errno;
  std::fprintf(stderr, "socksify: cannot run %s: %s\n", argv[i], strerror(err));
  return err == ENOENT ? 127 : 126;
}
