// The in-memory registry: every live session, indexed so that the common
// questions never look at every session, and removal costs what goes,
// never what stays. It does no I/O and is not thread-safe; anvild owns one
// and touches it only from its event loop.
//
// Layout (docs/decisions.md has the figures): sessions are 64-byte records
// in chunked slots, named by a slot number; strings are interned (NamePool);
// an IPv4 client address is four bytes in the record. What only some
// sessions have (a connection id chosen by a service, ports, an IPv6
// address, a proxy destination, alternative names) lives in a side record.
// Sessions registered in Dovecot 2.3's protocol carry no stored id: theirs
// is derived from the slot (a per-table random prefix, the slot and its
// reuse count), so such an id is never reused.
//
// Indexes: connection id of service sessions (Swiss table of slots); the
// folded user name (a list through the records, anchored in the name
// pool: a wildcard mask is matched against the distinct names only); the
// owner (a list through the records); client and destination addresses
// (B-trees of address and slot, so a network is a range scan); alternative
// field and value (B-tree); Dovecot's (process, service, address, user) key
// (Swiss table), so that its DISCONNECT and LOOKUP never walk a process.
#pragma once

#include <absl/container/btree_set.h>
#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/keyed_hash.h"
#include "registry/chunked_pool.h"
#include "registry/name_pool.h"
#include "registry/session.h"
#include "registry/session_filter.h"

namespace anvil {

// A handle on one session: its slot and the slot's reuse count, so a handle
// kept past the session's removal is recognised as stale, never mistaken
// for the slot's next session.
struct SessionRef {
  std::uint32_t slot = kNoSlot;
  std::uint32_t generation = 0;
  bool operator==(const SessionRef&) const = default;
};

// What Dovecot 2.3 names a connection by: process, service, address, user.
struct DovecotKey {
  OwnerId owner = 0;
  std::string_view service;
  std::optional<IpAddress> ip;
  std::string_view user;
};

class SessionTable {
 public:
  SessionTable();
  ~SessionTable();
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  // Adds a session with the id its service chose. False, and nothing
  // changes, when the id is taken (or has the form of a derived id).
  bool add(const Session& session);
  // Adds a session in Dovecot 2.3's terms (no id, ports or alternative
  // names; start_time, pid and uid as given) and returns its derived id.
  ConnectionId add_dovecot(const Session& session);
  // Removes one session with this key (the oldest); false if none.
  bool remove_dovecot(const DovecotKey& key);
  // Sessions with this service, address and user, over every owner: the
  // count behind Dovecot's LOOKUP. Costs the user's sessions.
  std::size_t count_dovecot(std::string_view service, const std::optional<IpAddress>& ip,
                            std::string_view user) const;

  // Replaces what the service says about a session (user, addresses, alt
  // names); id, owner, pid, service and start time stay. False if unknown.
  bool update(const Session& updated);
  // False if the id is unknown.
  bool remove(const ConnectionId& id);
  // The same for a session already found; false if it has gone since.
  bool remove(SessionRef ref);
  // Removes every session of one channel or process; returns how many.
  std::size_t remove_owner(OwnerId owner);

  std::optional<SessionRef> find(const ConnectionId& id) const;
  bool alive(SessionRef ref) const;
  // The session as a value (strings copied): for answers and records.
  Session get(SessionRef ref) const;
  // The same into *out, reusing its strings' storage.
  void get(SessionRef ref, Session* out) const;
  ConnectionId id_of(SessionRef ref) const;
  OwnerId owner_of(SessionRef ref) const;
  std::int32_t pid_of(SessionRef ref) const;

  std::size_t size() const { return live_; }
  // Sessions ever registered and removed (for anvild's STATS).
  std::uint64_t added_total() const { return added_total_; }
  std::uint64_t removed_total() const { return removed_total_; }
  // Live sessions counted by service and state: before login (no user),
  // logged in, proxied (with a destination). One pass over the table.
  enum class State { prelogin, logged_in, proxied };
  struct CensusRow {
    std::string service;
    State state;
    std::size_t count;
  };
  std::vector<CensusRow> census() const;
  std::size_t owner_size(OwnerId owner) const;
  // Sessions registered by one uid, and owned by one process (over all its
  // channels): the counts anvild's per-peer limits bound.
  std::size_t uid_size(std::uint32_t uid) const;
  std::size_t pid_size(std::int32_t pid) const;
  // Sessions from one client address, and those of them without a user
  // (both cost the address's sessions); sessions of one user name (ASCII
  // case-folded; O(1)).
  std::size_t address_size(const IpAddress& ip) const;
  std::size_t address_prelogin_size(const IpAddress& ip) const;
  std::size_t user_size(std::string_view user) const;

  // Every matching session, sorted by user name, service, pid, start time
  // and id. Candidates come from the most selective index the filter allows.
  std::vector<SessionRef> select(const SessionFilter& filter) const;
  // Logged-in sessions grouped as Dovecot's CONNECT-DUMP counts them: by
  // user, service, address and pid. Each group is a run of refs; `starts`
  // marks where each run begins.
  void dovecot_groups(std::vector<SessionRef>* refs, std::vector<std::uint32_t>* starts) const;
  // Whether two sessions fall in the same CONNECT-DUMP group.
  bool same_dovecot_group(SessionRef a, SessionRef b) const;

  // How many sessions select() would have to test for this filter; lets
  // tests prove that an indexed question does not scan the table.
  std::size_t candidate_count(const SessionFilter& filter) const;

