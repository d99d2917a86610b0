// The log line formats: stderr lines and syslog datagrams (log-to syslog),
// read back through a socketpair standing in for stderr and /dev/log.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "socks/log.h"

namespace {

class LogDestination : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds_), 0);
    socks::log::setLevel(socks::log::Level::kInfo);
  }
  void TearDown() override {
    socks::log::setDestination(STDERR_FILENO, false);
    socks::log::setLevel(socks::log::Level::kWarn);
    close(fds_[0]);
    close(fds_[1]);
  }
  std::string readOne() {
    char buf[2048];
    const ssize_t n = recv(fds_[1], buf, sizeof buf, MSG_DONTWAIT);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
  int fds_[2] = {-1, -1};
};

TEST_F(LogDestination, PlainLinesEndInNewline) {
  socks::log::setDestination(fds_[0], false);
  socks::log::write(socks::log::Level::kWarn, "connect %s: %d", "a:1", 7);
  EXPECT_EQ(readOne(), "socksify: connect a:1: 7\n");
}

TEST_F(LogDestination, SyslogIsOneRfc3164MessagePerLine) {
  socks::log::setDestination(fds_[0], true);
  const std::string pid = std::to_string(getpid());
  socks::log::write(socks::log::Level::kError, "bad %s", "file");
  EXPECT_EQ(readOne(), "<11>socksify[" + pid + "]: bad file");  // user.err
  socks::log::write(socks::log::Level::kWarn, "w");
  EXPECT_EQ(readOne(), "<12>socksify[" + pid + "]: w");  // user.warning
  socks::log::write(socks::log::Level::kInfo, "i");
  EXPECT_EQ(readOne(), "<14>socksify[" + pid + "]: i");  // user.info
  socks::log::write(socks::log::Level::kDebug, "not at info");
  EXPECT_EQ(readOne(), "");
}

}  // namespace
