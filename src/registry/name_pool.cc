#include "registry/name_pool.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "common/keyed_hash.h"
#include "common/user_mask.h"

namespace anvil {

namespace {
// Released text is reclaimed once it is at least this much and at least
// half the arena.
constexpr std::size_t kMinCompaction = 64 * 1024;
}  // namespace

std::size_t NamePool::Hash::operator()(std::string_view text) const {
  return keyed_hash_bytes(text.data(), text.size());
}

NamePool::NamePool() : index_(0, Hash{this}, Eq{this}) {}

std::optional<NameId> NamePool::find(std::string_view text) const {
  auto it = index_.find(text);
  if (it == index_.end()) return std::nullopt;
  return *it;
}

NameId NamePool::acquire(std::string_view text) {
  if (auto it = index_.find(text); it != index_.end()) {
    entries_[*it].refs++;
    return *it;
  }
  std::string folded = ascii_fold(text);
  NameId folded_id = folded == text ? kNoSlot : acquire(folded);
  NameId id = store(text);
  entries_[id].folded = folded_id == kNoSlot ? id : folded_id;
  index_.insert(id);
  return id;
}

void NamePool::release(NameId id) {
  Entry& e = entries_[id];
  if (--e.refs > 0) return;
  index_.erase(id);
  NameId folded = e.folded;
  dead_bytes_ += e.length;
  e.offset = free_;
  e.length = 0;
  free_ = id;
  if (folded != id) release(folded);
}

NameId NamePool::store(std::string_view text) {
  if (dead_bytes_ >= kMinCompaction && dead_bytes_ * 2 >= bytes_.size()) compact();
  if (bytes_.size() + text.size() > UINT32_MAX) {
    throw std::length_error("anvild's name arena is full (4 GiB of distinct names)");
  }
  NameId id;
  if (free_ != kNoSlot) {
    id = free_;
    free_ = entries_[id].offset;
  } else {
    id = static_cast<NameId>(entries_.size());
    entries_.emplace_back();
  }
  Entry& e = entries_[id];
  e.offset = static_cast<std::uint32_t>(bytes_.size());
  e.length = static_cast<std::uint32_t>(text.size());
  e.refs = 1;
  e.anchor_head = kNoSlot;
  e.anchor_size = 0;
  bytes_.insert(bytes_.end(), text.begin(), text.end());
  return id;
}

// Copies the live names into a fresh arena. Their texts do not change, so
// neither do their hashes: the index stays as it is.
void NamePool::compact() {
  std::vector<char> fresh;
  fresh.reserve(bytes_.size() - dead_bytes_ + bytes_.size() / 4);
  for (Entry& e : entries_) {
    if (e.refs == 0) continue;
    std::uint32_t offset = static_cast<std::uint32_t>(fresh.size());
    fresh.insert(fresh.end(), bytes_.begin() + e.offset, bytes_.begin() + e.offset + e.length);
    e.offset = offset;
  }
  bytes_ = std::move(fresh);
  dead_bytes_ = 0;
}

}  // namespace anvil
