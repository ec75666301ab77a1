#include "registry/session_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <tuple>

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
  std::set<std::string> users_of(const std::vector<SessionRef>& refs) {
    std::set<std::string> out;
    for (SessionRef ref : refs) out.insert(table.get(ref).user);
    return out;
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
  for (SessionRef ref : hit) EXPECT_TRUE(f.networks[0].contains(*table.get(ref).client_ip));
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

  SessionRef any = table.select(exact)[0];
  SessionFilter by_id;
  by_id.ids.push_back(table.id_of(any));
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
  for (std::size_t i = 1; i < all.size(); i++) {
    EXPECT_LE(table.get(all[i - 1]).user, table.get(all[i]).user);
  }
}

TEST(SessionTable, DuplicateIdIsRefusedAndChangesNothing) {
  SessionTable table;
  Session s = make("jane", "127.0.0.1");
  ASSERT_TRUE(table.add(s));
  Session dup = s;
  dup.user = "mallory";
  EXPECT_FALSE(table.add(dup));
  EXPECT_EQ(table.get(*table.find(s.id)).user, "jane");
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

TEST(SessionTable, DovecotSessionsHaveDerivedIdsThatAreNeverReused) {
  SessionTable table;
  Session s = make("jane", "192.0.2.1", 7);
  ConnectionId first = table.add_dovecot(s);
  ASSERT_TRUE(table.find(first));
  EXPECT_EQ(table.get(*table.find(first)).user, "jane");
  EXPECT_TRUE(table.remove_dovecot({7, "imap", IpAddress::parse("192.0.2.1"), "jane"}));
  EXPECT_FALSE(table.find(first));
  ConnectionId second = table.add_dovecot(s);  // takes the same slot
  EXPECT_NE(first, second);
  EXPECT_FALSE(table.find(first));
  // A service may not register an id of the derived form.
  Session native = make("bob", "", 1);
  native.id = ConnectionId{second.high, 12345};
  EXPECT_FALSE(table.add(native));
}

TEST(SessionTable, DovecotDisconnectTakesOneOfThatProcessOnly) {
  SessionTable table;
  auto ip = IpAddress::parse("192.0.2.1");
  for (int i = 0; i < 3; i++) table.add_dovecot(make("jane", "192.0.2.1", 7));
  table.add_dovecot(make("jane", "192.0.2.1", 8));
  table.add_dovecot(make("Jane", "192.0.2.1", 7));  // another ident: case matters to Dovecot
  EXPECT_EQ(table.count_dovecot("imap", ip, "jane"), 4u);
  EXPECT_EQ(table.count_dovecot("imap", ip, "Jane"), 1u);
  EXPECT_EQ(table.count_dovecot("pop3", ip, "jane"), 0u);
  EXPECT_EQ(table.user_size("JANE"), 5u);
  EXPECT_TRUE(table.remove_dovecot({7, "imap", ip, "jane"}));
  EXPECT_EQ(table.owner_size(7), 3u);
  EXPECT_EQ(table.owner_size(8), 1u);
  EXPECT_TRUE(table.remove_dovecot({7, "imap", ip, "jane"}));
  EXPECT_TRUE(table.remove_dovecot({7, "imap", ip, "jane"}));
  EXPECT_FALSE(table.remove_dovecot({7, "imap", ip, "jane"}));  // 8's is not 7's
  EXPECT_FALSE(table.remove_dovecot({7, "imap", IpAddress::parse("192.0.2.2"), "jane"}));
  EXPECT_EQ(table.count_dovecot("imap", ip, "jane"), 1u);
  EXPECT_EQ(table.owner_size(7), 1u);
}

TEST(SessionTable, StaleRefsAreRecognised) {
  SessionTable table;
  Session a = make("a", "", 1);
  ASSERT_TRUE(table.add(a));
  SessionRef ref = *table.find(a.id);
  ASSERT_TRUE(table.remove(a.id));
  EXPECT_FALSE(table.alive(ref));
  Session b = make("b", "", 1);
  ASSERT_TRUE(table.add(b));  // reuses the slot
  EXPECT_FALSE(table.alive(ref));
  EXPECT_FALSE(table.remove(ref));  // never the slot's next session
  EXPECT_TRUE(table.find(b.id));
  SessionRef b_ref = *table.find(b.id);
  EXPECT_EQ(b_ref.slot, ref.slot);
  EXPECT_TRUE(table.remove(b_ref));
  EXPECT_FALSE(table.find(b.id));
  EXPECT_EQ(table.size(), 0u);
}

// Removing a process, a channel or one session costs what goes: the
// dovecot key index and the owner list make both O(what is removed).
TEST(SessionTable, RemovalLeavesTheRestIndexed) {
  SessionTable table;
  for (int i = 0; i < 1000; i++) {
    table.add_dovecot(make(std::string("u").append(std::to_string(i)),
                           std::string("10.0.0.").append(std::to_string(i % 256)),
                           1 + static_cast<OwnerId>(i % 10)));
  }
  EXPECT_EQ(table.remove_owner(3), 100u);
  EXPECT_EQ(table.size(), 900u);
  SessionFilter net;
  net.networks.push_back(*Cidr::parse("10.0.0.2"));  // i % 256 == 2: i = 2, 258, 514, 770
  std::set<std::string> users;
  for (SessionRef ref : table.select(net)) users.insert(table.get(ref).user);
  EXPECT_EQ(users, (std::set<std::string>{"u258", "u514", "u770"}));  // u2 was owner 3's
}

// --- the randomized model test --------------------------------------------

// A plain, obviously correct registry: every question is a scan.
struct Model {
  std::map<ConnectionId, Session> sessions;
  std::map<ConnectionId, bool> dovecot;

  static bool before(const Session& a, const Session& b) {
    return std::tie(a.user, a.service, a.pid, a.start_time, a.id) <
           std::tie(b.user, b.service, b.pid, b.start_time, b.id);
  }
  std::vector<ConnectionId> select(const SessionFilter& f) const {
    std::vector<const Session*> hit;
    for (const auto& [id, s] : sessions) {
      if (f.matches(s)) hit.push_back(&s);
    }
    std::sort(hit.begin(), hit.end(), [](auto* a, auto* b) { return before(*a, *b); });
    std::vector<ConnectionId> out;
    for (const Session* s : hit) out.push_back(s->id);
    return out;
  }
  template <typename Pred>
  std::size_t count(Pred pred) const {
    return static_cast<std::size_t>(std::count_if(
        sessions.begin(), sessions.end(), [&](const auto& entry) { return pred(entry.second); }));
  }
};

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  std::size_t below(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(engine_);
  }
  template <typename T, std::size_t N>
  const T& pick(const T (&items)[N]) {
    return items[below(N)];
  }

 private:
  std::mt19937_64 engine_;
};

