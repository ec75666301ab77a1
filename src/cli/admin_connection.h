// anvilctl's side of the admin protocol (anvil-admin, docs/protocol.md):
// one blocking connection to anvild's admin socket.
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/line_codec.h"
#include "common/unix_socket.h"
#include "registry/ban_table.h"
#include "registry/kick.h"
#include "registry/session.h"
#include "registry/session_filter.h"

namespace anvil {

// anvilctl's exit codes (sysexits.h values, as doveadm uses them).
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 64;
inline constexpr int kExitNotFound = 68;  // nothing matched
inline constexpr int kExitSoftware = 70;  // anvild answered something unexpected
inline constexpr int kExitTempFail = 75;  // anvild unreachable, or no process answered
inline constexpr int kExitNoPerm = 77;    // anvild refused this user

// Thrown by anvilctl's parts and caught in main(), which prints the message
// and exits with the code.
struct CliError {
  int exit_code;
  std::string message;
};

// who's answer: a deque, so that a million rows grow it without moving
// any of them.
using Sessions = std::deque<Session>;

struct KickResult {
  Session session;
  KickStatus status;
  // For "shared": the users of the process's other connections, when known.
  std::vector<std::string> others = {};
  // For "not-signalled": why the process may not be signalled.
  std::string why = {};
};

// A kick's answer, row by row (a deque, as for who).
using KickResults = std::deque<KickResult>;

// Connects to an admin socket; throws CliError (75, or 77 when the socket
// may not be opened).
UniqueFd connect_admin_socket(const std::string& socket_path);

// Thrown when the peer closed the connection without answering the VERSION
// line: it is not anvild (Dovecot's own anvil does that).
struct NotAnvild {};

class AdminConnection {
 public:
  // Connects and exchanges VERSION lines. Throws CliError or NotAnvild.
  AdminConnection(const std::string& socket_path, bool debug);
  // The same over a connected socket.
  AdminConnection(UniqueFd fd, const std::string& socket_path, bool debug);

  Sessions who(const SessionFilter& filter);
  // The same, each session handed over as it arrives.
  void who_each(const SessionFilter& filter, const std::function<void(const Session&)>& row);
  KickResults kick(const SessionFilter& filter, const std::string& reason, bool dry_run,
                   bool force = false);
  // The same, each result handed over as it arrives (in one reused object).
  // ban: also ban what the filter names, for that many seconds (0: no
  // end); the bans set go into *bans.
  void kick_each(const SessionFilter& filter, const std::string& reason, bool dry_run, bool force,
                 const std::function<void(const KickResult&)>& row,
                 std::optional<std::int64_t> ban = std::nullopt, std::vector<Ban>* bans = nullptr);
  // Bans: set (what the filter names, for duration seconds, 0: no end),
  // listed, lifted by id.
  std::vector<Ban> ban_add(const SessionFilter& filter, std::int64_t duration,
                           const std::string& reason, bool force);
  std::vector<Ban> ban_list();
  void ban_remove(const std::vector<std::uint64_t>& ids);
  // The newest audit records (JSON texts), oldest first.
  std::vector<std::string> audit(long long count);
  // anvild's figures (STATS): each a name, labels and a value.
  struct Stat {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;
    long long value = 0;
  };
  std::vector<Stat> stats();
  // Kicks and bans from now on are recorded as asked for by `name` (a
  // program that relays admins' requests says for whom; anvild records it
  // beside this connection's own uid and pid).
  void set_on_behalf(std::string name) { on_behalf_ = std::move(name); }

  // From now on WHO, KICK and BAN-LIST go to anvild's cluster (CLUSTER):
  // to every node, or to `node` alone.
  void set_cluster(std::string node) {
    cluster_ = true;
    cluster_node_ = std::move(node);
  }
  struct NodeStatus {
    std::string node;
    std::string status;  // answered, timeout, expired, no-responders, duplicate, error
    std::string error;
    long long ms = 0;
  };
  // What each node did in the last cluster request.
  const std::vector<NodeStatus>& node_statuses() const { return node_statuses_; }
  bool cluster_complete() const {
    for (const NodeStatus& node : node_statuses_) {
      if (node.status != "answered") return false;
    }
    return true;
  }
  // In a cluster request: the node of the row being handed over.
  const std::string& row_node() const { return row_node_; }

 private:
  Ban parse_ban(const std::vector<std::string_view>& fields);
  // The command's first line: the command, or CLUSTER and the command.
  LineWriter command(std::string_view name) const;
  // Where a row's own fields start: after its node= in a cluster answer
  // (taken into row_node_). True if the line is a node's status or end,
  // taken here.
  bool cluster_line(const std::vector<std::string_view>& fields, std::size_t* first);
  std::vector<Ban> read_bans();
  void send(const std::string& line);
  // The next line's fields: views into line_, valid until the next read.
  const std::vector<std::string_view>& read_fields();
  // The session that fields[first..] describe, into *out (its storage is
  // reused from row to row).
  void parse_session(const std::vector<std::string_view>& fields, std::size_t first, Session* out);

  std::string path_;
  bool debug_;
  UniqueFd fd_;
  LineBuffer input_;
  std::string line_;
  std::vector<std::string_view> fields_;
  bool closed_ = false;  // the peer closed the connection
  std::string on_behalf_;
  bool cluster_ = false;
  std::string cluster_node_;
  std::vector<NodeStatus> node_statuses_;
  std::string row_node_;
};

}  // namespace anvil
