#include "daemon/running_kick.h"

#include <gtest/gtest.h>

namespace anvil {
namespace {

std::vector<KickOutcome> three(std::vector<ConnectionId>* ids) {
  std::vector<KickOutcome> outcomes(3, KickOutcome{Session{}, KickStatus::timeout});
  for (KickOutcome& outcome : outcomes) {
    outcome.session.id = ConnectionId::random();
    ids->push_back(outcome.session.id);
  }
  return outcomes;
}

// Parameters, not lambda captures: the coroutine outlives the statement
// that starts it.
asio::awaitable<void> wait_then_flag(RunningKick& kick, std::chrono::milliseconds timeout,
                                     bool& ended) {
  co_await kick.wait(timeout);
  ended = true;
}

// Starts the kick's wait and runs the context for 50 ms; true if the wait
// ended by then.
bool wait_ends(asio::io_context& io, RunningKick& kick, std::chrono::milliseconds timeout,
               bool& ended) {
  asio::co_spawn(io, wait_then_flag(kick, timeout, ended), asio::detached);
  io.run_for(std::chrono::milliseconds(50));
  return ended;
}

TEST(RunningKick, AnswersSettleTheirSessionsAndEndTheWait) {
  asio::io_context io;
  std::vector<ConnectionId> ids;
  RunningKick kick(io.get_executor(), three(&ids));
  kick.asked();
  kick.asked();
  kick.settle(ids[0], KickStatus::kicked);
  kick.settle(ConnectionId::random(), KickStatus::kicked);  // not this kick's: ignored
  kick.answered();
  bool ended = false;
  EXPECT_FALSE(wait_ends(io, kick, std::chrono::seconds(60), ended));  // one request still out
  kick.settle(ids[1], KickStatus::not_signalled, "not a child of Dovecot's master");
  kick.answered();
  io.restart();
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(ended);  // the last answer ended the wait, long before its timeout
  EXPECT_EQ(kick.outstanding(), 0u);
  const auto& outcomes = kick.outcomes();
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[0].status, KickStatus::kicked);
  EXPECT_EQ(outcomes[1].status, KickStatus::not_signalled);
  EXPECT_EQ(outcomes[1].why, "not a child of Dovecot's master");
  EXPECT_EQ(outcomes[2].status, KickStatus::timeout);  // nobody answered for it
}

TEST(RunningKick, WaitEndsAtTheTimeoutOrAtOnceWhenNothingIsAsked) {
  asio::io_context io;
  std::vector<ConnectionId> ids;
  RunningKick idle(io.get_executor(), three(&ids));
  bool idle_ended = false, unanswered_ended = false;
  EXPECT_TRUE(wait_ends(io, idle, std::chrono::seconds(60), idle_ended));
  io.restart();
  RunningKick unanswered(io.get_executor(), three(&ids));
  unanswered.asked();
  EXPECT_TRUE(wait_ends(io, unanswered, std::chrono::milliseconds(5), unanswered_ended));
  EXPECT_EQ(unanswered.take_outcomes()[0].status, KickStatus::timeout);
}

}  // namespace
}  // namespace anvil