const char* const kUsers[] = {"", "jane", "JANE", "Jane", "jano", "bob", "b?b", "x*", "james"};
const char* const kAddresses[] = {"",          "10.0.0.1",    "10.0.0.2",    "10.0.1.9",
                                  "192.0.2.7", "2001:db8::1", "2001:db8::2", "::1"};
const char* const kMasks[] = {"jane", "ja*", "*", "?ob", "b?b", "J*E", "", "x*", "nobody"};
const char* const kNetworks[] = {"10.0.0.0/30",    "10.0.0.2",   "0.0.0.0/0",   "::/0",
                                 "2001:db8::/127", "10.0.0.0/8", "192.0.2.0/24"};

std::optional<IpAddress> address(const char* text) {
  return *text ? IpAddress::parse(text) : std::nullopt;
}

Session random_session(Random& r, OwnerId owner, const std::vector<ConnectionId>& ids) {
  Session s;
  s.id = ids[r.below(ids.size())];
  s.owner = owner;
  s.pid = static_cast<std::int32_t>(100 + owner);  // one process per channel
  s.uid = static_cast<std::uint32_t>(r.below(3));
  s.service = r.below(2) ? "imap" : "POP3";
  s.user = r.pick(kUsers);
  s.client_ip = address(r.pick(kAddresses));
  s.start_time = 1000 + static_cast<std::int64_t>(r.below(3));
  return s;
}

