// One kick's vocabulary, for anvild, its audit trail, anvilctl and the
// proxy: what can become of a session a kick selected, the names those
// outcomes have on the wire and in every output, the default reason, and
// the rule for a process that only a signal can end.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

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

}  // namespace anvil
