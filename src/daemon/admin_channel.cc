#include "daemon/admin_channel.h"

#include "cluster/cluster_wire.h"

#include "common/log.h"
#include "common/numbers.h"
#include "common/wall_clock.h"
#include "daemon/dovecot23_dialect.h"
#include "daemon/peer_access.h"
#include "registry/wire_codec.h"

namespace anvil {

namespace {
constexpr std::size_t kMaxReasonLength = 1024;
// A long answer (WHO, a kick's RESULTs) goes out in parts of about this
// size, each only once the client has taken most of the last: other
// clients are served in between, and anvild never holds a whole large
// answer for a slow reader.
constexpr std::size_t kPartBytes = 64 * 1024;
// An AUDIT answer is sent whole: its size is bounded by this many records.
constexpr long long kMaxAuditRecords = 1000;
constexpr std::size_t kMaxAuditLine = 256 * 1024;
constexpr long long kMaxBanSeconds = 3660LL * 24 * 3600;  // ten years
constexpr std::size_t kMaxOnBehalfLength = 128;

// A KICK's, BAN-ADD's or BAN-RM's "on_behalf=<name>": whom a program that
// relays admins' requests (anvil-httpd) acts for. It is recorded beside the
// peer's own uid and pid, never instead of them: it grants nothing.
// Returns "" or what is wrong with it.
std::string take_on_behalf(std::string_view value, std::string* out) {
  if (value.empty() || value.size() > kMaxOnBehalfLength) {
    return fmt::format("on_behalf must be 1 to {} bytes", kMaxOnBehalfLength);
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) return "on_behalf may not hold control characters";
  }
  *out = value;
  return "";
}

const char* state_name(SessionTable::State state) {
  switch (state) {
    case SessionTable::State::prelogin: return "prelogin";
    case SessionTable::State::logged_in: return "logged_in";
    case SessionTable::State::proxied: return "proxied";
  }
  return "?";
}
}  // namespace

AdminChannel::AdminChannel(AdminContext& context, UnixSocket socket, PeerCredentials peer,
                           Role role, Socket kind, std::function<void()> ended)
    : LineChannel(std::move(socket), context.config.max_line_length,
                  context.config.max_output_bytes),
      context_(context),
      peer_(peer),
      role_(role),
      kind_(kind),
      ended_(std::move(ended)) {}

asio::awaitable<void> AdminChannel::run() {
  auto self = shared_from_this();
  start_writer();
  std::string line;
  while (!closing()) {
    // On anvild's own socket a client must greet at once and may not sit
    // idle for long; Dovecot's processes keep their connections open.
    std::chrono::milliseconds deadline{};
    if (kind_ != Socket::dovecot) {
      deadline = greeted_ ? context_.config.admin_idle_timeout : context_.config.handshake_timeout;
    }
    ReadStatus status = co_await read_line(&line, deadline);
    if (status == ReadStatus::closed) break;
    if (status == ReadStatus::timed_out) {
      log_info("admin client uid {} pid {}: {}; closing", peer_.uid, peer_.pid,
               greeted_ ? "idle for admin_idle_timeout_ms" : "no VERSION line in time");
      send_and_close(LineWriter().add("ERROR").add("timed out").finish());
      break;
    }
    if (status == ReadStatus::overlong) {
      if (dovecot23_) {
        std::string too_long(kDovecot23MaxLine + 1, 'x');
        answer_dovecot23(too_long);
        break;
      }
      log_warning("admin client uid {} pid {}: line longer than {} bytes; closing", peer_.uid,
                  peer_.pid, max_line_length());
      send_and_close(LineWriter().add("ERROR").add("line too long").finish());
      break;
    }
    if (dovecot23_) {
      // Most lines of Dovecot's dialect are answered at once, without a
      // coroutine; only a dump is sent in parts.
      if (answer_dovecot23(line)) co_await send_dovecot23_dump();
      continue;
    }
    co_await handle(line);
  }
  if (output_overrun()) {
    log_warning("admin client uid {} pid {}: more than max_output_bytes={} unread; dropping it",
                peer_.uid, peer_.pid, context_.config.max_output_bytes);
  } else if (output_stalled()) {
    log_warning("admin client uid {} pid {}: read nothing for admin_idle_timeout_ms; dropping it",
                peer_.uid, peer_.pid);
  } else if (!closing()) {
    close();
  }
  if (ended_) ended_();
}

