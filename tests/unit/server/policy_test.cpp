// Tests of the server policy inputs in socks/server.h: AddressRange,
// UserTable, HostTable (core/src/server/policy.cpp).
#include <cstdio>
#include <string>
#include <unistd.h>

#include "gtest/gtest.h"
#include "socks/server.h"

namespace socks {
namespace {

Address ip(const char* text) { return *Address::parseNumeric(text, 0); }

// ---- AddressRange ----------------------------------------------------------------

TEST(AddressRange, ContainsByPrefix) {
  const struct {
    const char* range;
    const char* addr;
    bool in;
  } cases[] = {
      {"10.0.0.0/8", "10.255.1.2", true},
      {"10.0.0.0/8", "11.0.0.0", false},
      {"192.168.1.0/25", "192.168.1.127", true},
      {"192.168.1.0/25", "192.168.1.128", false},
      {"127.0.0.1", "127.0.0.1", true},
      {"127.0.0.1", "127.0.0.2", false},
      {"0.0.0.0/0", "203.0.113.9", true},
      {"0.0.0.0/0", "::1", false},  // families never mix
      {"::/0", "127.0.0.1", false},
      {"::1", "::1", true},
      {"2001:db8::/32", "2001:db8:ffff::1", true},
      {"2001:db8::/33", "2001:db8:8000::1", false},
      {"fe80::/10", "febf::1", true},
      {"fe80::/10", "fec0::1", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.range) + " " + c.addr);
    auto r = AddressRange::parse(c.range);
    ASSERT_TRUE(r.ok()) << r.status().reason();
    EXPECT_EQ(r->contains(ip(c.addr)), c.in);
  }
}

TEST(AddressRange, RejectsBadText) {
  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/8x",
                          "[::1]", "example.org", "10.0.0.0/0008", "1.2.3.4/1/2"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(AddressRange::parse(bad).ok());
  }
}

TEST(AddressRange, AnyContains) {
  const std::vector<AddressRange> ranges = {*AddressRange::parse("10.0.0.0/8"), *AddressRange::parse("::1")};
  EXPECT_TRUE(AddressRange::anyContains(ranges, ip("10.1.1.1")));
  EXPECT_TRUE(AddressRange::anyContains(ranges, ip("::1")));
  EXPECT_FALSE(AddressRange::anyContains(ranges, ip("127.0.0.1")));
  EXPECT_FALSE(AddressRange::anyContains({}, ip("127.0.0.1")));
  // A domain is in no range.
  EXPECT_FALSE(AddressRange::anyContains(ranges, *Address::domainName("10.0.0.1", 0)));
}

// ---- UserTable ---------------------------------------------------------------------

TEST(UserTable, ParsesAndChecks) {
  UserTable users;
  std::string error;
  ASSERT_TRUE(users.parse("# users\n\nalice:wonder land\r\n  # indented comment\nbob:a:b:c\n", "u", error))
      << error;
  EXPECT_EQ(users.size(), 2u);
  EXPECT_TRUE(users.check("alice", "wonder land"));
  EXPECT_TRUE(users.check("bob", "a:b:c"));  // everything after the first ':'
  EXPECT_FALSE(users.check("alice", "wonder lan"));
  EXPECT_FALSE(users.check("alice", "wonder land!"));
  EXPECT_FALSE(users.check("alice", ""));
  EXPECT_FALSE(users.check("Alice", "wonder land"));  // names are exact
  EXPECT_FALSE(users.check("carol", ""));
  EXPECT_FALSE(users.check("carol", "x"));
}

TEST(UserTable, ErrorsNameTheLine) {
  const struct {
    const char* text;
    const char* error;
  } cases[] = {
      {"ok:1\nbroken\n", "f:2: expected user:password"},
      {":pw\n", "f:1: user name must be 1 to 255 bytes"},
      {"user:\n", "f:1: password must be 1 to 255 bytes"},
      {"a:1\n\na:2\n", "f:3: user 'a' already defined on line 1"},
      {"# only comments\n\n", "f: no users defined"},
      {"", "f: no users defined"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    UserTable users;
    std::string error;
    EXPECT_FALSE(users.parse(c.text, "f", error));
    EXPECT_EQ(error, c.error);
    EXPECT_EQ(users.size(), 0u);  // nothing from a text with an error
  }
  UserTable users;
  std::string error;
  EXPECT_FALSE(users.parse(std::string(256, 'u') + ":pw\n", "f", error));
  EXPECT_FALSE(users.parse("u:" + std::string(256, 'p') + "\n", "f", error));
  EXPECT_TRUE(users.parse(std::string(255, 'u') + ":" + std::string(255, 'p'), "f", error)) << error;
}

TEST(UserTable, LoadsAFile) {
  char path[] = "/tmp/socksd_users_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = "carol:pw\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  UserTable users;
  std::string error;
  EXPECT_TRUE(users.load(path, error)) << error;
  EXPECT_TRUE(users.check("carol", "pw"));
  unlink(path);
  UserTable missing;
  EXPECT_FALSE(missing.load(path, error));
  EXPECT_EQ(error.rfind(path, 0), 0u) << error;  // names the file
}

// ---- HostTable ---------------------------------------------------------------------

TEST(HostTable, LooksUpNamesInFileOrder) {
  HostTable hosts;
  std::string error;
  ASSERT_TRUE(hosts.parse("# test names\n"
                          "127.0.0.1   dest.test  Alias.Test   # trailing comment\n"
                          "::1\tdest.test\n"
                          "\n"
                          "10.0.0.1 dest.test other.test\n",
                          "h", error))
      << error;
  const auto* dest = hosts.lookup("dest.test");
  ASSERT_NE(dest, nullptr);
  ASSERT_EQ(dest->size(), 3u);
  EXPECT_EQ((*dest)[0], ip("127.0.0.1"));
  EXPECT_EQ((*dest)[1], ip("::1"));
  EXPECT_EQ((*dest)[2], ip("10.0.0.1"));
  EXPECT_NE(hosts.lookup("DEST.TEST."), nullptr);  // case and one trailing dot
  ASSERT_NE(hosts.lookup("alias.test"), nullptr);
  EXPECT_EQ(hosts.lookup("alias.test")->size(), 1u);
  EXPECT_EQ(hosts.lookup("nothere.test"), nullptr);
  EXPECT_EQ(hosts.lookup("dest"), nullptr);
}

TEST(HostTable, ErrorsNameTheLine) {
  const struct {
    const char* text;
    const char* error;
  } cases[] = {
      {"1.2.3.4 ok\nnot-an-ip name\n", "h:2: not an IP address: not-an-ip"},
      {"[::1] name\n", "h:1: not an IP address: [::1]"},
      {"\n\n1.2.3.4   # no name\n", "h:3: address without a name"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    HostTable hosts;
    std::string error;
    EXPECT_FALSE(hosts.parse(c.text, "h", error));
    EXPECT_EQ(error, c.error);
    EXPECT_EQ(hosts.lookup("ok"), nullptr);  // nothing from a text with an error
  }
}

}  // namespace
}  // namespace socks
