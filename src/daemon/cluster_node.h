// anvild as one node of a cluster (docs/cluster.md), over NATS:
// - presence: a beat on anvil.<cluster>.presence every
//   cluster_presence_interval_ms; a node not heard for cluster_presence_ttl_ms
//   is expired. Each node also keeps a record in the key-value bucket
//   anvil-<cluster>-nodes, so a node that starts later still knows whom
//   to expect; a clean stop deletes it, a silent node's goes after
//   cluster_forget_after_s.
// - answering: requests for this node (anvil.<cluster>.node.<name>) run
//   through an admin channel of this anvild, as a local admin's would, and
//   the answer goes back in chunks below NATS' max_payload.
// - asking: CLUSTER from a local admin goes to every node (or one), each
//   on its own reply subject, and is gathered until every node has
//   answered or the deadline passes.
// Everything but the NATS client's own threads runs on anvild's loop; the
// registry never waits on the network.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "cluster/cluster_wire.h"
#include "cluster/nats_link.h"
#include "common/log.h"
#include "daemon/admin_channel.h"
#include "daemon/cluster_answer.h"

namespace anvil {

class ClusterNode {
 public:
  ClusterNode(asio::io_context& io, const DaemonConfig& config, AdminContext& admin);
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Starts connecting (a NATS that is down is no error). "" or the problem.
  std::string start();
  // Says goodbye (presence "leaving", the node's record deleted), then
  // leaves NATS.
  void stop();
  // timeout: 0 for cluster_timeout_ms; others_only: every node but this.
  asio::awaitable<ClusterAnswer> ask(std::string node, std::string command, std::string on_behalf,
                                     std::chrono::milliseconds timeout = {},
                                     bool others_only = false);
  // A user's sessions on the other nodes that answer within
  // cluster_count_timeout_ms (cluster_max_user_connections).
  asio::awaitable<std::size_t> count_elsewhere(std::string user);
  const std::string& name() const { return name_; }

 private:
  struct Peer {
    std::string instance;
    std::chrono::steady_clock::time_point seen{};
    // The instance heard before this one under the same name: when it is
    // heard again, two anvild share the name.
    std::string other_instance;
    std::chrono::steady_clock::time_point duplicate_until{};
  };
  struct Pending;

  std::string subject(const std::string& tail) const;
  std::string bucket(const std::string& what) const;
  void on_presence(const cluster::Presence& presence);
  void beat(bool leaving);
  // Joins the node bucket, writes this node's record, reads the others'.
  void refresh_members();
  void on_request(cluster::NatsMessage message);
  asio::awaitable<void> serve(cluster::Request request, std::string reply_to);
  void on_reply(cluster::NatsMessage message);
  // Bans (docs/cluster.md): an admin's change here goes to the store and
  // to every node at once; every kBanSync (and on connecting) each node
  // reads the whole store and makes its table agree.
  void on_ban_changed(const Ban& ban, bool added);
  void on_ban_event(cluster::NatsMessage message);
  void sync_bans();
  void reconcile_bans(const std::map<std::uint64_t, std::string>& stored);
  void store_ban(const Ban& ban);
  bool live(const std::string& node) const;
  bool duplicated(const std::string& node) const;

  asio::io_context& io_;
  const DaemonConfig& config_;
  AdminContext& admin_;
  std::string name_;
  std::string instance_;
  std::string inbox_;  // this node's reply subjects: <inbox>.<request>.<node index>
  std::unique_ptr<cluster::NatsLink> link_;
  // What the NATS threads hand over goes through this strand-less flag:
  // once stop() ran, nothing more is posted to the loop's objects.
  std::shared_ptr<std::atomic<bool>> alive_;
  std::map<std::string, Peer> peers_;
  std::set<std::string> members_;  // from the bucket
  bool members_failing_ = false;
  std::map<std::string, std::shared_ptr<Pending>> pending_;
  std::uint64_t next_request_ = 1;
  std::size_t serving_ = 0;  // requests being answered
  // Each answer being sent, by "<origin>/<request>": the last part the
  // asker took, and a timer the sender waits on for more.
  struct Serving {
    explicit Serving(asio::io_context& io) : more(io) {}
    std::int64_t acked = -1;
    asio::steady_timer more;
  };
  std::map<std::string, std::shared_ptr<Serving>> answering_;
  asio::steady_timer beat_timer_;
  asio::steady_timer member_timer_;
  asio::steady_timer ban_timer_;
  bool bans_failing_ = false;
  // Lifted here, not yet deleted from the store: a store read must not
  // bring them back.
  std::set<std::uint64_t> pending_lifts_;
  std::set<std::uint64_t> storing_;  // bans on their way to the store
  std::chrono::steady_clock::time_point started_;
  std::set<std::string> warned_duplicates_;
  Throttle count_warnings_{1, std::chrono::seconds(10)};
};

}  // namespace anvil
