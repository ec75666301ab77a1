// Dovecot 2.3's anvil protocol ("anvil" 1.x), as anvild serves it on its
// admin socket so that Dovecot's own tools work against anvild:
// CONNECT, DISCONNECT, CONNECT-DUMP, LOOKUP, KILL and PENALTY-*.
// Sessions registered this way belong to their process (watched through a
// pidfd), not to the connection that sent them. See docs/dovecot.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "registry/session_table.h"

#include "common/line_codec.h"
#include "daemon/dovecot_processes.h"
#include "registry/ban_table.h"
#include "registry/penalty_table.h"

namespace anvil {

// Longest line a Dovecot 2.3 client may send, as Dovecot's anvil enforces.
inline constexpr std::size_t kDovecot23MaxLine = 1024;

struct Dovecot23Reply {
  std::string text;   // to send back (may be empty)
  std::string fatal;  // when set: log it and close the connection
  bool dump = false;  // CONNECT-DUMP: stream a Dovecot23Dump
};

// CONNECT-DUMP's answer, line by line: one per (ident, pid) with its
// number of connections; the caller ends it with an empty line. Native
// sessions are included; sessions before login are not (2.3 has no such
// thing). The groups are taken at once; each line is written when its
// turn comes, from those of its sessions still alive, so a long answer
// can be sent in parts while registrations go on.
class Dovecot23Dump {
 public:
  explicit Dovecot23Dump(const SessionTable& table);
  // Appends the next line to *out; false at the end.
  bool next(std::string* out);

 private:
  const SessionTable& table_;
  Session session_;  // one, reused: a row costs no allocation
  std::string ident_;
  LineWriter line_;
  std::vector<SessionRef> refs_;
  std::vector<std::uint32_t> starts_;
  std::size_t group_ = 0;
};

// Who sent a line, and so what it may do.
struct Dovecot23Sender {
  bool from_master = false;   // Dovecot's master: the only sender that may KILL
  bool may_register = false;  // CONNECT, DISCONNECT and penalty updates
  // CONNECT also for processes that may not be signalled as Dovecot's
  // (they are listed and counted, never signalled); else those are ignored.
  bool may_register_any = false;
  std::uint32_t uid = 0xffffffff;  // the sender's uid, when it is a socket peer
};

// What the dialect works on, and the daemon's rules it follows: no more
// than that (the daemon builds one; tests build their own).
struct Dovecot23Context {
  SessionTable& sessions;
  PenaltyTable& penalties;
  // Bans: a banned user+address is answered a LOOKUP count above any
  // mail_max_userip_connections, a banned address the highest penalty.
  const BanTable& bans;
  DovecotProcesses& processes;
  std::function<OwnerId()> new_owner;
  // Why a process may not be signalled as Dovecot's; "" if it may.
  std::function<std::string(pid_t)> refusal;
  // Which limit refuses one more session for this pid and uid; "" if none.
  std::function<std::string(std::int32_t, std::uint32_t)> session_limit;
  // Brings in registrations written but not yet read (Dovecot's pipes).
  std::function<void()> sync;
};

Dovecot23Reply handle_dovecot23_line(Dovecot23Context& context,
                                     const std::vector<std::string_view>& fields,
                                     const Dovecot23Sender& sender);

}  // namespace anvil
