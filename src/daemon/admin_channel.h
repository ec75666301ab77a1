// One administrator's connection (protocol anvil-admin, see
// docs/protocol.md): WHO and KICK with a filter evaluated here, or Dovecot
// 2.3's anvil protocol. What the peer may do is its role: read (who,
// Dovecot's lookups) or kick (also kick, and 2.3 registrations).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/unix_socket.h"
#include "daemon/audit_log.h"
#include "daemon/bans.h"
#include "daemon/cluster_answer.h"
#include "daemon/config.h"
#include "daemon/daemon_stats.h"
#include "daemon/dovecot23_dialect.h"
#include "daemon/line_channel.h"
#include "daemon/peer_access.h"
#include "daemon/running_kick.h"
#include "registry/session_filter.h"
#include "registry/session_table.h"

namespace anvil {

// What an admin channel works on, and nothing more of the daemon: anvild
// builds one for all its channels (daemon.cc), a test its own.
struct AdminContext {
  const DaemonConfig& config;
  SessionTable& sessions;
  AuditLog& audit;
  Bans& bans;
  Dovecot23Context& dovecot23;
  // Brings in registrations written but not yet read (Dovecot's pipes).
  std::function<void()> sync;
  // Runs a kick (filter, reason, dry run, force) to its outcomes.
  std::function<asio::awaitable<std::vector<KickOutcome>>(SessionFilter, std::string, bool, bool)>
      kick;
  // For STATS (absent in tests that do not ask): what anvild counts, and
  // how many service processes are connected.
  DaemonStats* stats = nullptr;
  std::function<std::size_t()> service_processes = {};
  // Asks the cluster (absent when anvild is in none): CLUSTER.
  ClusterAsk cluster = {};
};

class AdminChannel : public LineChannel {
 public:
  enum class Socket {
    own,      // anvild's admin socket
    dovecot,  // a socket Dovecot's master made and handed over
  };
  // `ended` (may be empty) is called when the connection ends.
  AdminChannel(AdminContext& context, UnixSocket socket, PeerCredentials peer, Role role,
               Socket kind, std::function<void()> ended = {});
  asio::awaitable<void> run();

 private:
  asio::awaitable<void> handle(const std::string& line);
  // Answers one line of Dovecot's dialect (splitting it in place); true
  // if a CONNECT-DUMP is to follow (send_dovecot23_dump).
  bool answer_dovecot23(std::string& line);
  asio::awaitable<void> send_dovecot23_dump();
  asio::awaitable<void> who(const std::vector<std::string>& fields);
  asio::awaitable<void> kick(const std::vector<std::string>& fields);
  void audit_tail(const std::vector<std::string>& fields);
  void stats();
  void ban_add(const std::vector<std::string>& fields);
  void ban_remove(const std::vector<std::string>& fields);
  asio::awaitable<void> ban_list();
  asio::awaitable<void> cluster(const std::vector<std::string>& fields);
  // Bans for a filter (see Bans::from_filter), set now by this peer;
  // duration 0: no end. Added and returned, or "" / the error in *error.
  std::vector<Ban> add_bans(const SessionFilter& filter, std::int64_t duration,
                            const std::string& reason, bool force, std::string* error);
  // Sends `part` (grown to a part's size), then waits for the client to
  // take most of it (see kPartBytes).
  asio::awaitable<void> send_part(std::string& part);
  void error(const std::string& message);

  AdminContext& context_;
  PeerCredentials peer_;
  Role role_;
  Socket kind_;
  std::function<void()> ended_;
  bool greeted_ = false;
  bool dovecot23_ = false;                // the client speaks Dovecot 2.3's protocol
  std::string on_behalf_;                 // the current command's on_behalf=, if any
  std::vector<std::string_view> fields_;  // of the Dovecot line being answered
  Throttle errors_;
};

}  // namespace anvil
