// The in-memory registry: every live session, indexed so that the common
// questions never look at every session. It does no I/O and is not
// thread-safe; anvild owns one and touches it only from its event loop.
//
// Indexes: connection id (hash); ASCII-folded user name (hash; wildcard
// masks are matched against the distinct names only); client address and
// destination address (ordered, so a network is a range scan); alt field and
// folded value (ordered by field, then value); owning channel (hash).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/keyed_hash.h"
#include "registry/session.h"
#include "registry/session_filter.h"

namespace anvil {

class SessionTable {
 public:
  SessionTable() = default;
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  // Adds a session. False, and nothing changes, when its id is taken.
  bool add(Session session);
  // Replaces what the service says about a session (user, addresses, alt
  // names); id, owner, pid, service and start time stay. False if unknown.
  bool update(const Session& updated);
  // False if the id is unknown.
  bool remove(const ConnectionId& id);
  // Removes every session of one channel; returns how many.
  std::size_t remove_owner(OwnerId owner);

  const Session* find(const ConnectionId& id) const;
  std::size_t size() const { return sessions_.size(); }
  std::size_t owner_size(OwnerId owner) const;
  // Sessions registered by one uid, and owned by one process (over all its
  // channels): the counts anvild's per-peer limits bound.
  std::size_t uid_size(std::uint32_t uid) const;
  std::size_t pid_size(std::int32_t pid) const;
  // Sessions from one client address, and those of them without a user;
  // sessions of one user name (ASCII case-folded). Indexed: O(1) and O(k).
  std::size_t address_size(const IpAddress& ip) const;
  std::size_t address_prelogin_size(const IpAddress& ip) const;
  std::size_t user_size(std::string_view user) const;
  // The sessions of one channel or process, in no particular order.
  std::vector<const Session*> owned_by(OwnerId owner) const;

  // Every matching session, sorted by user name, service, pid, start time
  // and id. Candidates come from the most selective index the filter allows.
  std::vector<const Session*> select(const SessionFilter& filter) const;

  // How many sessions select() would have to test for this filter; lets
  // tests prove that an indexed question does not scan the table.
  std::size_t candidate_count(const SessionFilter& filter) const;

 private:
  using SessionSet = std::unordered_set<const Session*>;
  using AltKey = std::pair<std::string, std::string>;  // folded field, folded value

  void index(const Session* session);
  void unindex(const Session* session);
  std::vector<const Session*> candidates(const SessionFilter& filter) const;

  // Ids and names are chosen by peers: keyed hashing (common/keyed_hash.h).
  std::unordered_map<ConnectionId, std::unique_ptr<Session>, KeyedHash> sessions_;
  std::unordered_map<std::string, SessionSet, KeyedHash> by_user_;
  std::map<IpAddress, SessionSet> by_client_ip_;
  std::map<IpAddress, SessionSet> by_dest_ip_;
  std::map<AltKey, SessionSet> by_alt_;
  std::unordered_map<OwnerId, SessionSet> by_owner_;
  std::unordered_map<std::uint32_t, std::size_t> count_by_uid_;
  std::unordered_map<std::int32_t, std::size_t, KeyedHash> count_by_pid_;
};

// Sessions grouped by the channel that must be asked to drop them.
std::map<OwnerId, std::vector<const Session*>> group_by_owner(
    const std::vector<const Session*>& sessions);

}  // namespace anvil
