#include "anvil/connection_id.h"

#include <gtest/gtest.h>

#include <set>

namespace anvil {
namespace {

TEST(ConnectionId, RoundTripsThroughHex) {
  auto id = ConnectionId::parse("0123456789abcdefFEDCBA9876543210");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->high, 0x0123456789abcdefULL);
  EXPECT_EQ(id->low, 0xfedcba9876543210ULL);
  EXPECT_EQ(id->to_hex(), "0123456789abcdeffedcba9876543210");
}

TEST(ConnectionId, RejectsWrongLengthOrDigits) {
  EXPECT_FALSE(ConnectionId::parse(""));
  EXPECT_FALSE(ConnectionId::parse("0123456789abcdef0123456789abcde"));
  EXPECT_FALSE(ConnectionId::parse("0123456789abcdef0123456789abcdeg"));
  EXPECT_FALSE(ConnectionId::parse("0123456789abcdef0123456789abcdef0"));
}

TEST(ConnectionId, RandomIdsDifferAndAreNeverZero) {
  std::set<ConnectionId> seen;
  for (int i = 0; i < 1000; i++) {
    auto id = ConnectionId::random();
    EXPECT_FALSE(id.is_zero());
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace anvil
