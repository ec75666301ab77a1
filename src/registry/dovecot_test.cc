#include <gtest/gtest.h>

#include "registry/dovecot_ident.h"
#include "registry/penalty_table.h"

namespace anvil {
namespace {

TEST(DovecotIdent, ServiceIpUser) {
  auto ident = parse_dovecot_ident("imap/127.0.0.2/jane");
  ASSERT_TRUE(ident);
  EXPECT_EQ(ident->service, "imap");
  EXPECT_EQ(ident->ip, IpAddress::parse("127.0.0.2"));
  EXPECT_EQ(ident->user, "jane");
  EXPECT_EQ(format_dovecot_ident(ident->service, ident->ip, ident->user), "imap/127.0.0.2/jane");
}

TEST(DovecotIdent, Ipv6AndUserWithSlashes) {
  auto ident = parse_dovecot_ident("imap/::1/a/b");
  ASSERT_TRUE(ident);
  EXPECT_EQ(ident->ip, IpAddress::parse("::1"));
  EXPECT_EQ(ident->user, "a/b");
}

TEST(DovecotIdent, LmtpHasNoAddress) {
  auto ident = parse_dovecot_ident("lmtp/jane");
  ASSERT_TRUE(ident);
  EXPECT_FALSE(ident->ip);
  EXPECT_EQ(ident->user, "jane");
  auto slashed = parse_dovecot_ident("lmtp/dept/jane");  // Dovecot would take "dept" for an ip
  ASSERT_TRUE(slashed);
  EXPECT_FALSE(slashed->ip);
  EXPECT_EQ(slashed->user, "dept/jane");
  EXPECT_EQ(format_dovecot_ident("lmtp", std::nullopt, "dept/jane"), "lmtp/dept/jane");
}

TEST(DovecotIdent, Malformed) {
  EXPECT_FALSE(parse_dovecot_ident("noslash"));
  EXPECT_FALSE(parse_dovecot_ident("/127.0.0.1/jane"));
  auto empty_user = parse_dovecot_ident("imap/127.0.0.1/");
  ASSERT_TRUE(empty_user);
  EXPECT_EQ(empty_user->user, "");
}

TEST(PenaltyTable, LoginsFollowDovecotsAuthRules) {
  PenaltyTable table;
  auto ip = *IpAddress::parse("192.0.2.7");
  table.login_failed(ip, 11, 100);
  EXPECT_EQ(table.get("192.0.2.7", 100).first, 1u);
  table.login_failed(ip, 11, 101);  // the same credentials again
  EXPECT_EQ(table.get("192.0.2.7", 101).first, 1u);
  for (std::uint32_t checksum = 20; checksum < 30; checksum++)
    table.login_failed(ip, checksum, 102);
  EXPECT_EQ(table.get("192.0.2.7", 102).first, PenaltyTable::kMaxLoginPenalty);
  table.login_succeeded(ip, 103);
  EXPECT_EQ(table.get("192.0.2.7", 103).first, 0u);
  // An IPv6 address stands for its /48.
  table.login_failed(*IpAddress::parse("2001:db8:1:2::5"), 7, 104);
  EXPECT_EQ(PenaltyTable::login_ident(*IpAddress::parse("2001:db8:1:ffff::9")), "2001:db8:1::");
  EXPECT_EQ(table.get("2001:db8:1::", 104).first, 1u);
}

TEST(PenaltyTable, UnknownIsZero) {
  PenaltyTable table;
  EXPECT_EQ(table.get("127.0.0.1", 1000), std::make_pair(0u, std::int64_t{0}));
}

TEST(PenaltyTable, NewChecksumRaisesRepeatedOneDoesNot) {
  PenaltyTable table;
  table.inc("127.0.0.1", 111, 1, 1000);
  EXPECT_EQ(table.get("127.0.0.1", 1000), std::make_pair(1u, std::int64_t{1000}));
  table.inc("127.0.0.1", 222, 2, 1005);
  EXPECT_EQ(table.get("127.0.0.1", 1005), std::make_pair(2u, std::int64_t{1005}));
  // The same credentials again: value - 1, and last_penalty stays.
  table.inc("127.0.0.1", 111, 3, 1010);
  EXPECT_EQ(table.get("127.0.0.1", 1010), std::make_pair(2u, std::int64_t{1005}));
  // A success resets it.
  table.inc("127.0.0.1", 0, 0, 1020);
  EXPECT_EQ(table.get("127.0.0.1", 1020), std::make_pair(0u, std::int64_t{1020}));
}

TEST(PenaltyTable, RecordsExpireAfterTheirLastUpdate) {
  PenaltyTable table;
  table.set_expire_secs(29);
  table.inc("a", 1, 1, 1000);
  table.inc("b", 2, 1, 1010);
  EXPECT_EQ(table.get("a", 1028).first, 1u);
  EXPECT_EQ(table.get("a", 1029).first, 0u);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.get("b", 1038).first, 1u);
}

TEST(PenaltyTable, DumpIsLeastRecentlyUpdatedFirst) {
  PenaltyTable table;
  table.inc("a", 1, 1, 1000);
  table.inc("b", 2, 1, 1001);
  table.inc("a", 3, 2, 1002);
  auto entries = table.dump(1003);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].ident, "b");
  EXPECT_EQ(entries[1].ident, "a");
  EXPECT_EQ(entries[1].penalty, 2u);
  EXPECT_EQ(entries[1].last_penalty, 1002);
  EXPECT_EQ(entries[1].last_update, 1002);
}

TEST(PenaltyTable, OldChecksumsAreForgottenAfterTen) {
  PenaltyTable table;
  for (std::uint32_t checksum = 1; checksum <= 11; checksum++)
    table.inc("a", checksum, checksum, 1000);
  table.inc("a", 1, 20, 1001);  // checksum 1 fell out: counts as new
  EXPECT_EQ(table.get("a", 1001), std::make_pair(20u, std::int64_t{1001}));
  table.inc("a", 11, 30, 1002);  // still remembered
  EXPECT_EQ(table.get("a", 1002).first, 29u);
}

TEST(PenaltyTable, MemoryIsBounded) {
  PenaltyTable table(3);
  for (int i = 0; i < 10; i++) table.inc("ip" + std::to_string(i), 0, 1, 1000 + i);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.dump(1010)[0].ident, "ip7");
}

}  // namespace
}  // namespace anvil
