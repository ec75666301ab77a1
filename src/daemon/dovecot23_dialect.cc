#include "daemon/dovecot23_dialect.h"

#include <map>

#include "common/dovecot_process.h"
#include "common/log.h"
#include "common/wall_clock.h"
#include "registry/dovecot_ident.h"
#include "registry/wire_codec.h"

namespace anvil {

namespace {

Dovecot23Reply fatal(std::string message) {
  return {"", std::move(message)};
}

// "<command>: Not enough parameters" unless fields has at least count.
bool enough(const std::vector<std::string_view>& fields, std::size_t count, Dovecot23Reply* reply) {
  if (fields.size() >= count) return true;
  *reply = fatal(std::string(fields[0]) + ": Not enough parameters");
  return false;
}

Dovecot23Reply connect(Dovecot23Context& context, const std::vector<std::string_view>& fields,
                       bool disconnect, const Dovecot23Sender& sender) {
  Dovecot23Reply reply;
  if (!enough(fields, 3, &reply)) return reply;
  long long pid = 0;
  if (!parse_integer(fields[1], 1, INT32_MAX, &pid))
    return fatal(std::string(fields[0]) + ": Invalid pid");
  auto ident = parse_dovecot_ident(fields[2]);
  if (!ident) return fatal(std::string(fields[0]) + ": Invalid ident: " + std::string(fields[2]));
  SessionTable& table = context.sessions;

  if (disconnect) {
    auto owner = context.processes.owner_of(static_cast<pid_t>(pid));
    if (owner && table.remove_dovecot({*owner, ident->service, ident->ip, ident->user})) {
      return reply;
    }
    log_warning("disconnection for unknown pid {} + ident {}", pid, fields[2]);
    return reply;
  }

  std::string error;
  DovecotProcesses& processes = context.processes;
  auto owner = processes.attach(
      static_cast<pid_t>(pid), [&] { return context.new_owner(); },
      [&](pid_t pinned) { return context.refusal(pinned); }, &error);
  if (!owner) {
    log_warning("CONNECT for pid {} ignored: {}", pid, error);
    return reply;
  }
  if (std::string refusal = processes.refusal(*owner);
      !refusal.empty() && !sender.may_register_any) {
    log_warning("CONNECT for pid {} ignored: {}", pid, refusal);
    if (table.owner_size(*owner) == 0) processes.forget(static_cast<pid_t>(pid));
    return reply;
  }
  std::uint32_t uid = sender.uid;
  if (uid == kNoUid) {  // a pipe: the process registers itself
    if (auto facts = read_process_facts(static_cast<pid_t>(pid))) uid = facts->uid;
  }
  if (std::string limit = context.session_limit(static_cast<std::int32_t>(pid), uid);
      !limit.empty()) {
    log_warning("CONNECT for pid {} ignored: {}", pid, limit);
    return reply;
  }
  Session session;
  session.owner = *owner;
  session.pid = static_cast<std::int32_t>(pid);
  session.uid = uid;
  session.service = ident->service;
  session.user = ident->user;
  session.client_ip = ident->ip;
  session.start_time = unix_seconds();
  table.add_dovecot(session);
  return reply;
}

// Sessions with exactly this ident, from every process and channel: the
// count Dovecot's login processes compare to mail_max_userip_connections.
// What a banned login is answered: a connection count above any limit, and
// Dovecot 2.3's highest auth penalty (AUTH_PENALTY_MAX_PENALTY).
constexpr std::size_t kBannedCount = 4294967295u;
constexpr unsigned kBannedPenalty = 15;

Dovecot23Reply lookup(Dovecot23Context& context, const std::vector<std::string_view>& fields) {
  Dovecot23Reply reply;
  if (!enough(fields, 2, &reply)) return reply;
  context.sync();
  std::size_t count = 0;
  if (auto ident = parse_dovecot_ident(fields[1])) {
    count = context.sessions.count_dovecot(ident->service, ident->ip, ident->user);
    // Dovecot's login process refuses a login whose count is at or above
    // mail_max_userip_connections: for a banned one, no limit is high enough.
    if (const Ban* ban = context.bans.match(BanSubject{ident->user, ident->ip}, unix_seconds())) {
      log_info("LOOKUP {}: {} is banned (ban {}); answered {} so that Dovecot refuses the login",
               single_line(fields[1]), ident->user, ban->id, kBannedCount);
      count = kBannedCount;
    }
  }
  reply.text = std::to_string(count) + "\n";
  return reply;
}

Dovecot23Reply penalty(Dovecot23Context& context, const std::vector<std::string_view>& fields) {
  Dovecot23Reply reply;
  PenaltyTable& table = context.penalties;
  std::string_view command = fields[0];
  if (command == "PENALTY-GET") {
    if (!enough(fields, 2, &reply)) return reply;
    std::int64_t now = unix_seconds();
    auto [value, last] = table.get(std::string(fields[1]), now);
    // The ident is the client's address (IPv6 cut to its network): a
    // banned one gets the highest penalty, so Dovecot's login delays it.
    auto ip = IpAddress::parse(fields[1]);
    if (ip && context.bans.match(BanSubject{"", ip}, now)) {
      value = kBannedPenalty;
      last = now;
    }
    reply.text = std::to_string(value) + " " + std::to_string(last) + "\n";
  } else if (command == "PENALTY-INC") {
    if (!enough(fields, 4, &reply)) return reply;
    long long checksum = 0, value = 0;
    if (!parse_integer(fields[2], 0, UINT32_MAX, &checksum) ||
        !parse_integer(fields[3], 0, 65535, &value) || (value == 0 && checksum != 0)) {
      return fatal("PENALTY-INC: Invalid parameters");
    }
    table.inc(std::string(fields[1]), static_cast<std::uint32_t>(checksum),
              static_cast<unsigned>(value), unix_seconds());
  } else if (command == "PENALTY-SET-EXPIRE-SECS") {
    if (!enough(fields, 2, &reply)) return reply;
    long long seconds = 0;
    if (!parse_integer(fields[1], 0, UINT32_MAX, &seconds)) {
      return fatal("PENALTY-SET-EXPIRE-SECS: Invalid parameters");
    }
    table.set_expire_secs(seconds);
  } else {  // PENALTY-DUMP
    for (const PenaltyTable::Entry& e : table.dump(unix_seconds())) {
      reply.text += LineWriter()
                        .add(e.ident)
                        .add(static_cast<long long>(e.penalty))
                        .add(e.last_penalty)
                        .add(e.last_update)
                        .finish();
    }
    reply.text += "\n";
  }
  return reply;
}

}  // namespace

Dovecot23Reply handle_dovecot23_line(Dovecot23Context& context,
                                     const std::vector<std::string_view>& fields,
                                     const Dovecot23Sender& sender) {
  if (fields.empty()) return {};
  std::string_view command = fields[0];
  bool from_master = sender.from_master;
  if (!sender.may_register && (command == "CONNECT" || command == "DISCONNECT" ||
                               command == "PENALTY-INC" || command == "PENALTY-SET-EXPIRE-SECS")) {
    return fatal("permission denied: " + std::string(command) + " needs the kick role");
  }
  if (command == "CONNECT") return connect(context, fields, false, sender);
  if (command == "DISCONNECT") return connect(context, fields, true, sender);
  if (command == "LOOKUP") return lookup(context, fields);
  if (command == "CONNECT-DUMP") {
    context.sync();
    Dovecot23Reply reply;
    reply.dump = true;
    return reply;
  }
  if (command == "KILL") {
    if (!from_master) return fatal("KILL sent by a non-master connection");
    Dovecot23Reply reply;
    long long pid = 0;
    if (!enough(fields, 2, &reply)) return reply;
    if (!parse_integer(fields[1], 1, INT32_MAX, &pid)) return fatal("KILL: Invalid pid");
    context.processes.forget(static_cast<pid_t>(pid));
    return reply;
  }
  if (command == "PENALTY-GET" || command == "PENALTY-INC" ||
      command == "PENALTY-SET-EXPIRE-SECS" || command == "PENALTY-DUMP") {
    return penalty(context, fields);
  }
  return fatal("Unknown command: " + std::string(command));
}

Dovecot23Dump::Dovecot23Dump(const SessionTable& table) : table_(table) {
  table.dovecot_groups(&refs_, &starts_);
}

bool Dovecot23Dump::next(std::string* out) {
  while (group_ < starts_.size()) {
    std::size_t begin = starts_[group_];
    std::size_t end = group_ + 1 < starts_.size() ? starts_[group_ + 1] : refs_.size();
    group_++;
    std::optional<SessionRef> first;
    long long count = 0;
    for (std::size_t i = begin; i < end; i++) {
      if (!table_.alive(refs_[i])) continue;  // gone since the answer began
      if (!first) first = refs_[i];
      count++;
    }
    if (!first) continue;
    table_.get(*first, &session_);
    ident_.clear();
    append_dovecot_ident(ident_, session_.service, session_.client_ip, session_.user);
    line_.add(ident_).add(session_.pid).add(count).finish_into(*out);
    return true;
  }
  return false;
}

}  // namespace anvil