SessionFilter random_filter(Random& r, const std::vector<ConnectionId>& ids) {
  SessionFilter f;
  std::size_t which = r.below(256);
  if (which & 1) f.users.emplace_back(r.pick(kMasks));
  if (which & 2) f.users.emplace_back(r.pick(kMasks));
  if (which & 4) f.networks.push_back(*Cidr::parse(r.pick(kNetworks)));
  if (which & 8) f.services.emplace_back(r.below(2) ? "IMAP" : "pop3");
  if (which & 16) f.pids.push_back(static_cast<std::int32_t>(100 + r.below(9)));
  if (which & 32) f.ids.push_back(ids[r.below(ids.size())]);
  if (which & 64) {
    static const char* kDestinations[] = {"192.0.2.1", "::5", "2001:db8::1"};
    f.destinations.push_back(*IpAddress::parse(kDestinations[r.below(3)]));
  }
  if (r.below(4) == 0) f.started_before = 1000 + static_cast<std::int64_t>(r.below(4));
  if ((which & 128) && !f.users.empty()) f.alt_field = r.below(2) ? "USER_email" : "user_ALIAS";
  return f;
}

// What only a service's session has: ports, a destination (none, IPv4 or
// IPv6) and zero to three alternative names.
void add_service_fields(Random& r, Session& s) {
  s.client_port = static_cast<std::uint16_t>(r.below(65536));
  s.local_port = static_cast<std::uint16_t>(r.below(65536));
  switch (r.below(3)) {
    case 0: s.dest_ip = IpAddress::parse("192.0.2.1"); break;
    case 1: s.dest_ip = IpAddress::parse(r.below(2) ? "::5" : "2001:db8::1"); break;
    default: break;
  }
  if (s.dest_ip) s.dest_port = static_cast<std::uint16_t>(1 + r.below(65535));
  std::size_t alts = r.below(4);
  if (alts > 0) s.alt_names.push_back({"user_Email", s.user + "@Example.com"});
  if (alts > 1) s.alt_names.push_back({"user_alias", s.user});
  if (alts > 2) s.alt_names.push_back({"user_other", "Jane@x"});
}