void AdminChannel::error(const std::string& message) {
  std::size_t held_back = 0;
  if (!errors_.allow(&held_back)) return;
  std::string text = clip(message, 200);
  log_warning("admin client uid {} pid {}: {}", peer_.uid, peer_.pid, text);
  send(LineWriter().add("ERROR").add(text).finish());
}

bool AdminChannel::answer_dovecot23(std::string& line) {
  Dovecot23Reply reply;
  if (line.size() > kDovecot23MaxLine) {
    reply.fatal = "Anvil client connection sent too much data";
  } else {
    Dovecot23Sender sender;
    sender.may_register = role_ == Role::kick || kind_ == Socket::dovecot;
    // Only a kick-role admin of anvild's own socket (Dovecot's tools, tests,
    // benchmarks) may register processes that are not Dovecot's; they are
    // never signalled.
    sender.may_register_any = role_ == Role::kick && kind_ != Socket::dovecot;
    sender.uid = peer_.uid;
    split_fields_in_place(line, &fields_);
    reply = handle_dovecot23_line(context_.dovecot23, fields_, sender);
    release_large(line, fields_);
  }
  if (!reply.fatal.empty()) {
    log_warning("Dovecot anvil client uid {} pid {}: {}; closing", peer_.uid, peer_.pid,
                clip(reply.fatal, 200));
    close();  // Dovecot's protocol has no error reply
    return false;
  }
  if (!reply.text.empty()) send(std::move(reply.text));
  return reply.dump;
}

asio::awaitable<void> AdminChannel::send_dovecot23_dump() {
  auto self = shared_from_this();
  Dovecot23Dump dump(context_.sessions);
  std::string part;
  while (!closing() && dump.next(&part)) {
    if (part.size() >= kPartBytes) co_await send_part(part);
  }
  send(std::move(part) + "\n");
}

asio::awaitable<void> AdminChannel::handle(const std::string& line) {
  std::vector<std::string> fields = split_fields(line);
  if (fields.empty()) co_return;
  const std::string& command = fields[0];
  if (!greeted_) {
    if (fields.size() >= 4 && command == "VERSION" && fields[1] == "anvil-admin" &&
        fields[2] == "1") {
      greeted_ = true;
      send(LineWriter().add("VERSION").add("anvil-admin").add("1").add("1").finish());
    } else if (fields.size() >= 3 && command == "VERSION" && fields[1] == "anvil" &&
               fields[2] == "1") {
      // Dovecot 2.3's dialect; it expects no reply to its VERSION line.
      greeted_ = dovecot23_ = true;
    } else {
      log_warning("admin client uid {} pid {}: expected a VERSION line; closing", peer_.uid,
                  peer_.pid);
      send_and_close(
          LineWriter().add("ERROR").add("expected VERSION\tanvil-admin\t1\t0 first").finish());
    }
    co_return;
  }
  if (context_.stats) context_.stats->count_admin_request(command);
  on_behalf_.clear();
  if (command == "WHO") {
    co_await who(fields);
  } else if (command == "STATS") {
    stats();
  } else if (command == "AUDIT") {
    audit_tail(fields);
  } else if (command == "BAN-LIST") {
    co_await ban_list();
  } else if (command == "CLUSTER") {
    co_await cluster(fields);
  } else if (command == "KICK" || command == "BAN-ADD" || command == "BAN-RM") {
    if (role_ != Role::kick) {
      error(fmt::format("permission denied: uid {} may only read (admin role {})", peer_.uid,
                        role_name(role_)));
      co_return;
    }
    if (command == "KICK") {
      co_await kick(fields);
    } else if (command == "BAN-ADD") {
      ban_add(fields);
    } else {
      ban_remove(fields);
    }
  } else {
    error("unknown command: " + command);
  }
}

