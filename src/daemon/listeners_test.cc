// The listeners alone: real sockets in a scratch directory, contexts of the
// test's own tables, and clients that connect as a service would.
#include "daemon/listeners.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "daemon/admin_channel.h"
#include "daemon/service_channel.h"

namespace anvil {
namespace {

using namespace std::chrono_literals;

class ListenersTest : public ::testing::Test {
 protected:
  ListenersTest() {
    char dir[] = "/tmp/anvil-listeners-XXXXXX";
    EXPECT_NE(::mkdtemp(dir), nullptr);
    config.run_dir = dir;
    config.service_socket_group = "";
    config.audit_log = "";
  }
  ~ListenersTest() override {
    for (int fd : fds) ::close(fd);
    std::filesystem::remove_all(config.run_dir);
  }

  // A connection to one of the sockets, already past the accept.
  int connect_to(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, sizeof address.sun_path - 1);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    fds.push_back(fd);
    io.run_for(20ms);
    return fd;
  }
  std::string received(int fd) {
    io.run_for(20ms);
    std::string text;
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, n);
    return text;
  }
  void hang_up(int fd) {
    ::close(fd);
    std::erase(fds, fd);
    io.run_for(20ms);
  }

  asio::io_context io;
  DaemonConfig config;
  SessionTable sessions;
  PenaltyTable penalties;
  ServiceChannels services;
  OwnerId next_owner = 1;
  std::vector<int> fds;
  BanTable ban_table;
  ServiceContext service_context{config,
                                 sessions,
                                 penalties,
                                 ban_table,
                                 [](std::int32_t, std::uint32_t) { return std::string(); },
                                 [] {},
                                 [this](OwnerId owner) { services.remove(owner); }};
  AuditLog audit{""};
  DovecotProcesses dovecot{io, [](OwnerId, pid_t) {}, 16};
  Dovecot23Context dialect{sessions,
                           penalties,
                           ban_table,
                           dovecot,
                           [this] { return next_owner++; },
                           [](pid_t) { return std::string("not in a test"); },
                           [](std::int32_t, std::uint32_t) { return std::string(); },
                           [] {}};
  Bans bans{io, ""};
  AdminContext admin_context{
      config,
      sessions,
      audit,
      bans,
      dialect,
      [] {},
      [](SessionFilter, std::string, bool, bool) -> asio::awaitable<std::vector<KickOutcome>> {
        co_return std::vector<KickOutcome>{};
      }};
};

TEST_F(ListenersTest, ServiceConnectionsPastTheLimitAreRefusedUntilOneEnds) {
  config.max_service_clients = 2;
  Listeners listeners(io, config, services, service_context, admin_context,
                      [this] { return next_owner++; });
  ASSERT_EQ(listeners.start(), "");
  int first = connect_to(config.service_socket_path());
  int second = connect_to(config.service_socket_path());
  ASSERT_EQ(services.size(), 2u);
  EXPECT_EQ(services.count_for_uid(::getuid()), 2u);
  int third = connect_to(config.service_socket_path());
  EXPECT_EQ(received(third), "ERROR\t\t\ttoo many service connections\n");
  EXPECT_EQ(services.size(), 2u);
  EXPECT_NE(services.find(1), nullptr);
  EXPECT_NE(services.find(2), nullptr);

  // The second ends: exactly it leaves, and a new one gets its place.
  hang_up(second);
  EXPECT_NE(services.find(1), nullptr);
  EXPECT_EQ(services.find(2), nullptr);
  EXPECT_EQ(services.count_for_uid(::getuid()), 1u);
  int fourth = connect_to(config.service_socket_path());
  EXPECT_EQ(received(fourth), "");
  EXPECT_EQ(services.size(), 2u);
  EXPECT_NE(services.find(3), nullptr);
  (void)first;
  listeners.stop();
}

TEST_F(ListenersTest, PerUidLimitCountsOnlyThatUid) {
  config.max_channels_per_uid = 1;
  Listeners listeners(io, config, services, service_context, admin_context,
                      [this] { return next_owner++; });
  ASSERT_EQ(listeners.start(), "");
  // Another uid's channel, as if added by an earlier accept.
  services.add(100, ::getuid() + 1, nullptr);
  int first = connect_to(config.service_socket_path());
  EXPECT_EQ(received(first), "");
  int second = connect_to(config.service_socket_path());
  EXPECT_EQ(received(second), "ERROR\t\t\ttoo many service connections for this uid\n");
  EXPECT_EQ(services.count_for_uid(::getuid()), 1u);
  EXPECT_EQ(services.count_for_uid(::getuid() + 1), 1u);
  services.remove(100);
  EXPECT_EQ(services.count_for_uid(::getuid() + 1), 0u);
  listeners.stop();
}

TEST_F(ListenersTest, ASecondDaemonOnTheSameSocketsIsRefusedAndStopRemovesThem) {
  Listeners listeners(io, config, services, service_context, admin_context,
                      [this] { return next_owner++; });
  ASSERT_EQ(listeners.start(), "");
  Listeners other(io, config, services, service_context, admin_context,
                  [this] { return next_owner++; });
  EXPECT_EQ(other.start(), config.service_socket_path() + " is in use by another running anvild");
  listeners.stop();
  EXPECT_FALSE(std::filesystem::exists(config.service_socket_path()));
  EXPECT_FALSE(std::filesystem::exists(config.admin_socket_path()));
  // A socket file nobody serves any more is left over and may be taken.
  int stale = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  config.service_socket_path().copy(address.sun_path, sizeof address.sun_path - 1);
  ASSERT_EQ(::bind(stale, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ::close(stale);
  ASSERT_TRUE(std::filesystem::exists(config.service_socket_path()));
  Listeners again(io, config, services, service_context, admin_context,
                  [this] { return next_owner++; });
  EXPECT_EQ(again.start(), "");
  EXPECT_GE(connect_to(config.service_socket_path()), 0);
  EXPECT_EQ(services.size(), 1u);
  again.stop();
}

TEST_F(ListenersTest, PeerChecksFollowTheAllowLists) {
  uid_t stranger = 54321;
  ASSERT_EQ(config.admin_access.parse("54321:read", false, true, Role::kick), "");
  ASSERT_EQ(config.service_access.parse("777", true, false, Role::kick), "");
  Listeners listeners(io, config, services, service_context, admin_context,
                      [this] { return next_owner++; });
  PeerCredentials root{1, 0, 0}, listed{1, stranger, 100}, unlisted{1, stranger + 1, 100};
  EXPECT_EQ(listeners.admin_role(root, {0}), Role::kick);
  EXPECT_EQ(listeners.admin_role(listed, {100}), Role::read);
  EXPECT_EQ(listeners.admin_role(unlisted, {100}), Role::none);
  EXPECT_TRUE(listeners.service_allowed(root, {0}));
  EXPECT_FALSE(listeners.service_allowed(unlisted, {100}));
  EXPECT_TRUE(listeners.service_allowed(unlisted, {100, 777}));
}

}  // namespace
}  // namespace anvil