void run_model(std::uint64_t seed, std::size_t steps) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Random r(seed);
  SessionTable table;
  Model model;
  std::vector<ConnectionId> ids;  // a small pool, so that ids collide
  for (int i = 0; i < 64; i++) ids.push_back(ConnectionId::random());
  std::vector<std::pair<SessionRef, ConnectionId>> kept;  // refs from earlier answers
  std::set<ConnectionId> derived;  // ids of Dovecot sessions: never a service's
  for (std::size_t step = 0; step < steps; step++) {
    switch (r.below(9)) {
      case 0:
      case 1: {  // a service session (owners 1-5)
        Session s = random_session(r, 1 + r.below(5), ids);
        add_service_fields(r, s);
        bool fresh = !model.sessions.contains(s.id) && !derived.contains(s.id);
        ASSERT_EQ(table.add(s), fresh);
        if (fresh) model.sessions[s.id] = s, model.dovecot[s.id] = false;
        break;
      }
      case 2: {  // a Dovecot session (owners 6-8)
        Session s = random_session(r, 6 + r.below(3), ids);
        ConnectionId id = table.add_dovecot(s);
        ASSERT_FALSE(model.sessions.contains(id));
        s.id = id;
        model.sessions[id] = s;
        model.dovecot[id] = true;
        derived.insert(id);
        ids[r.below(ids.size())] = id;  // let later operations name it
        break;
      }
      case 3: {  // an update by the service
        Session s = random_session(r, 1 + r.below(5), ids);
        add_service_fields(r, s);
        if (r.below(2)) s.alt_names.push_back({"USER_EMAIL", "Jane@x"});
        auto it = model.sessions.find(s.id);
        bool known = it != model.sessions.end() && !model.dovecot[s.id];
        ASSERT_EQ(table.update(s), known);
        if (known) {
          Session& m = it->second;
          m.user = s.user;
          m.client_ip = s.client_ip;
          m.client_port = s.client_port;
          m.local_port = s.local_port;
          m.dest_ip = s.dest_ip;
          m.dest_port = s.dest_port;
          m.alt_names = s.alt_names;
        }
        break;
      }
      case 4: {
        ConnectionId id = ids[r.below(ids.size())];
        ASSERT_EQ(table.remove(id), model.sessions.erase(id) == 1);
        break;
      }
      case 5: {  // Dovecot's DISCONNECT: one session with the key goes
        Session key = random_session(r, 6 + r.below(3), ids);
        std::vector<ConnectionId> matching;
        for (const auto& [id, s] : model.sessions) {
          if (model.dovecot[id] && s.owner == key.owner && s.service == key.service &&
              s.client_ip == key.client_ip && s.user == key.user) {
            matching.push_back(id);
          }
        }
        ASSERT_EQ(table.remove_dovecot({key.owner, key.service, key.client_ip, key.user}),
                  !matching.empty());
        std::size_t gone = 0;
        for (const ConnectionId& id : matching) {
          if (!table.find(id)) {
            model.sessions.erase(id);
            gone++;
          }
        }
        ASSERT_EQ(gone, matching.empty() ? 0u : 1u);
        break;
      }
      case 6: {
        OwnerId owner = 1 + r.below(8);
        std::size_t removed = std::erase_if(
            model.sessions, [&](const auto& entry) { return entry.second.owner == owner; });
        ASSERT_EQ(table.remove_owner(owner), removed);
        break;
      }
      default: {
        SessionFilter f = random_filter(r, ids);
        std::vector<SessionRef> refs = table.select(f);
        std::vector<ConnectionId> got;
        for (SessionRef ref : refs) {
          Session s = table.get(ref);
          ASSERT_TRUE(model.sessions.contains(s.id));
          const Session& m = model.sessions[s.id];
          ASSERT_EQ(s.user, m.user);
          ASSERT_EQ(s.service, m.service);
          ASSERT_EQ(s.client_ip, m.client_ip);
          ASSERT_EQ(s.dest_ip, m.dest_ip);
          ASSERT_EQ(s.alt_names, m.alt_names);
          ASSERT_EQ(s.client_port, m.client_port);
          ASSERT_EQ(s.local_port, m.local_port);
          ASSERT_EQ(s.dest_port, m.dest_port);
          ASSERT_EQ(s.pid, m.pid);
          ASSERT_EQ(s.uid, m.uid);
          ASSERT_EQ(s.owner, m.owner);
          got.push_back(s.id);
          if (kept.size() < 32) kept.emplace_back(ref, s.id);
        }
        ASSERT_EQ(got, model.select(f));
        // CONNECT-DUMP's groups: every logged-in session once, each group
        // one (user, service, address, pid), no two groups the same.
        std::vector<SessionRef> grouped;
        std::vector<std::uint32_t> starts;
        table.dovecot_groups(&grouped, &starts);
        std::set<ConnectionId> dumped;
        std::set<std::tuple<std::string, std::string, std::optional<IpAddress>, std::int32_t>> keys;
        for (std::size_t g = 0; g < starts.size(); g++) {
          std::size_t end = g + 1 < starts.size() ? starts[g + 1] : grouped.size();
          Session head = table.get(grouped[starts[g]]);
          ASSERT_TRUE(keys.insert({head.user, head.service, head.client_ip, head.pid}).second);
          for (std::size_t i = starts[g]; i < end; i++) {
            ASSERT_TRUE(table.same_dovecot_group(grouped[starts[g]], grouped[i]));
            ASSERT_TRUE(dumped.insert(table.id_of(grouped[i])).second);
          }
        }
        std::set<ConnectionId> logged_in;
        for (const auto& [id, m] : model.sessions) {
          if (!m.user.empty()) logged_in.insert(id);
        }
        ASSERT_EQ(dumped, logged_in);
        break;
      }
    }
    ASSERT_EQ(table.size(), model.sessions.size());
    for (const auto& [ref, id] : kept) ASSERT_EQ(table.alive(ref), model.sessions.contains(id));
    std::erase_if(kept, [&](const auto& entry) { return !table.alive(entry.first); });
    // The counts the limits and Dovecot's LOOKUP read.
    const char* user = r.pick(kUsers);
    auto ip = address(r.pick(kAddresses));
    std::string service = r.below(2) ? "imap" : "POP3";
    ASSERT_EQ(table.user_size(user), model.count([&](const Session& s) {
      return ascii_fold(s.user) == ascii_fold(user);
    }));
    ASSERT_EQ(table.count_dovecot(service, ip, user), model.count([&](const Session& s) {
      return s.service == service && s.client_ip == ip && s.user == user;
    }));
    if (ip) {
      ASSERT_EQ(table.address_size(*ip),
                model.count([&](const Session& s) { return s.client_ip == ip; }));
      ASSERT_EQ(table.address_prelogin_size(*ip),
                model.count([&](const Session& s) { return s.client_ip == ip && s.user.empty(); }));
    }
    std::uint32_t uid = static_cast<std::uint32_t>(r.below(3));
    ASSERT_EQ(table.uid_size(uid), model.count([&](const Session& s) { return s.uid == uid; }));
    OwnerId owner = 1 + r.below(8);
    ASSERT_EQ(table.owner_size(owner),
              model.count([&](const Session& s) { return s.owner == owner; }));
    ASSERT_EQ(table.pid_size(static_cast<std::int32_t>(100 + owner)),
              model.count([&](const Session& s) { return s.owner == owner; }));
  }
}

