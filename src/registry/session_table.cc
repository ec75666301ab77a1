#include "registry/session_table.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/keyed_hash.h"

namespace anvil {

namespace {

constexpr std::uint32_t kChunkBits = 12;  // 4096 records, 256 KiB, per chunk
constexpr std::uint32_t kChunkSize = 1u << kChunkBits;
// Below this many results a plain comparison sort is cheapest; above it,
// the distinct user names are sorted once and the sessions bucketed.
constexpr std::size_t kRankSortFrom = 4096;

enum Flags : std::uint8_t {
  kLive = 1,
  kDovecot = 2,       // registered in Dovecot 2.3's protocol; its id is derived
  kClientV4 = 4,      // the client address is the record's client_v4
  kClientV6 = 8,      // the client address is in the extra record
  kDest = 16,         // an IPv4 proxy destination, in the extra record
  kDovecotHead = 32,  // heads its Dovecot key's chain (the one the key index holds)
  kDestV6 = 64,       // an IPv6 proxy destination, in the extra record's v6 pair
};

std::uint32_t clamp_seconds(std::int64_t seconds) {
  return static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(seconds, 0, std::numeric_limits<std::uint32_t>::max()));
}

std::uint64_t v4_key(std::uint32_t address, std::uint32_t slot) {
  return std::uint64_t{address} << 32 | slot;
}

}  // namespace

// 64 bytes. A free slot has no kLive flag and links the free list through
// owner_next.
struct SessionTable::Record {
  OwnerId owner = 0;
  std::uint32_t generation = 0;
  std::uint32_t uid = kNoUid;
  NameId service = 0;
  NameId user = 0;  // the empty name before login
  std::uint32_t client_v4 = 0;
  std::uint32_t start = 0;  // unix seconds
  std::uint32_t extra = kNoSlot;
  std::uint32_t user_prev = kNoSlot, user_next = kNoSlot;
  std::uint32_t owner_prev = kNoSlot, owner_next = kNoSlot;
  std::uint32_t dovecot_next = kNoSlot;  // the next session with the same Dovecot key
  std::uint8_t flags = 0;
};

// What only some sessions have. A free one links the free list through
// next_free.
struct SessionTable::Extra {
  ConnectionId id;
  std::uint32_t dest_v4 = 0;   // with kDest
  std::uint32_t v6 = kNoSlot;  // IPv6 addresses (kClientV6, kDestV6): an index in v6_
  // The first alternative name (field, value); most sessions have at most
  // one. With alts == 2 the others are in more_alts_.
  std::pair<NameId, NameId> alt{0, 0};
  std::uint16_t client_port = 0;
  std::uint16_t local_port = 0;
  std::uint16_t dest_port = 0;
  std::uint8_t alts = 0;  // 0: none, 1: alt only, 2: alt and more_alts_
};

template <typename F>
void SessionTable::for_each_alt(std::uint32_t extra, F f) const {
  const Extra& e = ext(extra);
  if (e.alts == 0) return;
  f(e.alt.first, e.alt.second);
  if (e.alts == 1) return;
  for (auto [field, value] : more_alts_.find(extra)->second) f(field, value);
}

SessionTable::Tagged<ConnectionId> SessionTable::tagged(const ConnectionId& id) {
  return {id, static_cast<std::uint32_t>(KeyedHash{}(id))};
}

SessionTable::Tagged<SessionTable::DovecotProbe> SessionTable::tagged(const DovecotProbe& key) {
  unsigned char bytes[8 + 4 + 4 + 1 + 16] = {};
  std::memcpy(bytes, &key.owner, 8);
  std::memcpy(bytes + 8, &key.service, 4);
  std::memcpy(bytes + 12, &key.user, 4);
  if (key.ip) {
    bytes[16] = static_cast<unsigned char>(key.ip->family());
    std::memcpy(bytes + 17, key.ip->bytes().data(), 16);
  }
  return {key, static_cast<std::uint32_t>(keyed_hash_bytes(bytes, sizeof bytes))};
}

bool SessionTable::IdEq::operator()(Entry a, const Tagged<ConnectionId>& b) const {
  return a >> 32 == b.tag && table->ext(table->rec(slot_of(a)).extra).id == b.key;
}

