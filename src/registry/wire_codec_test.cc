#include "registry/wire_codec.h"

#include <gtest/gtest.h>

#include <set>
#include <string_view>

#include "registry/kick.h"

namespace anvil {
namespace {

std::vector<std::string> fields_of(LineWriter& line) {
  std::string text = line.finish();
  return split_fields(std::string_view(text).substr(0, text.size() - 1));
}

TEST(WireCodec, SessionRoundTripsWithEscapedValues) {
  Session s;
  s.id = ConnectionId::random();
  s.pid = 4242;
  s.service = "imap";
  s.user = "odd\tname=x";
  s.client_ip = IpAddress::parse("::1");
  s.client_port = 50000;
  s.local_port = 143;
  s.dest_ip = IpAddress::parse("10.0.0.5");
  s.dest_port = 993;
  s.alt_names = {{"user_email", "j@example.com"}};
  s.start_time = 1700000000;
  LineWriter line;
  add_session_fields(line, s);
  Session back;
  for (const std::string& field : fields_of(line)) {
    EXPECT_EQ(apply_session_field(back, field, FieldScope::full), "") << field;
  }
  EXPECT_EQ(back.id, s.id);
  EXPECT_EQ(back.pid, s.pid);
  EXPECT_EQ(back.service, s.service);
  EXPECT_EQ(back.user, s.user);
  EXPECT_EQ(back.client_ip, s.client_ip);
  EXPECT_EQ(back.client_port, s.client_port);
  EXPECT_EQ(back.local_port, s.local_port);
  EXPECT_EQ(back.dest_ip, s.dest_ip);
  EXPECT_EQ(back.dest_port, s.dest_port);
  EXPECT_EQ(back.alt_names, s.alt_names);
  EXPECT_EQ(back.start_time, s.start_time);
}

TEST(WireCodec, InfoScopeCannotSetIdentity) {
  Session s;
  s.pid = 1;
  EXPECT_EQ(apply_session_field(s, "pid=99", FieldScope::info), "");
  EXPECT_EQ(s.pid, 1);
  EXPECT_EQ(apply_session_field(s, "service=evil", FieldScope::info), "");
  EXPECT_EQ(s.service, "");
}

TEST(WireCodec, BadSessionFieldsAreErrors) {
  Session s;
  EXPECT_NE(apply_session_field(s, "ip=999.1.1.1", FieldScope::info), "");
  EXPECT_NE(apply_session_field(s, "port=70000", FieldScope::info), "");
  EXPECT_NE(apply_session_field(s, "port=-1", FieldScope::info), "");
  EXPECT_NE(apply_session_field(s, "novalue", FieldScope::info), "");
  EXPECT_NE(apply_session_field(s, "=x", FieldScope::info), "");
  EXPECT_EQ(apply_session_field(s, "future_key=1", FieldScope::info), "");
}

TEST(WireCodec, FilterRoundTrips) {
  SessionFilter f;
  f.users = {UserMask("ja*"), UserMask("foo")};
  f.alt_field = "user_email";
  f.networks = {*Cidr::parse("192.0.2.0/24")};
  f.destinations = {*IpAddress::parse("::1")};
  f.services = {"imap"};
  f.pids = {7};
  f.ids = {ConnectionId::random()};
  f.started_before = 1'795'948'927;
  LineWriter line;
  add_filter_fields(line, f);
  SessionFilter back;
  for (const std::string& field : fields_of(line)) {
    EXPECT_EQ(apply_filter_field(back, field), "") << field;
  }
  ASSERT_EQ(back.users.size(), 2u);
  EXPECT_EQ(back.users[0].pattern(), "ja*");
  EXPECT_EQ(back.alt_field, "user_email");
  EXPECT_EQ(back.networks[0].to_string(), "192.0.2.0/24");
  EXPECT_EQ(back.destinations, f.destinations);
  EXPECT_EQ(back.services, f.services);
  EXPECT_EQ(back.pids, f.pids);
  EXPECT_EQ(back.ids, f.ids);
  EXPECT_EQ(back.started_before, f.started_before);
}

TEST(WireCodec, UnknownOrBadFilterFieldIsAnError) {
  SessionFilter f;
  EXPECT_NE(apply_filter_field(f, "colour=red"), "");
  EXPECT_NE(apply_filter_field(f, "net=127.0.0.0/33"), "");
  EXPECT_NE(apply_filter_field(f, "id=xyz"), "");
  EXPECT_NE(apply_filter_field(f, "pid=0"), "");
  EXPECT_NE(apply_filter_field(f, "started_before=-5"), "");
  EXPECT_NE(apply_filter_field(f, "started_before=soon"), "");
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(apply_filter_field(f, "started_before=5"), "");
  EXPECT_NE(apply_filter_field(f, "started_before=6"), "");  // once only
}

TEST(WireCodec, ParseInteger) {
  long long v = 0;
  EXPECT_TRUE(parse_integer("123", 0, 1000, &v));
  EXPECT_EQ(v, 123);
  EXPECT_FALSE(parse_integer("12a", 0, 1000, &v));
  EXPECT_FALSE(parse_integer("", 0, 1000, &v));
  EXPECT_FALSE(parse_integer("1001", 0, 1000, &v));
  EXPECT_FALSE(parse_integer("99999999999999999999999", 0, 1000, &v));
}

}  // namespace
}  // namespace anvil

