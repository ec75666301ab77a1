// The client's session store against a plain map, on random operations in
// small tables (long probe runs that wrap around) and with enough
// replacing and erasing to compact its arena many times.
#include "client/session_store.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace anvil {
namespace {

void check_same(const SessionStore& store, const std::map<ConnectionId, std::string>& model) {
  ASSERT_EQ(store.size(), model.size());
  std::map<ConnectionId, std::string> listed;
  store.for_each([&](const ConnectionId& id, std::string_view fields) {
    ASSERT_TRUE(listed.emplace(id, std::string(fields)).second);
  });
  ASSERT_EQ(listed, model);
  for (const auto& [id, fields] : model) {
    ASSERT_TRUE(store.contains(id));
    ASSERT_EQ(store.fields(id), fields);
  }
}

TEST(SessionStore, AgreesWithAMapOnRandomOperations) {
  for (std::uint64_t seed = 1; seed <= 20; seed++) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 random(seed);
    SessionStore store;
    std::map<ConnectionId, std::string> model;
    std::vector<ConnectionId> ids;  // a pool, so operations meet known ids
    std::size_t pool = 8 + seed * 8;
    for (std::size_t i = 0; i < pool; i++) ids.push_back({random(), random()});
    for (int step = 0; step < 20000; step++) {
      const ConnectionId& id = ids[random() % ids.size()];
      std::string fields(random() % 40, static_cast<char>('a' + step % 26));
      switch (random() % 4) {
        case 0:
        case 1:
          ASSERT_EQ(store.insert(id, fields), !model.contains(id));
          model.emplace(id, fields);
          break;
        case 2:
          ASSERT_EQ(store.replace(id, fields), model.contains(id));
          if (model.contains(id)) model[id] = fields;
          break;
        default: ASSERT_EQ(store.erase(id), model.erase(id) == 1);
      }
      if (step % 1000 == 0) check_same(store, model);
    }
    check_same(store, model);
  }
}

TEST(SessionStore, DeadTextIsGivenBackAndEmptyFieldsAreKept) {
  SessionStore store;
  ConnectionId kept{1, 2}, churned{3, 4};
  ASSERT_TRUE(store.insert(kept, ""));
  ASSERT_TRUE(store.insert(churned, std::string(100, 'x')));
  for (int i = 0; i < 100000; i++) {
    ASSERT_TRUE(store.replace(churned, std::string(100, static_cast<char>('a' + i % 26))));
  }
  // Replaced 100,000 times: the arena holds about what is live, not 10 MB.
  EXPECT_LT(store.arena_bytes(), 256u * 1024);
  EXPECT_EQ(store.fields(kept), "");
  EXPECT_EQ(store.fields(churned), std::string(100, static_cast<char>('a' + 99999 % 26)));
  ASSERT_TRUE(store.erase(churned));
  EXPECT_FALSE(store.contains(churned));
  EXPECT_EQ(store.fields(kept), "");
  EXPECT_EQ(store.size(), 1u);
}

}  // namespace
}  // namespace anvil
