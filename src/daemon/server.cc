#include "daemon/server.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/log.h"
#include "daemon/admin_channel.h"
#include "daemon/daemon.h"
#include "daemon/dovecot_service.h"
#include "daemon/service_channel.h"

namespace anvil {

const char* kick_status_name(KickStatus status) {
  switch (status) {
    case KickStatus::kicked: return "kicked";
    case KickStatus::not_dropped: return "not-dropped";
    case KickStatus::timeout: return "timeout";
    case KickStatus::vanished: return "vanished";
    case KickStatus::would_kick: return "would-kick";
    case KickStatus::shared: return "shared";
  }
  return "unknown";
}

Server::Server(asio::io_context& io, DaemonConfig config)
    : io_(io),
      config_(std::move(config)),
      dovecot_(io,
               [this](OwnerId owner, pid_t pid) {
                 std::size_t removed = sessions_.remove_owner(owner);
                 if (removed > 0) log_info("pid {} exited; {} sessions removed", pid, removed);
               }),
      service_acceptor_(io),
      admin_acceptor_(io) {}

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
  services_.erase(owner);
}

bool Server::admin_allowed(const PeerCredentials& cred) const {
  if (cred.uid == 0 || cred.uid == ::geteuid()) return true;
  return std::find(config_.admin_allow_uids.begin(), config_.admin_allow_uids.end(), cred.uid) !=
         config_.admin_allow_uids.end();
}

void Server::reject(UnixSocket socket, const std::string& line) {
  auto channel = std::make_shared<LineChannel>(std::move(socket), config_.max_line_length);
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
    if (ec) {
      log_error("accept on {} failed: {}", path, ec.message());
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));  // e.g. out of fds
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    auto cred = peer_credentials(socket.native_handle());
    if (!cred) {
      log_warning("connection on {} without peer credentials refused", path);
      continue;
    }
    co_return Accepted{std::move(socket), *cred};
  }
  co_return std::nullopt;
}

asio::awaitable<void> Server::accept_services() {
  while (auto accepted = co_await accept_one(service_acceptor_, config_.service_socket_path())) {
    auto& [socket, cred] = *accepted;
    if (services_.size() >= config_.max_service_clients) {
      log_warning("service pid {} refused: max_service_clients={} reached", cred.pid,
                  config_.max_service_clients);
      reject(
          std::move(socket),
          LineWriter().add("ERROR").add("").add("").add("too many service connections").finish());
      continue;
    }
    OwnerId owner = next_owner_++;
    auto channel = std::make_shared<ServiceChannel>(*this, std::move(socket), cred, owner);
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
    auto& [socket, cred] = *accepted;
    if (own_socket && !admin_allowed(cred)) {
      std::string who = "uid " + std::to_string(cred.uid);
      log_warning("admin connection from {} refused: permission denied", who);
      reject(std::move(socket),
             LineWriter()
                 .add("ERROR")
                 .add("permission denied: " + who + " may not use " + config_.admin_socket_path())
                 .finish());
      continue;
    }
    // Dovecot's master sizes the clients of its own sockets (every login
    // process keeps one connection); the cap is for anvild's admin socket.
    if (own_socket && admin_count_ >= config_.max_admin_clients) {
      log_warning("admin connection from uid {} refused: max_admin_clients={} reached", cred.uid,
                  config_.max_admin_clients);
      reject(std::move(socket), LineWriter().add("ERROR").add("too many admin clients").finish());
      continue;
    }
    if (own_socket) admin_count_++;
    auto channel = std::make_shared<AdminChannel>(*this, std::move(socket), cred, own_socket);
    asio::co_spawn(io_, channel->run(), asio::detached);
  }
}

asio::awaitable<std::vector<KickOutcome>> Server::kick(SessionFilter filter, std::string reason,
                                                       bool dry_run, bool force) {
  sync_registrations();
  std::vector<const Session*> selected = sessions_.select(filter);
  std::vector<KickOutcome> outcomes;
  for (const Session* session : selected) {
    outcomes.push_back({*session, dry_run ? KickStatus::would_kick : KickStatus::timeout});
  }
  if (dry_run || outcomes.empty()) co_return outcomes;

  auto op = std::make_shared<KickOperation>(io_.get_executor());
  std::vector<std::shared_ptr<ServiceChannel>> asked;
  for (const auto& [owner, owned] : group_by_owner(selected)) {
    std::vector<ConnectionId> ids;
    for (const Session* session : owned) ids.push_back(session->id);
    if (dovecot_.owns(owner)) {
      signal_dovecot_process(owner, ids, force, *op);
      continue;
    }
    auto it = services_.find(owner);
    if (it == services_.end()) {
      for (const ConnectionId& id : ids) op->status[id] = KickStatus::vanished;
      continue;
    }
    it->second->request_kick(ids, reason, op);
    asked.push_back(it->second);
  }
  if (op->outstanding > 0) {
    asio::error_code ec;
    op->done.expires_after(config_.kick_timeout);
    co_await op->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  for (const auto& channel : asked) channel->abandon(op);
  for (KickOutcome& outcome : outcomes) {
    auto it = op->status.find(outcome.session.id);
    if (it != op->status.end()) outcome.status = it->second;
  }
  co_return outcomes;
}

void Server::signal_dovecot_process(OwnerId owner, const std::vector<ConnectionId>& ids, bool force,
                                    KickOperation& op) {
  // Only the whole process can be ended; its sessions go when it exits.
  KickStatus status = KickStatus::kicked;
  if (!force && ids.size() < sessions_.owner_size(owner)) {
    status = KickStatus::shared;
  } else if (std::string error = dovecot_.signal(owner, SIGTERM); !error.empty()) {
    log_warning("kick: {}", error);
    status = KickStatus::not_dropped;
  }
  for (const ConnectionId& id : ids) op.status[id] = status;
}

int run_daemon(const DaemonConfig& config) {
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
  // Dovecot's master ends its children with SIGQUIT at shutdown.
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGQUIT);
  signals.async_wait([&](const asio::error_code& ec, int signal) {
    if (ec) return;
    log_info("signal {} received; shutting down", signal);
    server.stop();
    io.stop();
  });
  io.run();
  server.stop();
  return 0;
}

}  // namespace anvil
