#include "daemon/listeners.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "daemon/admin_channel.h"
#include "daemon/service_channel.h"

namespace anvil {

Listeners::Listeners(asio::io_context& io, const DaemonConfig& config, ServiceChannels& services,
                     ServiceContext& service_context, AdminContext& admin_context,
                     std::function<OwnerId()> new_owner)
    : io_(io),
      config_(config),
      services_(services),
      service_context_(service_context),
      admin_context_(admin_context),
      new_owner_(std::move(new_owner)),
      service_acceptor_(io),
      admin_acceptor_(io) {}

std::string Listeners::listen(asio::local::stream_protocol::acceptor& acceptor,
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

std::string Listeners::start() {
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

void Listeners::stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ignored;
  service_acceptor_.close(ignored);
  admin_acceptor_.close(ignored);
  for (auto& acceptor : dovecot_acceptors_) acceptor->close(ignored);
  ::unlink(config_.service_socket_path().c_str());
  ::unlink(config_.admin_socket_path().c_str());
}

namespace {
bool privileged(uid_t uid) {
  return uid == 0 || uid == ::geteuid();
}
}  // namespace

Role Listeners::admin_role(const PeerCredentials& peer, const std::vector<gid_t>& groups) const {
  if (privileged(peer.uid)) return Role::kick;
  return config_.admin_access.role_of(peer.uid, groups);
}

bool Listeners::service_allowed(const PeerCredentials& peer,
                                const std::vector<gid_t>& groups) const {
  if (privileged(peer.uid)) return true;
  if (service_gid_ && std::find(groups.begin(), groups.end(), *service_gid_) != groups.end()) {
    return true;
  }
  return config_.service_access.role_of(peer.uid, groups) != Role::none;
}

void Listeners::reject(UnixSocket socket, const std::string& line, const std::string& log_line) {
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

asio::awaitable<std::optional<Listeners::Accepted>> Listeners::accept_one(
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

asio::awaitable<void> Listeners::accept_services() {
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
    if (services_.count_for_uid(cred.uid) >= config_.max_channels_per_uid) {
      reject(std::move(socket), refusal("too many service connections for this uid"),
             fmt::format("{} refused: max_channels_per_uid={} reached", who,
                         config_.max_channels_per_uid));
      continue;
    }
    OwnerId owner = new_owner_();
    auto channel =
        std::make_shared<ServiceChannel>(service_context_, std::move(socket), cred, owner);
    services_.add(owner, cred.uid, channel);
    asio::co_spawn(io_, channel->run(), asio::detached);
  }
}

std::string Listeners::adopt_admin_listener(int fd, const std::string& name) {
  auto acceptor = std::make_unique<asio::local::stream_protocol::acceptor>(io_);
  asio::error_code ec;
  acceptor->assign(asio::local::stream_protocol(), fd, ec);
  if (ec) return "cannot serve inherited socket " + name + ": " + ec.message();
  asio::co_spawn(io_, accept_admins(*acceptor, name, false), asio::detached);
  dovecot_acceptors_.push_back(std::move(acceptor));
  return "";
}

asio::awaitable<void> Listeners::accept_admins(asio::local::stream_protocol::acceptor& acceptor,
                                               std::string path, bool own_socket) {
  while (auto accepted = co_await accept_one(acceptor, path)) {
    auto& [socket, cred, groups] = *accepted;
    if (!own_socket) {
      // Dovecot's master decides who may open its sockets (their modes)
      // and sizes their clients (every login process keeps one
      // connection). What they may do there is Dovecot's read role, plus
      // its penalty updates; see AdminChannel.
      auto channel = std::make_shared<AdminChannel>(admin_context_, std::move(socket), cred,
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
    std::function<void()> ended;
    if (counted) {
      admin_count_++;
      ended = [this] { admin_count_--; };
    }
    auto channel = std::make_shared<AdminChannel>(admin_context_, std::move(socket), cred, role,
                                                  AdminChannel::Socket::own, std::move(ended));
    asio::co_spawn(io_, channel->run(), asio::detached);
  }
}

}  // namespace anvil
