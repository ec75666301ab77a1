// Dovecot 2.3's dialect on its own: a registry, a penalty table and the
// watched processes, with the daemon's rules as plain functions the tests
// set. The processes registered are this test's own (pidfds need a live
// process).
#include "daemon/dovecot23_dialect.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "registry/wire_codec.h"

namespace anvil {
namespace {

class Dovecot23DialectTest : public ::testing::Test {
 protected:
  Dovecot23Reply line(std::string text, Dovecot23Sender sender) {
    std::vector<std::string_view> fields;
    split_fields_in_place(text, &fields);
    return handle_dovecot23_line(context, fields, sender);
  }
  Dovecot23Reply from_service(const std::string& text) {
    Dovecot23Sender sender;
    sender.may_register = true;
    return line(text, sender);
  }
  std::string me() { return std::to_string(::getpid()); }
  std::vector<std::string> dump() {
    std::vector<std::string> lines;
    Dovecot23Dump rows(sessions);
    std::string row;
    while (rows.next(&row)) {
      lines.push_back(row);
      row.clear();
    }
    return lines;
  }

  asio::io_context io;
  SessionTable sessions;
  PenaltyTable penalties;
  DovecotProcesses processes{io, [this](OwnerId owner, pid_t) { sessions.remove_owner(owner); }};
  OwnerId next_owner = 1;
  std::string refusal;  // what the daemon's rule says of every process
  std::string limit;    // what the daemon's limits say
  int syncs = 0;
  BanTable ban_table;
  Dovecot23Context context{sessions,
                           penalties,
                           ban_table,
                           processes,
                           [this] { return next_owner++; },
                           [this](pid_t) { return refusal; },
                           [this](std::int32_t, std::uint32_t) { return limit; },
                           [this] { syncs++; }};
};

TEST_F(Dovecot23DialectTest, ConnectLookupDumpDisconnect) {
  EXPECT_TRUE(from_service("CONNECT\t" + me() + "\timap/192.0.2.7/jane").fatal.empty());
  EXPECT_TRUE(from_service("CONNECT\t" + me() + "\timap/192.0.2.7/jane").fatal.empty());
  EXPECT_TRUE(from_service("CONNECT\t" + me() + "\tlmtp/dept/bob").fatal.empty());
  EXPECT_EQ(from_service("LOOKUP\timap/192.0.2.7/jane").text, "2\n");
  EXPECT_EQ(from_service("LOOKUP\timap/192.0.2.7/JANE").text, "0\n");  // exact, as Dovecot
  EXPECT_EQ(syncs, 2);  // each question first brings in what the pipes hold
  Dovecot23Reply dump_reply = from_service("CONNECT-DUMP");
  EXPECT_TRUE(dump_reply.dump);
  std::vector<std::string> rows = dump();
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows, (std::vector<std::string>{"imap/192.0.2.7/jane\t" + me() + "\t2\n",
                                            "lmtp/dept/bob\t" + me() + "\t1\n"}));
  EXPECT_TRUE(from_service("DISCONNECT\t" + me() + "\timap/192.0.2.7/jane").fatal.empty());
  EXPECT_EQ(from_service("LOOKUP\timap/192.0.2.7/jane").text, "1\n");
  // An unknown pair is logged and ignored, as Dovecot does.
  EXPECT_TRUE(from_service("DISCONNECT\t" + me() + "\timap/192.0.2.8/jane").fatal.empty());
  EXPECT_EQ(sessions.size(), 2u);
}

TEST_F(Dovecot23DialectTest, BadLinesAreFatalWithDovecotsWords) {
  EXPECT_EQ(from_service("CONNECT\t" + me()).fatal, "CONNECT: Not enough parameters");
  EXPECT_EQ(from_service("CONNECT\tx\timap/192.0.2.7/jane").fatal, "CONNECT: Invalid pid");
  EXPECT_EQ(from_service("CONNECT\t0\timap/192.0.2.7/jane").fatal, "CONNECT: Invalid pid");
  EXPECT_EQ(from_service("CONNECT\t" + me() + "\tnoslash").fatal,
            "CONNECT: Invalid ident: noslash");
  EXPECT_EQ(from_service("FROB").fatal, "Unknown command: FROB");
  EXPECT_EQ(from_service("KILL\t" + me()).fatal, "KILL sent by a non-master connection");
  EXPECT_EQ(sessions.size(), 0u);
}

TEST_F(Dovecot23DialectTest, OnlyRegistrantsRegister) {
  Dovecot23Sender reader;  // a read-role admin
  EXPECT_EQ(line("CONNECT\t" + me() + "\timap/192.0.2.7/jane", reader).fatal,
            "permission denied: CONNECT needs the kick role");
  EXPECT_EQ(line("PENALTY-INC\t192.0.2.7\t1\t2", reader).fatal,
            "permission denied: PENALTY-INC needs the kick role");
  EXPECT_EQ(line("LOOKUP\timap/192.0.2.7/jane", reader).text, "0\n");  // reading is fine
}

TEST_F(Dovecot23DialectTest, AProcessTheDaemonMayNotSignalIsIgnoredUnlessAKickAdminSaysSo) {
  refusal = "not a child of Dovecot's master";
  from_service("CONNECT\t" + me() + "\timap/192.0.2.7/jane");
  EXPECT_EQ(sessions.size(), 0u);  // from Dovecot's own processes: ignored
  Dovecot23Sender admin;
  admin.may_register = admin.may_register_any = true;
  admin.uid = 0;
  EXPECT_TRUE(line("CONNECT\t" + me() + "\timap/192.0.2.7/jane", admin).fatal.empty());
  EXPECT_EQ(sessions.size(), 1u);  // listed and counted (never signalled: server's rule)
}

TEST_F(Dovecot23DialectTest, ALimitRefusesTheConnect) {
  limit = "max_sessions_per_process=1 reached";
  EXPECT_TRUE(from_service("CONNECT\t" + me() + "\timap/192.0.2.7/jane").fatal.empty());
  EXPECT_EQ(sessions.size(), 0u);
}

TEST_F(Dovecot23DialectTest, MasterKillForgetsTheProcess) {
  from_service("CONNECT\t" + me() + "\timap/192.0.2.7/jane");
  Dovecot23Sender master;
  master.from_master = master.may_register = true;
  EXPECT_TRUE(line("KILL\t" + me(), master).fatal.empty());
  EXPECT_EQ(sessions.size(), 0u);
}

TEST_F(Dovecot23DialectTest, Penalties) {
  EXPECT_TRUE(from_service("PENALTY-INC\t192.0.2.7\t1234\t2").fatal.empty());
  EXPECT_TRUE(from_service("PENALTY-GET\t192.0.2.7").text.starts_with("2 "));
  EXPECT_EQ(from_service("PENALTY-INC\t192.0.2.7\t1\t0").fatal, "PENALTY-INC: Invalid parameters");
  EXPECT_EQ(from_service("PENALTY-DUMP").text.back(), '\n');
}

}  // namespace
}  // namespace anvil

