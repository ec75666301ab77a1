#include "proxy/sasl.h"

#include <gtest/gtest.h>

namespace anvil {
namespace {

TEST(Base64, RoundTripsAndRejectsJunk) {
  for (const std::string& text :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0x\xff", 3)}) {
    EXPECT_EQ(base64_decode(base64_encode(text)), text);
  }
  EXPECT_EQ(base64_encode("jane"), "amFuZQ==");
  EXPECT_FALSE(base64_decode("amFuZQ="));
  EXPECT_FALSE(base64_decode("am=uZQ=="));
  EXPECT_FALSE(base64_decode("amFu ZQ=="));
  EXPECT_FALSE(base64_decode("****"));
}

TEST(SaslPlain, ParsesAndBuilds) {
  auto credentials = parse_sasl_plain(std::string("\0jane\0secret", 12));
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->authzid, "");
  EXPECT_EQ(credentials->user, "jane");
  EXPECT_EQ(credentials->password, "secret");
  EXPECT_EQ(sasl_plain_message(*credentials), std::string("\0jane\0secret", 12));
  auto master = parse_sasl_plain(std::string("jane\0admin\0pw", 13));
  ASSERT_TRUE(master);
  EXPECT_EQ(master->authzid, "jane");
  EXPECT_FALSE(parse_sasl_plain("janesecret"));
  EXPECT_FALSE(parse_sasl_plain(std::string("\0\0secret", 8)));
  EXPECT_FALSE(parse_sasl_plain(std::string("\0jane\0", 6)));
  EXPECT_FALSE(parse_sasl_plain(std::string("\0jane\0se\0cret", 13)));
}

}  // namespace
}  // namespace anvil
