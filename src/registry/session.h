// One registered client connection, as anvild knows it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "anvil/connection_id.h"
#include "common/ip_address.h"

namespace anvil {

// Which registration channel a session came in on (one per service
// connection to anvild). When the channel closes, its sessions go with it.
using OwnerId = std::uint64_t;

inline constexpr std::uint32_t kNoUid = 0xffffffff;  // (uid_t)-1 is no valid uid

// An alternative user name: a `user_*` field and its value.
struct AltName {
  std::string field;
  std::string value;
  bool operator==(const AltName&) const = default;
};

struct Session {
  ConnectionId id;
  OwnerId owner = 0;
  std::int32_t pid = 0;  // of the owning process, from SO_PEERCRED
  // The uid that registered it: the service channel's peer (SO_PEERCRED),
  // or the Dovecot process's; kNoUid when unknown (Dovecot's own anvil).
  std::uint32_t uid = kNoUid;
  std::string service;  // e.g. "imap"
  std::string user;     // empty until login
  std::optional<IpAddress> client_ip;
  std::uint16_t client_port = 0;
  std::uint16_t local_port = 0;
  std::optional<IpAddress> dest_ip;  // set when the session is proxied
  std::uint16_t dest_port = 0;
  std::vector<AltName> alt_names;
  std::int64_t start_time = 0;  // unix seconds
};

}  // namespace anvil
