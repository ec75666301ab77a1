// anvild's wiring, top-down: the core (registry, audit trail, kicks), the
// contexts its channels are given, the listeners that accept them, Dovecot's
// master when anvild is its anvil service, and the signals that end it.
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <memory>

#include "common/log.h"
#include "common/service_manager.h"
#include "daemon/admin_channel.h"
#include "daemon/cluster_node.h"
#include "daemon/core.h"
#include "daemon/daemon.h"
#include "daemon/dovecot_service.h"
#include "daemon/listeners.h"
#include "daemon/service_channel.h"

namespace anvil {

namespace {

// Every service channel, admin connection and watched Dovecot process is a
// descriptor: take all the kernel allows (the usual soft limit of 1024
// would run out long before the configured limits), and say so when even
// that is less than the limits add up to.
void raise_descriptor_limit(const DaemonConfig& config) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  rlim_t wanted =
      config.max_service_clients + config.max_admin_clients + config.max_dovecot_processes + 64;
  if (limit.rlim_cur < wanted) {
    log_warning(
        "file descriptor limit {} is below what the limits may need ({}); connections "
        "past it are refused",
        static_cast<unsigned long long>(limit.rlim_cur), static_cast<unsigned long long>(wanted));
  }
}

// A large answer (who over a million sessions, a kick of 100,000) needs
// arrays of tens of megabytes for a moment. By default glibc gives such
// memory back to the kernel at once, and the next answer faults it in
// again page by page, which on a virtual machine costs 10-20 µs a page:
// 150 ms before the first row of a full who. anvild keeps what it freed
// (up to 256 MiB at the heap's top) for the next answer instead.
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);   // arrays up to 32 MiB come from the heap
  mallopt(M_TRIM_THRESHOLD, 256 << 20);  // and stay there once freed
}

void open_audit(AuditLog& audit, bool reopen) {
  if (std::string error = audit.open(); !error.empty()) {
    // Kicks still work; each one's log line says it was not audited.
    log_error("{}; kicks are not audited until it can be opened (SIGHUP retries)", error);
  } else if (audit.enabled()) {
    log_info("{} {}", reopen ? "reopened" : "audit trail in", audit.path());
  }
}

}  // namespace

int run_daemon(const DaemonConfig& config) {
  raise_descriptor_limit(config);
  keep_freed_memory();
  asio::io_context io(1);
  Core core(io, config);
  ServiceContext service_context{
      core.config(),
      core.sessions(),
      core.penalties(),
      core.bans().table(),
      [&core](std::int32_t pid, std::uint32_t uid) { return core.session_limit(pid, uid); },
      [&core] { core.sync_registrations(); },
      [&core](OwnerId owner) { core.services().remove(owner); }};
  AdminContext admin_context{
      core.config(),
      core.sessions(),
      core.audit(),
      core.bans(),
      core.dovecot23(),
      [&core] { core.sync_registrations(); },
      [&core](SessionFilter filter, std::string reason, bool dry_run, bool force) {
        return core.kick(std::move(filter), std::move(reason), dry_run, force);
      },
      &core.stats(),
      [&core] { return core.service_processes(); }};
  std::unique_ptr<ClusterNode> cluster;
  if (config.cluster.enabled()) {
    cluster = std::make_unique<ClusterNode>(io, core.config(), admin_context);
    admin_context.cluster = [&cluster](std::string node, std::string command,
                                       std::string on_behalf) {
      return cluster->ask(std::move(node), std::move(command), std::move(on_behalf));
    };
    if (config.cluster.max_user_connections > 0) {
      service_context.count_elsewhere = [&cluster](std::string user) {
        return cluster->count_elsewhere(std::move(user));
      };
    }
  }
  Listeners listeners(io, core.config(), core.services(), service_context, admin_context,
                      [&core] { return core.new_owner(); });
  auto shut_down = [&] {
    if (cluster) cluster->stop();
    listeners.stop();
    core.stop();
    io.stop();
  };
  core.bans().load();
  if (std::string error = listeners.start(); !error.empty()) {
    log_error("{}", error);
    return 1;
  }
  open_audit(core.audit(), false);
  if (cluster) {
    if (std::string error = cluster->start(); !error.empty()) {
      log_error("cluster: {}", error);
      return 78;  // EX_CONFIG: its files or URLs
    }
  }

  std::unique_ptr<DovecotService> dovecot;
  if (config.dovecot_service) {
    dovecot = std::make_unique<DovecotService>(
        io, core.dovecot23(),
        [&listeners](int fd, const std::string& name) {
          return listeners.adopt_admin_listener(fd, name);
        },
        shut_down);
    if (std::string error = dovecot->start(); !error.empty()) {
      log_error("{}", error);
      return 1;
    }
    core.set_registration_sync([&dovecot] { dovecot->drain_pipes(); });
  }
  // SIGHUP: reopen the audit trail (after log rotation).
  asio::signal_set hangup(io, SIGHUP);
  std::function<void(const asio::error_code&, int)> on_hangup = [&](const asio::error_code& ec,
                                                                    int) {
    if (ec) return;
    notify_reloading();
    open_audit(core.audit(), true);
    notify_ready();
    hangup.async_wait(on_hangup);
  };
  hangup.async_wait(on_hangup);
  // Dovecot's master ends its children with SIGQUIT at shutdown.
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGQUIT);
  signals.async_wait([&](const asio::error_code& ec, int signal) {
    if (ec) return;
    log_info("signal {} received; shutting down", signal);
    notify_stopping();
    hangup.cancel();
    shut_down();
  });
  notify_ready();
  io.run();
  listeners.stop();
  core.stop();
  return 0;
}

}  // namespace anvil
