#include "common/host_port.h"

#include <gtest/gtest.h>

namespace anvil {
namespace {

TEST(HostPort, Forms) {
  auto v4 = parse_host_port("10.0.0.1:143");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "10.0.0.1");
  EXPECT_EQ(v4->port, 143);
  auto v6 = parse_host_port("[::1]:993");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(format_host_port(*v6), "[::1]:993");
  EXPECT_TRUE(parse_host_port("mail.example.com:110"));
  EXPECT_FALSE(parse_host_port("10.0.0.1"));
  EXPECT_TRUE(parse_host_port("10.0.0.1", true));
  EXPECT_FALSE(parse_host_port("::1:143"));
  EXPECT_FALSE(parse_host_port("host:70000"));
  EXPECT_FALSE(parse_host_port(":143"));
  EXPECT_FALSE(parse_host_port("[::1]143"));
  EXPECT_FALSE(parse_host_port("[[]", true));
  EXPECT_FALSE(parse_host_port("[[]:143"));
  EXPECT_FALSE(parse_host_port("[]:143"));
  EXPECT_FALSE(parse_host_port("a]b:143"));
  EXPECT_FALSE(parse_host_port(std::string("host\x01:143")));
}

TEST(HostPort, Ports) {
  std::uint16_t port = 0;
  EXPECT_TRUE(parse_port("993", &port));
  EXPECT_EQ(port, 993);
  EXPECT_FALSE(parse_port("0", &port));
  EXPECT_TRUE(parse_port("0", &port, 0));
  EXPECT_FALSE(parse_port("65536", &port));
  EXPECT_FALSE(parse_port("+80", &port));
  EXPECT_FALSE(parse_port("80x", &port));
  EXPECT_FALSE(parse_port("", &port));
}

}  // namespace
}  // namespace anvil