asio::awaitable<void> AdminChannel::who(const std::vector<std::string>& fields) {
  auto self = shared_from_this();
  SessionFilter filter;
  for (std::size_t i = 1; i < fields.size(); i++) {
    std::string problem = apply_filter_field(filter, fields[i]);
    if (!problem.empty()) {
      error("WHO: " + problem);
      co_return;
    }
  }
  context_.sync();
  // Sessions may come and go between the parts: a ref knows when its
  // session is gone.
  const SessionTable& table = context_.sessions;
  std::vector<SessionRef> refs = table.select(filter);
  std::size_t sent = 0;
  std::string part;
  Session session;  // one, reused: a row costs no allocation
  LineWriter line;
  for (SessionRef ref : refs) {
    if (closing()) break;
    if (!table.alive(ref)) continue;  // gone since the answer began
    table.get(ref, &session);
    line.add("SESSION");
    add_session_fields(line, session);
    line.finish_into(part);
    sent++;
    if (part.size() >= kPartBytes) co_await send_part(part);
  }
  send(std::move(part));
  send(LineWriter().add("END").add("count=" + std::to_string(sent)).finish());
}

asio::awaitable<void> AdminChannel::kick(const std::vector<std::string>& fields) {
  auto self = shared_from_this();
  SessionFilter filter;
  KickAudit audit;
  audit.peer = peer_;
  std::string reason(kDefaultKickReason);
  bool dry_run = false, force = false;
  std::optional<std::int64_t> ban;  // seconds; 0: no end
  for (std::size_t i = 1; i < fields.size(); i++) {
    const std::string& field = fields[i];
    if (field.starts_with("reason=")) {
      reason = field.substr(7, kMaxReasonLength);
    } else if (field.starts_with("ban=")) {
      long long seconds = 0;
      if (!parse_integer(std::string_view(field).substr(4), 0, kMaxBanSeconds, &seconds)) {
        error("KICK: invalid ban duration: " + clip(field));
        co_return;
      }
      ban = seconds;
    } else if (field == "dry_run=1" || field == "dry_run=0") {
      dry_run = field == "dry_run=1";
    } else if (field == "force=1" || field == "force=0") {
      force = field == "force=1";
    } else if (field.starts_with("on_behalf=")) {
      if (std::string problem = take_on_behalf(std::string_view(field).substr(10), &on_behalf_);
          !problem.empty()) {
        error("KICK: " + problem);
        co_return;
      }
    } else if (std::string problem = apply_filter_field(filter, field); !problem.empty()) {
      error("KICK: " + problem);
      co_return;
    } else {
      audit.filter.push_back(field);
    }
  }
  if (filter.empty()) {
    error("KICK: refusing to kick without a filter");
    co_return;
  }
  // The ban comes first: nobody it names gets back in while the kick runs.
  std::string ban_error;
  std::vector<Ban> bans;
  if (ban && !dry_run) bans = add_bans(filter, *ban, reason, force, &ban_error);
  if (!ban_error.empty()) {
    error("KICK: " + ban_error);
    co_return;
  }
  auto outcomes = co_await context_.kick(filter, reason, dry_run, force);
  std::size_t kicked = 0;
  for (const KickOutcome& outcome : outcomes) kicked += outcome.status == KickStatus::kicked;
  // The record is on disk before the admin hears anything.
  audit.reason = reason;
  audit.dry_run = dry_run;
  audit.force = force;
  audit.on_behalf = on_behalf_;
  std::string audit_error = context_.audit.record(audit, outcomes);
  if (!audit_error.empty()) log_error("kick not audited: {}", audit_error);
  if (!dry_run) {
    log_info("kick by uid {}{} (reason \"{}\"): {} matched, {} kicked", peer_.uid,
             on_behalf_.empty() ? "" : " for " + clip(on_behalf_), clip(reason), outcomes.size(),
             kicked);
  }
  std::string part;
  LineWriter line;
  for (const KickOutcome& outcome : outcomes) {
    line.add("RESULT").add("status", kick_status_name(outcome.status));
    add_session_fields(line, outcome.session);
    if (!outcome.why.empty()) line.add("why", outcome.why);
    line.finish_into(part);
    if (part.size() >= kPartBytes) co_await send_part(part);
  }
  for (const Ban& added : bans) part += ban_line(added);
  send(std::move(part));
  send(LineWriter()
           .add("END")
           .add("matched=" + std::to_string(outcomes.size()))
           .add("kicked=" + std::to_string(kicked))
           .finish());
}

