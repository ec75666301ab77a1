#include "client/session_store.h"

#include <cstring>

namespace anvil {

std::size_t SessionStore::find(const ConnectionId& id) const {
  if (slots_.empty()) return kNone;
  for (std::size_t i = home(id);; i = (i + 1) & mask()) {
    const Slot& slot = slots_[i];
    if (slot.offset == kEmpty) return kNone;
    if (slot.id == id) return i;
  }
}

std::optional<std::string_view> SessionStore::fields(const ConnectionId& id) const {
  std::size_t i = find(id);
  if (i == kNone) return std::nullopt;
  return text(slots_[i]);
}

void SessionStore::compact() {
  std::string live;
  live.reserve(arena_.size() - dead_);
  for (Slot& slot : slots_) {
    if (slot.offset == kEmpty) continue;
    std::string_view old = text(slot);
    slot.offset = static_cast<std::uint32_t>(live.size());
    live += old;
  }
  arena_ = std::move(live);
  dead_ = 0;
}

bool SessionStore::store(std::string_view fields, Slot* slot) {
  if (dead_ > arena_.size() / 2 && dead_ > 64 * 1024) compact();
  if (arena_.size() + fields.size() >= kEmpty) {
    compact();
    if (arena_.size() + fields.size() >= kEmpty) return false;
  }
  slot->offset = static_cast<std::uint32_t>(arena_.size());
  slot->length = static_cast<std::uint32_t>(fields.size());
  arena_ += fields;
  return true;
}

void SessionStore::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
  for (const Slot& slot : old) {
    if (slot.offset == kEmpty) continue;
    std::size_t i = home(slot.id);
    while (slots_[i].offset != kEmpty) i = (i + 1) & mask();
    slots_[i] = slot;
  }
}

bool SessionStore::insert(const ConnectionId& id, std::string_view fields) {
  if (find(id) != kNone) return false;
  if ((size_ + 1) * 4 > slots_.size() * 3) grow();  // at most 3/4 full
  Slot slot;
  slot.id = id;
  if (!store(fields, &slot)) return false;
  std::size_t i = home(id);
  while (slots_[i].offset != kEmpty) i = (i + 1) & mask();
  slots_[i] = slot;
  size_++;
  return true;
}

bool SessionStore::replace(const ConnectionId& id, std::string_view fields) {
  std::size_t i = find(id);
  if (i == kNone) return false;
  Slot updated = slots_[i];
  std::uint32_t old_length = updated.length;
  // store() may compact, which moves every text, this one's too.
  if (!store(fields, &updated)) return false;
  slots_[i].offset = updated.offset;
  slots_[i].length = updated.length;
  dead_ += old_length;
  return true;
}

bool SessionStore::erase(const ConnectionId& id) {
  std::size_t hole = find(id);
  if (hole == kNone) return false;
  dead_ += slots_[hole].length;
  // Backward shift: later members of the run move up into the hole unless
  // their home lies cyclically after it, so no tombstones are needed.
  for (std::size_t i = (hole + 1) & mask();; i = (i + 1) & mask()) {
    Slot& slot = slots_[i];
    if (slot.offset == kEmpty) break;
    std::size_t want = home(slot.id);
    bool movable = hole <= i ? (want <= hole || want > i) : (want <= hole && want > i);
    if (movable) {
      slots_[hole] = slot;
      hole = i;
    }
  }
  slots_[hole] = Slot{};
  size_--;
  if (size_ == 0) {
    arena_.clear();
    dead_ = 0;
  }
  return true;
}

}  // namespace anvil