 private:
  struct Record;
  struct Extra;
  struct Owner {
    std::uint32_t head = kNoSlot;
    std::uint32_t size = 0;
    std::int32_t pid = 0;
  };
  // A DovecotKey in interned terms.
  struct DovecotProbe {
    OwnerId owner;
    NameId service;
    NameId user;
    std::optional<IpAddress> ip;
    bool operator==(const DovecotProbe&) const = default;
  };
  // The id and Dovecot-key indexes hold, per entry, a slot and 32 bits of
  // its key's keyed hash (tag << 32 | slot). Growing an index rehashes
  // entries without reading a record; a lookup goes by a tagged key
  // (transparent) and reads a record only where the tags agree.
  using Entry = std::uint64_t;
  template <typename Key>
  struct Tagged {
    Key key;
    std::uint32_t tag;
  };
  struct TagHash {
    using is_transparent = void;
    std::size_t operator()(Entry entry) const {
      return spread(static_cast<std::uint32_t>(entry >> 32));
    }
    template <typename Key>
    std::size_t operator()(const Tagged<Key>& probe) const {
      return spread(probe.tag);
    }
    static std::size_t spread(std::uint32_t tag) { return tag * 0x9e3779b97f4a7c15ULL; }
  };
  struct IdEq {
    using is_transparent = void;
    const SessionTable* table;
    bool operator()(Entry a, Entry b) const { return a == b; }
    bool operator()(Entry a, const Tagged<ConnectionId>& b) const;
    bool operator()(const Tagged<ConnectionId>& a, Entry b) const { return (*this)(b, a); }
  };
  // Entries with the same key are equal: the set holds one per key, the
  // head of its chain.
  struct DovecotEq {
    using is_transparent = void;
    const SessionTable* table;
    bool operator()(Entry a, Entry b) const;
    bool operator()(Entry a, const Tagged<DovecotProbe>& b) const;
    bool operator()(const Tagged<DovecotProbe>& a, Entry b) const { return (*this)(b, a); }
  };
  static Entry entry(std::uint32_t tag, std::uint32_t slot) { return Entry{tag} << 32 | slot; }
  static std::uint32_t slot_of(Entry entry) { return static_cast<std::uint32_t>(entry); }
  static Tagged<ConnectionId> tagged(const ConnectionId& id);
  static Tagged<DovecotProbe> tagged(const DovecotProbe& probe);
  using V6Key = std::pair<std::array<std::uint8_t, 16>, std::uint32_t>;
  using AltKey = std::tuple<NameId, NameId, std::uint32_t>;  // folded field, folded value, slot

  Record& rec(std::uint32_t slot);
  Extra& ext(std::uint32_t index);
  const Extra& ext(std::uint32_t index) const;
  const Record& rec(std::uint32_t slot) const;
  std::uint32_t new_slot();
  void free_extra(std::uint32_t index);
  void clear_extra(std::uint32_t index);
  // Calls f(field, value) for each alternative name of an extra record.
  template <typename F>
  void for_each_alt(std::uint32_t extra, F f) const;
  std::uint32_t place(const Session& session, bool dovecot);
  DovecotProbe probe_of(std::uint32_t slot) const;
  void erase_slot(std::uint32_t slot);
  void index(std::uint32_t slot);
  void unindex(std::uint32_t slot);
  // Calls apply(index, entry) for each address and alternative-name index
  // entry of a slot: what index() inserts and unindex() erases.
  template <typename Apply>
  void for_each_index_entry(std::uint32_t slot, Apply apply);
  void set_fields(std::uint32_t slot, const Session& session, bool dovecot);
  void clear_fields(std::uint32_t slot);
  void link_user(std::uint32_t slot);
  void unlink_user(std::uint32_t slot);
  std::optional<IpAddress> client_ip(const Record& r) const;
  std::optional<IpAddress> dest_ip(const Record& r) const;
  bool matches(const SessionFilter& filter, std::uint32_t slot) const;
  std::vector<std::uint32_t> candidates(const SessionFilter& filter) const;
  void sort_slots(std::vector<std::uint32_t>& slots) const;
  std::optional<std::uint32_t> find_slot(const ConnectionId& id) const;
  template <typename Visit>
  void for_each_address(const absl::btree_set<std::uint64_t>& v4, const absl::btree_set<V6Key>& v6,
                        const IpAddress& first, const IpAddress& last, Visit visit) const;

  std::vector<std::unique_ptr<Record[]>> chunks_;
  std::uint32_t slot_count_ = 0;  // slots ever used
  std::uint32_t free_slot_ = kNoSlot;
  std::size_t live_ = 0;
  std::uint64_t added_total_ = 0, removed_total_ = 0;
  ChunkedPool<Extra> extras_;
  // A session's IPv6 client and destination addresses (either may be unused).
  struct V6Pair {
    std::array<std::uint8_t, 16> client{};
    std::array<std::uint8_t, 16> dest{};
  };
  ChunkedPool<V6Pair> v6_;
  // Alternative names after the first, by extra record.
  absl::flat_hash_map<std::uint32_t, std::vector<std::pair<NameId, NameId>>> more_alts_;
  std::uint64_t derived_prefix_;  // the high half of every derived id

  NamePool names_;
  NameId empty_name_;  // the user of a session before login
  absl::flat_hash_set<Entry, TagHash, IdEq> by_id_;
  absl::flat_hash_set<Entry, TagHash, DovecotEq> by_dovecot_key_;
  absl::flat_hash_map<OwnerId, Owner> owners_;
  absl::btree_set<std::uint64_t> client_v4_;  // address << 32 | slot
  absl::btree_set<V6Key> client_v6_;
  absl::btree_set<std::uint64_t> dest_v4_;
  absl::btree_set<V6Key> dest_v6_;
  absl::btree_set<AltKey> by_alt_;
  absl::flat_hash_map<std::uint32_t, std::size_t> count_by_uid_;
  absl::flat_hash_map<std::int32_t, std::size_t, KeyedHash> count_by_pid_;  // pids are claimed
};

}  // namespace anvil
