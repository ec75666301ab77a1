#include "cli/reports.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace anvil {
namespace {

Session session(std::string user, std::string service, int pid, std::string ip) {
  Session s;
  s.id = ConnectionId::random();
  s.user = std::move(user);
  s.service = std::move(service);
  s.pid = pid;
  s.client_ip = IpAddress::parse(ip);
  return s;
}

// pids in numeric order, IPv4 addresses before IPv6, each in address order.
std::string who(const Sessions& sessions, bool one_per_connection, const std::string& alt_field,
                const std::string& formatter, int width = 80) {
  TextSink out;
  WhoPrinter printer(one_per_connection, alt_field, formatter, width, out);
  for (const Session& s : sessions) printer.add(s);
  printer.finish();
  return out.take();
}

TEST(WhoGrouped, OneRowPerUserAndServiceWithDistinctPidsAndIps) {
  Sessions sessions = {
      session("foo", "imap", 9112, "fd95:4eed:38ba::25"),
      session("foo", "imap", 8135, "192.0.2.53"), session("foo", "imap", 9112, "192.0.2.53"),
      session("foo", "pop3", 77, "192.0.2.53"), session("jane", "imap", 8192, "::1")};
  std::string out = who(sessions, false, "", "tab");
  EXPECT_EQ(out,
            "username\t#\tservice\t(pids)\t(ips)\n"
            "foo\t3\timap\t(8135 9112)\t(192.0.2.53 fd95:4eed:38ba::25)\n"
            "foo\t1\tpop3\t(77)\t(192.0.2.53)\n"
            "jane\t1\timap\t(8192)\t(::1)\n");
}

TEST(WhoPerConnection, ColumnsAndAltField) {
  Session s = session("jane", "imap", 8192, "::1");
  s.dest_ip = IpAddress::parse("10.0.0.5");
  s.dest_port = 143;
  s.alt_names = {{"user_email", "jane@example.com"}};
  s.uid = 110;
  s.start_time = 1'796'035'327;
  Sessions one = {s};
  EXPECT_EQ(WhoPrinter::columns(true, "user_email").size(), 11u);
  // The text views keep doveadm's columns, then the start time; json has
  // the port and the start as unix seconds too.
  EXPECT_EQ(who(one, true, "user_email", "tab"),
            "username\tservice\tpid\tip\tdest_ip\tconn_id\tuid\tstarted\tuser_email\n"
            "jane\timap\t8192\t::1\t10.0.0.5\t" +
                s.id.to_hex() + "\t110\t2026-11-30T10:42:07Z\tjane@example.com\n");
  EXPECT_EQ(who(one, true, "user_email", "table", 200).find("dest_port"), std::string::npos);
  EXPECT_EQ(who(one, true, "user_email", "flow").find("dest_port"), std::string::npos);
  auto json = nlohmann::json::parse(who(one, true, "user_email", "json"));
  EXPECT_EQ(json[0]["dest_ip"], "10.0.0.5");
  EXPECT_EQ(json[0]["dest_port"], 143);
  EXPECT_EQ(json[0]["uid"], 110);
  EXPECT_EQ(json[0]["user_email"], "jane@example.com");
  EXPECT_EQ(json[0]["start"], 1'796'035'327);
  EXPECT_EQ(json[0]["started"], "2026-11-30T10:42:07Z");
  s.dest_port = 0;
  EXPECT_TRUE(nlohmann::json::parse(who({s}, true, "", "json"))[0]["dest_port"].is_null());
  EXPECT_EQ(WhoPrinter::columns(true, "").size(), 10u);
  s.uid = kNoUid;  // Dovecot's own anvil names no uid, and no start time
  s.start_time = 0;
  auto dovecots = nlohmann::json::parse(who({s}, true, "", "json"));
  EXPECT_TRUE(dovecots[0]["uid"].is_null());
  EXPECT_TRUE(dovecots[0]["start"].is_null());
  EXPECT_TRUE(dovecots[0]["started"].is_null());
}

// The table formatter keeps row texts until the end, for the widths; the
// others print each row as it comes. Both agree with the whole-table forms.
TEST(WhoPerConnection, TableWidthsComeFromEveryRow) {
  Sessions sessions = {session("a", "imap", 1, "::1"),
                       session("a-much-longer-name", "pop3", 123456, "192.0.2.1")};
  std::string out = who(sessions, true, "", "table", 0);
  std::size_t first = out.find('\n');
  std::string header = out.substr(0, first);
  EXPECT_EQ(header.find("service"), out.substr(first + 1).find("imap"));
  EXPECT_EQ(who(sessions, false, "", "json"),
            "[{\"username\":\"a\",\"connections\":1,\"service\":\"imap\",\"pids\":[1],"
            "\"ips\":[\"::1\"]},{\"username\":\"a-much-longer-name\",\"connections\":1,"
            "\"service\":\"pop3\",\"pids\":[123456],\"ips\":[\"192.0.2.1\"]}]\n");
  EXPECT_EQ(who({}, true, "", "json"), "[]\n");
  EXPECT_EQ(who({}, false, "", "tab"), "username\t#\tservice\t(pids)\t(ips)\n");
}

TEST(KickReport, SortedUniqueUserNamesOnOneLine) {
  KickResults results = {{session("baz", "imap", 1, "::1"), KickStatus::kicked},
                         {session("bar", "imap", 1, "::1"), KickStatus::kicked},
                         {session("bar", "imap", 2, "::1"), KickStatus::kicked}};
  Report r = kick_report(results, "", false, false, 80);
  EXPECT_EQ(r.out, "kicked connections from the following users:\nbar baz\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.exit_code, kExitOk);
}

TEST(KickReport, NothingMatchedIs68) {
  Report r = kick_report({}, "", false, false, 80);
  EXPECT_EQ(r.out, "no users kicked\n");
  EXPECT_EQ(r.exit_code, kExitNotFound);
}

TEST(KickReport, VerboseAddsALinePerConnection) {
  Session s = session("jane", "imap", 5, "127.0.0.2");
  Report r = kick_report({{s, KickStatus::kicked}}, "", true, false, 80);
  EXPECT_NE(r.out.find("kicked: jane imap pid 5 ip 127.0.0.2 id " + s.id.to_hex()),
            std::string::npos);
}

TEST(KickReport, UnconfirmedKicksWarnAndAreATemporaryFailure) {
  KickResults results = {{session("jane", "imap", 5, "::1"), KickStatus::timeout},
                         {session("jano", "imap", 6, "::1"), KickStatus::vanished}};
  Report r = kick_report(results, "", false, false, 80);
  EXPECT_EQ(r.out, "no users kicked\n");
  EXPECT_NE(r.err.find("did not answer"), std::string::npos);
  EXPECT_NE(r.err.find("went away"), std::string::npos);
  EXPECT_EQ(r.exit_code, kExitTempFail);
}

TEST(KickReport, PartialSuccessReportsOnlyKickedUsers) {
  KickResults results = {{session("jane", "imap", 5, "::1"), KickStatus::kicked},
                         {session("jano", "imap", 6, "::1"), KickStatus::timeout}};
  Report r = kick_report(results, "", false, false, 80);
  EXPECT_EQ(r.out, "kicked connections from the following users:\njane\n");
  EXPECT_NE(r.err.find("imap pid 6"), std::string::npos);
  EXPECT_EQ(r.exit_code, kExitOk);
}

TEST(KickReport, DryRun) {
  Report r = kick_report({{session("jane", "imap", 5, "::1"), KickStatus::would_kick}}, "", false,
                         true, 80);
  EXPECT_EQ(r.out, "would kick connections from the following users:\njane\n");
  EXPECT_EQ(r.exit_code, kExitOk);
}

TEST(KickReport, JsonGivesAResultPerConnection) {
  KickResults results = {{session("jane", "imap", 5, "::1"), KickStatus::kicked},
                         {session("jano", "imap", 6, "::1"), KickStatus::timeout}};
  auto parsed = nlohmann::json::parse(kick_report(results, "json", false, false, 80).out);
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0]["result"], "kicked");
  EXPECT_EQ(parsed[1]["result"], "timeout");
  EXPECT_EQ(parsed[1]["pid"], 6);
}

}  // namespace
}  // namespace anvil
