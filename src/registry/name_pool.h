// Interned names for the registry: each distinct service, user, alternative
// field or value is stored once, in one byte arena, and sessions hold a
// 32-bit NameId. A name lives while something holds a reference to it.
//
// Every name knows its ASCII-folded form (the name itself when it has no
// upper-case letters), which is interned too, so that case-insensitive
// indexes key on a NameId. A folded name also anchors the registry's list
// of sessions for that name (anchor_head, anchor_size): one place for a
// user's sessions, however they spell the name.
//
// Names are chosen by peers: the index hashes with the process's keyed
// hash (common/keyed_hash.h).
#pragma once

#include <absl/container/flat_hash_set.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace anvil {

using NameId = std::uint32_t;
inline constexpr std::uint32_t kNoSlot = 0xffffffff;

class NamePool {
 public:
  NamePool();
  NamePool(const NamePool&) = delete;
  NamePool& operator=(const NamePool&) = delete;

  // The id of `text`, with one more reference to it.
  NameId acquire(std::string_view text);
  // Takes one more reference to a live name.
  void retain(NameId id) { entries_[id].refs++; }
  // Drops one reference; the name goes with the last.
  void release(NameId id);
  // The id of `text` if it is interned; takes no reference.
  std::optional<NameId> find(std::string_view text) const;

  std::string_view text(NameId id) const {
    const Entry& e = entries_[id];
    return {bytes_.data() + e.offset, e.length};
  }
  NameId folded(NameId id) const { return entries_[id].folded; }

  // The registry's list of sessions under a folded name.
  std::uint32_t& anchor_head(NameId id) { return entries_[id].anchor_head; }
  std::uint32_t anchor_head(NameId id) const { return entries_[id].anchor_head; }
  std::uint32_t& anchor_size(NameId id) { return entries_[id].anchor_size; }
  std::uint32_t anchor_size(NameId id) const { return entries_[id].anchor_size; }

  // Ids are below this bound; a live name has references.
  std::size_t id_bound() const { return entries_.size(); }
  bool live(NameId id) const { return entries_[id].refs > 0; }
  std::size_t size() const { return index_.size(); }

 private:
  struct Entry {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
    std::uint32_t refs = 0;  // 0: free, and `offset` links the free list
    NameId folded = 0;
    std::uint32_t anchor_head = kNoSlot;
    std::uint32_t anchor_size = 0;
  };
  // The index holds ids and hashes the text they name; lookups by text
  // need no id (transparent).
  struct Hash {
    using is_transparent = void;
    const NamePool* pool;
    std::size_t operator()(NameId id) const { return (*this)(pool->text(id)); }
    std::size_t operator()(std::string_view text) const;
  };
  struct Eq {
    using is_transparent = void;
    const NamePool* pool;
    bool operator()(NameId a, NameId b) const { return a == b; }
    bool operator()(NameId a, std::string_view b) const { return pool->text(a) == b; }
    bool operator()(std::string_view a, NameId b) const { return a == pool->text(b); }
  };

  NameId store(std::string_view text);
  void compact();

  std::vector<char> bytes_;
  std::size_t dead_bytes_ = 0;  // of released names, until the next compaction
  std::vector<Entry> entries_;
  NameId free_ = kNoSlot;
  absl::flat_hash_set<NameId, Hash, Eq> index_;
};

}  // namespace anvil