bool SessionTable::DovecotEq::operator()(Entry a, Entry b) const {
  return a == b ||
         (a >> 32 == b >> 32 && table->probe_of(slot_of(a)) == table->probe_of(slot_of(b)));
}

bool SessionTable::DovecotEq::operator()(Entry a, const Tagged<DovecotProbe>& b) const {
  return a >> 32 == b.tag && table->probe_of(slot_of(a)) == b.key;
}

SessionTable::SessionTable()
    : by_id_(0, TagHash{}, IdEq{this}), by_dovecot_key_(0, TagHash{}, DovecotEq{this}) {
  static_assert(sizeof(Record) <= 64);
  static_assert(sizeof(Extra) == 40);
  derived_prefix_ = ConnectionId::random().high;
  empty_name_ = names_.acquire("");
}

SessionTable::~SessionTable() = default;

SessionTable::Record& SessionTable::rec(std::uint32_t slot) {
  return chunks_[slot >> kChunkBits][slot & (kChunkSize - 1)];
}

const SessionTable::Record& SessionTable::rec(std::uint32_t slot) const {
  return chunks_[slot >> kChunkBits][slot & (kChunkSize - 1)];
}

SessionTable::DovecotProbe SessionTable::probe_of(std::uint32_t slot) const {
  const Record& r = rec(slot);
  return {r.owner, r.service, r.user, client_ip(r)};
}

std::optional<IpAddress> SessionTable::client_ip(const Record& r) const {
  if (r.flags & kClientV4) return IpAddress::from_v4_number(r.client_v4);
  if (r.flags & kClientV6) {
    return IpAddress::from_bytes(IpAddress::Family::v6, v6_[ext(r.extra).v6].client);
  }
  return std::nullopt;
}

std::optional<IpAddress> SessionTable::dest_ip(const Record& r) const {
  if (r.flags & kDest) return IpAddress::from_v4_number(ext(r.extra).dest_v4);
  if (r.flags & kDestV6) {
    return IpAddress::from_bytes(IpAddress::Family::v6, v6_[ext(r.extra).v6].dest);
  }
  return std::nullopt;
}

std::uint32_t SessionTable::new_slot() {
  if (free_slot_ != kNoSlot) {
    std::uint32_t slot = free_slot_;
    free_slot_ = rec(slot).owner_next;
    return slot;
  }
  if (slot_count_ == kNoSlot - 1) throw std::length_error("anvild's registry is full");
  if ((slot_count_ & (kChunkSize - 1)) == 0) {
    chunks_.push_back(std::make_unique<Record[]>(kChunkSize));
  }
  return slot_count_++;
}

SessionTable::Extra& SessionTable::ext(std::uint32_t index) {
  return extras_[index];
}

const SessionTable::Extra& SessionTable::ext(std::uint32_t index) const {
  return extras_[index];
}

void SessionTable::free_extra(std::uint32_t index) {
  clear_extra(index);
  extras_.free(index);
}

// Gives back the alternative names and IPv6 addresses of an extra record.
void SessionTable::clear_extra(std::uint32_t index) {
  for_each_alt(index, [this](NameId field, NameId value) {
    names_.release(field);
    names_.release(value);
  });
  Extra& e = ext(index);
  if (e.alts == 2) more_alts_.erase(index);
  e.alts = 0;
  if (e.v6 != kNoSlot) v6_.free(e.v6);
  e.v6 = kNoSlot;
}

