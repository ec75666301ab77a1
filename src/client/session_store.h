// The sessions a libanvil Client has registered, each with its encoded
// fields (what follows the id on a CONNECT line), kept to register them
// again after a reconnect. An open-addressing table of ids (24 bytes a
// slot) over one arena of field texts: no allocation per session, and a
// lookup touches one or two cache lines. Ids are the Client's own random
// ones, so probing stays short.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "anvil/connection_id.h"

namespace anvil {

class SessionStore {
 public:
  // False, and nothing changes, if the id is present or the arena would
  // pass 4 GiB of live text.
  bool insert(const ConnectionId& id, std::string_view fields);
  // False if the id is absent.
  bool replace(const ConnectionId& id, std::string_view fields);
  bool erase(const ConnectionId& id);
  bool contains(const ConnectionId& id) const { return find(id) != kNone; }
  std::optional<std::string_view> fields(const ConnectionId& id) const;
  std::size_t size() const { return size_; }
  // Calls f(id, fields) for every session, in no particular order.
  template <typename F>
  void for_each(F f) const {
    for (const Slot& slot : slots_) {
      if (slot.offset != kEmpty) f(slot.id, text(slot));
    }
  }
  // Bytes of field text held, live and dead (tests).
  std::size_t arena_bytes() const { return arena_.size(); }

 private:
  static constexpr std::uint32_t kEmpty = UINT32_MAX;
  static constexpr std::size_t kNone = SIZE_MAX;
  struct Slot {
    ConnectionId id;
    std::uint32_t offset = kEmpty;
    std::uint32_t length = 0;
  };
  std::size_t home(const ConnectionId& id) const { return ConnectionIdHash{}(id)&mask(); }
  std::size_t mask() const { return slots_.size() - 1; }
  std::size_t find(const ConnectionId& id) const;
  std::string_view text(const Slot& slot) const {
    return {arena_.data() + slot.offset, slot.length};
  }
  // Appends text to the arena (compacting it first when most of it is
  // dead); false if it cannot be held.
  bool store(std::string_view fields, Slot* slot);
  void compact();
  void grow();

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
  std::string arena_;
  std::size_t dead_ = 0;  // arena bytes of erased or replaced fields
};

}  // namespace anvil
