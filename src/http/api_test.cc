#include "http/api.h"

#include <gtest/gtest.h>

namespace anvil {
namespace {

TEST(ParseQuery, DecodesPercentAndPlusAndKeepsRepeats) {
  auto pairs = parse_query("user=j%2Ane&user=bob+smith&net=10.0.0.0%2F8&flag&&bad=%zz%4");
  ASSERT_EQ(pairs.size(), 5u);
  EXPECT_EQ(pairs[0], (std::pair<std::string, std::string>{"user", "j*ne"}));
  EXPECT_EQ(pairs[1].second, "bob smith");
  EXPECT_EQ(pairs[2].second, "10.0.0.0/8");
  EXPECT_EQ(pairs[3], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(pairs[4].second, "%zz%4");  // not an escape: kept as it is
}

TEST(SplitWords, SplitsOnBlanksOnly) {
  EXPECT_EQ(split_words("  jane\t10.0.0.0/8  --service imap "),
            (std::vector<std::string>{"jane", "10.0.0.0/8", "--service", "imap"}));
  EXPECT_TRUE(split_words(" \t ").empty());
}

}  // namespace
}  // namespace anvil