// Sets what update() may change: user, addresses, ports and alt names.
void SessionTable::set_fields(std::uint32_t slot, const Session& s, bool dovecot) {
  Record& r = rec(slot);
  r.user = names_.acquire(s.user);
  bool needs_extra = !dovecot || (s.client_ip && s.client_ip->family() == IpAddress::Family::v6);
  if (needs_extra && r.extra == kNoSlot) r.extra = extras_.allocate();
  auto v6_pair = [&]() -> V6Pair& {
    Extra& e = ext(r.extra);
    if (e.v6 == kNoSlot) e.v6 = v6_.allocate();
    return v6_[e.v6];
  };
  if (s.client_ip && s.client_ip->family() == IpAddress::Family::v4) {
    r.flags |= kClientV4;
    r.client_v4 = s.client_ip->v4_number();
  } else if (s.client_ip) {
    r.flags |= kClientV6;
    v6_pair().client = s.client_ip->bytes();
  }
  if (dovecot) return;
  Extra& e = ext(r.extra);
  e.client_port = s.client_port;
  e.local_port = s.local_port;
  if (s.dest_ip && s.dest_ip->family() == IpAddress::Family::v4) {
    r.flags |= kDest;
    e.dest_v4 = s.dest_ip->v4_number();
  } else if (s.dest_ip) {
    r.flags |= kDestV6;
    v6_pair().dest = s.dest_ip->bytes();
  }
  if (s.dest_ip) e.dest_port = s.dest_port;
  for (std::size_t i = 0; i < s.alt_names.size(); i++) {
    NameId field = names_.acquire(s.alt_names[i].field);
    std::pair<NameId, NameId> alt{field, names_.acquire(s.alt_names[i].value)};
    if (i == 0) {
      e.alt = alt;
      e.alts = 1;
    } else {
      if (i == 1) {
        ext(r.extra).alts = 2;
        more_alts_[r.extra].reserve(s.alt_names.size() - 1);
      }
      more_alts_[r.extra].push_back(alt);
    }
  }
}

void SessionTable::clear_fields(std::uint32_t slot) {
  Record& r = rec(slot);
  names_.release(r.user);
  r.flags &= static_cast<std::uint8_t>(~(kClientV4 | kClientV6 | kDest | kDestV6));
  if (r.extra == kNoSlot) return;
  clear_extra(r.extra);
  Extra& e = ext(r.extra);
  e.client_port = e.local_port = e.dest_port = 0;
  e.dest_v4 = 0;
}

void SessionTable::link_user(std::uint32_t slot) {
  Record& r = rec(slot);
  NameId key = names_.folded(r.user);
  std::uint32_t& head = names_.anchor_head(key);
  r.user_prev = kNoSlot;
  r.user_next = head;
  if (head != kNoSlot) rec(head).user_prev = slot;
  head = slot;
  names_.anchor_size(key)++;
}

void SessionTable::unlink_user(std::uint32_t slot) {
  Record& r = rec(slot);
  NameId key = names_.folded(r.user);
  if (r.user_prev != kNoSlot) {
    rec(r.user_prev).user_next = r.user_next;
  } else {
    names_.anchor_head(key) = r.user_next;
  }
  if (r.user_next != kNoSlot) rec(r.user_next).user_prev = r.user_prev;
  names_.anchor_size(key)--;
}

template <typename Apply>
void SessionTable::for_each_index_entry(std::uint32_t slot, Apply apply) {
  const Record& r = rec(slot);
  if (r.flags & kClientV4) apply(client_v4_, v4_key(r.client_v4, slot));
  if (r.extra == kNoSlot) return;
  const Extra& e = ext(r.extra);
  if (r.flags & kClientV6) apply(client_v6_, V6Key{v6_[e.v6].client, slot});
  if (r.flags & kDest) apply(dest_v4_, v4_key(e.dest_v4, slot));
  if (r.flags & kDestV6) apply(dest_v6_, V6Key{v6_[e.v6].dest, slot});
  for_each_alt(r.extra, [&](NameId field, NameId value) {
    apply(by_alt_, AltKey{names_.folded(field), names_.folded(value), slot});
  });
}

// The user list and the address and alternative-name indexes.
void SessionTable::index(std::uint32_t slot) {
  link_user(slot);
  for_each_index_entry(slot, [](auto& index, const auto& entry) { index.insert(entry); });
}

void SessionTable::unindex(std::uint32_t slot) {
  unlink_user(slot);
  for_each_index_entry(slot, [](auto& index, const auto& entry) { index.erase(entry); });
}

std::uint32_t SessionTable::place(const Session& s, bool dovecot) {
  std::uint32_t slot = new_slot();
  Record& r = rec(slot);
  std::uint32_t generation = r.generation;
  r = Record{};
  r.generation = generation;
  r.owner = s.owner;
  r.uid = s.uid;
  r.service = names_.acquire(s.service);
  r.start = clamp_seconds(s.start_time);
  r.flags = static_cast<std::uint8_t>(kLive | (dovecot ? kDovecot : 0));
  set_fields(slot, s, dovecot);
  if (!dovecot) ext(r.extra).id = s.id;
  index(slot);

  auto [it, created] = owners_.try_emplace(s.owner);
  Owner& owner = it->second;
  if (created) owner.pid = s.pid;
  r.owner_next = owner.head;
  if (owner.head != kNoSlot) rec(owner.head).owner_prev = slot;
  owner.head = slot;
  owner.size++;
  count_by_uid_[s.uid]++;
  count_by_pid_[owner.pid]++;
  live_++;
  added_total_++;
  return slot;
}