namespace anvil {
namespace {

// Dovecot's login refuses a user+address whose LOOKUP count is at or above
// mail_max_userip_connections, and delays an address by its penalty: a
// ban answers both beyond any limit, for what it names only.
TEST_F(Dovecot23DialectTest, BansAnswerLookupAndPenaltyBeyondAnyLimit) {
  auto ban = [&](const char* user, const char* network) {
    Ban b;
    if (user) b.user.emplace(user);
    if (network) b.network = Cidr::parse(network);
    std::string error;
    ban_table.add(b, &error);
    ASSERT_EQ(error, "");
  };
  ban("jane", "192.0.2.0/24");
  ban(nullptr, "198.51.100.0/24");
  EXPECT_TRUE(from_service("CONNECT\t" + me() + "\timap/192.0.2.7/bob").fatal.empty());
  EXPECT_EQ(from_service("LOOKUP\timap/192.0.2.7/jane").text, "4294967295\n");
  EXPECT_EQ(from_service("LOOKUP\tpop3/192.0.2.8/jane").text, "4294967295\n");
  EXPECT_EQ(from_service("LOOKUP\timap/203.0.113.1/jane").text, "0\n");  // another network
  EXPECT_EQ(from_service("LOOKUP\timap/192.0.2.7/bob").text, "1\n");     // another user
  std::string penalty = from_service("PENALTY-GET\t198.51.100.9").text;
  EXPECT_TRUE(penalty.starts_with("15 ")) << penalty;
  EXPECT_TRUE(from_service("PENALTY-GET\t203.0.113.1").text.starts_with("0 "));
  // jane's ban is for her from that network: the address alone is free.
  EXPECT_TRUE(from_service("PENALTY-GET\t192.0.2.7").text.starts_with("0 "));
}

}  // namespace
}  // namespace anvil
