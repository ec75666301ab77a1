#include "registry/session_table.h"

#include <gtest/gtest.h>

#include <set>

namespace anvil {
namespace {

Session make(std::string user, std::string ip, OwnerId owner = 1, std::string service = "imap") {
  Session s;
  s.id = ConnectionId::random();
  s.owner = owner;
  s.pid = static_cast<std::int32_t>(1000 + owner);
  s.service = std::move(service);
  s.user = std::move(user);
  if (!ip.empty()) s.client_ip = IpAddress::parse(ip);
  return s;
}

std::set<std::string> users_of(const std::vector<const Session*>& sessions) {
  std::set<std::string> out;
  for (const Session* s : sessions) out.insert(s->user);
  return out;
}

class SessionTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto [user, ip] :
         std::vector<std::pair<std::string, std::string>>{{"jane", "::1"},
                                                          {"jano", "::2"},
                                                          {"james", "2001:db8:543:2::1"},
                                                          {"bar", "127.0.0.5"},
                                                          {"baz", "127.0.0.6"},
                                                          {"barn", "127.0.0.7"},
                                                          {"foo", "fd95:4eed:38ba::25"},
                                                          {"foo", "192.0.2.53"},
                                                          {"foo", "192.0.2.111"}}) {
      ASSERT_TRUE(table.add(make(user, ip)));
    }
  }
  SessionTable table;
};

TEST_F(SessionTableTest, SeedExampleOneMasks) {
  SessionFilter ja;
  ja.users.emplace_back("ja*");
  EXPECT_EQ(users_of(table.select(ja)), (std::set<std::string>{"jane", "jano", "james"}));
  SessionFilter jan;
  jan.users.emplace_back("jan?");
  EXPECT_EQ(users_of(table.select(jan)), (std::set<std::string>{"jane", "jano"}));
  SessionFilter ba;
  ba.users.emplace_back("ba?");
  EXPECT_EQ(users_of(table.select(ba)), (std::set<std::string>{"bar", "baz"}));
}

TEST_F(SessionTableTest, SeedExampleTwoUserAndNetwork) {
  SessionFilter f;
  f.users.emplace_back("foo");
  f.networks.push_back(*Cidr::parse("192.0.2.0/24"));
  auto hit = table.select(f);
  ASSERT_EQ(hit.size(), 2u);
  for (const Session* s : hit) EXPECT_TRUE(f.networks[0].contains(*s->client_ip));
}

TEST_F(SessionTableTest, ExactUserAndIdAndRangeDoNotScan) {
  SessionFilter exact;
  exact.users.emplace_back("FOO");
  EXPECT_EQ(table.candidate_count(exact), 3u);
  EXPECT_EQ(table.select(exact).size(), 3u);

  SessionFilter net;
  net.networks.push_back(*Cidr::parse("127.0.0.5/31"));  // .4 and .5
  EXPECT_EQ(table.candidate_count(net), 1u);
  EXPECT_EQ(users_of(table.select(net)), (std::set<std::string>{"bar"}));

  const Session* any = table.select(exact)[0];
  SessionFilter by_id;
  by_id.ids.push_back(any->id);
  EXPECT_EQ(table.candidate_count(by_id), 1u);
  EXPECT_EQ(table.select(by_id)[0], any);
}

TEST_F(SessionTableTest, WildcardLooksAtDistinctNamesOnly) {
  SessionFilter f;
  f.users.emplace_back("f*");
  EXPECT_EQ(table.candidate_count(f), 3u);  // only foo's sessions become candidates
}

TEST_F(SessionTableTest, SeveralMasksAndNetworksAreOred) {
  SessionFilter f;
  f.users.emplace_back("bar");
  f.users.emplace_back("baz");
  f.users.emplace_back("bar");  // twice: still one result per session
  EXPECT_EQ(table.select(f).size(), 2u);
  SessionFilter nets;
  nets.networks.push_back(*Cidr::parse("::1"));
  nets.networks.push_back(*Cidr::parse("127.0.0.0/8"));
  EXPECT_EQ(users_of(table.select(nets)), (std::set<std::string>{"jane", "bar", "baz", "barn"}));
}