std::vector<Ban> AdminChannel::add_bans(const SessionFilter& filter, std::int64_t duration,
                                        const std::string& reason, bool force, std::string* error) {
  std::vector<Ban> bans = context_.bans.from_filter(filter, force, error);
  if (!error->empty()) return {};
  std::int64_t now = unix_seconds();
  std::string name = user_name(peer_.uid);
  for (Ban& ban : bans) {
    ban.created = now;
    ban.expires = duration > 0 ? now + duration : 0;
    ban.reason = reason;
    ban.set_by = fmt::format("{}uid {} pid {}{}", name.empty() ? "" : name + " ", peer_.uid,
                             peer_.pid, on_behalf_.empty() ? "" : " for " + on_behalf_);
  }
  return context_.bans.add(std::move(bans), error);
}

void AdminChannel::ban_add(const std::vector<std::string>& fields) {
  SessionFilter filter;
  std::string reason(kDefaultBanReason);
  long long duration = 0;
  bool force = false;
  for (std::size_t i = 1; i < fields.size(); i++) {
    const std::string& field = fields[i];
    if (field.starts_with("reason=")) {
      reason = field.substr(7, kMaxReasonLength);
    } else if (field.starts_with("duration=")) {
      if (!parse_integer(std::string_view(field).substr(9), 0, kMaxBanSeconds, &duration)) {
        return error("BAN-ADD: invalid duration: " + clip(field));
      }
    } else if (field == "force=1" || field == "force=0") {
      force = field == "force=1";
    } else if (field.starts_with("on_behalf=")) {
      if (std::string problem = take_on_behalf(std::string_view(field).substr(10), &on_behalf_);
          !problem.empty()) {
        return error("BAN-ADD: " + problem);
      }
    } else if (std::string problem = apply_filter_field(filter, field); !problem.empty()) {
      return error("BAN-ADD: " + problem);
    }
  }
  std::string problem;
  std::vector<Ban> bans = add_bans(filter, duration, reason, force, &problem);
  if (!problem.empty()) return error("BAN-ADD: " + problem);
  std::string answer;
  for (const Ban& ban : bans) answer += ban_line(ban);
  send(answer + LineWriter().add("END").add("count", static_cast<long long>(bans.size())).finish());
}

void AdminChannel::ban_remove(const std::vector<std::string>& fields) {
  std::vector<std::uint64_t> ids;
  for (std::size_t i = 1; i < fields.size(); i++) {
    long long id = 0;
    if (fields[i].starts_with("on_behalf=")) {
      if (std::string problem = take_on_behalf(std::string_view(fields[i]).substr(10), &on_behalf_);
          !problem.empty()) {
        return error("BAN-RM: " + problem);
      }
      continue;
    }
    if (!fields[i].starts_with("id=") ||
        !parse_integer(std::string_view(fields[i]).substr(3), 1, INT64_MAX, &id)) {
      return error("BAN-RM: want id=<number>, got " + clip(fields[i]));
    }
    ids.push_back(static_cast<std::uint64_t>(id));
  }
  if (ids.empty()) return error("BAN-RM: which ban? (id=<number>)");
  std::string problem;
  if (!context_.bans.remove(ids, &problem)) return error("BAN-RM: " + problem);
  for (std::uint64_t id : ids) {
    log_info("ban {} lifted by uid {} pid {}{}", id, peer_.uid, peer_.pid,
             on_behalf_.empty() ? "" : " for " + clip(on_behalf_));
  }
  send(LineWriter().add("END").add("count", static_cast<long long>(ids.size())).finish());
}

asio::awaitable<void> AdminChannel::ban_list() {
  auto self = shared_from_this();
  // In parts, like WHO: bans may be lifted in between, so each is looked
  // up again by id when its turn comes.
  std::vector<std::uint64_t> ids;
  for (const Ban* ban : context_.bans.table().all()) ids.push_back(ban->id);
  std::string part;
  std::size_t sent = 0;
  for (std::uint64_t id : ids) {
    if (closing()) co_return;
    const Ban* ban = context_.bans.table().find(id);
    if (!ban) continue;
    part += ban_line(*ban);
    sent++;
    if (part.size() >= kPartBytes) co_await send_part(part);
  }
  send(part + LineWriter().add("END").add("count", static_cast<long long>(sent)).finish());
}

