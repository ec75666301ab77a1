// A service channel on its own: a context of a table and three functions,
// one end of a socket pair, and the lines a service would send.
#include "daemon/service_channel.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>

namespace anvil {
namespace {

using namespace std::chrono_literals;

class ServiceChannelTest : public ::testing::Test {
 protected:
  // A channel for owner `owner`, its peer end a plain descriptor.
  struct Peer {
    int fd = -1;
    std::string received;
  };

  Peer open_channel(OwnerId owner) {
    UnixSocket ours(io), theirs(io);
    asio::local::connect_pair(ours, theirs);
    PeerCredentials peer{::getpid(), ::getuid(), ::getgid()};
    auto channel = std::make_shared<ServiceChannel>(context, std::move(ours), peer, owner);
    asio::co_spawn(io, channel->run(), asio::detached);
    Peer p;
    p.fd = theirs.release();
    fcntl(p.fd, F_SETFL, O_NONBLOCK);
    say(p, "VERSION\tanvil-service\t1\t0\nHELLO\timap\t" + std::to_string(::getpid()) + "\n");
    return p;
  }

  void say(Peer& p, const std::string& lines) {
    ASSERT_EQ(::write(p.fd, lines.data(), lines.size()), static_cast<ssize_t>(lines.size()));
    io.run_for(20ms);
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(p.fd, buffer, sizeof buffer)) > 0) p.received.append(buffer, n);
  }

  void hang_up(Peer& p) {
    ::close(p.fd);
    io.run_for(20ms);
  }

  static std::string id(char digit) { return std::string(32, digit); }

  asio::io_context io;
  DaemonConfig config;
  SessionTable sessions;
  PenaltyTable penalties;
  std::string limit;  // what session_limit answers
  std::vector<OwnerId> closed;
  BanTable ban_table;
  ServiceContext context{config,
                         sessions,
                         penalties,
                         ban_table,
                         [this](std::int32_t, std::uint32_t) { return limit; },
                         [] {},
                         [this](OwnerId owner) { closed.push_back(owner); }};
};

TEST_F(ServiceChannelTest, RegistersRemovesAndTouchesOnlyItsOwnSessions) {
  Peer first = open_channel(1);
  Peer second = open_channel(2);
  say(first, "CONNECT\t" + id('1') + "\tuser=jane\tip=192.0.2.1\n");
  say(first, "CONNECT\t" + id('2') + "\tuser=joe\n");
  say(second, "CONNECT\t" + id('3') + "\tuser=bob\n");
  ASSERT_EQ(sessions.size(), 3u);
  auto jane = sessions.find(*ConnectionId::parse(id('1')));
  ASSERT_TRUE(jane);
  Session got = sessions.get(*jane);
  EXPECT_EQ(got.user, "jane");
  EXPECT_EQ(got.service, "imap");
  EXPECT_EQ(got.pid, ::getpid());
  EXPECT_EQ(got.owner, 1u);

  // Another channel may neither remove nor update it, nor take its id.
  say(second, "DISCONNECT\t" + id('1') + "\nUPDATE\t" + id('1') + "\tuser=mallory\n");
  say(second, "CONNECT\t" + id('1') + "\tuser=mallory\n");
  EXPECT_NE(second.received.find("unknown connection id " + id('1')), std::string::npos);
  EXPECT_NE(second.received.find("duplicate connection id " + id('1')), std::string::npos);
  EXPECT_EQ(sessions.get(*sessions.find(*ConnectionId::parse(id('1')))).user, "jane");

  say(first, "DISCONNECT\t" + id('1') + "\n");
  EXPECT_FALSE(sessions.find(*ConnectionId::parse(id('1'))));
  EXPECT_EQ(sessions.size(), 2u);

  // A channel that goes takes its own sessions, and says so once.
  hang_up(first);
  EXPECT_EQ(closed, std::vector<OwnerId>{1});
  EXPECT_FALSE(sessions.find(*ConnectionId::parse(id('2'))));
  EXPECT_TRUE(sessions.find(*ConnectionId::parse(id('3'))));
  hang_up(second);
  EXPECT_EQ(closed, (std::vector<OwnerId>{1, 2}));
  EXPECT_EQ(sessions.size(), 0u);
}

TEST_F(ServiceChannelTest, ALimitRefusesTheSessionAndSaysWhich) {
  Peer p = open_channel(1);
  limit = "too many sessions (max_sessions_per_process=1)";
  say(p, "CONNECT\t" + id('1') + "\tuser=jane\n");
  EXPECT_EQ(sessions.size(), 0u);
  EXPECT_NE(p.received.find("ERROR\tCONNECT\t" + id('1') + "\t" + limit), std::string::npos)
      << p.received;
  limit.clear();
  say(p, "CONNECT\t" + id('1') + "\tuser=jane\n");
  EXPECT_EQ(sessions.size(), 1u);
  hang_up(p);
}

TEST_F(ServiceChannelTest, AMalformedLineLosesOnlyItself) {
  Peer p = open_channel(1);
  say(p, "CONNECT\tnot-an-id\tuser=jane\nCONNECT\t" + id('1') + "\tport=99999\n" + "CONNECT\t" +
             id('2') + "\tuser=joe\n");
  EXPECT_NE(p.received.find("invalid connection id: not-an-id"), std::string::npos);
  EXPECT_NE(p.received.find("invalid port: 99999"), std::string::npos);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_TRUE(sessions.find(*ConnectionId::parse(id('2'))));
  hang_up(p);
}

}  // namespace
}  // namespace anvil
