#include "daemon/server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "common/dovecot_process.h"
#include "common/log.h"
#include "daemon/admin_channel.h"
#include "daemon/daemon.h"
#include "daemon/dovecot_service.h"
#include "daemon/service_channel.h"

namespace anvil {

Server::Server(asio::io_context& io, DaemonConfig config)
    : io_(io),
      config_(std::move(config)),
      audit_(config_.audit_log),
      dovecot_(
          io,
          [this](OwnerId owner, pid_t pid) {
            std::size_t removed = sessions_.remove_owner(owner);
            if (removed > 0) log_info("pid {} exited; {} sessions removed", pid, removed);
          },
          config_.max_dovecot_processes),
      service_acceptor_(io),
      admin_acceptor_(io),
      dovecot23_{sessions_,
                 penalties_,
                 dovecot_,
                 [this] { return new_owner(); },
                 [this](pid_t pid) { return dovecot_refusal(pid); },
                 [this](std::int32_t pid, std::uint32_t uid) { return session_limit(pid, uid); },
                 [this] { sync_registrations(); }} {
  if (config_.dovecot_service) served_master_ = ::getppid();
  service_context_ = std::make_unique<ServiceContext>(ServiceContext{
      config_, sessions_, penalties_,
      [this](std::int32_t pid, std::uint32_t uid) { return session_limit(pid, uid); },
      [this] { sync_registrations(); }, [this](OwnerId owner) { remove_service(owner); }});
  admin_context_ = std::make_unique<AdminContext>(
      AdminContext{config_, sessions_, audit_, dovecot23_, [this] { sync_registrations(); },
                   [this](SessionFilter filter, std::string reason, bool dry_run, bool force) {
                     return kick(std::move(filter), std::move(reason), dry_run, force);
                   },
                   [this] { admin_count_--; }});
}

Server::~Server() = default;

std::string Server::dovecot_refusal(pid_t pid) const {
  std::vector<pid_t> masters;
  if (served_master_ > 0) masters.push_back(served_master_);
  for (const std::string& file : config_.dovecot_master_pid_files) {
    if (auto master = read_pid_file(file)) masters.push_back(*master);
  }
  return dovecot_signal_refusal(pid, masters, config_.dovecot_service_uids);
}

std::string Server::listen(asio::local::stream_protocol::acceptor& acceptor,
                           const std::string& path, mode_t mode) {
  // A socket file that still accepts connections belongs to a live daemon;
  // one that refuses them is left over and may go.
  std::string ignored;
  if (connect_unix(path, false, &ignored)) return path + " is in use by another running anvild";
  ::unlink(path.c_str());
  asio::error_code ec;
  acceptor.open(asio::local::stream_protocol(), ec);
  if (!ec) acceptor.bind(asio::local::stream_protocol::endpoint(path), ec);
  if (ec) return "cannot listen on " + path + ": " + ec.message();
  if (::chmod(path.c_str(), mode) != 0) {
    return "chmod(" + path + ") failed: " + std::strerror(errno);
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return "listen(" + path + ") failed: " + ec.message();
  return "";
}

std::string Server::start() {
  std::error_code fs_error;
  std::filesystem::create_directories(config_.run_dir, fs_error);
  if (fs_error) return "cannot create run directory " + config_.run_dir + ": " + fs_error.message();
  if (auto error =
          listen(service_acceptor_, config_.service_socket_path(), config_.service_socket_mode);
      !error.empty()) {
    return error;
  }
  if (!config_.service_socket_group.empty()) {
    gid_t gid = 0;
    if (!resolve_group(config_.service_socket_group, &gid)) {
      // A fresh machine may not have the group yet: only root, anvild's
      // uid and service_allow_* may then register.
      log_warning("service_socket_group {} does not exist; {} keeps anvild's group",
                  config_.service_socket_group, config_.service_socket_path());
    } else if (::chown(config_.service_socket_path().c_str(), static_cast<uid_t>(-1), gid) != 0) {
      return "chown(" + config_.service_socket_path() + ") failed: " + std::strerror(errno);
    } else {
      service_gid_ = gid;
    }
  }
  spare_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (std::string error = audit_.open(); !error.empty()) {
    // Kicks still work; each one's log line says it was not audited.
    log_error("{}; kicks are not audited until it can be opened (SIGHUP retries)", error);
  } else if (audit_.enabled()) {
    log_info("audit trail in {}", audit_.path());
  }
  if (auto error = listen(admin_acceptor_, config_.admin_socket_path(), config_.admin_socket_mode);
      !error.empty()) {
    return error;
  }
  asio::co_spawn(io_, accept_services(), asio::detached);
  asio::co_spawn(io_, accept_admins(admin_acceptor_, config_.admin_socket_path(), true),
                 asio::detached);
  log_info("listening on {} (admin) and {} (services)", config_.admin_socket_path(),
           config_.service_socket_path());
  return "";
}

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ignored;
  service_acceptor_.close(ignored);
  admin_acceptor_.close(ignored);
  for (auto& acceptor : dovecot_acceptors_) acceptor->close(ignored);
  ::unlink(config_.service_socket_path().c_str());
  ::unlink(config_.admin_socket_path().c_str());
  auto services = services_;  // close() may reach remove_service()
  for (auto& [owner, channel] : services) channel->close();
  dovecot_.close_all();
}

void Server::remove_service(OwnerId owner) {
  auto it = services_.find(owner);
  if (it == services_.end()) return;
  auto count = channels_by_uid_.find(it->second->peer().uid);
  if (count != channels_by_uid_.end() && --count->second == 0) channels_by_uid_.erase(count);
  services_.erase(it);
}

namespace {
bool privileged(uid_t uid) {
  return uid == 0 || uid == ::geteuid();
}
}  // namespace

Role Server::admin_role(const PeerCredentials& peer, const std::vector<gid_t>& groups) const {
  if (privileged(peer.uid)) return Role::kick;
  return config_.admin_access.role_of(peer.uid, groups);
}

bool Server::service_allowed(const PeerCredentials& peer, const std::vector<gid_t>& groups) const {
  if (privileged(peer.uid)) return true;
  if (service_gid_ && std::find(groups.begin(), groups.end(), *service_gid_) != groups.end()) {
    return true;
  }
  return config_.service_access.role_of(peer.uid, groups) != Role::none;
}

std::string Server::session_limit(std::int32_t pid, std::uint32_t uid) const {
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

void Server::reject(UnixSocket socket, const std::string& line, const std::string& log_line) {
  std::size_t held_back = 0;
  if (refusals_.allow(&held_back)) {
    log_warning("{}{}", log_line,
                held_back ? fmt::format(" ({} similar refusals not logged)", held_back) : "");
  }
  // A refused peer gets its line or nothing: it cannot hold anvild's memory.
  auto channel =
      std::make_shared<LineChannel>(std::move(socket), config_.max_line_length, line.size() + 1);
  channel->start_writer();
  channel->send_and_close(line);
}

asio::awaitable<std::optional<Server::Accepted>> Server::accept_one(
    asio::local::stream_protocol::acceptor& acceptor, const std::string& path) {
  while (!stopped_) {
    asio::error_code ec;
    UnixSocket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) break;
    if (ec == asio::error::no_descriptors) {
      // Out of descriptors: the waiting connection would make every accept
      // fail at once, forever. Give up the spare descriptor, take the
      // connection and close it, so the client learns at once and the log
      // gets one line per throttle window, not one per wakeup.
      spare_fd_.reset();
      int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) ::close(fd);
      spare_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      std::size_t held_back = 0;
      if (refusals_.allow(&held_back)) {
        log_error("accept on {} failed: out of file descriptors; connection closed ({} more)", path,
                  held_back);
      }
      continue;
    }
    if (ec) {
      std::size_t held_back = 0;
      if (refusals_.allow(&held_back)) log_error("accept on {} failed: {}", path, ec.message());
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    auto cred = peer_credentials(socket.native_handle());
    if (!cred) {
      log_warning("connection on {} without peer credentials refused", path);
      continue;
    }
    std::vector<gid_t> groups = peer_groups(socket.native_handle(), cred->gid);
    co_return Accepted{std::move(socket), *cred, std::move(groups)};
  }
  co_return std::nullopt;
}

asio::awaitable<void> Server::accept_services() {
  const std::string& path = config_.service_socket_path();
  auto refusal = [](const std::string& message) {
    return LineWriter().add("ERROR").add("").add("").add(message).finish();
  };
  while (auto accepted = co_await accept_one(service_acceptor_, path)) {
    auto& [socket, cred, groups] = *accepted;
    std::string who = fmt::format("service uid {} pid {}", cred.uid, cred.pid);
    if (!service_allowed(cred, groups)) {
      reject(
          std::move(socket),
          refusal(fmt::format("permission denied: uid {} may not register on {}", cred.uid, path)),
          who +
              " refused: not in service_allow_uids, service_allow_groups or the socket's "
              "group");
      continue;
    }
    if (services_.size() >= config_.max_service_clients) {
      reject(std::move(socket), refusal("too many service connections"),
             fmt::format("{} refused: max_service_clients={} reached", who,
                         config_.max_service_clients));
      continue;
    }
    std::size_t& per_uid = channels_by_uid_[cred.uid];
    if (per_uid >= config_.max_channels_per_uid) {
      reject(std::move(socket), refusal("too many service connections for this uid"),
             fmt::format("{} refused: max_channels_per_uid={} reached", who,
                         config_.max_channels_per_uid));
      continue;
    }
    per_uid++;
    OwnerId owner = next_owner_++;
    auto channel =
        std::make_shared<ServiceChannel>(*service_context_, std::move(socket), cred, owner);
    services_.emplace(owner, channel);
    asio::co_spawn(io_, channel->run(), asio::detached);
  }
}

std::string Server::adopt_admin_listener(int fd, const std::string& name) {
  auto acceptor = std::make_unique<asio::local::stream_protocol::acceptor>(io_);
  asio::error_code ec;
  acceptor->assign(asio::local::stream_protocol(), fd, ec);
  if (ec) return "cannot serve inherited socket " + name + ": " + ec.message();
  asio::co_spawn(io_, accept_admins(*acceptor, name, false), asio::detached);
  dovecot_acceptors_.push_back(std::move(acceptor));
  return "";
}

asio::awaitable<void> Server::accept_admins(asio::local::stream_protocol::acceptor& acceptor,
                                            std::string path, bool own_socket) {
  while (auto accepted = co_await accept_one(acceptor, path)) {
    auto& [socket, cred, groups] = *accepted;
    if (!own_socket) {
      // Dovecot's master decides who may open its sockets (their modes)
      // and sizes their clients (every login process keeps one
      // connection). What they may do there is Dovecot's read role, plus
      // its penalty updates; see AdminChannel.
      auto channel = std::make_shared<AdminChannel>(*admin_context_, std::move(socket), cred,
                                                    Role::read, AdminChannel::Socket::dovecot);
      asio::co_spawn(io_, channel->run(), asio::detached);
      continue;
    }
    Role role = admin_role(cred, groups);
    if (role == Role::none) {
      std::string who = "uid " + std::to_string(cred.uid);
      reject(
          std::move(socket),
          LineWriter()
              .add("ERROR")
              .add("permission denied: " + who + " may not use " + config_.admin_socket_path())
              .finish(),
          fmt::format("admin connection from {} pid {} refused: permission denied", who, cred.pid));
      continue;
    }
    // Root and anvild's own uid always get in: no crowd of idle
    // connections from other admins can lock them out.
    bool counted = !privileged(cred.uid);
    if (counted && admin_count_ >= config_.max_admin_clients) {
      reject(std::move(socket), LineWriter().add("ERROR").add("too many admin clients").finish(),
             fmt::format("admin connection from uid {} pid {} refused: max_admin_clients={} "
                         "reached",
                         cred.uid, cred.pid, config_.max_admin_clients));
      continue;
    }
    if (counted) admin_count_++;
    auto channel = std::make_shared<AdminChannel>(
        *admin_context_, std::move(socket), cred, role,
        counted ? AdminChannel::Socket::counted : AdminChannel::Socket::exempt);
    asio::co_spawn(io_, channel->run(), asio::detached);
  }
}

asio::awaitable<std::vector<KickOutcome>> Server::kick(SessionFilter filter, std::string reason,
                                                       bool dry_run, bool force) {
  sync_registrations();
  std::vector<SessionRef> refs = sessions_.select(filter);
  std::vector<Session> selected;
  selected.reserve(refs.size());
  for (SessionRef ref : refs) selected.push_back(sessions_.get(ref));
  std::vector<KickGroup> plan = plan_kick(
      selected, [](const Session& s) { return s.owner; },
      [this](OwnerId owner) { return dovecot_.owns(owner); },
      [this](OwnerId owner) { return sessions_.owner_size(owner); }, force);
  std::vector<std::pair<OwnerId, std::vector<ConnectionId>>> work;
  for (const KickGroup& group : plan) {
    std::vector<ConnectionId>& ids =
        work.emplace_back(group.owner, std::vector<ConnectionId>{}).second;
    for (std::size_t i : group.members) ids.push_back(selected[i].id);
  }
  auto kick = std::make_shared<RunningKick>(io_.get_executor(), std::move(selected),
                                            dry_run ? KickStatus::would_kick : KickStatus::timeout);
  if (dry_run) co_return kick->take_outcomes();

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
    auto it = services_.find(owner);
    if (it == services_.end()) {
      for (const ConnectionId& id : ids) kick->settle(id, KickStatus::vanished);
      continue;
    }
    it->second->request_kick(ids, reason, kick);
    asked.push_back(it->second);
  }
  co_await kick->wait(config_.kick_timeout);
  for (const auto& channel : asked) channel->abandon(kick);
  co_return kick->take_outcomes();
}

