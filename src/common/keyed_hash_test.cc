#include "common/keyed_hash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <unordered_set>

namespace anvil {
namespace {

// Ids built so that an unkeyed mix of the two halves gives them all one
// value: high = c ^ (low * k) for the multiplier k of such a mix. A peer
// that knows the function can send ids like these.
std::vector<ConnectionId> crafted_ids(std::size_t count) {
  constexpr std::uint64_t k = 0x9e3779b97f4a7c15ULL;
  std::vector<ConnectionId> ids;
  for (std::uint64_t low = 1; low <= count; low++) ids.push_back({0x1234 ^ (low * k), low});
  return ids;
}

template <typename Hash>
std::size_t largest_bucket(const std::vector<ConnectionId>& ids) {
  std::unordered_set<ConnectionId, Hash> set(ids.begin(), ids.end());
  std::size_t largest = 0;
  for (std::size_t b = 0; b < set.bucket_count(); b++)
    largest = std::max(largest, set.bucket_size(b));
  return largest;
}

TEST(KeyedHash, CraftedConnectionIdsSpreadLikeRandomOnes) {
  auto ids = crafted_ids(6000);
  // The unkeyed hash of the public header puts every crafted id in one
  // bucket: each insert then compares against all earlier ones.
  EXPECT_EQ(largest_bucket<ConnectionIdHash>(ids), ids.size());
  // Keyed, the fullest bucket holds a handful, as for random ids.
  EXPECT_LE(largest_bucket<KeyedHash>(ids), 12u);
}

TEST(KeyedHash, UsesAllOfBothHalves) {
  KeyedHash hash;
  EXPECT_NE(hash(ConnectionId{1, 2}), hash(ConnectionId{2, 1}));
  EXPECT_NE(hash(ConnectionId{0, 1}), hash(ConnectionId{1ULL << 63, 1}));
  EXPECT_EQ(hash(ConnectionId{5, 6}), hash(ConnectionId{5, 6}));
}

TEST(KeyedHash, StringsAndViewsAgree) {
  KeyedHash hash;
  std::string name = "jane@example.com";
  EXPECT_EQ(hash(name), hash(std::string_view(name)));
  EXPECT_NE(hash(std::string_view("jane")), hash(std::string_view("jana")));
}

}  // namespace
}  // namespace anvil
