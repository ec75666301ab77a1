// What anvild nodes say to each other over NATS (docs/cluster.md): a
// request for one node, that node's reply in numbered chunks, and the
// presence beat every node sends. Each message is lines of anvil's line
// codec; its first line is the header
//   ANVIL-CLUSTER ⇥ <major> ⇥ <minor> ⇥ <kind> ⇥ key=value…
// Pure functions: every message a node accepts from the network passes
// through here first, and is checked whole before anything acts on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace anvil::cluster {

inline constexpr int kMajor = 1;
inline constexpr int kMinor = 0;

// A node name: 1 to 64 of A-Z a-z 0-9 - _ (it is a token of NATS subjects
// and a key of the key-value store).
bool valid_node_name(std::string_view name);
// The host's name cut at its first dot, with what a node name may not hold
// replaced by '-'; "anvil" if there is none.
std::string default_node_name();

// The commands a node runs for another: the admin commands WHO, KICK and
// BAN-LIST, and USER-COUNT (a user's sessions, for
// cluster_max_user_connections). Bans need none: they are shared through
// the key-value store.
bool relayable_command(std::string_view command);

struct Request {
  std::string id;      // the asking node's request number, for its replies
  std::string origin;  // the asking node's name
  // Whom the asking node's admin acts for ("uid 0 pid 42 on node a"),
  // recorded in the audit trail of every node that kicks.
  std::string on_behalf;
  std::string command;  // one admin-protocol line without its LF
};
std::string encode_request(const Request& request);
// "" or what is wrong; a request over max_bytes is refused unread.
std::string decode_request(std::string_view payload, std::size_t max_bytes, Request* out);

struct ReplyHeader {
  std::string id;
  std::string node;
  std::string instance;   // the answering anvild's random instance tag
  std::uint32_t seq = 0;  // 0, 1, 2… per reply
  bool last = false;
};
// Splits a reply into its header and its body (whole lines of the admin
// protocol, each with its LF). "" or what is wrong with it.
std::string decode_reply(std::string_view payload, ReplyHeader* header, std::string_view* body);

// Cuts one node's answer (admin-protocol lines, in order) into reply
// messages of at most max_bytes each.
class ReplyChunker {
 public:
  ReplyChunker(std::string id, std::string node, std::string instance, std::size_t max_bytes);
  // Adds one whole line (with its LF); returns a message that is full, or "".
  std::string add(std::string_view line);
  // The last message (possibly with no lines).
  std::string finish();

 private:
  std::string header(bool last) const;

  std::string id_, node_, instance_;
  std::size_t max_bytes_;
  std::uint32_t seq_ = 0;
  std::size_t header_size_;  // of the next message's header
  std::string body_;
};

// Flow control of a long answer: the asking node tells the answering node
// (on the same subject as the request) each part it has taken; the
// answering node keeps at most kReplyWindow parts unacknowledged.
inline constexpr std::uint32_t kReplyWindow = 4;
struct Ack {
  std::string id;      // the request's
  std::string origin;  // the asking node
  std::uint32_t seq = 0;
};
std::string encode_ack(const Ack& ack);
std::string decode_ack(std::string_view payload, Ack* out);

struct Presence {
  std::string node;
  std::string instance;
  std::uint32_t interval_ms = 0;
  std::uint64_t sessions = 0;
  bool leaving = false;  // the node is shutting down
};
std::string encode_presence(const Presence& presence);
std::string decode_presence(std::string_view payload, Presence* out);

// A ban set or lifted by an admin on one node, told to the others at once
// (the key-value store keeps it for those that come later).
struct BanEvent {
  std::string instance;  // the telling anvild's
  bool added = false;
  std::uint64_t id = 0;
  std::string ban;  // added: the ban's state-file line, with its LF
};
std::string encode_ban_event(const BanEvent& event);
std::string decode_ban_event(std::string_view payload, std::size_t max_bytes, BanEvent* out);

// Adds `node=<name>` after the first field of an admin-protocol line (with
// its LF): how the asking node tags the lines it passes on.
std::string tag_line(std::string_view line, std::string_view node);
// The same, appended to `out` (no string of its own per line).
void append_tagged_line(std::string& out, std::string_view line, std::string_view node);

}  // namespace anvil::cluster
