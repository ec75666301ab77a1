// The one filter language of `who` and `kick`. Each group is a list of
// alternatives (OR); the groups that are not empty must all hold (AND). An
// empty filter matches every session.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ip_address.h"
#include "common/user_mask.h"
#include "registry/session.h"

namespace anvil {

// What a filter looks at in one session, however the session is stored.
struct FilterSubject {
  const ConnectionId& id;
  std::int32_t pid;
  std::string_view service;
  std::string_view user;
  const std::optional<IpAddress>& client_ip;
  const std::optional<IpAddress>& dest_ip;
  // Alternative names as (field, value); only read when alt_field is set.
  std::span<const std::pair<std::string_view, std::string_view>> alt_names;
  std::int64_t start_time = 0;  // unix seconds
};

struct SessionFilter {
  std::vector<UserMask> users;          // against the user name, or the alt field below
  std::string alt_field;                // when set, `users` match this field's values
  std::vector<Cidr> networks;           // client address
  std::vector<IpAddress> destinations;  // proxy destination address
  std::vector<std::string> services;    // exact, ASCII case-insensitive
  std::vector<std::int32_t> pids;
  std::vector<ConnectionId> ids;
  // Only sessions that started before this (unix seconds): kick
  // --started-before and --older-than.
  std::optional<std::int64_t> started_before;

  bool empty() const {
    return users.empty() && networks.empty() && destinations.empty() && services.empty() &&
           pids.empty() && ids.empty() && !started_before;
  }
  bool matches(const Session& session) const;
  bool matches(const FilterSubject& subject) const;
};

}  // namespace anvil
