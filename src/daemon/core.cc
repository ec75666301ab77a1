#include "daemon/core.h"

#include <signal.h>
#include <unistd.h>

#include "common/dovecot_process.h"
#include "common/log.h"
#include "daemon/service_channel.h"

namespace anvil {

Core::Core(asio::io_context& io, DaemonConfig config)
    : io_(io),
      config_(std::move(config)),
      audit_(config_.audit_log),
      bans_(io, config_.ban_file, config_.max_bans),
      dovecot_(
          io,
          [this](OwnerId owner, pid_t pid) {
            std::size_t removed = sessions_.remove_owner(owner);
            if (removed > 0) log_info("pid {} exited; {} sessions removed", pid, removed);
          },
          config_.max_dovecot_processes),
      dovecot23_{sessions_,
                 penalties_,
                 bans_.table(),
                 dovecot_,
                 [this] { return new_owner(); },
                 [this](pid_t pid) { return dovecot_refusal(pid); },
                 [this](std::int32_t pid, std::uint32_t uid) { return session_limit(pid, uid); },
                 [this] { sync_registrations(); }} {
  if (config_.dovecot_service) served_master_ = ::getppid();
}

std::string Core::dovecot_refusal(pid_t pid) const {
  std::vector<pid_t> masters;
  if (served_master_ > 0) masters.push_back(served_master_);
  for (const std::string& file : config_.dovecot_master_pid_files) {
    if (auto master = read_pid_file(file)) masters.push_back(*master);
  }
  return dovecot_signal_refusal(pid, masters, config_.dovecot_service_uids);
}

std::string Core::session_limit(std::int32_t pid, std::uint32_t uid) const {
  auto over = [](const char* name, std::size_t limit) {
    return std::string("too many sessions (") + name + "=" + std::to_string(limit) + ")";
  };
  if (sessions_.pid_size(pid) >= config_.max_sessions_per_process) {
    return over("max_sessions_per_process", config_.max_sessions_per_process);
  }
  if (sessions_.uid_size(uid) >= config_.max_sessions_per_uid) {
    return over("max_sessions_per_uid", config_.max_sessions_per_uid);
  }
  if (sessions_.size() >= config_.max_sessions) return over("max_sessions", config_.max_sessions);
  return "";
}

void Core::stop() {
  if (stopped_) return;
  stopped_ = true;
  services_.for_each([](ServiceChannel& channel) { channel.close(); });
  dovecot_.close_all();
}

std::size_t Core::service_processes() const {
  return services_.size() + dovecot_.size();
}

asio::awaitable<std::vector<KickOutcome>> Core::kick(SessionFilter filter, std::string reason,
                                                     bool dry_run, bool force) {
  sync_registrations();
  std::vector<SessionRef> refs = sessions_.select(filter);
  // Copies: a session may be gone by the time its outcome is reported.
  std::vector<KickOutcome> outcomes(refs.size());
  for (std::size_t i = 0; i < refs.size(); i++) {
    sessions_.get(refs[i], &outcomes[i].session);
    outcomes[i].status = dry_run ? KickStatus::would_kick : KickStatus::timeout;
  }
  stats_.kicks++;
  if (dry_run) {
    for (const KickOutcome& outcome : outcomes) stats_.count_outcome(outcome.status);
    co_return outcomes;
  }
  std::vector<KickGroup> plan = plan_kick(
      outcomes.size(), [&](std::size_t i) { return outcomes[i].session.owner; },
      [this](OwnerId owner) { return dovecot_.owns(owner); },
      [this](OwnerId owner) { return sessions_.owner_size(owner); }, force);
  std::vector<std::pair<OwnerId, std::vector<ConnectionId>>> work;
  for (const KickGroup& group : plan) {
    std::vector<ConnectionId>& ids =
        work.emplace_back(group.owner, std::vector<ConnectionId>{}).second;
    ids.reserve(group.members.size());
    for (std::size_t i : group.members) ids.push_back(outcomes[i].session.id);
  }
  auto kick = std::make_shared<RunningKick>(io_.get_executor(), std::move(outcomes));

  std::vector<std::shared_ptr<ServiceChannel>> asked;
  for (std::size_t g = 0; g < plan.size(); g++) {
    const auto& [owner, ids] = work[g];
    if (plan[g].spared) {
      for (const ConnectionId& id : ids) kick->settle(id, KickStatus::shared);
      continue;
    }
    if (plan[g].by_signal) {
      signal_dovecot_process(owner, ids, *kick);
      continue;
    }
    ServiceChannel* channel = services_.find(owner);
    if (!channel) {
      for (const ConnectionId& id : ids) kick->settle(id, KickStatus::vanished);
      continue;
    }
    channel->request_kick(ids, reason, kick);
    asked.push_back(std::static_pointer_cast<ServiceChannel>(channel->shared_from_this()));
  }
  co_await kick->wait(config_.kick_timeout);
  for (const auto& channel : asked) channel->abandon(kick);
  std::vector<KickOutcome> settled = kick->take_outcomes();
  for (const KickOutcome& outcome : settled) stats_.count_outcome(outcome.status);
  co_return settled;
}

void Core::signal_dovecot_process(OwnerId owner, const std::vector<ConnectionId>& ids,
                                  RunningKick& kick) {
  // Only the whole process can be ended; its sessions go when it exits.
  // The process must have been Dovecot's when it registered and still be
  // (its parent and uid are read again: the pidfd pins the process, not
  // its uid).
  KickStatus status = KickStatus::kicked;
  std::string why;
  if (why = dovecot_.refusal(owner); !why.empty()) {
    status = KickStatus::not_signalled;
  } else if (why = dovecot_refusal(dovecot_.pid_of(owner)); !why.empty()) {
    status = KickStatus::not_signalled;
  } else if (std::string error = dovecot_.signal(owner, SIGTERM); !error.empty()) {
    log_warning("kick: {}", error);
    status = KickStatus::not_dropped;
  }
  if (status == KickStatus::not_signalled) {
    log_warning("kick: pid {} not signalled: {}", dovecot_.pid_of(owner), why);
  }
  for (const ConnectionId& id : ids) kick.settle(id, status, why);
}

}  // namespace anvil
