#include "daemon/service_channel.h"

#include <algorithm>

#include "common/keyed_hash.h"
#include "common/log.h"
#include "common/wall_clock.h"
#include "registry/wire_codec.h"

namespace anvil {

namespace {

bool valid_service_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

ServiceChannel::ServiceChannel(ServiceContext& context, UnixSocket socket, PeerCredentials peer,
                               OwnerId owner)
    : LineChannel(std::move(socket), context.config.max_line_length,
                  context.config.max_output_bytes),
      context_(context),
      peer_(peer),
      owner_(owner) {}

asio::awaitable<void> ServiceChannel::run() {
  auto self = shared_from_this();
  start_writer();
  std::string line;
  while (!closing()) {
    // The handshake must come at once; afterwards a service may stay
    // silent for as long as it likes.
    auto deadline =
        state_ == State::ready ? std::chrono::milliseconds{} : context_.config.handshake_timeout;
    ReadStatus status = co_await read_line(&line, deadline);
    if (status == ReadStatus::closed) break;
    if (status == ReadStatus::timed_out) {
      fatal("no VERSION and HELLO within handshake_timeout_ms");
      break;
    }
    if (status == ReadStatus::overlong) {
      // Only this line is lost: the rest of the channel, and every other
      // session of the process, stay.
      std::vector<std::string> head = split_fields(line);
      std::string command = head.empty() ? "" : head[0];
      std::string id = head.size() > 1 && head[1].size() == 32 ? head[1] : "";
      if (state_ != State::ready) {
        fatal("line longer than " + std::to_string(max_line_length()) + " bytes");
        break;
      }
      error(command, id,
            "line longer than " + std::to_string(max_line_length()) + " bytes ignored");
      continue;
    }
    split_fields_in_place(line, &fields_);
    handle(fields_);
    release_large(line, fields_);
  }
  if (output_overrun()) {
    log_warning("service {} pid {} uid {}: more than max_output_bytes={} unread; dropping it",
                service_.empty() ? "?" : service_, peer_.pid, peer_.uid,
                context_.config.max_output_bytes);
  } else if (!closing()) {
    close();
  }
  finish();
}

void ServiceChannel::error(std::string_view command, std::string_view id,
                           const std::string& message) {
  std::size_t held_back = 0;
  if (!errors_.allow(&held_back)) return;
  std::string text = clip(message, 200);
  if (held_back > 0) text += " (" + std::to_string(held_back) + " earlier errors not reported)";
  log_warning("service {} pid {}: {}", service_.empty() ? "?" : service_, peer_.pid, text);
  send(LineWriter().add("ERROR").add(clip(command, 32)).add(clip(id, 32)).add(text).finish());
}

void ServiceChannel::fatal(const std::string& message) {
  log_warning("service {} pid {} uid {}: {}; closing its channel",
              service_.empty() ? "?" : service_, peer_.pid, peer_.uid, message);
  send_and_close(LineWriter().add("ERROR").add("").add("").add(message).finish());
}

void ServiceChannel::handle(const std::vector<std::string_view>& fields) {
  if (fields.empty()) return;  // empty lines are allowed as keep-alives
  std::string_view command = fields[0];
  switch (state_) {
    case State::version:
      if (fields.size() < 4 || command != "VERSION" || fields[1] != "anvil-service" ||
          fields[2] != "1") {
        fatal("expected VERSION\\tanvil-service\\t1\\t<minor> as the first line");
        return;
      }
      send(LineWriter().add("VERSION").add("anvil-service").add("1").add("0").finish());
      state_ = State::hello;
      return;
    case State::hello: {
      long long pid = 0;
      if (fields.size() < 3 || command != "HELLO" || !valid_service_name(fields[1]) ||
          !parse_integer(fields[2], 1, INT32_MAX, &pid)) {
        fatal("expected HELLO\\t<service>\\t<pid> (service: letters, digits, '-', '_', '.')");
        return;
      }
      if (pid != peer_.pid) {
        fatal("HELLO claims pid " + clip(fields[2]) + " but the connecting process is pid " +
              std::to_string(peer_.pid));
        return;
      }
      service_ = fields[1];
      state_ = State::ready;
      log_debug("service {} pid {} uid {} registered its channel", service_, peer_.pid, peer_.uid);
      return;
    }
    case State::ready: break;
  }
  if (command == "CONNECT") {
    handle_connect(fields, false);
  } else if (command == "UPDATE") {
    handle_connect(fields, true);
  } else if (command == "DISCONNECT") {
    handle_disconnect(fields);
  } else if (command == "KICKED") {
    handle_kicked(fields);
  } else if (command == "COUNT") {
    handle_count(fields);
  } else if (command == "LOGIN") {
    handle_login(fields);
  } else {
    error(command, "", "unknown command: " + clip(command, 32));
  }
}

void ServiceChannel::handle_connect(const std::vector<std::string_view>& fields, bool update) {
  std::string_view command = fields[0];
  if (fields.size() < 2) return error(command, "", std::string(command) + " needs a connection id");
  auto id = ConnectionId::parse(fields[1]);
  if (!id || id->is_zero())
    return error(command, fields[1], "invalid connection id: " + clip(fields[1]));

  SessionTable& table = context_.sessions;
  std::optional<SessionRef> existing;
  if (update) {
    existing = table.find(*id);
    if (!existing || table.owner_of(*existing) != owner_) {
      return error(command, fields[1], "unknown connection id " + std::string(fields[1]));
    }
  } else {
    if (std::string limit = context_.session_limit(peer_.pid, peer_.uid); !limit.empty()) {
      return error(command, fields[1], limit);
    }
  }

  Session session;
  session.id = *id;
  session.owner = owner_;
  session.pid = peer_.pid;
  session.uid = peer_.uid;
  session.service = service_;
  session.start_time = unix_seconds();  // update() keeps the first
  for (std::size_t i = 2; i < fields.size(); i++) {
    std::string problem = apply_session_field(session, fields[i], FieldScope::info);
    if (!problem.empty()) return error(command, fields[1], problem);
  }
  if (context_.bans.size() > 0) {
    std::vector<std::pair<std::string_view, std::string_view>> alts;
    for (const AltName& alt : session.alt_names) alts.emplace_back(alt.field, alt.value);
    if (const Ban* ban = context_.bans.match(BanSubject{session.user, session.client_ip, alts},
                                             unix_seconds())) {
      // Not registered; a session that was, goes: the service is told why.
      if (existing) table.remove(*existing);
      log_info("service {} pid {}: {} {} refused: banned (ban {})", service_, peer_.pid, command,
               fields[1], ban->id);
      send(LineWriter()
               .add("BANNED")
               .add(fields[1])
               .add("reason", ban->reason)
               .add("ban", static_cast<long long>(ban->id))
               .finish());
      return;
    }
  }
  if (update) {
    table.update(session);
  } else if (!table.add(session)) {  // the id is taken (or of the form anvild derives)
    error(command, fields[1], "duplicate connection id " + std::string(fields[1]));
  }
}

void ServiceChannel::handle_disconnect(const std::vector<std::string_view>& fields) {
  if (fields.size() < 2) return error("DISCONNECT", "", "DISCONNECT needs a connection id");
  auto id = ConnectionId::parse(fields[1]);
  auto session = id ? context_.sessions.find(*id) : std::nullopt;
  if (!session || context_.sessions.owner_of(*session) != owner_) {
    return error("DISCONNECT", fields[1], "unknown connection id " + std::string(fields[1]));
  }
  context_.sessions.remove(*session);
}

void ServiceChannel::handle_kicked(const std::vector<std::string_view>& fields) {
  long long request = 0;
  if (fields.size() < 2 || !parse_integer(fields[1], 1, INT64_MAX, &request)) {
    return error("KICKED", "", "KICKED needs a request number");
  }
  // What the process dropped is gone, even when its answer comes too late
  // for the kick that asked: otherwise those sessions would linger.
  std::vector<ConnectionId> dropped;  // sorted below: no table a peer can fill
  for (std::size_t i = 2; i < fields.size(); i++) {
    auto id = ConnectionId::parse(fields[i]);
    if (!id) return error("KICKED", fields[i], "invalid connection id: " + std::string(fields[i]));
    dropped.push_back(*id);
    auto session = context_.sessions.find(*id);
    if (session && context_.sessions.owner_of(*session) == owner_) {
      context_.sessions.remove(*session);
    }
  }
  auto it = pending_.find(static_cast<std::uint64_t>(request));
  if (it == pending_.end()) {
    log_info("service {} pid {} answered kick request {} after it timed out; {} dropped", service_,
             peer_.pid, request, dropped.size());
    return;
  }
  std::sort(dropped.begin(), dropped.end());
  PendingKick pending = std::move(it->second);
  pending_.erase(it);
  for (const ConnectionId& id : pending.ids) {
    pending.kick->settle(id, std::binary_search(dropped.begin(), dropped.end(), id)
                                 ? KickStatus::kicked
                                 : KickStatus::not_dropped);
  }
  pending.kick->answered();
}

void ServiceChannel::handle_count(const std::vector<std::string_view>& fields) {
  long long request = 0;
  if (fields.size() < 2 || !parse_integer(fields[1], 1, INT64_MAX, &request)) {
    return error("COUNT", "", "COUNT needs a request number");
  }
  context_.sync();
  const SessionTable& table = context_.sessions;
  auto ip = IpAddress::parse(field_value(fields, 2, "ip"));
  std::string_view user = field_value(fields, 2, "user");
  std::size_t ip_sessions = ip ? table.address_size(*ip) : 0;
  std::size_t ip_prelogin = ip ? table.address_prelogin_size(*ip) : 0;
  std::size_t user_sessions = user.empty() ? 0 : table.user_size(user);
  unsigned penalty =
      ip ? context_.penalties.get(PenaltyTable::login_ident(*ip), unix_seconds()).first : 0;
  LineWriter answer;
  answer.add("COUNTS")
      .add(request)
      .add("ip_sessions=" + std::to_string(ip_sessions))
      .add("ip_prelogin=" + std::to_string(ip_prelogin))
      .add("user_sessions=" + std::to_string(user_sessions))
      .add("penalty=" + std::to_string(penalty));
  // A ban on the address, the user, or the user from the address.
  if (const Ban* ban = context_.bans.match(BanSubject{user, ip}, unix_seconds())) {
    answer.add("banned", ban->reason.empty() ? std::string_view("banned") : ban->reason)
        .add("ban", static_cast<long long>(ban->id));
  }
  if (context_.count_elsewhere && !user.empty()) {
    std::string text = answer.finish();
    text.pop_back();  // the LF: fields follow
    asio::co_spawn(socket_.get_executor(),
                   answer_with_cluster(std::move(text), std::string(user), user_sessions),
                   asio::detached);
    return;
  }
  send(answer.finish());
}

asio::awaitable<void> ServiceChannel::answer_with_cluster(std::string answer, std::string user,
                                                          std::size_t local) {
  auto self = shared_from_this();
  std::size_t total = local + co_await context_.count_elsewhere(user);
  std::size_t limit = context_.config.cluster.max_user_connections;
  LineWriter more;
  more.add("cluster_user_sessions", static_cast<long long>(total));
  if (total >= limit) {
    more.add("over_limit", fmt::format("{} sessions of this user in the cluster; "
                                       "cluster_max_user_connections is {}",
                                       total, limit));
  }
  send(answer + "\t" + more.finish());
}

void ServiceChannel::handle_login(const std::vector<std::string_view>& fields) {
  // LOGIN⇥failed⇥ip=…⇥checksum=…  or  LOGIN⇥ok⇥ip=…
  auto ip = IpAddress::parse(field_value(fields, 2, "ip"));
  bool failed = fields.size() >= 2 && fields[1] == "failed";
  if (!ip || fields.size() < 2 || (!failed && fields[1] != "ok")) {
    return error("LOGIN", "", "expected LOGIN\t(failed|ok)\tip=<address>");
  }
  if (failed) {
    long long checksum = 0;
    parse_integer(field_value(fields, 2, "checksum"), 0, UINT32_MAX, &checksum);
    context_.penalties.login_failed(*ip, static_cast<std::uint32_t>(checksum), unix_seconds());
  } else {
    context_.penalties.login_succeeded(*ip, unix_seconds());
  }
}

void ServiceChannel::request_kick(const std::vector<ConnectionId>& ids, const std::string& reason,
                                  const std::shared_ptr<RunningKick>& kick) {
  // The process must not act on the request once anvild has told the
  // admin it timed out, however late the process reads it (one stopped with
  // SIGSTOP reads it when it resumes). The deadline, on the monotonic clock
  // that every process of this host shares, falls before anvild's own, so
  // that an answer sent in time arrives in time.
  auto timeout = context_.config.kick_timeout;
  auto margin = std::min<std::chrono::milliseconds>(timeout / 5, std::chrono::seconds(1));
  auto deadline = std::chrono::duration_cast<std::chrono::milliseconds>(
      (std::chrono::steady_clock::now() + timeout - margin).time_since_epoch());
  std::string deadline_field = "deadline=" + std::to_string(deadline.count());
  // Each id takes 33 bytes; keep every line well inside the limit.
  std::size_t room = max_line_length() / 2;
  std::size_t overhead = 64 + escape_field(reason).size();
  std::size_t per_line = room > overhead + 33 ? (room - overhead) / 33 : 1;
  for (std::size_t start = 0; start < ids.size(); start += per_line) {
    std::uint64_t request = next_request_++;
    PendingKick pending{{}, kick};
    LineWriter line;
    line.add("KICK").add(static_cast<long long>(request)).add(reason).add(deadline_field);
    for (std::size_t i = start; i < ids.size() && i < start + per_line; i++) {
      pending.ids.push_back(ids[i]);
      line.add(ids[i].to_hex());
    }
    pending_.emplace(request, std::move(pending));
    kick->asked();
    send(line.finish());
  }
}

void ServiceChannel::abandon(const std::shared_ptr<RunningKick>& kick) {
  std::erase_if(pending_, [&](const auto& entry) { return entry.second.kick == kick; });
}

void ServiceChannel::finish() {
  std::size_t removed = context_.sessions.remove_owner(owner_);
  for (auto& [request, pending] : pending_) {
    for (const ConnectionId& id : pending.ids) pending.kick->settle(id, KickStatus::vanished);
    pending.kick->answered();
  }
  pending_.clear();
  if (removed > 0 || debug_log_enabled()) {
    log_info("service {} pid {} closed its channel; {} sessions removed",
             service_.empty() ? "?" : service_, peer_.pid, removed);
  }
  context_.closed(owner_);
}

}  // namespace anvil