bool SessionTable::add(const Session& session) {
  if (session.id.high == derived_prefix_) return false;
  // One probe: the slot is placed only when the id is free.
  bool added = false;
  auto probe = tagged(session.id);
  by_id_.lazy_emplace(probe, [&](const auto& construct) {
    construct(entry(probe.tag, place(session, false)));
    added = true;
  });
  return added;
}

ConnectionId SessionTable::add_dovecot(const Session& session) {
  std::uint32_t slot = place(session, true);
  // The first session with a key heads its chain; later ones follow it.
  auto [it, inserted] = by_dovecot_key_.insert(entry(tagged(probe_of(slot)).tag, slot));
  if (inserted) {
    rec(slot).flags |= kDovecotHead;
  } else {
    Record& head = rec(slot_of(*it));
    rec(slot).dovecot_next = head.dovecot_next;
    head.dovecot_next = slot;
  }
  return id_of({slot, rec(slot).generation});
}

void SessionTable::erase_slot(std::uint32_t slot) {
  Record& r = rec(slot);
  unindex(slot);
  if (r.flags & kDovecot) {
    // Out of its key's chain: as head, its successor takes its place.
    auto it = by_dovecot_key_.find(tagged(probe_of(slot)));
    if (slot_of(*it) == slot) {
      std::uint32_t tag = static_cast<std::uint32_t>(*it >> 32);
      by_dovecot_key_.erase(it);
      if (r.dovecot_next != kNoSlot) {
        by_dovecot_key_.insert(entry(tag, r.dovecot_next));
        rec(r.dovecot_next).flags |= kDovecotHead;
      }
    } else {
      std::uint32_t at = slot_of(*it);
      while (rec(at).dovecot_next != slot) at = rec(at).dovecot_next;
      rec(at).dovecot_next = r.dovecot_next;
    }
  } else {
    by_id_.erase(entry(tagged(ext(r.extra).id).tag, slot));
  }
  auto owner_it = owners_.find(r.owner);
  Owner& owner = owner_it->second;
  if (r.owner_prev != kNoSlot) {
    rec(r.owner_prev).owner_next = r.owner_next;
  } else {
    owner.head = r.owner_next;
  }
  if (r.owner_next != kNoSlot) rec(r.owner_next).owner_prev = r.owner_prev;
  if (auto pid = count_by_pid_.find(owner.pid); --pid->second == 0) count_by_pid_.erase(pid);
  if (--owner.size == 0) owners_.erase(owner_it);
  if (auto uid = count_by_uid_.find(r.uid); --uid->second == 0) count_by_uid_.erase(uid);

  names_.release(r.user);
  names_.release(r.service);
  if (r.extra != kNoSlot) free_extra(r.extra);
  r.flags = 0;
  r.extra = kNoSlot;
  r.generation++;
  r.owner_next = free_slot_;
  free_slot_ = slot;
  live_--;
  removed_total_++;
}

std::vector<SessionTable::CensusRow> SessionTable::census() const {
  // Indexed by service name id, then state.
  absl::flat_hash_map<NameId, std::array<std::size_t, 3>> counts;
  for (std::uint32_t slot = 0; slot < slot_count_; slot++) {
    const Record& r = rec(slot);
    if (!(r.flags & kLive)) continue;
    State state = (r.flags & (kDest | kDestV6)) ? State::proxied
                  : r.user == empty_name_       ? State::prelogin
                                                : State::logged_in;
    counts[r.service][static_cast<std::size_t>(state)]++;
  }
  std::vector<CensusRow> rows;
  for (const auto& [service, by_state] : counts) {
    for (std::size_t state = 0; state < by_state.size(); state++) {
      rows.push_back(
          {std::string(names_.text(service)), static_cast<State>(state), by_state[state]});
    }
  }
  std::sort(rows.begin(), rows.end(), [](const CensusRow& a, const CensusRow& b) {
    return std::tie(a.service, a.state) < std::tie(b.service, b.state);
  });
  return rows;
}

