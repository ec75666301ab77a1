// anvild's sockets: the service and admin sockets it creates, and those
// Dovecot's master hands it. Each accepted peer is identified by its
// kernel credentials (SO_PEERCRED), checked against the allow-lists and
// the connection limits, refused with one line or handed to a channel with
// the context that channel is given. Nothing here reads a request.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/unix_socket.h"
#include "daemon/config.h"
#include "daemon/line_channel.h"
#include "daemon/peer_access.h"
#include "daemon/service_channels.h"
#include "registry/session.h"

namespace anvil {

struct ServiceContext;
struct AdminContext;

class Listeners {
 public:
  // New service channels go into `services` (whose counts the limits
  // read), each with an owner from new_owner.
  Listeners(asio::io_context& io, const DaemonConfig& config, ServiceChannels& services,
            ServiceContext& service_context, AdminContext& admin_context,
            std::function<OwnerId()> new_owner);
  Listeners(const Listeners&) = delete;
  Listeners& operator=(const Listeners&) = delete;

  // Creates the run directory and both sockets, and starts accepting.
  // Returns "" or an error.
  std::string start();
  // Serves an inherited listening socket (Dovecot's `anvil` and
  // `anvil-auth-penalty`) like the admin socket. Returns "" or an error.
  std::string adopt_admin_listener(int fd, const std::string& name);
  // Stops accepting and removes the socket files.
  void stop();

  // The admin role of a peer on anvild's own admin socket: kick for root
  // and anvild's uid, else what admin_allow_uids / _groups grant.
  Role admin_role(const PeerCredentials& peer, const std::vector<gid_t>& groups) const;
  // Whether a peer may register: root, anvild's uid, the service socket's
  // group, or service_allow_uids / _groups.
  bool service_allowed(const PeerCredentials& peer, const std::vector<gid_t>& groups) const;
  // Admin connections that count towards max_admin_clients.
  std::size_t counted_admins() const { return admin_count_; }

 private:
  struct Accepted {
    UnixSocket socket;
    PeerCredentials peer;
    std::vector<gid_t> groups;  // primary and supplementary, at connect time
  };
  std::string listen(asio::local::stream_protocol::acceptor& acceptor, const std::string& path,
                     mode_t mode);
  // The next connection with its peer's credentials; nullopt once stopped.
  asio::awaitable<std::optional<Accepted>> accept_one(
      asio::local::stream_protocol::acceptor& acceptor, const std::string& path);
  asio::awaitable<void> accept_services();
  // own_socket: anvild's admin socket, where the uid allow-list and
  // max_admin_clients apply; not Dovecot's sockets, whose file modes and
  // client limit Dovecot's master sets.
  asio::awaitable<void> accept_admins(asio::local::stream_protocol::acceptor& acceptor,
                                      std::string path, bool own_socket);
  // Refuses a connection with one line; the log line is throttled.
  void reject(UnixSocket socket, const std::string& line, const std::string& log_line);

  asio::io_context& io_;
  const DaemonConfig& config_;
  ServiceChannels& services_;
  ServiceContext& service_context_;
  AdminContext& admin_context_;
  std::function<OwnerId()> new_owner_;
  asio::local::stream_protocol::acceptor service_acceptor_;
  asio::local::stream_protocol::acceptor admin_acceptor_;
  std::vector<std::unique_ptr<asio::local::stream_protocol::acceptor>> dovecot_acceptors_;
  std::size_t admin_count_ = 0;
  std::optional<gid_t> service_gid_;  // the service socket's group
  UniqueFd spare_fd_;                 // given up to refuse a connection when out of fds
  Throttle refusals_;                 // log lines about refused connections
  bool stopped_ = false;
};

}  // namespace anvil
