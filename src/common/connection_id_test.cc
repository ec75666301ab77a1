#include "anvil/connection_id.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

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

// Ids come from a pool of random bytes; a forked child must not hand out
// the ids its parent will.
TEST(ConnectionId, AForkedChildDrawsOtherIdsThanItsParent) {
  ConnectionId::random();  // the pool now holds bytes the child inherits
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  constexpr int kCount = 8;
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ConnectionId ids[kCount];
    for (ConnectionId& id : ids) id = ConnectionId::random();
    _exit(write(pipe_fds[1], ids, sizeof ids) == sizeof ids ? 0 : 1);
  }
  close(pipe_fds[1]);
  ConnectionId theirs[kCount];
  ASSERT_EQ(read(pipe_fds[0], theirs, sizeof theirs), static_cast<ssize_t>(sizeof theirs));
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_EQ(status, 0);
  std::set<ConnectionId> seen(std::begin(theirs), std::end(theirs));
  for (int i = 0; i < kCount; i++) {
    EXPECT_TRUE(seen.insert(ConnectionId::random()).second)
        << "the parent drew an id its child drew";
  }
}

TEST(ConnectionId, ParsesEveryDigitAndNothingElse) {
  for (int c = 0; c < 256; c++) {
    std::string hex(32, '0');
    hex[7] = static_cast<char>(c);
    bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    EXPECT_EQ(ConnectionId::parse(hex).has_value(), digit) << c;
  }
}

}  // namespace
}  // namespace anvil
