// anvild's core: the two listening sockets, the registry, the live service
// channels, and kick dispatch. Single-threaded: everything runs on one
// io_context, so nothing here takes a lock.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/keyed_hash.h"
#include "common/log.h"
#include "common/unix_socket.h"
#include "daemon/audit_log.h"
#include "daemon/config.h"
#include "daemon/dovecot23_dialect.h"
#include "daemon/dovecot_processes.h"
#include "daemon/line_channel.h"
#include "daemon/running_kick.h"
#include "registry/kick.h"
#include "registry/penalty_table.h"
#include "registry/session_table.h"

namespace anvil {

class ServiceChannel;
struct ServiceContext;
struct AdminContext;

class Server {
 public:
  Server(asio::io_context& io, DaemonConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Creates the run directory and both sockets. Returns "" or an error.
  std::string start();
  // Closes the listeners and every channel, and removes the socket files.
  void stop();

  const DaemonConfig& config() const { return config_; }
  SessionTable& sessions() { return sessions_; }
  PenaltyTable& penalties() { return penalties_; }
  AuditLog& audit() { return audit_; }
  OwnerId new_owner() { return next_owner_++; }
  // What Dovecot 2.3's dialect works on (daemon/dovecot23_dialect.h).
  Dovecot23Context& dovecot23() { return dovecot23_; }
  // Brings in registrations that are written but not yet read (Dovecot's
  // pipes); called before answering a question about them.
  void set_registration_sync(std::function<void()> sync) { registration_sync_ = std::move(sync); }
  void sync_registrations() {
    if (registration_sync_) registration_sync_();
  }

  // Serves an inherited listening socket (Dovecot's `anvil` and
  // `anvil-auth-penalty`) like the admin socket. Returns "" or an error.
  std::string adopt_admin_listener(int fd, const std::string& name);

  // Why anvild may not signal this process as one of Dovecot's
  // (common/dovecot_process.h): "" if it may. The masters are the one that
  // runs anvild (--dovecot-service) and those of dovecot_master_pid_files.
  std::string dovecot_refusal(pid_t pid) const;

  void remove_service(OwnerId owner);

  // "" if one more session may be registered for this process and uid, or
  // the limit (max_sessions_per_process, _per_uid, max_sessions) that says no.
  std::string session_limit(std::int32_t pid, std::uint32_t uid) const;
  // The admin role of a peer on anvild's own admin socket: kick for root
  // and anvild's uid, else what admin_allow_uids / _groups grant.
  Role admin_role(const PeerCredentials& peer, const std::vector<gid_t>& groups) const;

  // Asks the owning processes to drop every session the filter selects,
  // and waits for their answers (at most kick_timeout). Processes that
  // registered through Dovecot 2.3's protocol get SIGTERM instead, and
  // only when all their sessions are selected, unless force is set.
  asio::awaitable<std::vector<KickOutcome>> kick(SessionFilter filter, std::string reason,
                                                 bool dry_run, bool force);

 private:
  std::string listen(asio::local::stream_protocol::acceptor& acceptor, const std::string& path,
                     mode_t mode);
  struct Accepted {
    UnixSocket socket;
    PeerCredentials peer;
    std::vector<gid_t> groups;  // primary and supplementary, at connect time
  };
  // The next connection with its peer's credentials; nullopt once stopped.
  asio::awaitable<std::optional<Accepted>> accept_one(
      asio::local::stream_protocol::acceptor& acceptor, const std::string& path);
  asio::awaitable<void> accept_services();
  // own_socket: anvild's admin socket, where the uid allow-list and
  // max_admin_clients apply; not Dovecot's sockets, whose file modes and
  // client limit Dovecot's master sets.
  asio::awaitable<void> accept_admins(asio::local::stream_protocol::acceptor& acceptor,
                                      std::string path, bool own_socket);
  bool service_allowed(const PeerCredentials& peer, const std::vector<gid_t>& groups) const;
  // Refuses a connection with one line; the log line is throttled.
  void reject(UnixSocket socket, const std::string& line, const std::string& log_line);
  // Ends a process that only a signal ends, whom the kick's plan did not
  // spare: its sessions go when it exits.
  void signal_dovecot_process(OwnerId owner, const std::vector<ConnectionId>& ids,
                              RunningKick& kick);

  asio::io_context& io_;
  DaemonConfig config_;
  SessionTable sessions_;
  PenaltyTable penalties_;
  AuditLog audit_;
  DovecotProcesses dovecot_;
  asio::local::stream_protocol::acceptor service_acceptor_;
  asio::local::stream_protocol::acceptor admin_acceptor_;
  std::vector<std::unique_ptr<asio::local::stream_protocol::acceptor>> dovecot_acceptors_;
  std::unordered_map<OwnerId, std::shared_ptr<ServiceChannel>> services_;
  std::unordered_map<uid_t, std::size_t> channels_by_uid_;
  std::size_t admin_count_ = 0;
  std::optional<gid_t> service_gid_;  // the service socket's group
  UniqueFd spare_fd_;                 // given up to refuse a connection when out of fds
  Throttle refusals_;                 // log lines about refused connections
  OwnerId next_owner_ = 1;
  pid_t served_master_ = 0;  // Dovecot's master, when anvild is its anvil
  bool stopped_ = false;
  std::function<void()> registration_sync_;
  Dovecot23Context dovecot23_;
  // What the channels are given (daemon/service_channel.h, admin_channel.h).
  std::unique_ptr<ServiceContext> service_context_;
  std::unique_ptr<AdminContext> admin_context_;
};

}  // namespace anvil
