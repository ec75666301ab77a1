// Bans: who may not connect, for how long, and why. A ban names a user mask
// (matched against the user name, or an alternative name's value), a client
// network, or both (both must match). The table answers "is this login
// banned?" by index: exact names and alternative names by hash, networks by
// one hash lookup per prefix length in use; only bans with wildcard masks
// are tested one by one. Pure: anvild keeps one, with its state file.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/ip_address.h"
#include "common/keyed_hash.h"
#include "common/user_mask.h"

namespace anvil {

inline constexpr std::string_view kDefaultBanReason = "Banned by administrator";

struct Ban {
  std::uint64_t id = 0;  // given by the table; never reused
  std::optional<UserMask> user;
  std::string alt_field;  // with user: the mask matches this user_* field's value
  std::optional<Cidr> network;
  std::int64_t created = 0;  // unix seconds
  std::int64_t expires = 0;  // unix seconds; 0: never
  std::string reason;
  std::string set_by;  // who set it, e.g. "root (uid 0)"
  // In the cluster's ban store (docs/cluster.md): lifted on this node when
  // the store no longer has it.
  bool shared = false;

  bool expired(std::int64_t now) const { return expires != 0 && expires <= now; }
  // Whether it matches everyone of its kind ("*", 0.0.0.0/0, ::/0): such a
  // ban needs force.
  bool matches_everyone() const;
};

// What a ban check looks at in one login or session.
struct BanSubject {
  std::string_view user;
  const std::optional<IpAddress>& ip;
  std::span<const std::pair<std::string_view, std::string_view>> alt_names = {};
};

class BanTable {
 public:
  // Adds a ban (its id is set here unless it has one, as when loaded from
  // the state file) and returns its id; "" or why not in *error (no user
  // mask and no network, an id already taken).
  std::uint64_t add(Ban ban, std::string* error);
  bool remove(std::uint64_t id);
  const Ban* find(std::uint64_t id) const;
  // The oldest ban in force that matches; nullptr if none.
  const Ban* match(const BanSubject& subject, std::int64_t now) const;
  // Removes the bans expired by now; returns them.
  std::vector<Ban> expire(std::int64_t now);
  // When the next ban expires (unix seconds); nullopt if none does.
  std::optional<std::int64_t> next_expiry() const;
  // Every ban, oldest first.
  std::vector<const Ban*> all() const;
  std::size_t size() const { return bans_.size(); }
  // How many bans a check of this subject tests one by one (tests prove
  // that a check does not scan every ban).
  std::size_t candidate_count(const BanSubject& subject) const;

 private:
  // The ids a check must test for this subject, in no order.
  void candidates(const BanSubject& subject, std::vector<std::uint64_t>* out) const;
  void index(const Ban& ban, bool add);
  static bool matches(const Ban& ban, const BanSubject& subject);
  static std::string alt_key(std::string_view field, std::string_view value);

  std::map<std::uint64_t, Ban> bans_;  // by id: ids grow, so oldest first
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::string, std::vector<std::uint64_t>, KeyedHash, std::equal_to<>>
      by_user_;  // exact masks, folded
  std::unordered_map<std::string, std::vector<std::uint64_t>, KeyedHash, std::equal_to<>>
      by_alt_;  // exact alternative names: folded field, NUL, folded value
  // Network-only bans: per (family, prefix length), the network's bytes.
  std::map<std::pair<int, int>,
           std::unordered_map<std::string, std::vector<std::uint64_t>, KeyedHash, std::equal_to<>>>
      by_network_;
  std::set<std::uint64_t> wildcard_;  // masks with * or ?, tested one by one
  std::multimap<std::int64_t, std::uint64_t> expiries_;
};

// The state file: a first line "anvil-bans<TAB>1", then a line per ban of
// tab-separated key=value fields (escaped as in protocol.md).
std::string ban_file_header();
std::string format_ban_line(const Ban& ban);
// One line back; "" or the error in *error.
std::optional<Ban> parse_ban_line(std::string_view line, std::string* error);

}  // namespace anvil
