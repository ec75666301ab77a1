// What anvild knows and the one thing it does across its parts: the
// registry, the penalty table, the audit trail, the Dovecot processes it
// watches, the live service channels, and the kick that reaches them.
// It opens no socket (daemon/listeners.h does) and is given to no channel
// whole: daemon.cc wires each part with what it needs. Single-threaded:
// everything runs on one io_context, so nothing here takes a lock.
#pragma once

#include <asio.hpp>
#include <functional>
#include <string>
#include <vector>

#include "daemon/audit_log.h"
#include "daemon/bans.h"
#include "daemon/config.h"
#include "daemon/daemon_stats.h"
#include "daemon/dovecot23_dialect.h"
#include "daemon/dovecot_processes.h"
#include "daemon/running_kick.h"
#include "daemon/service_channels.h"
#include "registry/kick.h"
#include "registry/penalty_table.h"
#include "registry/session_table.h"

namespace anvil {

class Core {
 public:
  Core(asio::io_context& io, DaemonConfig config);
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  const DaemonConfig& config() const { return config_; }
  SessionTable& sessions() { return sessions_; }
  PenaltyTable& penalties() { return penalties_; }
  AuditLog& audit() { return audit_; }
  Bans& bans() { return bans_; }
  ServiceChannels& services() { return services_; }
  DaemonStats& stats() { return stats_; }
  // Service processes connected: anvil-service channels and the Dovecot
  // processes registered through Dovecot 2.3's protocol.
  std::size_t service_processes() const;
  OwnerId new_owner() { return next_owner_++; }
  // What Dovecot 2.3's dialect works on (daemon/dovecot23_dialect.h).
  Dovecot23Context& dovecot23() { return dovecot23_; }
  // Brings in registrations that are written but not yet read (Dovecot's
  // pipes); called before answering a question about them.
  void set_registration_sync(std::function<void()> sync) { registration_sync_ = std::move(sync); }
  void sync_registrations() {
    if (registration_sync_) registration_sync_();
  }

  // Why anvild may not signal this process as one of Dovecot's
  // (common/dovecot_process.h): "" if it may. The masters are the one that
  // runs anvild (--dovecot-service) and those of dovecot_master_pid_files.
  std::string dovecot_refusal(pid_t pid) const;

  // "" if one more session may be registered for this process and uid, or
  // the limit (max_sessions_per_process, _per_uid, max_sessions) that says no.
  std::string session_limit(std::int32_t pid, std::uint32_t uid) const;

  // Asks the owning processes to drop every session the filter selects,
  // and waits for their answers (at most kick_timeout). Processes that
  // registered through Dovecot 2.3's protocol get SIGTERM instead, and
  // only when all their sessions are selected, unless force is set.
  asio::awaitable<std::vector<KickOutcome>> kick(SessionFilter filter, std::string reason,
                                                 bool dry_run, bool force);

  // Ends every service channel and stops watching Dovecot's processes.
  void stop();

 private:
  // Ends a process that only a signal ends, whom the kick's plan did not
  // spare: its sessions go when it exits.
  void signal_dovecot_process(OwnerId owner, const std::vector<ConnectionId>& ids,
                              RunningKick& kick);

  asio::io_context& io_;
  DaemonConfig config_;
  SessionTable sessions_;
  PenaltyTable penalties_;
  AuditLog audit_;
  Bans bans_;
  DovecotProcesses dovecot_;
  ServiceChannels services_;
  DaemonStats stats_;
  OwnerId next_owner_ = 1;
  pid_t served_master_ = 0;  // Dovecot's master, when anvild is its anvil
  bool stopped_ = false;
  std::function<void()> registration_sync_;
  Dovecot23Context dovecot23_;
};

}  // namespace anvil
