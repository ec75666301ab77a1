#include "common/numbers.h"

#include <gtest/gtest.h>

namespace anvil {
namespace {

TEST(Numbers, IntegersAreDigitsWithinBounds) {
  long long value = 0;
  EXPECT_TRUE(parse_integer("42", 0, 100, &value));
  EXPECT_EQ(value, 42);
  EXPECT_TRUE(parse_integer("-3", -5, 5, &value));
  EXPECT_EQ(value, -3);
  for (const char* bad :
       {"", " 1", "1 ", "+1", "0x10", "1e3", "12a", "101", "-1", "99999999999999999999999"}) {
    EXPECT_FALSE(parse_integer(bad, 0, 100, &value)) << bad;
  }
  EXPECT_EQ(value, -3);  // untouched by the failures
}

TEST(Numbers, Ports) {
  std::uint16_t port = 0;
  EXPECT_TRUE(parse_port("65535", &port));
  EXPECT_EQ(port, 65535);
  EXPECT_FALSE(parse_port("0", &port));  // a port to connect to or listen on
  EXPECT_TRUE(parse_port("0", &port, 0));
  EXPECT_FALSE(parse_port("65536", &port, 0));
  EXPECT_FALSE(parse_port("-1", &port, 0));
}

}  // namespace
}  // namespace anvil
