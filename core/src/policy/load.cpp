// load.cpp — reading a configuration file and its password files: the one
// pipeline the launcher and the preloaded library share.
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "socks/config.h"

namespace socks {

FileRead readFileContents(const std::string& path) {
  FileRead out;
  try {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
      out.sys_errno = errno;
      return out;
    }
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
      out.sys_errno = errno;
      ::close(fd);
      return out;
    }
    if (S_ISDIR(st.st_mode)) {
      out.sys_errno = EISDIR;
      ::close(fd);
      return out;
    }
    out.world_readable = (st.st_mode & S_IROTH) != 0;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        out.sys_errno = errno;
        ::close(fd);
        out.contents.clear();
        return out;
      }
      if (n == 0) {
        break;
      }
      if (out.contents.size() + static_cast<std::size_t>(n) > kMaxConfigBytes) {
        out.sys_errno = EFBIG;
        ::close(fd);
        out.contents.clear();
        return out;
      }
      out.contents.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    out.ok = true;
    return out;
  } catch (...) {
    out = FileRead{};
    out.sys_errno = ENOMEM;
    return out;
  }
}

ConfigResult<Config> loadConfigFile(const std::string& path,
                                    const std::function<const char*(const char* name)>& getenv) {
  try {
    const FileRead file = readFileContents(path);
    if (!file.ok) {
      char buf[128];
      const char* why = strerror_r(file.sys_errno, buf, sizeof buf);
      return Diagnostic{path, 0, 0,
                        std::string("cannot read: ") + why +
                            "; expected a readable configuration file (see socks.conf(5))"};
    }
    ConfigResult<Config> parsed = parseConfig(file.contents, path);
    if (!parsed.ok()) {
      return parsed;
    }
    CredentialSources sources;
    sources.getenv = getenv;
    sources.read_file = [](const std::string& p) { return readFileContents(p); };
    sources.config_world_readable = file.world_readable;
    Config config = std::move(parsed).value();
    ConfigResult<bool> creds = resolveCredentials(config, sources);
    std::vector<Diagnostic> warnings = std::move(parsed.warnings);
    for (Diagnostic& w : creds.warnings) {
      warnings.push_back(std::move(w));
    }
    if (!creds.ok()) {
      ConfigResult<Config> failed(creds.error());
      failed.warnings = std::move(warnings);
      return failed;
    }
    ConfigResult<Config> ok(std::move(config));
    ok.warnings = std::move(warnings);
    return ok;
  } catch (...) {
    return Diagnostic{path, 0, 0, "out of memory while reading the configuration"};
  }
}

}  // namespace socks
