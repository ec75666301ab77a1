// The one filter language of `who` and `kick`. Each group is a list of
// alternatives (OR); the groups that are not empty must all hold (AND). An
// empty filter matches every session.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/user_mask.h"
#include "registry/session.h"

namespace anvil {

struct SessionFilter {
  std::vector<UserMask> users;          // against the user name, or the alt field below
  std::string alt_field;                // when set, `users` match this field's values
  std::vector<Cidr> networks;           // client address
  std::vector<IpAddress> destinations;  // proxy destination address
  std::vector<std::string> services;    // exact, ASCII case-insensitive
  std::vector<std::int32_t> pids;
  std::vector<ConnectionId> ids;

  bool empty() const {
    return users.empty() && networks.empty() && destinations.empty() && services.empty() &&
           pids.empty() && ids.empty();
  }
  bool matches(const Session& session) const;
};

}  // namespace anvil
