#include "cli/arguments.h"

#include <gtest/gtest.h>

namespace anvil {
namespace {

std::string no_dns(const std::string& host, std::vector<IpAddress>* out) {
  if (host == "backend.test") {
    out->push_back(*IpAddress::parse("127.0.0.9"));
    out->push_back(*IpAddress::parse("::1"));
    return "";
  }
  return "Name or service not known";
}

Invocation parse_ok(std::vector<std::string> args) {
  Invocation inv;
  auto problem = parse_arguments(args, no_dns, &inv);
  EXPECT_FALSE(problem) << (problem ? problem->message : "");
  return inv;
}

std::string parse_error(std::vector<std::string> args) {
  Invocation inv;
  auto problem = parse_arguments(args, no_dns, &inv);
  return problem ? problem->message : "";
}

TEST(Arguments, WhoDefaultsToTheDefaultAdminSocket) {
  Invocation inv = parse_ok({"who"});
  EXPECT_EQ(inv.command, Command::who);
  EXPECT_EQ(inv.socket, std::string(ANVIL_DEFAULT_RUN_DIR) + "/anvil");
  EXPECT_TRUE(inv.filter.empty());
  EXPECT_TRUE(inv.formatter.empty());
}

TEST(Arguments, GlobalOptionsBeforeTheCommand) {
  Invocation inv = parse_ok({"-Dv", "-o", "run_dir=/tmp/r", "-fjson", "who", "-1"});
  EXPECT_TRUE(inv.debug);
  EXPECT_TRUE(inv.verbose);
  EXPECT_EQ(inv.formatter, "json");
  EXPECT_EQ(inv.socket, "/tmp/r/anvil");
  EXPECT_TRUE(inv.one_per_connection);
}

TEST(Arguments, DashAOverridesRunDir) {
  Invocation inv = parse_ok({"-o", "run_dir=/tmp/r", "kick", "-a", "/x/anvil", "jane"});
  EXPECT_EQ(inv.socket, "/x/anvil");
}

TEST(Arguments, MasksAndNetworksAreClassified) {
  Invocation inv = parse_ok({"kick", "foo", "192.0.2.0/24", "12345", "::1", "ja*"});
  ASSERT_EQ(inv.filter.users.size(), 3u);
  EXPECT_EQ(inv.filter.users[0].pattern(), "foo");
  EXPECT_EQ(inv.filter.users[1].pattern(), "12345");
  EXPECT_EQ(inv.filter.users[2].pattern(), "ja*");
  ASSERT_EQ(inv.filter.networks.size(), 2u);
  EXPECT_EQ(inv.filter.networks[0].to_string(), "192.0.2.0/24");
  EXPECT_EQ(inv.filter.networks[1].to_string(), "::1/128");
}

TEST(Arguments, InvalidAddressesAreUsageErrors) {
  EXPECT_NE(parse_error({"kick", "127.0.0.0/33"}), "");
  EXPECT_NE(parse_error({"kick", "999.1.1.1"}), "");
  EXPECT_NE(parse_error({"who", "10.1"}), "");
  EXPECT_NE(parse_error({"kick", "127.0.0.2/"}), "");
}

TEST(Arguments, KickNeedsATarget) {
  EXPECT_NE(parse_error({"kick"}), "");
  EXPECT_NE(parse_error({"kick", "--dry-run"}), "");
  EXPECT_EQ(parse_error({"kick", "--service", "imap"}), "");
}

TEST(Arguments, FieldNeedsAUserMask) {
  EXPECT_NE(parse_error({"kick", "-f", "user_email", "127.0.0.1"}), "");
  Invocation inv = parse_ok({"kick", "-f", "user_email", "*@example.com"});
  EXPECT_EQ(inv.filter.alt_field, "user_email");
}

TEST(Arguments, UnknownThingsAreUsageErrors) {
  EXPECT_NE(parse_error({}), "");
  EXPECT_NE(parse_error({"list"}), "");
  EXPECT_NE(parse_error({"-x", "who"}), "");
  EXPECT_NE(parse_error({"-f", "xml", "who"}), "");
  EXPECT_NE(parse_error({"who", "--dry-run"}), "");
  EXPECT_NE(parse_error({"who", "-h", "127.0.0.1"}), "");
  EXPECT_NE(parse_error({"kick", "-1", "jane"}), "");
  EXPECT_NE(parse_error({"kick", "--bogus", "jane"}), "");
  EXPECT_NE(parse_error({"-o", "colour=red", "who"}), "");
  EXPECT_NE(parse_error({"who", "-a"}), "");
  EXPECT_NE(parse_error({"who", "--id", "xyz"}), "");
}

TEST(Arguments, KickOptions) {
  Invocation inv = parse_ok({"kick", "--dry-run", "--reason=password changed", "-h", "127.0.0.9",
                             "--id", "0123456789abcdef0123456789abcdef", "jane"});
  EXPECT_TRUE(inv.dry_run);
  EXPECT_EQ(inv.reason, "password changed");
  ASSERT_EQ(inv.filter.destinations.size(), 1u);
  ASSERT_EQ(inv.filter.ids.size(), 1u);
}

TEST(Arguments, DestHostNamesAreResolvedToEveryAddress) {
  Invocation inv = parse_ok({"kick", "-h", "backend.test"});
  EXPECT_EQ(inv.filter.destinations.size(), 2u);
  EXPECT_NE(parse_error({"kick", "-h", "nowhere.test"}), "");
}

TEST(Arguments, DoubleDashEndsOptions) {
  Invocation inv = parse_ok({"kick", "--", "-weird-user"});
  ASSERT_EQ(inv.filter.users.size(), 1u);
  EXPECT_EQ(inv.filter.users[0].pattern(), "-weird-user");
}

// After a password reset: the sessions opened before it, by a time or an
// age, with every other filter; both given, the earlier time holds.
TEST(Arguments, StartedBeforeAndOlderThan) {
  const std::int64_t now = 1'796'035'320;  // 2026-11-30T10:42:00Z
  Invocation inv;
  ASSERT_FALSE(parse_arguments({"kick", "--started-before", "2026-11-30T10:00Z", "jane"}, no_dns,
                               &inv, now));
  EXPECT_EQ(inv.filter.started_before, now - 42 * 60);
  EXPECT_EQ(inv.filter.users.size(), 1u);
  Invocation age;
  ASSERT_FALSE(parse_arguments({"who", "-1", "--older-than=2h"}, no_dns, &age, now));
  EXPECT_EQ(age.filter.started_before, now - 7200);
  Invocation both;
  ASSERT_FALSE(parse_arguments(
      {"kick", "--older-than", "1m", "--started-before", "1796035000", "10.0.0.0/8"}, no_dns, &both,
      now));
  EXPECT_EQ(both.filter.started_before, 1'796'035'000);  // earlier than now - 60
  // Alone, it is enough of a filter for a kick.
  Invocation alone;
  EXPECT_FALSE(parse_arguments({"kick", "--older-than", "1d"}, no_dns, &alone, now));
  EXPECT_NE(parse_error({"kick", "--started-before", "yesterday", "jane"})
                .find("--started-before needs a time"),
            std::string::npos);
  EXPECT_NE(parse_error({"who", "--older-than", "-5m"}).find("--older-than needs a duration"),
            std::string::npos);
  EXPECT_NE(parse_error({"who", "--older-than"}).find("needs a value"), std::string::npos);
}

TEST(Arguments, BanActionsAndKickBan) {
  Invocation add =
      parse_ok({"ban", "-a", "/s", "add", "--duration", "1h30m", "jane", "10.0.0.0/8"});
  EXPECT_EQ(add.command, Command::ban);
  EXPECT_EQ(add.ban_action, BanAction::add);
  EXPECT_EQ(add.ban_duration, 5400);
  EXPECT_EQ(add.socket, "/s");
  EXPECT_EQ(add.filter.users.size(), 1u);
  EXPECT_EQ(add.filter.networks.size(), 1u);
  EXPECT_EQ(add.reason, "Banned by administrator");
  EXPECT_EQ(parse_ok({"ban", "add", "jane"}).ban_duration, 0);  // no end
  Invocation rm = parse_ok({"ban", "rm", "3", "4"});
  EXPECT_EQ(rm.ban_ids, (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(parse_ok({"ban", "list"}).ban_action, BanAction::list);
  EXPECT_EQ(parse_ok({"kick", "--ban", "forever", "jane"}).ban_duration, 0);
  EXPECT_EQ(parse_ok({"kick", "--ban=2d", "jane"}).ban_duration, 172800);
  EXPECT_FALSE(parse_ok({"kick", "jane"}).ban_duration);
  EXPECT_NE(parse_error({"ban", "add", "--duration", "0", "jane"}), "");
  EXPECT_NE(parse_error({"ban", "add", "-h", "backend.test", "jane"}), "");
  EXPECT_NE(parse_error({"ban", "list", "jane"}), "");
  EXPECT_NE(parse_error({"ban", "rm", "0"}), "");
  Invocation by_target = parse_ok({"ban", "rm", "192.0.2.7", "jane", "5"});
  EXPECT_EQ(by_target.ban_targets, (std::vector<std::string>{"192.0.2.7", "jane"}));
  EXPECT_EQ(by_target.ban_ids, (std::vector<std::uint64_t>{5}));
  EXPECT_NE(parse_error({"ban", "rm", "10.0.0.0/33"}), "");
  EXPECT_NE(parse_error({"who", "--ban", "1h", "jane"}), "");
}

}  // namespace
}  // namespace anvil