TEST(SessionTableModel, AgreesWithAPlainModelOnRandomOperations) {
  for (std::uint64_t seed = 1; seed <= 8; seed++) run_model(seed, 4000);
}

// Large answers are sorted another way (distinct names ranked once): the
// order must be the same.
TEST(SessionTableModel, LargeAnswersAreSortedAsSmallOnes) {
  Random r(99);
  SessionTable table;
  Model model;
  for (int i = 0; i < 12000; i++) {
    Session s;
    s.id = ConnectionId::random();
    s.owner = 1 + r.below(20);
    s.pid = static_cast<std::int32_t>(100 + s.owner);
    s.service = r.below(2) ? "imap" : "pop3";
    // Names that agree in their first 16 bytes and beyond, that hold NUL
    // and non-ASCII bytes, and that are prefixes of each other.
    static const std::string kPrefixes[] = {"", "a-shared-prefix-longer-than-16-",
                                            std::string("nul\0in", 6), "\xc3\xbcser",
                                            "a-shared-prefix-"};
    s.user = kPrefixes[r.below(5)] + std::string(r.pick(kUsers)) + std::to_string(r.below(500));
    if (r.below(10) == 0) s.user = kPrefixes[r.below(5)];
    s.client_ip = address(r.pick(kAddresses));
    s.start_time = 1000 + static_cast<std::int64_t>(r.below(2));
    if (r.below(2)) {
      ASSERT_TRUE(table.add(s));
    } else {
      s.id = table.add_dovecot(s);
    }
    model.sessions[s.id] = s;
  }
  std::vector<ConnectionId> got;
  for (SessionRef ref : table.select(SessionFilter{})) got.push_back(table.id_of(ref));
  EXPECT_EQ(got, model.select(SessionFilter{}));
}

TEST(SessionTable, DovecotGroupsCountIdenticalConnectionsOfOneProcess) {
  SessionTable table;
  for (int i = 0; i < 3; i++) table.add_dovecot(make("jane", "192.0.2.1", 7));
  table.add_dovecot(make("jane", "192.0.2.1", 8));
  table.add_dovecot(make("", "192.0.2.1", 8));  // not logged in: not dumped
  ASSERT_TRUE(table.add(make("bob", "192.0.2.9", 2)));
  ASSERT_TRUE(table.add(make("bob", "192.0.2.9", 2)));
  std::vector<SessionRef> refs;
  std::vector<std::uint32_t> starts;
  table.dovecot_groups(&refs, &starts);
  ASSERT_EQ(refs.size(), 6u);
  std::multiset<std::pair<std::string, std::size_t>> groups;
  for (std::size_t g = 0; g < starts.size(); g++) {
    std::size_t end = g + 1 < starts.size() ? starts[g + 1] : refs.size();
    Session first = table.get(refs[starts[g]]);
    for (std::size_t i = starts[g]; i < end; i++) {
      EXPECT_TRUE(table.same_dovecot_group(refs[starts[g]], refs[i]));
    }
    groups.insert({first.user + "/" + std::to_string(first.pid), end - starts[g]});
  }
  EXPECT_EQ(groups, (std::multiset<std::pair<std::string, std::size_t>>{
                        {"jane/1007", 3}, {"jane/1008", 1}, {"bob/1002", 2}}));
}

}  // namespace
}  // namespace anvil