asio::awaitable<void> AdminChannel::cluster(const std::vector<std::string>& fields) {
  auto self = shared_from_this();
  if (!context_.cluster) co_return error("CLUSTER: anvild is in no cluster (cluster_nats_urls)");
  std::size_t first = 1;
  std::string node;
  if (first < fields.size() && fields[first].starts_with("node=")) {
    node = fields[first++].substr(5);
    if (!cluster::valid_node_name(node))
      co_return error("CLUSTER: invalid node name: " + clip(node));
  }
  if (first >= fields.size() ||
      (fields[first] != "WHO" && fields[first] != "KICK" && fields[first] != "BAN-LIST")) {
    co_return error("CLUSTER: want WHO, KICK or BAN-LIST after it");
  }
  const std::string& command = fields[first];
  if (command == "KICK" && role_ != Role::kick) {
    co_return error(fmt::format("permission denied: uid {} may only read (admin role {})",
                                peer_.uid, role_name(role_)));
  }
  // Checked here, so that a bad filter is one error, not one per node.
  LineWriter relayed;
  relayed.add(command);
  SessionFilter filter;
  std::string reason(kDefaultKickReason);
  bool dry_run = false, force = false;
  std::optional<std::int64_t> ban;
  for (std::size_t i = first + 1; i < fields.size(); i++) {
    const std::string& field = fields[i];
    if (field.starts_with("on_behalf=")) {
      std::string problem = take_on_behalf(std::string_view(field).substr(10), &on_behalf_);
      if (!problem.empty()) co_return error("CLUSTER: " + problem);
      continue;
    }
    bool kick_option =
        command == "KICK" && (field.starts_with("reason=") || field == "dry_run=1" ||
                              field == "dry_run=0" || field == "force=1" || field == "force=0");
    if (command == "KICK" && field.starts_with("reason="))
      reason = field.substr(7, kMaxReasonLength);
    if (command == "KICK" && (field == "dry_run=1" || field == "force=1")) {
      (field == "force=1" ? force : dry_run) = true;
    }
    if (command == "KICK" && field.starts_with("ban=")) {
      // Set here, before any node kicks; the cluster shares it.
      long long seconds = 0;
      if (!parse_integer(std::string_view(field).substr(4), 0, kMaxBanSeconds, &seconds)) {
        co_return error("CLUSTER: invalid ban duration: " + clip(field));
      }
      ban = seconds;
      continue;
    }
    if (!kick_option) {
      if (command == "BAN-LIST") co_return error("CLUSTER: BAN-LIST takes no fields");
      if (std::string problem = apply_filter_field(filter, field); !problem.empty()) {
        co_return error("CLUSTER: " + problem);
      }
    }
    relayed.add(field);
  }
  if (command == "KICK" && filter.empty()) {
    co_return error("CLUSTER: refusing to kick without a filter");
  }
  std::vector<Ban> bans;
  if (ban && !dry_run) {
    std::string ban_error;
    bans = add_bans(filter, *ban, reason, force, &ban_error);
    if (!ban_error.empty()) co_return error("CLUSTER: " + ban_error);
  }
  std::string name = user_name(peer_.uid);
  std::string asker = fmt::format("{}uid {} pid {}{}", name.empty() ? "" : name + " ", peer_.uid,
                                  peer_.pid, on_behalf_.empty() ? "" : " for " + on_behalf_);
  std::string line = relayed.finish();
  line.pop_back();  // its LF
  ClusterAnswer answer = co_await context_.cluster(node, std::move(line), asker.substr(0, 128));
  if (!answer.error.empty()) co_return error("CLUSTER: " + answer.error);
  std::string part;
  std::size_t answered = 0;
  for (const NodeAnswer& reply : answer.nodes) {
    LineWriter head;
    head.add("NODE").add("node", reply.node).add("status", reply.status).add("ms", reply.ms);
    if (!reply.error.empty()) head.add("error", reply.error);
    head.finish_into(part);
    answered += reply.status == "answered";
  }
  for (const NodeAnswer& reply : answer.nodes) {
    // Node by node, each in parts: the answer may be many nodes' sessions.
    std::string_view lines = reply.lines;
    while (!lines.empty() && !closing()) {
      std::size_t cut = lines.size();
      if (cut > kPartBytes) {
        std::size_t end = lines.rfind('\n', kPartBytes);
        cut = (end == std::string_view::npos ? lines.find('\n') : end) + 1;
      }
      part.append(lines.substr(0, cut));
      lines.remove_prefix(cut);
      if (part.size() >= kPartBytes) co_await send_part(part);
    }
  }
  for (const Ban& added : bans) part += ban_line(added);
  send(std::move(part));
  send(LineWriter()
           .add("END")
           .add("nodes", static_cast<long long>(answer.nodes.size()))
           .add("answered", static_cast<long long>(answered))
           .add("complete", answered == answer.nodes.size() ? "1" : "0")
           .finish());
}

