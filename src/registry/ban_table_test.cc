#include "registry/ban_table.h"

#include <gtest/gtest.h>

#include <random>

namespace anvil {
namespace {

Ban ban_of(const char* user, const char* network, const char* alt_field = "") {
  Ban ban;
  if (user) ban.user.emplace(user);
  if (network) ban.network = Cidr::parse(network);
  ban.alt_field = alt_field;
  return ban;
}

std::uint64_t add(BanTable& table, Ban ban) {
  std::string error;
  std::uint64_t id = table.add(std::move(ban), &error);
  EXPECT_EQ(error, "");
  return id;
}

// The id of the ban that matches, 0 for none.
std::uint64_t banned(const BanTable& table, std::string_view user, const char* ip,
                     std::int64_t now = 100,
                     std::vector<std::pair<std::string_view, std::string_view>> alts = {}) {
  std::optional<IpAddress> address = ip ? IpAddress::parse(ip) : std::nullopt;
  const Ban* ban = table.match(BanSubject{user, address, alts}, now);
  return ban ? ban->id : 0;
}

TEST(BanTable, EachKindMatchesItsOwnAndNoBystander) {
  BanTable table;
  std::uint64_t jane = add(table, ban_of("Jane", nullptr));
  std::uint64_t interns = add(table, ban_of("intern-*", nullptr));
  std::uint64_t net = add(table, ban_of(nullptr, "192.0.2.0/24"));
  std::uint64_t six = add(table, ban_of(nullptr, "2001:db8::/32"));
  std::uint64_t both = add(table, ban_of("bob", "198.51.100.0/24"));
  std::uint64_t alt = add(table, ban_of("jd@example.com", nullptr, "user_email"));

  EXPECT_EQ(banned(table, "jane", "10.0.0.1"), jane);  // case-insensitive, any address
  EXPECT_EQ(banned(table, "janet", "10.0.0.1"), 0u);
  EXPECT_EQ(banned(table, "intern-7", nullptr), interns);
  EXPECT_EQ(banned(table, "intern", nullptr), 0u);
  EXPECT_EQ(banned(table, "", "192.0.2.200"), net);  // before login: the address alone
  EXPECT_EQ(banned(table, "john", "192.0.3.1"), 0u);
  EXPECT_EQ(banned(table, "john", "2001:db8:1::5"), six);
  EXPECT_EQ(banned(table, "john", "2001:db9::5"), 0u);
  EXPECT_EQ(banned(table, "bob", "198.51.100.7"), both);
  EXPECT_EQ(banned(table, "bob", "203.0.113.7"), 0u);  // user AND network
  EXPECT_EQ(banned(table, "alice", "198.51.100.7"), 0u);
  EXPECT_EQ(banned(table, "john", nullptr, 100, {{"USER_Email", "JD@example.com"}}), alt);
  EXPECT_EQ(banned(table, "john", nullptr, 100, {{"user_alias", "jd@example.com"}}), 0u);
  EXPECT_EQ(banned(table, "jd@example.com", nullptr), 0u);  // the alt value, not the user

  ASSERT_TRUE(table.remove(jane));
  EXPECT_FALSE(table.remove(jane));
  EXPECT_EQ(banned(table, "jane", "10.0.0.1"), 0u);
  EXPECT_EQ(table.size(), 5u);
}

TEST(BanTable, ExpiredBansDoNotMatchAndGo) {
  BanTable table;
  Ban temporary = ban_of("jane", nullptr);
  temporary.expires = 200;
  std::uint64_t first = add(table, temporary);
  Ban forever = ban_of(nullptr, "10.0.0.0/8");
  std::uint64_t second = add(table, forever);
  EXPECT_EQ(banned(table, "jane", "10.1.1.1", 199), first);  // the oldest of the two
  EXPECT_EQ(banned(table, "jane", "10.1.1.1", 200), second);
  EXPECT_EQ(banned(table, "jane", "192.0.2.1", 200), 0u);
  EXPECT_EQ(table.next_expiry(), 200);
  EXPECT_TRUE(table.expire(199).empty());
  std::vector<Ban> gone = table.expire(250);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].id, first);
  EXPECT_EQ(table.next_expiry(), std::nullopt);
  EXPECT_EQ(table.size(), 1u);
}

TEST(BanTable, RefusesBansThatNameNothing) {
  BanTable table;
  std::string error;
  EXPECT_EQ(table.add(Ban{}, &error), 0u);
  EXPECT_NE(error, "");
  Ban alt_only;
  alt_only.alt_field = "user_email";
  alt_only.network = Cidr::parse("10.0.0.0/8");
  EXPECT_EQ(table.add(alt_only, &error), 0u);
  EXPECT_NE(error, "");
  Ban loaded = ban_of("jane", nullptr);
  loaded.id = 7;
  EXPECT_EQ(table.add(loaded, &error), 7u);
  EXPECT_EQ(table.add(loaded, &error), 0u);            // id taken
  EXPECT_EQ(add(table, ban_of("john", nullptr)), 8u);  // ids continue after loaded ones
  EXPECT_TRUE(ban_of("*", nullptr).matches_everyone());
  EXPECT_TRUE(ban_of(nullptr, "0.0.0.0/0").matches_everyone());
  EXPECT_TRUE(ban_of("**", "::/0").matches_everyone());
  EXPECT_FALSE(ban_of("*", "10.0.0.0/8").matches_everyone());
  EXPECT_FALSE(ban_of("j*", nullptr).matches_everyone());
}

