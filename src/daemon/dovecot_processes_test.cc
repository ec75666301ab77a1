#include "daemon/dovecot_processes.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <vector>

namespace anvil {
namespace {

using namespace std::chrono_literals;

// A child that lives until it is killed.
pid_t start_child() {
  pid_t pid = ::fork();
  if (pid == 0) {
    for (;;) ::pause();
  }
  return pid;
}

asio::posix::stream_descriptor readable_descriptor(asio::io_context& io, int (&pair)[2]) {
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  EXPECT_EQ(::write(pair[1], "x", 1), 1);
  return asio::posix::stream_descriptor(io, pair[0]);
}

class DovecotProcessesTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
  }

  asio::io_context io_;
  std::vector<pid_t> exits_;
  DovecotProcesses processes_{io_, [this](OwnerId, pid_t pid) { exits_.push_back(pid); }};
  pid_t child_ = start_child();
};

std::string no_check(pid_t) {
  return "";
}

TEST_F(DovecotProcessesTest, AnExitIsSeen) {
  std::string error;
  ASSERT_TRUE(processes_.attach(
      child_, [] { return OwnerId{7}; }, no_check, &error))
      << error;
  EXPECT_EQ(processes_.owner_of(child_), OwnerId{7});
  ::kill(child_, SIGKILL);
  ::waitpid(child_, nullptr, 0);
  for (int i = 0; i < 100 && exits_.empty(); i++) io_.run_for(20ms);
  EXPECT_EQ(exits_, std::vector<pid_t>{child_});
  EXPECT_FALSE(processes_.owner_of(child_));
  child_ = 0;
}

TEST_F(DovecotProcessesTest, AProcessThatDoesNotExistIsRefused) {
  std::string error;
  EXPECT_FALSE(processes_.attach(
      999'999'999, [] { return OwnerId{7}; }, no_check, &error));
  EXPECT_NE(error.find("cannot open pid 999999999"), std::string::npos) << error;
}

TEST_F(DovecotProcessesTest, TheCheckIsKeptAndTheNumberOfProcessesIsBounded) {
  DovecotProcesses bounded(
      io_, [](OwnerId, pid_t) {}, 1);
  std::string error;
  auto owner = bounded.attach(
      child_, [] { return OwnerId{3}; }, [](pid_t) { return std::string("not Dovecot's"); },
      &error);
  ASSERT_TRUE(owner) << error;
  EXPECT_EQ(bounded.refusal(*owner), "not Dovecot's");
  EXPECT_EQ(bounded.pid_of(*owner), child_);
  // One more process would be one more descriptor than allowed.
  EXPECT_FALSE(bounded.attach(
      ::getpid(), [] { return OwnerId{4}; }, no_check, &error));
  EXPECT_NE(error.find("max_dovecot_processes=1 reached"), std::string::npos) << error;
}

// Two descriptors are readable in one round of the reactor. The first one's
// handler closes the second, whose event is still queued, and starts
// watching a process: the pidfd takes the closed descriptor's reactor slot
// and the queued event ends its wait. The process is alive, so it must stay
// watched.
TEST_F(DovecotProcessesTest, AReadinessMeantForAClosedDescriptorIsNoExit) {
  int first_pair[2], stale_pair[2];
  auto first = readable_descriptor(io_, first_pair);
  auto stale = readable_descriptor(io_, stale_pair);
  bool attached = false;
  first.async_wait(asio::posix::descriptor_base::wait_read, [&](const asio::error_code&) {
    stale.close();
    std::string error;
    attached = processes_
                   .attach(
                       child_, [] { return OwnerId{7}; }, no_check, &error)
                   .has_value();
  });
  stale.async_wait(asio::posix::descriptor_base::wait_read, [](const asio::error_code&) {});
  io_.run_for(200ms);
  EXPECT_TRUE(attached);
  EXPECT_TRUE(exits_.empty());
  EXPECT_EQ(processes_.owner_of(child_), OwnerId{7});
  // ... and its real exit is still seen.
  ::kill(child_, SIGKILL);
  ::waitpid(child_, nullptr, 0);
  io_.restart();
  for (int i = 0; i < 100 && exits_.empty(); i++) io_.run_for(20ms);
  EXPECT_EQ(exits_, std::vector<pid_t>{child_});
  child_ = 0;
  first.close();
  for (int fd : {first_pair[1], stale_pair[1]}) ::close(fd);
}

}  // namespace
}  // namespace anvil