bool SessionTable::remove_dovecot(const DovecotKey& key) {
  auto service = names_.find(key.service);
  auto user = names_.find(key.user);
  if (!service || !user) return false;
  auto it = by_dovecot_key_.find(tagged(DovecotProbe{key.owner, *service, *user, key.ip}));
  if (it == by_dovecot_key_.end()) return false;
  erase_slot(slot_of(*it));
  return true;
}

std::size_t SessionTable::count_dovecot(std::string_view service,
                                        const std::optional<IpAddress>& ip,
                                        std::string_view user) const {
  auto service_id = names_.find(service);
  auto user_id = names_.find(user);
  if (!service_id || !user_id) return 0;
  std::size_t count = 0;
  for (std::uint32_t at = names_.anchor_head(names_.folded(*user_id)); at != kNoSlot;
       at = rec(at).user_next) {
    const Record& r = rec(at);
    count += r.user == *user_id && r.service == *service_id && client_ip(r) == ip;
  }
  return count;
}

bool SessionTable::update(const Session& updated) {
  auto slot = find_slot(updated.id);
  if (!slot) return false;
  bool dovecot = rec(*slot).flags & kDovecot;
  if (dovecot) return false;  // a Dovecot session changes by DISCONNECT and CONNECT
  unindex(*slot);
  clear_fields(*slot);
  set_fields(*slot, updated, false);
  index(*slot);
  return true;
}

bool SessionTable::remove(const ConnectionId& id) {
  auto slot = find_slot(id);
  if (!slot) return false;
  erase_slot(*slot);
  return true;
}

bool SessionTable::remove(SessionRef ref) {
  if (!alive(ref)) return false;
  erase_slot(ref.slot);
  return true;
}

std::size_t SessionTable::remove_owner(OwnerId owner) {
  auto it = owners_.find(owner);
  if (it == owners_.end()) return 0;
  std::size_t removed = it->second.size;
  // erase_slot drops the owner with its last session.
  for (std::uint32_t slot = it->second.head; slot != kNoSlot;) {
    std::uint32_t next = rec(slot).owner_next;
    erase_slot(slot);
    slot = next;
  }
  return removed;
}

std::optional<std::uint32_t> SessionTable::find_slot(const ConnectionId& id) const {
  if (id.high == derived_prefix_) {
    std::uint32_t slot = static_cast<std::uint32_t>(id.low);
    std::uint32_t generation = static_cast<std::uint32_t>(id.low >> 32);
    if (slot >= slot_count_) return std::nullopt;
    const Record& r = rec(slot);
    if (!(r.flags & kLive) || !(r.flags & kDovecot) || r.generation != generation) {
      return std::nullopt;
    }
    return slot;
  }
  auto it = by_id_.find(tagged(id));
  if (it == by_id_.end()) return std::nullopt;
  return slot_of(*it);
}

std::optional<SessionRef> SessionTable::find(const ConnectionId& id) const {
  auto slot = find_slot(id);
  if (!slot) return std::nullopt;
  return SessionRef{*slot, rec(*slot).generation};
}

bool SessionTable::alive(SessionRef ref) const {
  if (ref.slot >= slot_count_) return false;
  const Record& r = rec(ref.slot);
  return (r.flags & kLive) && r.generation == ref.generation;
}

ConnectionId SessionTable::id_of(SessionRef ref) const {
  const Record& r = rec(ref.slot);
  if (r.flags & kDovecot) {
    return ConnectionId{derived_prefix_, std::uint64_t{r.generation} << 32 | ref.slot};
  }
  return ext(r.extra).id;
}

OwnerId SessionTable::owner_of(SessionRef ref) const {
  return rec(ref.slot).owner;
}

std::int32_t SessionTable::pid_of(SessionRef ref) const {
  return owners_.find(rec(ref.slot).owner)->second.pid;
}

Session SessionTable::get(SessionRef ref) const {
  Session s;
  get(ref, &s);
  return s;
}

