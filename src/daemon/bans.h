// anvild's bans: the table, its state file and the expiry of timed bans.
// Every change is written to the state file before it is answered
// (atomically: a new file, synced, renamed over the old one), so bans
// survive a restart; a bad line in the file at start is logged with its
// number and skipped, and the rest are kept.
#pragma once

#include <asio.hpp>
#include <functional>
#include <string>
#include <vector>

#include "registry/ban_table.h"
#include "registry/session_filter.h"

namespace anvil {

class Bans {
 public:
  // path: the state file ("" keeps bans in memory only); max: how many
  // bans add() lets there be (an admin with the kick role cannot fill
  // anvild's memory).
  Bans(asio::io_context& io, std::string path, std::size_t max = 1'000'000);
  Bans(const Bans&) = delete;
  Bans& operator=(const Bans&) = delete;

  // Reads the state file (a missing one is no bans) and starts expiring.
  void load();
  const BanTable& table() const { return table_; }

  // The bans a filter asks for: each user mask with each network (user and
  // network), or each of either alone; the filter may hold nothing else.
  // "" or why not in *error (also when one would match everyone without
  // force).
  std::vector<Ban> from_filter(const SessionFilter& filter, bool force, std::string* error) const;
  // Adds them, all or none, and saves; returns them with their ids, or
  // "" / the error in *error.
  std::vector<Ban> add(std::vector<Ban> bans, std::string* error);
  // Removes bans by id and saves; false (and nothing changes) if one is
  // unknown, named in *error.
  bool remove(const std::vector<std::uint64_t>& ids, std::string* error);

  // In a cluster: bans set from now on get random ids (unique across the
  // nodes, so `ban rm ID` works on any of them), and each ban an admin
  // sets or lifts here is told to `changed` (added true or false).
  void share(std::function<void(const Ban&, bool added)> changed);
  // From the cluster, never told back: a ban as the store has it (its id;
  // marked shared), and a ban lifted elsewhere. False if nothing changed.
  bool apply_shared(Ban ban);
  bool drop_shared(std::uint64_t id);
  // A ban of this node's is now in the store.
  void mark_shared(std::uint64_t id);
  // The store holds another ban under this ban's id: it gets a new one.
  // Returns it (0 if the ban is gone).
  std::uint64_t renumber(std::uint64_t id);

 private:
  std::string save();  // "" or an error
  void arm_expiry();

  std::uint64_t random_id() const;

  std::string path_;
  std::size_t max_;
  std::function<void(const Ban&, bool)> changed_;
  BanTable table_;
  asio::steady_timer expiry_;
};

// How a ban reads on the admin protocol and in the log: "BAN" and the
// fields of its state-file line.
std::string ban_line(const Ban& ban);
std::string describe_ban(const Ban& ban);

}  // namespace anvil