void Server::signal_dovecot_process(OwnerId owner, const std::vector<ConnectionId>& ids,
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

}  // namespace

int run_daemon(const DaemonConfig& config) {
  raise_descriptor_limit(config);
  asio::io_context io(1);
  Server server(io, config);
  if (std::string error = server.start(); !error.empty()) {
    log_error("{}", error);
    return 1;
  }
  std::unique_ptr<DovecotService> dovecot;
  if (config.dovecot_service) {
    dovecot = std::make_unique<DovecotService>(io, server);
    if (std::string error = dovecot->start(); !error.empty()) {
      log_error("{}", error);
      return 1;
    }
  }
  // SIGHUP: reopen the audit trail (after log rotation).
  asio::signal_set hangup(io, SIGHUP);
  std::function<void(const asio::error_code&, int)> on_hangup = [&](const asio::error_code& ec,
                                                                    int) {
    if (ec) return;
    if (std::string error = server.audit().open(); !error.empty()) {
      log_error("{}", error);
    } else if (server.audit().enabled()) {
      log_info("reopened {}", server.audit().path());
    }
    hangup.async_wait(on_hangup);
  };
  hangup.async_wait(on_hangup);
  // Dovecot's master ends its children with SIGQUIT at shutdown.
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGQUIT);
  signals.async_wait([&](const asio::error_code& ec, int signal) {
    if (ec) return;
    log_info("signal {} received; shutting down", signal);
    server.stop();
    hangup.cancel();
    io.stop();
  });
  io.run();
  server.stop();
  return 0;
}

}  // namespace anvil