void SessionTable::get(SessionRef ref, Session* out) const {
  const Record& r = rec(ref.slot);
  Session& s = *out;
  s.id = id_of(ref);
  s.owner = r.owner;
  s.pid = pid_of(ref);
  s.uid = r.uid;
  s.service = names_.text(r.service);
  s.user = names_.text(r.user);
  s.client_ip = client_ip(r);
  s.dest_ip = dest_ip(r);
  s.start_time = r.start;
  s.client_port = s.local_port = s.dest_port = 0;
  std::size_t alt_names = 0;
  if (r.extra != kNoSlot && !(r.flags & kDovecot)) {
    const Extra& e = ext(r.extra);
    s.client_port = e.client_port;
    s.local_port = e.local_port;
    s.dest_port = e.dest_port;
    for_each_alt(r.extra, [&](NameId field, NameId value) {
      if (alt_names == s.alt_names.size()) s.alt_names.emplace_back();
      s.alt_names[alt_names].field = names_.text(field);
      s.alt_names[alt_names].value = names_.text(value);
      alt_names++;
    });
  }
  s.alt_names.resize(alt_names);
}

std::size_t SessionTable::owner_size(OwnerId owner) const {
  auto it = owners_.find(owner);
  return it == owners_.end() ? 0 : it->second.size;
}

std::size_t SessionTable::uid_size(std::uint32_t uid) const {
  auto it = count_by_uid_.find(uid);
  return it == count_by_uid_.end() ? 0 : it->second;
}

std::size_t SessionTable::pid_size(std::int32_t pid) const {
  auto it = count_by_pid_.find(pid);
  return it == count_by_pid_.end() ? 0 : it->second;
}

template <typename Visit>
void SessionTable::for_each_address(const absl::btree_set<std::uint64_t>& v4,
                                    const absl::btree_set<V6Key>& v6, const IpAddress& first,
                                    const IpAddress& last, Visit visit) const {
  if (first.family() == IpAddress::Family::v4) {
    auto end = v4.upper_bound(v4_key(last.v4_number(), kNoSlot));
    for (auto it = v4.lower_bound(v4_key(first.v4_number(), 0)); it != end; ++it) {
      visit(static_cast<std::uint32_t>(*it));
    }
    return;
  }
  auto end = v6.upper_bound({last.bytes(), kNoSlot});
  for (auto it = v6.lower_bound({first.bytes(), 0}); it != end; ++it) visit(it->second);
}

std::size_t SessionTable::address_size(const IpAddress& ip) const {
  std::size_t count = 0;
  for_each_address(client_v4_, client_v6_, ip, ip, [&](std::uint32_t) { count++; });
  return count;
}

std::size_t SessionTable::address_prelogin_size(const IpAddress& ip) const {
  std::size_t count = 0;
  for_each_address(client_v4_, client_v6_, ip, ip,
                   [&](std::uint32_t slot) { count += rec(slot).user == empty_name_; });
  return count;
}

std::size_t SessionTable::user_size(std::string_view user) const {
  auto id = names_.find(ascii_fold(user));
  return id ? names_.anchor_size(*id) : 0;
}