TEST_F(SessionTableTest, ResultsAreSortedByUser) {
  auto all = table.select(SessionFilter{});
  ASSERT_EQ(all.size(), 9u);
  for (std::size_t i = 1; i < all.size(); i++) EXPECT_LE(all[i - 1]->user, all[i]->user);
}

TEST(SessionTable, DuplicateIdIsRefusedAndChangesNothing) {
  SessionTable table;
  Session s = make("jane", "127.0.0.1");
  ASSERT_TRUE(table.add(s));
  Session dup = s;
  dup.user = "mallory";
  EXPECT_FALSE(table.add(dup));
  EXPECT_EQ(table.find(s.id)->user, "jane");
  EXPECT_EQ(table.size(), 1u);
}

TEST(SessionTable, UpdateMovesTheSessionBetweenIndexes) {
  SessionTable table;
  Session s = make("", "127.0.0.1");
  ASSERT_TRUE(table.add(s));
  s.user = "Jane";
  s.dest_ip = IpAddress::parse("10.0.0.5");
  s.alt_names.push_back({"user_email", "jane@example.com"});
  ASSERT_TRUE(table.update(s));

  SessionFilter by_user;
  by_user.users.emplace_back("jane");
  EXPECT_EQ(table.select(by_user).size(), 1u);
  SessionFilter empty_user;
  empty_user.users.emplace_back("");
  EXPECT_EQ(table.select(empty_user).size(), 0u);

  SessionFilter by_dest;
  by_dest.destinations.push_back(*IpAddress::parse("10.0.0.5"));
  EXPECT_EQ(table.candidate_count(by_dest), 1u);
  EXPECT_EQ(table.select(by_dest).size(), 1u);

  SessionFilter by_alt;
  by_alt.alt_field = "USER_EMAIL";
  by_alt.users.emplace_back("*@EXAMPLE.com");
  EXPECT_EQ(table.select(by_alt).size(), 1u);
  by_alt.users = {UserMask("jane")};
  EXPECT_EQ(table.select(by_alt).size(), 0u);

  Session unknown = make("x", "");
  EXPECT_FALSE(table.update(unknown));
}

TEST(SessionTable, RemoveOwnerDropsOnlyThatOwnersSessions) {
  SessionTable table;
  for (int i = 0; i < 5; i++) ASSERT_TRUE(table.add(make("a" + std::to_string(i), "127.0.0.1", 1)));
  for (int i = 0; i < 3; i++) ASSERT_TRUE(table.add(make("b" + std::to_string(i), "127.0.0.1", 2)));
  EXPECT_EQ(table.owner_size(1), 5u);
  EXPECT_EQ(table.remove_owner(1), 5u);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.owner_size(1), 0u);
  SessionFilter net;
  net.networks.push_back(*Cidr::parse("127.0.0.1"));
  EXPECT_EQ(table.candidate_count(net), 3u);
  EXPECT_EQ(table.remove_owner(1), 0u);
}

TEST(SessionTable, RemoveUnknownIdIsFalse) {
  SessionTable table;
  EXPECT_FALSE(table.remove(ConnectionId::random()));
}

TEST(SessionTable, GroupByOwner) {
  SessionTable table;
  ASSERT_TRUE(table.add(make("a", "", 1)));
  ASSERT_TRUE(table.add(make("b", "", 2)));
  ASSERT_TRUE(table.add(make("c", "", 2)));
  auto groups = group_by_owner(table.select(SessionFilter{}));
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[1].size(), 1u);
  EXPECT_EQ(groups[2].size(), 2u);
}

}  // namespace
}  // namespace anvil