asio::awaitable<void> AdminChannel::send_part(std::string& part) {
  send(std::exchange(part, {}));
  part.reserve(kPartBytes + kPartBytes / 4);  // grown once, not doubled up to its size
  co_await drain_to(kPartBytes, context_.config.admin_idle_timeout);
}

void AdminChannel::stats() {
  context_.sync();
  std::string answer;
  std::size_t count = 0;
  auto stat = [&](LineWriter& line, long long value) {
    answer += line.add("value", value).finish();
    count++;
  };
  for (const auto& row : context_.sessions.census()) {
    LineWriter line;
    line.add("STAT").add("name", "sessions").add("service", row.service);
    stat(line.add("state", state_name(row.state)), static_cast<long long>(row.count));
  }
  auto plain = [&](std::string_view name, std::uint64_t value) {
    LineWriter line;
    stat(line.add("STAT").add("name", name), static_cast<long long>(value));
  };
  plain("sessions_total", context_.sessions.size());
  plain("registrations_total", context_.sessions.added_total());
  plain("removals_total", context_.sessions.removed_total());
  plain("bans", context_.bans.table().size());
  if (context_.service_processes) plain("service_processes", context_.service_processes());
  if (const DaemonStats* counted = context_.stats) {
    plain("kicks_total", counted->kicks);
    for (std::size_t i = 0; i < counted->kick_outcomes.size(); i++) {
      LineWriter line;
      line.add("STAT").add("name", "kick_outcomes_total");
      line.add("outcome", kick_status_name(static_cast<KickStatus>(i)));
      stat(line, static_cast<long long>(counted->kick_outcomes[i]));
    }
    for (std::size_t i = 0; i < counted->admin_requests.size(); i++) {
      LineWriter line;
      line.add("STAT").add("name", "admin_requests_total");
      stat(line.add("command", DaemonStats::kCommands[i]),
           static_cast<long long>(counted->admin_requests[i]));
    }
  }
  send(answer + LineWriter().add("END").add("count", static_cast<long long>(count)).finish());
}

void AdminChannel::audit_tail(const std::vector<std::string>& fields) {
  long long count = 20;
  for (std::size_t i = 1; i < fields.size(); i++) {
    if (!fields[i].starts_with("count=") ||
        !parse_integer(std::string_view(fields[i]).substr(6), 1, kMaxAuditRecords, &count)) {
      return error("AUDIT: expected count=<1.." + std::to_string(kMaxAuditRecords) + ">");
    }
  }
  if (!context_.audit.enabled()) return error("AUDIT: the audit trail is off (audit_log)");
  std::vector<std::string> records = context_.audit.tail(static_cast<std::size_t>(count));
  std::string out;
  // The newest records, as many as fit in half the output limit.
  std::size_t first = records.size(), bytes = 0;
  while (first > 0) {
    std::size_t cost = std::min(records[first - 1].size(), kMaxAuditLine) + 16;
    if (bytes + cost > context_.config.max_output_bytes / 2) break;
    bytes += cost;
    first--;
  }
  records.erase(records.begin(), records.begin() + static_cast<std::ptrdiff_t>(first));
  for (const std::string& record : records) {
    // A kick of very many connections makes a record too large for one
    // answer line; the file has it whole.
    std::string line = record.size() <= kMaxAuditLine
                           ? record
                           : fmt::format("{{\"omitted\":\"a record of {} bytes; it is in {}\"}}",
                                         record.size(), context_.audit.path());
    out += LineWriter().add("RECORD").add(line).finish();
  }
  out += LineWriter().add("END").add("count=" + std::to_string(records.size())).finish();
  send(std::move(out));
}

}  // namespace anvil
