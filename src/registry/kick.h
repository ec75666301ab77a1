// One kick's vocabulary, for anvild, its audit trail, anvilctl and the
// proxy: what can become of a session a kick selected, the names those
// outcomes have on the wire and in every output, the default reason, and
// the rule for a process that only a signal can end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "registry/session.h"

namespace anvil {

enum class KickStatus {
  kicked,         // the owning process confirmed it dropped the connection
  not_dropped,    // the process answered but did not drop it (already gone)
  timeout,        // the process did not answer within the kick timeout
  vanished,       // the process went away before answering
  would_kick,     // dry run
  shared,         // a process that only a signal ends also holds connections
                  // that do not match: it needs force
  not_signalled,  // a process anvil may not signal as one of Dovecot's
};

// The outcome's name: "kicked", "not-dropped", "timeout", "vanished",
// "would-kick", "shared", "not-signalled".
std::string_view kick_status_name(KickStatus status);
std::optional<KickStatus> kick_status_from_name(std::string_view name);

inline constexpr std::string_view kDefaultKickReason = "Disconnected by administrator";

// A process that can only be ended whole (Dovecot's, by SIGTERM) is ended
// only when every connection it holds was selected, or the admin forces
// it: otherwise connections nobody selected would go too.
inline bool spare_shared_process(std::size_t selected, std::size_t held, bool force) {
  return !force && selected < held;
}

// Who must drop what, decided before anything is sent: the sessions a kick
// selected, grouped by the owner that must drop them (a service channel,
// or a process that only a signal ends), with the shared-process rule
// applied once. Pure, so anvild and anvilctl's Dovecot path share it.
struct KickGroup {
  std::uint64_t owner = 0;           // a channel or process; a pid for Dovecot's anvil
  std::vector<std::size_t> members;  // indexes into the selected sessions
  bool by_signal = false;            // only a signal ends it, whole
  bool spared = false;               // by signal, holds sessions not selected, no force
};

// Of `count` selected sessions, owner_of(i): who must drop session i;
// by_signal(owner) and held(owner): whether only a signal ends that owner,
// and how many sessions it holds in all. Groups come in owner order;
// members in the order selected.
std::vector<KickGroup> plan_kick(std::size_t count,
                                 const std::function<std::uint64_t(std::size_t)>& owner_of,
                                 const std::function<bool(std::uint64_t)>& by_signal,
                                 const std::function<std::size_t(std::uint64_t)>& held, bool force);

}  // namespace anvil
