#include "daemon/admin_channel.h"

#include "common/log.h"
#include "daemon/dovecot23_dialect.h"
#include "registry/wire_codec.h"

namespace anvil {

namespace {
constexpr std::size_t kMaxReasonLength = 1024;
}

AdminChannel::AdminChannel(Server& server, UnixSocket socket, PeerCredentials peer, bool counted)
    : LineChannel(std::move(socket), server.config().max_line_length),
      server_(server),
      peer_(peer),
      counted_(counted) {}

asio::awaitable<void> AdminChannel::run() {
  auto self = shared_from_this();
  start_writer();
  while (!closing()) {
    auto line = co_await read_line();
    if (!line) break;
    co_await handle(*line);
  }
  if (overflowed()) {
    log_warning("admin client uid {} pid {}: line longer than {} bytes; closing", peer_.uid,
                peer_.pid, max_line_length());
    send_and_close(LineWriter().add("ERROR").add("line too long").finish());
  } else if (!closing()) {
    close();
  }
  if (counted_) server_.remove_admin();
}

void AdminChannel::error(const std::string& message) {
  log_warning("admin client uid {} pid {}: {}", peer_.uid, peer_.pid, message);
  send(LineWriter().add("ERROR").add(message).finish());
}

void AdminChannel::handle_dovecot23(const std::string& line) {
  Dovecot23Reply reply;
  if (line.size() > kDovecot23MaxLine) {
    reply.fatal = "Anvil client connection sent too much data";
  } else {
    reply = handle_dovecot23_line(server_, split_fields(line));
  }
  if (!reply.fatal.empty()) {
    log_warning("Dovecot anvil client uid {} pid {}: {}; closing", peer_.uid, peer_.pid,
                reply.fatal);
    close();  // Dovecot's protocol has no error reply
    return;
  }
  if (!reply.text.empty()) send(std::move(reply.text));
}

asio::awaitable<void> AdminChannel::handle(const std::string& line) {
  if (dovecot23_) {
    handle_dovecot23(line);
    co_return;
  }
  std::vector<std::string> fields = split_fields(line);
  if (fields.empty()) co_return;
  const std::string& command = fields[0];
  if (!greeted_) {
    if (fields.size() >= 4 && command == "VERSION" && fields[1] == "anvil-admin" &&
        fields[2] == "1") {
      greeted_ = true;
      send(LineWriter().add("VERSION").add("anvil-admin").add("1").add("0").finish());
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
  if (command == "WHO") {
    who(fields);
  } else if (command == "KICK") {
    co_await kick(fields);
  } else {
    error("unknown command: " + command);
  }
}

void AdminChannel::who(const std::vector<std::string>& fields) {
  SessionFilter filter;
  for (std::size_t i = 1; i < fields.size(); i++) {
    std::string problem = apply_filter_field(filter, fields[i]);
    if (!problem.empty()) return error("WHO: " + problem);
  }
  server_.sync_registrations();
  auto sessions = server_.sessions().select(filter);
  for (const Session* session : sessions) {
    LineWriter line;
    line.add("SESSION");
    add_session_fields(line, *session);
    send(line.finish());
  }
  send(LineWriter().add("END").add("count=" + std::to_string(sessions.size())).finish());
}

asio::awaitable<void> AdminChannel::kick(const std::vector<std::string>& fields) {
  SessionFilter filter;
  std::string reason = "Disconnected by administrator";
  bool dry_run = false, force = false;
  for (std::size_t i = 1; i < fields.size(); i++) {
    const std::string& field = fields[i];
    if (field.starts_with("reason=")) {
      reason = field.substr(7, kMaxReasonLength);
    } else if (field == "dry_run=1" || field == "dry_run=0") {
      dry_run = field == "dry_run=1";
    } else if (field == "force=1" || field == "force=0") {
      force = field == "force=1";
    } else if (std::string problem = apply_filter_field(filter, field); !problem.empty()) {
      error("KICK: " + problem);
      co_return;
    }
  }
  if (filter.empty()) {
    error("KICK: refusing to kick without a filter");
    co_return;
  }
  auto outcomes = co_await server_.kick(filter, reason, dry_run, force);
  std::size_t kicked = 0;
  for (const KickOutcome& outcome : outcomes) {
    if (outcome.status == KickStatus::kicked) kicked++;
    LineWriter line;
    line.add("RESULT").add(std::string("status=") + kick_status_name(outcome.status));
    add_session_fields(line, outcome.session);
    send(line.finish());
  }
  if (!dry_run) {
    log_info("kick by uid {} (reason \"{}\"): {} matched, {} kicked", peer_.uid, reason,
             outcomes.size(), kicked);
  }
  send(LineWriter()
           .add("END")
           .add("matched=" + std::to_string(outcomes.size()))
           .add("kicked=" + std::to_string(kicked))
           .finish());
}

}  // namespace anvil