namespace anvil {
namespace {

// Every outcome has one name, and the name leads back to it.
TEST(KickStatusNames, RoundTripAndAreDistinct) {
  std::set<std::string_view> names;
  for (KickStatus status :
       {KickStatus::kicked, KickStatus::not_dropped, KickStatus::timeout, KickStatus::vanished,
        KickStatus::would_kick, KickStatus::shared, KickStatus::not_signalled}) {
    std::string_view name = kick_status_name(status);
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(kick_status_from_name(name), status);
  }
  EXPECT_EQ(kick_status_name(KickStatus::not_signalled), "not-signalled");
  EXPECT_FALSE(kick_status_from_name("Kicked"));
}

// Grouped by who must drop them; a process that only a signal ends is
// spared when it holds sessions nobody selected, unless forced.
TEST(KickPlan, GroupsByOwnerAndSparesSharedProcesses) {
  std::vector<Session> selected(5);
  std::uint64_t owners[] = {7, 3, 7, 9, 3};  // 3: a service channel; 7, 9: processes
  for (std::size_t i = 0; i < selected.size(); i++) selected[i].owner = owners[i];
  auto by_signal = [](std::uint64_t owner) { return owner != 3; };
  auto held = [](std::uint64_t owner) -> std::size_t {
    return owner == 7 ? 2 : owner == 9 ? 4 : 10;
  };
  auto owner_of = [&](std::size_t i) { return selected[i].owner; };
  std::vector<KickGroup> plan = plan_kick(selected.size(), owner_of, by_signal, held, false);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].owner, 3u);
  EXPECT_EQ(plan[0].members, (std::vector<std::size_t>{1, 4}));
  EXPECT_FALSE(plan[0].by_signal);
  EXPECT_FALSE(plan[0].spared);  // a channel drops exactly what it is told
  EXPECT_EQ(plan[1].owner, 7u);
  EXPECT_EQ(plan[1].members, (std::vector<std::size_t>{0, 2}));
  EXPECT_TRUE(plan[1].by_signal);
  EXPECT_FALSE(plan[1].spared);  // both of its sessions were selected
  EXPECT_EQ(plan[2].owner, 9u);
  EXPECT_TRUE(plan[2].spared);  // one of four: the other three would go too
  EXPECT_FALSE(plan_kick(selected.size(), owner_of, by_signal, held, true)[2].spared);
  EXPECT_TRUE(plan_kick(0, owner_of, by_signal, held, false).empty());
}

TEST(KickRules, ASharedProcessIsSparedUnlessForced) {
  EXPECT_TRUE(spare_shared_process(1, 2, false));
  EXPECT_FALSE(spare_shared_process(1, 2, true));
  EXPECT_FALSE(spare_shared_process(2, 2, false));
}

}  // namespace
}  // namespace anvil
