// libanvil against a real anvild process: registration, kicks, reconnect
// and replay, the Asio driver and the C API.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

#include "anvil/anvil.h"
#include "anvil/asio_client.h"
#include "anvil/client.h"
#include "cli/admin_connection.h"

namespace anvil {
namespace {

using namespace std::chrono_literals;

// anvild in a scratch run directory, started and stopped by the test.
class Daemon {
 public:
  Daemon() {
    char pattern[] = "/tmp/anvil-client-test-XXXXXX";
    dir_ = mkdtemp(pattern);
    start();
  }
  ~Daemon() {
    stop();
    std::filesystem::remove_all(dir_);
  }
  void start() {
    pid_ = fork();
    if (pid_ == 0) {
      std::string binary = std::string(ANVIL_BIN_DIR) + "/anvild";
      std::string audit = "audit_log=" + dir_ + "/audit.jsonl";
      std::string bans = "ban_file=" + dir_ + "/bans";
      execl(binary.c_str(), "anvild", "--run-dir", dir_.c_str(), "-o", "kick_timeout_ms=2000", "-o",
            audit.c_str(), "-o", bans.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    // Started once both sockets take connections: a socket file exists
    // a moment before it listens.
    auto listening = [&] {
      std::string error;
      return connect_unix(admin_socket(), false, &error) &&
             connect_unix(service_socket(), false, &error);
    };
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!listening() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(listening()) << "anvild did not start";
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string admin_socket() const { return dir_ + "/anvil"; }
  std::string service_socket() const { return dir_ + "/anvil-service"; }

  Sessions who() {
    try {
      AdminConnection admin(admin_socket(), false);
      return admin.who(SessionFilter{});
    } catch (const CliError& e) {
      ADD_FAILURE() << "who: " << e.message;
    } catch (const NotAnvild&) {
      ADD_FAILURE() << "who: anvild closed the connection before its VERSION line";
    }
    return {};
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

// Runs the client's loop until cond() holds or 10 s pass.
template <typename Cond>
bool pump_until(Client& client, Cond cond) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    client.process();
    if (cond()) return true;
    pollfd pfd{client.fd(), static_cast<short>(POLLIN | (client.wants_write() ? POLLOUT : 0)), 0};
    int timeout = client.timeout_ms();
    poll(&pfd, client.fd() >= 0 ? 1 : 0, timeout < 0 || timeout > 20 ? 20 : timeout);
  }
  return cond();
}

TEST(Client, RegisterUpdateUnregisterShowInAnvild) {
  Daemon daemon;
  Client client({.socket_path = daemon.service_socket(), .service = "imap"});
  ConnectionId a = client.register_session({.client_ip = "127.0.0.2", .client_port = 4000});
  ConnectionId b = client.register_session({.user = "bob", .client_ip = "::1"});
  ASSERT_FALSE(a.is_zero());
  ASSERT_TRUE(pump_until(client, [&] { return daemon.who().size() == 2; }));

  ASSERT_TRUE(client.update_session(
      a,
      {.user = "jane", .client_ip = "127.0.0.2", .alt_names = {{"user_email", "j@example.com"}}}));
  ASSERT_TRUE(pump_until(client, [&] {
    for (const Session& s : daemon.who()) {
      if (s.id == a)
        return s.user == "jane" && s.pid == getpid() && s.service == "imap" &&
               s.alt_names.size() == 1;
    }
    return false;
  }));
  client.unregister_session(b);
  ASSERT_TRUE(pump_until(client, [&] { return daemon.who().size() == 1; }));
  EXPECT_EQ(daemon.who()[0].id, a);
}

TEST(Client, InvalidInfoIsRefusedLocally) {
  Client client({.socket_path = "/nonexistent/socket", .service = "imap"});
  std::string error;
  EXPECT_TRUE(client.register_session({.client_ip = "999.1.1.1"}, &error).is_zero());
  EXPECT_NE(error.find("999.1.1.1"), std::string::npos);
  EXPECT_TRUE(client.register_session({.alt_names = {{"email", "x"}}}, &error).is_zero());
  EXPECT_FALSE(client.update_session(ConnectionId::random(), {}, &error));
  EXPECT_EQ(client.session_count(), 0u);
}

// A session anvild would refuse as one over-long line is refused here, so
// the service knows at once; an update that is too large keeps the session
// as anvild knew it.
TEST(Client, ASessionTooLargeForOneLineIsRefusedAndSaidSo) {
  Daemon daemon;
  Client client({.socket_path = daemon.service_socket(), .service = "imap"});
  std::string huge(20000, 'x');
  std::string error;
  EXPECT_TRUE(client.register_session({.user = huge}, &error).is_zero());
  EXPECT_NE(error.find("session too large to register"), std::string::npos) << error;
  ConnectionId id = client.register_session({.user = "jane"});
  ASSERT_FALSE(id.is_zero());
  EXPECT_FALSE(
      client.update_session(id, {.user = "jane", .alt_names = {{"user_note", huge}}}, &error));
  EXPECT_NE(error.find("session too large to register"), std::string::npos) << error;
  ASSERT_TRUE(pump_until(client, [&] { return daemon.who().size() == 1; }));
  EXPECT_EQ(daemon.who()[0].user, "jane");
  EXPECT_EQ(client.session_count(), 1u);
}

TEST(Client, KickHandlerGetsIdsAndReasonAndItsAnswerIsTheCount) {
  Daemon daemon;
  Client client({.socket_path = daemon.service_socket(), .service = "pop3"});
  ConnectionId jane1 = client.register_session({.user = "jane", .client_ip = "127.0.0.2"});
  ConnectionId jane2 = client.register_session({.user = "jane", .client_ip = "127.0.0.3"});
  ConnectionId bob = client.register_session({.user = "bob", .client_ip = "127.0.0.2"});
  ASSERT_TRUE(pump_until(client, [&] { return daemon.who().size() == 3; }));

  std::vector<ConnectionId> asked;
  std::string reason;
  // Drops the first connection asked for and claims the second is gone.
  client.set_kick_handler([&](const std::vector<ConnectionId>& ids, const std::string& why) {
    asked = ids;
    reason = why;
    return std::vector<ConnectionId>{ids[0]};
  });
  auto kick = std::async(std::launch::async, [&] {
    try {
      AdminConnection admin(daemon.admin_socket(), false);
      SessionFilter filter;
      filter.users.emplace_back("JANE");
      return admin.kick(filter, "password changed", false);
    } catch (const CliError& e) {
      ADD_FAILURE() << "kick: " << e.message;
    } catch (const NotAnvild&) {
      ADD_FAILURE() << "kick: anvild closed the connection before its VERSION line";
    }
    return KickResults{};
  });
  ASSERT_TRUE(pump_until(client, [&] { return kick.wait_for(0s) == std::future_status::ready; }));
  auto results = kick.get();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(asked.size(), 2u);
  EXPECT_EQ(reason, "password changed");
  int kicked = 0, not_dropped = 0;
  for (const auto& r : results) {
    kicked += r.status == KickStatus::kicked;
    not_dropped += r.status == KickStatus::not_dropped;
  }
  EXPECT_EQ(kicked, 1);
  EXPECT_EQ(not_dropped, 1);
  EXPECT_EQ(client.session_count(), 2u);  // the dropped one is forgotten
  auto left = daemon.who();
  ASSERT_EQ(left.size(), 2u);
  for (const Session& s : left) EXPECT_NE(s.id, asked[0]);
  (void)jane1, (void)jane2, (void)bob;
}

TEST(Client, ReconnectsAndReplaysAfterAnvildRestarts) {
  Daemon daemon;
  Client client({.socket_path = daemon.service_socket(),
                 .service = "imap",
                 .initial_backoff = 20ms,
                 .max_backoff = 200ms});
  for (int i = 0; i < 50; i++)
    client.register_session({.user = std::string("u").append(std::to_string(i))});
  ASSERT_TRUE(pump_until(client, [&] { return daemon.who().size() == 50; }));

  daemon.stop();
  ASSERT_TRUE(pump_until(client, [&] { return !client.connected(); }));
  client.register_session({.user = "while-down"});  // kept, sent on reconnect
  daemon.start();
  ASSERT_TRUE(pump_until(client, [&] { return client.connected() && daemon.who().size() == 51; }));
}

TEST(AsioClient, DrivesTheClientFromAnIoContext) {
  Daemon daemon;
  Client client({.socket_path = daemon.service_socket(), .service = "submission"});
  asio::io_context io;
  AsioClient driver(io.get_executor(), client);
  driver.start();
  client.register_session({.user = "asio-user", .client_ip = "::1"});
  client.set_kick_handler(
      [](const std::vector<ConnectionId>& ids, const std::string&) { return ids; });

  auto kick = std::async(std::launch::async, [&] {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (daemon.who().empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    AdminConnection admin(daemon.admin_socket(), false);
    SessionFilter filter;
    filter.users.emplace_back("asio-*");
    return admin.kick(filter, "bye", false);
  });
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (kick.wait_for(0s) != std::future_status::ready &&
         std::chrono::steady_clock::now() < deadline) {
    io.run_for(20ms);
  }
  auto results = kick.get();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, KickStatus::kicked);
  EXPECT_EQ(client.session_count(), 0u);
}

struct CKickLog {
  std::vector<std::string> ids;
  std::string reason;
};

int c_kick(void* context, const char* id, const char* reason) {
  auto* log = static_cast<CKickLog*>(context);
  log->ids.push_back(id);
  log->reason = reason;
  return 1;
}

// The C ban callback, into the same log as kicks.
void c_banned(void* context, const char* id, const char* reason) {
  auto* log = static_cast<CKickLog*>(context);
  log->ids.emplace_back(id);
  log->reason = reason;
}

TEST(CApi, RegisterSetUserKick) {
  Daemon daemon;
  anvil_client* client = anvil_client_new(daemon.service_socket().c_str(), "lmtp");
  ASSERT_NE(client, nullptr);
  char id[ANVIL_ID_SIZE];
  ASSERT_EQ(anvil_register(client, "", "127.0.0.9", 5555, 24, id), 0);
  EXPECT_EQ(std::strlen(id), 32u);
  EXPECT_EQ(anvil_register(client, "x", "not-an-ip", 0, 0, id + 0), -1);
  EXPECT_EQ(anvil_set_user(client, id, "carol"), 0);
  EXPECT_EQ(anvil_set_user(client, "00000000000000000000000000000001", "x"), -1);
  CKickLog log;
  anvil_set_kick_callback(client, c_kick, &log);

  auto pump = [&](auto cond) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!cond() && std::chrono::steady_clock::now() < deadline) {
      anvil_client_process(client);
      pollfd pfd{anvil_client_fd(client), POLLIN, 0};
      if (anvil_client_wants_write(client)) pfd.events |= POLLOUT;
      poll(&pfd, pfd.fd >= 0 ? 1 : 0, 20);
    }
    return cond();
  };
  ASSERT_TRUE(pump([&] {
    auto sessions = daemon.who();
    return sessions.size() == 1 && sessions[0].user == "carol";
  }));
  auto kick = std::async(std::launch::async, [&] {
    AdminConnection admin(daemon.admin_socket(), false);
    SessionFilter filter;
    filter.networks.push_back(*Cidr::parse("127.0.0.0/24"));
    return admin.kick(filter, "maintenance", false);
  });
  ASSERT_TRUE(pump([&] { return kick.wait_for(0s) == std::future_status::ready; }));
  auto results = kick.get();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, KickStatus::kicked);
  ASSERT_EQ(log.ids.size(), 1u);
  EXPECT_EQ(log.ids[0], id);
  EXPECT_EQ(log.reason, "maintenance");
  anvil_unregister(client, id);  // already gone: harmless

  // A banned user: anvild does not register the session, and the ban
  // callback hears which one and why.
  {
    AdminConnection admin(daemon.admin_socket(), false);
    SessionFilter filter;
    filter.users.emplace_back("dave");
    ASSERT_EQ(admin.ban_add(filter, 0, "locked out", false).size(), 1u);
  }
  CKickLog banned;
  anvil_set_ban_callback(client, c_banned, &banned);
  char dave[ANVIL_ID_SIZE];
  ASSERT_EQ(anvil_register(client, "dave", "127.0.0.9", 5556, 24, dave), 0);
  ASSERT_TRUE(pump([&] { return !banned.ids.empty(); }));
  EXPECT_EQ(banned.ids, std::vector<std::string>{dave});
  EXPECT_EQ(banned.reason, "locked out");
  EXPECT_TRUE(daemon.who().empty());
  anvil_client_free(client);
}

}  // namespace
}  // namespace anvil