std::vector<std::uint32_t> SessionTable::candidates(const SessionFilter& filter) const {
  std::vector<std::uint32_t> out;
  auto add_user = [&](NameId key) {
    for (std::uint32_t at = names_.anchor_head(key); at != kNoSlot; at = rec(at).user_next) {
      out.push_back(at);
    }
  };
  if (!filter.ids.empty()) {
    for (const ConnectionId& id : filter.ids) {
      if (auto slot = find_slot(id)) out.push_back(*slot);
    }
  } else if (!filter.users.empty() && filter.alt_field.empty()) {
    for (const UserMask& mask : filter.users) {
      if (!mask.has_wildcards()) {
        if (auto key = names_.find(mask.folded())) add_user(*key);
        continue;
      }
      // The distinct folded names: those that anchor sessions.
      for (NameId id = 0; id < names_.id_bound(); id++) {
        if (names_.live(id) && names_.anchor_size(id) > 0 && mask.matches(names_.text(id))) {
          add_user(id);
        }
      }
    }
  } else if (!filter.users.empty()) {
    auto field = names_.find(ascii_fold(filter.alt_field));
    for (const UserMask& mask : filter.users) {
      if (!field) break;
      if (!mask.has_wildcards()) {
        if (auto value = names_.find(mask.folded())) {
          auto end = by_alt_.upper_bound({*field, *value, kNoSlot});
          for (auto it = by_alt_.lower_bound({*field, *value, 0}); it != end; ++it) {
            out.push_back(std::get<2>(*it));
          }
        }
        continue;
      }
      auto end = by_alt_.upper_bound({*field, kNoSlot, kNoSlot});
      for (auto it = by_alt_.lower_bound({*field, 0, 0}); it != end; ++it) {
        if (mask.matches(names_.text(std::get<1>(*it)))) out.push_back(std::get<2>(*it));
      }
    }
  } else if (!filter.networks.empty()) {
    for (const Cidr& net : filter.networks) {
      for_each_address(client_v4_, client_v6_, net.first(), net.last(),
                       [&](std::uint32_t slot) { out.push_back(slot); });
    }
  } else if (!filter.destinations.empty()) {
    for (const IpAddress& ip : filter.destinations) {
      for_each_address(dest_v4_, dest_v6_, ip, ip,
                       [&](std::uint32_t slot) { out.push_back(slot); });
    }
  } else {
    out.reserve(live_);
    for (std::uint32_t slot = 0; slot < slot_count_; slot++) {
      if (rec(slot).flags & kLive) out.push_back(slot);
    }
    return out;  // in slot order, each once
  }
  // Several alternatives may reach the same session.
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::size_t SessionTable::candidate_count(const SessionFilter& filter) const {
  return candidates(filter).size();
}

bool SessionTable::matches(const SessionFilter& filter, std::uint32_t slot) const {
  if (filter.empty() && filter.alt_field.empty()) return true;
  const Record& r = rec(slot);
  SessionRef ref{slot, r.generation};
  std::vector<std::pair<std::string_view, std::string_view>> alts;
  if (!filter.alt_field.empty() && r.extra != kNoSlot) {
    for_each_alt(r.extra, [&](NameId field, NameId value) {
      alts.emplace_back(names_.text(field), names_.text(value));
    });
  }
  return filter.matches(FilterSubject{id_of(ref), pid_of(ref), names_.text(r.service),
                                      names_.text(r.user), client_ip(r), dest_ip(r), alts,
                                      r.start});
}

// By user name, service, pid, start time and id.
void SessionTable::sort_slots(std::vector<std::uint32_t>& slots) const {
  struct Key {
    std::uint32_t user_rank;
    std::uint32_t slot;
    std::int32_t pid;
  };
  auto rest_less = [&](const Key& a, const Key& b) {
    const Record& x = rec(a.slot);
    const Record& y = rec(b.slot);
    if (x.service != y.service) return names_.text(x.service) < names_.text(y.service);
    if (a.pid != b.pid) return a.pid < b.pid;
    if (x.start != y.start) return x.start < y.start;
    return id_of({a.slot, x.generation}) < id_of({b.slot, y.generation});
  };
  if (slots.size() < kRankSortFrom) {
    std::vector<Key> keys;
    keys.reserve(slots.size());
    for (std::uint32_t slot : slots) keys.push_back({0, slot, pid_of({slot, 0})});
    std::sort(keys.begin(), keys.end(), [&](const Key& a, const Key& b) {
      NameId x = rec(a.slot).user, y = rec(b.slot).user;
      if (x != y) return names_.text(x) < names_.text(y);
      return rest_less(a, b);
    });
    for (std::size_t i = 0; i < keys.size(); i++) slots[i] = keys[i].slot;
    return;
  }
  // Rank the distinct names once, then bucket the sessions by rank.
  std::vector<std::uint32_t> rank(names_.id_bound(), kNoSlot);
  std::vector<NameId> users;
  for (std::uint32_t slot : slots) {
    NameId user = rec(slot).user;
    if (rank[user] == kNoSlot) {
      rank[user] = 0;
      users.push_back(user);
    }
  }
  // Names are compared by their first 16 bytes as two big-endian numbers,
  // and in full only where those agree: most comparisons then read no name.
  struct UserKey {
    std::uint64_t head, next;
    NameId user;
  };
  std::vector<UserKey> user_keys;
  user_keys.reserve(users.size());
  for (NameId user : users) {
    std::string_view text = names_.text(user);
    unsigned char bytes[16] = {};
    std::memcpy(bytes, text.data(), std::min(text.size(), sizeof bytes));
    auto word = [&](int from) {
      std::uint64_t value = 0;
      for (int i = from; i < from + 8; i++) value = value << 8 | bytes[i];
      return value;
    };
    user_keys.push_back({word(0), word(8), user});
  }
  std::sort(user_keys.begin(), user_keys.end(), [&](const UserKey& a, const UserKey& b) {
    if (a.head != b.head) return a.head < b.head;
    if (a.next != b.next) return a.next < b.next;
    return names_.text(a.user) < names_.text(b.user);
  });
  std::vector<std::uint32_t> bucket_start(users.size() + 1, 0);
  for (std::uint32_t i = 0; i < user_keys.size(); i++) rank[user_keys[i].user] = i;
  for (std::uint32_t slot : slots) bucket_start[rank[rec(slot).user] + 1]++;
  for (std::size_t i = 1; i < bucket_start.size(); i++) bucket_start[i] += bucket_start[i - 1];
  // Counting sort straight into the keys, then each user's run by the rest.
  auto sorted = std::make_unique_for_overwrite<Key[]>(slots.size());  // each is written once
  std::vector<std::uint32_t> fill(bucket_start.begin(), bucket_start.end() - 1);
  for (std::uint32_t slot : slots) {
    std::uint32_t user_rank = rank[rec(slot).user];
    sorted[fill[user_rank]++] = {user_rank, slot, pid_of({slot, 0})};
  }
  for (std::size_t b = 0; b + 1 < bucket_start.size(); b++) {
    if (bucket_start[b + 1] - bucket_start[b] > 1) {
      std::sort(sorted.get() + bucket_start[b], sorted.get() + bucket_start[b + 1], rest_less);
    }
  }
  for (std::size_t i = 0; i < slots.size(); i++) slots[i] = sorted[i].slot;
}

std::vector<SessionRef> SessionTable::select(const SessionFilter& filter) const {
  std::vector<std::uint32_t> slots = candidates(filter);
  std::erase_if(slots, [&](std::uint32_t slot) { return !matches(filter, slot); });
  sort_slots(slots);
  std::vector<SessionRef> out;
  out.reserve(slots.size());
  for (std::uint32_t slot : slots) out.push_back({slot, rec(slot).generation});
  return out;
}

bool SessionTable::same_dovecot_group(SessionRef a, SessionRef b) const {
  const Record& x = rec(a.slot);
  const Record& y = rec(b.slot);
  return x.user == y.user && x.service == y.service && pid_of(a) == pid_of(b) &&
         client_ip(x) == client_ip(y);
}

void SessionTable::dovecot_groups(std::vector<SessionRef>* refs,
                                  std::vector<std::uint32_t>* starts) const {
  refs->clear();
  starts->clear();
  refs->reserve(live_);
  // Sessions of Dovecot's protocol come grouped already: each chain of the
  // key index is one group (a process is one owner). Service sessions are
  // grouped by sorting them.
  std::vector<std::uint32_t> native;
  for (std::uint32_t slot = 0; slot < slot_count_; slot++) {
    const Record& r = rec(slot);
    if (!(r.flags & kLive) || r.user == empty_name_) continue;
    if (!(r.flags & kDovecot)) {
      native.push_back(slot);
      continue;
    }
    if (!(r.flags & kDovecotHead)) continue;  // not a chain's head
    starts->push_back(static_cast<std::uint32_t>(refs->size()));
    for (std::uint32_t at = slot; at != kNoSlot; at = rec(at).dovecot_next) {
      refs->push_back({at, rec(at).generation});
    }
  }
  std::vector<std::pair<std::int32_t, std::uint32_t>> keyed;
  keyed.reserve(native.size());
  for (std::uint32_t slot : native) keyed.emplace_back(pid_of({slot, 0}), slot);
  std::sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    const Record& x = rec(a.second);
    const Record& y = rec(b.second);
    return std::tuple(x.user, x.service, a.first, client_ip(x)) <
           std::tuple(y.user, y.service, b.first, client_ip(y));
  });
  for (std::size_t i = 0; i < keyed.size(); i++) {
    SessionRef ref{keyed[i].second, rec(keyed[i].second).generation};
    if (i == 0 || !same_dovecot_group(refs->back(), ref)) {
      starts->push_back(static_cast<std::uint32_t>(refs->size()));
    }
    refs->push_back(ref);
  }
}

}  // namespace anvil
