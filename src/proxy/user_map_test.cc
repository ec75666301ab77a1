#include "proxy/user_map.h"

#include <gtest/gtest.h>

#include "common/test_temp_file.h"

namespace anvil {
namespace {

class UserMapFile : public ::testing::Test {
 protected:
  std::string load(const std::string& text) {
    file_.write(text);
    return map_.load(file_.path());
  }
  TestTempFile file_{"anvil-usermap"};
  UserMap map_;
};

TEST_F(UserMapFile, UsersThenDomainsThenTheDefault) {
  ASSERT_EQ(load("# routes\n"
                 "Jane@Example.com  10.0.0.5            user_team=sales\n"
                 "*@example.com     10.0.0.6:1143       pop3_port=1110\n"
                 "bob               [::1]               imap_port=2143\n"),
            "");
  const HostPort fallback{"127.0.0.1", 10143};
  Route jane = map_.route("jane@EXAMPLE.com", MailProtocol::imap, fallback);
  EXPECT_EQ(format_host_port(jane.backend), "10.0.0.5:10143");  // keeps the default port
  ASSERT_EQ(jane.alt_names.size(), 1u);
  EXPECT_EQ(jane.alt_names[0].first, "user_team");
  Route other = map_.route("joe@example.com", MailProtocol::imap, fallback);
  EXPECT_EQ(format_host_port(other.backend), "10.0.0.6:1143");
  EXPECT_EQ(map_.route("joe@example.com", MailProtocol::pop3, {"x", 10110}).backend.port, 1110);
  EXPECT_EQ(format_host_port(map_.route("bob", MailProtocol::imap, fallback).backend),
            "[::1]:2143");
  EXPECT_EQ(map_.route("bob", MailProtocol::pop3, {"x", 10110}).backend.port, 10110);
  EXPECT_EQ(format_host_port(map_.route("someone", MailProtocol::imap, fallback).backend),
            "127.0.0.1:10143");
}

TEST_F(UserMapFile, ErrorsNameTheLineAndKeepTheOldMap) {
  ASSERT_EQ(load("a 10.0.0.1\n"), "");
  std::string error = load("b 10.0.0.2\nc\n");
  EXPECT_EQ(error, file_.path() + ":2: expected a destination after c");
  EXPECT_NE(load("x 10.0.0.1 colour=blue\n"), "");
  EXPECT_NE(load("*.example.com 10.0.0.1\n"), "");
  EXPECT_NE(load("x host:0\n"), "");
  EXPECT_NE(load("x 10.0.0.1\nX 10.0.0.2\n"), "");
  EXPECT_EQ(map_.size(), 1u);
  EXPECT_EQ(map_.route("a", MailProtocol::imap, {"d", 1}).backend.host, "10.0.0.1");
}

}  // namespace
}  // namespace anvil
