// What anvild counts for its STATS answer (and so for anvil-httpd's
// /metrics): kicks by outcome and admin requests by command. The live
// figures (sessions, bans, processes) are read from their owners when
// asked; these are the ones nothing else keeps.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "registry/kick.h"

namespace anvil {

struct DaemonStats {
  static constexpr std::size_t kOutcomes = static_cast<std::size_t>(KickStatus::not_signalled) + 1;
  // The admin commands counted by name; anything else counts as "other",
  // so that no peer can grow the set.
  static constexpr std::array<std::string_view, 8> kCommands = {
      "WHO", "KICK", "BAN-ADD", "BAN-LIST", "BAN-RM", "AUDIT", "STATS", "other"};

  std::uint64_t kicks = 0;  // kick requests that ran, dry runs included
  std::array<std::uint64_t, kOutcomes> kick_outcomes{};
  std::array<std::uint64_t, kCommands.size()> admin_requests{};

  void count_outcome(KickStatus status) { kick_outcomes[static_cast<std::size_t>(status)]++; }
  void count_admin_request(std::string_view command) {
    std::size_t i = 0;
    while (i + 1 < kCommands.size() && kCommands[i] != command) i++;
    admin_requests[i]++;
  }
};

}  // namespace anvil
