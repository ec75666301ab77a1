// One service process's registration channel (protocol anvil-service, see
// docs/protocol.md). The channel owns the sessions registered through it:
// when it closes, they are gone.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "common/unix_socket.h"
#include "daemon/config.h"
#include "daemon/line_channel.h"
#include "daemon/running_kick.h"
#include "registry/ban_table.h"
#include "registry/penalty_table.h"
#include "registry/session_table.h"

namespace anvil {

// What a service channel works on, and nothing more of the daemon: anvild
// builds one for all its channels (daemon.cc), a test its own.
struct ServiceContext {
  const DaemonConfig& config;
  SessionTable& sessions;
  PenaltyTable& penalties;
  const BanTable& bans;
  // Which limit refuses one more session for this pid and uid; "" if none.
  std::function<std::string(std::int32_t, std::uint32_t)> session_limit;
  // Brings in registrations written but not yet read (Dovecot's pipes).
  std::function<void()> sync;
  // The channel has ended; its sessions are gone.
  std::function<void(OwnerId)> closed;
  // In a cluster with cluster_max_user_connections: a user's sessions on
  // the other nodes (those that answer within cluster_count_timeout_ms).
  std::function<asio::awaitable<std::size_t>(std::string user)> count_elsewhere = {};
};

class ServiceChannel : public LineChannel {
 public:
  ServiceChannel(ServiceContext& context, UnixSocket socket, PeerCredentials peer, OwnerId owner);

  asio::awaitable<void> run();

  // Sends KICK requests for these sessions (split over as many lines as the
  // line limit needs); each answer settles its sessions in the kick.
  void request_kick(const std::vector<ConnectionId>& ids, const std::string& reason,
                    const std::shared_ptr<RunningKick>& kick);
  // Forgets the unanswered requests of a kick (it timed out); a late answer
  // is then reported to the process as unknown.
  void abandon(const std::shared_ptr<RunningKick>& kick);

  OwnerId owner() const { return owner_; }
  const PeerCredentials& peer() const { return peer_; }

 private:
  enum class State { version, hello, ready };
  struct PendingKick {
    std::vector<ConnectionId> ids;
    std::shared_ptr<RunningKick> kick;
  };

  void handle(const std::vector<std::string_view>& fields);
  void handle_connect(const std::vector<std::string_view>& fields, bool update);
  void handle_disconnect(const std::vector<std::string_view>& fields);
  void handle_kicked(const std::vector<std::string_view>& fields);
  void handle_count(const std::vector<std::string_view>& fields);
  // COUNTS with the cluster's count of the user, once the nodes answered.
  asio::awaitable<void> answer_with_cluster(std::string answer, std::string user,
                                            std::size_t local);
  void handle_login(const std::vector<std::string_view>& fields);
  void error(std::string_view command, std::string_view id, const std::string& message);
  void fatal(const std::string& message);
  void finish();

  ServiceContext& context_;
  PeerCredentials peer_;
  OwnerId owner_;
  State state_ = State::version;
  std::string service_;
  std::vector<std::string_view> fields_;  // of the line being handled
  Throttle errors_;                       // error replies and their log lines
  std::unordered_map<std::uint64_t, PendingKick> pending_;
  std::uint64_t next_request_ = 1;
};

}  // namespace anvil