// 100,000 bans of users and 100,000 of addresses: a check tests the few
// that can match, not every ban.
TEST(BanTable, AChecksCostDoesNotGrowWithTheBans) {
  BanTable table;
  for (int i = 0; i < 100000; i++) {
    add(table, ban_of(("user" + std::to_string(i)).c_str(), nullptr));
    std::string host = "10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) +
                       "." + std::to_string(i & 255);
    add(table, ban_of(nullptr, host.c_str()));
  }
  add(table, ban_of(nullptr, "172.16.0.0/12"));
  add(table, ban_of("spam*", nullptr));
  auto ip = IpAddress::parse("10.0.1.5");
  EXPECT_LE(table.candidate_count(BanSubject{"user77", ip}), 3u);
  EXPECT_EQ(banned(table, "user77", "10.0.1.5"), table.match(BanSubject{"user77", ip}, 0)->id);
  EXPECT_NE(banned(table, "nobody", "172.20.1.1"), 0u);
  EXPECT_NE(banned(table, "spammer", "192.0.2.1"), 0u);
  EXPECT_EQ(banned(table, "nobody", "192.0.2.1"), 0u);
}

// Random bans and logins against a scan of every ban.
TEST(BanTable, AgreesWithAScanOnRandomBans) {
  const char* users[] = {"jane", "JANE", "john", "j*", "*", "?ohn", "bob"};
  const char* nets[] = {"10.0.0.0/8", "10.1.0.0/16",   "10.1.2.3",
                        "::/0",       "2001:db8::/32", "0.0.0.0/0"};
  const char* ips[] = {"10.1.2.3", "10.9.9.9", "192.0.2.1", "2001:db8::1", "::1"};
  const char* names[] = {"jane", "john", "bob", "alice", ""};
  std::mt19937 random(11);
  for (int round = 0; round < 50; round++) {
    BanTable table;
    std::vector<Ban> all;
    for (int i = 0; i < 30; i++) {
      Ban ban;
      int kind = static_cast<int>(random() % 4);
      if (kind != 1) ban.user.emplace(users[random() % std::size(users)]);
      if (kind != 0) ban.network = Cidr::parse(nets[random() % std::size(nets)]);
      if (kind == 3 && random() % 2) ban.alt_field = "user_email";
      ban.expires = random() % 3 ? 0 : static_cast<std::int64_t>(random() % 200);
      std::string error;
      ban.id = table.add(ban, &error);
      ASSERT_EQ(error, "");
      all.push_back(ban);
      if (random() % 5 == 0) {
        std::uint64_t gone = all[random() % all.size()].id;
        table.remove(gone);
        std::erase_if(all, [&](const Ban& b) { return b.id == gone; });
      }
    }
    for (int check = 0; check < 200; check++) {
      std::string_view user = names[random() % std::size(names)];
      auto ip = IpAddress::parse(ips[random() % std::size(ips)]);
      std::vector<std::pair<std::string_view, std::string_view>> alts;
      if (random() % 2) alts.emplace_back("user_email", names[random() % std::size(names)]);
      std::int64_t now = static_cast<std::int64_t>(random() % 200);
      std::uint64_t expected = 0;
      for (const Ban& ban : all) {
        if (ban.expired(now)) continue;
        if (ban.network && !ban.network->contains(*ip)) continue;
        bool user_ok = !ban.user;
        if (ban.user && ban.alt_field.empty()) user_ok = ban.user->matches(user);
        for (const auto& [field, value] : alts) {
          if (ban.user && !ban.alt_field.empty() && field == ban.alt_field &&
              ban.user->matches(value)) {
            user_ok = true;
          }
        }
        if (user_ok) {
          expected = ban.id;
          break;  // all is oldest first
        }
      }
      const Ban* got = table.match(BanSubject{user, ip, alts}, now);
      ASSERT_EQ(got ? got->id : 0, expected) << "round " << round << " check " << check;
    }
  }
}

TEST(BanTable, StateFileLinesRoundTripAndBadOnesSayWhy) {
  Ban ban = ban_of("jane\ttab", "2001:db8::/32", "user_email");
  ban.id = 42;
  ban.created = 1796035327;
  ban.expires = 1796038927;
  ban.reason = "compromised\nsee ticket 7";
  ban.set_by = "root (uid 0)";
  std::string line = format_ban_line(ban);
  ASSERT_EQ(line.back(), '\n');
  line.pop_back();
  EXPECT_EQ(line.find('\n'), std::string::npos);
  std::string error;
  auto back = parse_ban_line(line, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->id, 42u);
  EXPECT_EQ(back->user->pattern(), "jane\ttab");
  EXPECT_EQ(back->alt_field, "user_email");
  EXPECT_EQ(back->network->to_string(), "2001:db8::/32");
  EXPECT_EQ(back->created, ban.created);
  EXPECT_EQ(back->expires, ban.expires);
  EXPECT_EQ(back->reason, ban.reason);
  EXPECT_EQ(back->set_by, ban.set_by);
  for (const char* bad : {"id=0\tuser=x", "user=x", "id=1", "id=1\tnet=10.0.0.0/33",
                          "id=1\tuser=x\texpires=-1", "id=1\tuser=x\talt_field=email",
                          "id=1\tnet=10.0.0.0/8\talt_field=user_email", "id=1\tuser", ""}) {
    EXPECT_FALSE(parse_ban_line(bad, &error)) << bad;
    EXPECT_NE(error, "") << bad;
  }
  EXPECT_TRUE(parse_ban_line("id=3\tuser=x\tcolour=red", &error));  // a newer anvild's key
}

}  // namespace
}  // namespace anvil
