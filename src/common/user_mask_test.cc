#include "common/user_mask.h"

#include <gtest/gtest.h>

namespace anvil {
namespace {

TEST(UserMask, PlainNameMatchesItselfInAnyCaseAndNothingElse) {
  UserMask mask("Jane");
  EXPECT_FALSE(mask.has_wildcards());
  EXPECT_EQ(mask.folded(), "jane");
  EXPECT_TRUE(mask.matches("jane"));
  EXPECT_TRUE(mask.matches("JANE"));
  EXPECT_FALSE(mask.matches("janet"));
  EXPECT_FALSE(mask.matches("jan"));
}

TEST(UserMask, WildcardsAreAnchored) {
  UserMask star("ja*");
  EXPECT_TRUE(star.has_wildcards());
  EXPECT_TRUE(star.matches("ja"));
  EXPECT_TRUE(star.matches("James"));
  EXPECT_FALSE(star.matches("bja"));
  UserMask question("ba?");
  EXPECT_TRUE(question.matches("bar"));
  EXPECT_TRUE(question.matches("BAZ"));
  EXPECT_FALSE(question.matches("ba"));
  EXPECT_FALSE(question.matches("barn"));
}

TEST(UserMask, StarsInTheMiddleBacktrack) {
  UserMask mask("*@example.*");
  EXPECT_TRUE(mask.matches("john@example.com"));
  EXPECT_TRUE(mask.matches("a@b@example.org"));
  EXPECT_FALSE(mask.matches("john@example"));
  EXPECT_TRUE(UserMask("a*b*c").matches("aXbYbZc"));
  EXPECT_FALSE(UserMask("a*b*c").matches("aXbYbZ"));
}

TEST(UserMask, EmptyNameMatchesOnlyStars) {
  EXPECT_TRUE(UserMask("*").matches(""));
  EXPECT_TRUE(UserMask("**").matches(""));
  EXPECT_FALSE(UserMask("?").matches(""));
  EXPECT_FALSE(UserMask("a").matches(""));
}

TEST(UserMask, NoCharacterClasses) {
  EXPECT_FALSE(UserMask("user00[12]").matches("user001"));
  EXPECT_TRUE(UserMask("user00[12]").matches("user00[12]"));
}

TEST(UserMask, PathologicalPatternStaysFast) {
  std::string name(5000, 'a');
  UserMask mask("*a*a*a*a*a*a*a*a*b");
  EXPECT_FALSE(mask.matches(name));
}

}  // namespace
}  // namespace anvil
