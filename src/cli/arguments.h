// anvilctl's command line, doveadm-style:
//   anvilctl [-Dv] [-o setting=value] [-f formatter] who [-1] [-a socket]
//            [-f passdb_field] [--service NAME] [--id CONN_ID] [user_mask ...] [ip[/bits] ...]
//   anvilctl [-Dv] [-o setting=value] [-f formatter] kick [-a socket]
//            [-f passdb_field] [-h dest_host] [--dry-run] [--force] [--reason TEXT]
//            [--service NAME] [--id CONN_ID] [user_mask ...] [ip[/bits] ...]
//   anvilctl [-Dv] [-o setting=value] [-f formatter] audit [-a socket] [-n N]
// Parsing is pure: no I/O, except resolving -h host names through the
// resolver passed in.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/wall_clock.h"
#include "registry/kick.h"
#include "registry/session_filter.h"

namespace anvil {

enum class Command { none, help, version, who, kick, audit, ban };
enum class BanAction { none, add, list, remove };

struct Invocation {
  Command command = Command::none;
  bool debug = false;
  bool verbose = false;
  // --cluster: every node of anvild's cluster; --node NAME: that node.
  bool cluster = false;
  std::string node;
  std::string formatter;            // empty: the command's default
  std::string socket;               // admin socket path
  bool one_per_connection = false;  // who -1
  bool dry_run = false;
  bool force = false;  // kick: signal Dovecot 2.3 processes that also serve others
  std::string reason = std::string(kDefaultKickReason);
  long long audit_count = 20;  // audit -n
  SessionFilter filter;
  BanAction ban_action = BanAction::none;
  // ban add --duration and kick --ban: seconds, 0 for no end; kick bans
  // only when it is set.
  std::optional<std::int64_t> ban_duration;
  std::vector<std::uint64_t> ban_ids;  // ban rm
  // ban rm by what a ban names: each an address or network (a ban of it
  // alone) or a user mask (a ban of it alone), as given to ban add.
  std::vector<std::string> ban_targets;
};

struct ArgumentError {
  std::string message;
};

// Resolves a host name to addresses; returns "" or an error sentence.
using HostResolver = std::function<std::string(const std::string& host, std::vector<IpAddress>*)>;

// Fills *out, or returns the usage error (exit code 64). `now` (unix
// seconds) is what --older-than counts back from and which day "10:42" is.
std::optional<ArgumentError> parse_arguments(const std::vector<std::string>& args,
                                             const HostResolver& resolve, Invocation* out,
                                             std::int64_t now = unix_seconds());

extern const char* const kUsageText;

}  // namespace anvil
