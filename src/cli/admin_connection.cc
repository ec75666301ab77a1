#include "cli/admin_connection.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "common/numbers.h"
#include "registry/wire_codec.h"

namespace anvil {

namespace {
constexpr std::size_t kMaxLine = 1 << 20;
// Longer than any kick may take inside anvild (kick_timeout_ms is at most 600 s).
constexpr int kReadTimeoutSeconds = 660;
}  // namespace

UniqueFd connect_admin_socket(const std::string& socket_path) {
  std::string error;
  int error_number = 0;
  UniqueFd fd = connect_unix(socket_path, false, &error, &error_number);
  if (!fd) {
    int code = error_number == EACCES || error_number == EPERM ? kExitNoPerm : kExitTempFail;
    throw CliError{code, "cannot reach anvild: " + error};
  }
  timeval timeout{kReadTimeoutSeconds, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

AdminConnection::AdminConnection(const std::string& socket_path, bool debug)
    : AdminConnection(connect_admin_socket(socket_path), socket_path, debug) {}

AdminConnection::AdminConnection(UniqueFd fd, const std::string& socket_path, bool debug)
    : path_(socket_path), debug_(debug), fd_(std::move(fd)), input_(kMaxLine) {
  send(LineWriter().add("VERSION").add("anvil-admin").add("1").add("0").finish());
  const std::vector<std::string_view>* reply = nullptr;
  try {
    reply = &read_fields();
  } catch (const CliError&) {
    if (input_.buffered() == 0 && closed_) throw NotAnvild{};
    throw;
  }
  const std::vector<std::string_view>& fields = *reply;
  if (fields.size() < 3 || fields[0] != "VERSION" || fields[1] != "anvil-admin" ||
      fields[2] != "1") {
    throw CliError{kExitSoftware, path_ + " does not speak anvil-admin version 1"};
  }
}

void AdminConnection::send(const std::string& line) {
  if (debug_) std::fprintf(stderr, "anvilctl: debug: > %s", line.c_str());
  if (!write_all(fd_.get(), line)) {
    std::string reason = std::strerror(errno);
    // anvild may have said why before it closed (e.g. permission denied):
    // read_fields() throws that error if it is there.
    read_fields();
    throw CliError{kExitTempFail, "writing to " + path_ + " failed: " + reason};
  }
}

const std::vector<std::string_view>& AdminConnection::read_fields() {
  switch (read_line(fd_.get(), input_, &line_)) {
    case ReadResult::line: break;
    case ReadResult::too_long: throw CliError{kExitSoftware, "anvild sent an over-long line"};
    case ReadResult::timed_out:
      throw CliError{kExitTempFail, "anvild did not answer in time on " + path_};
    case ReadResult::closed:
    case ReadResult::failed:
      closed_ = true;
      throw CliError{kExitTempFail, "anvild closed the connection on " + path_};
  }
  if (debug_) std::fprintf(stderr, "anvilctl: debug: < %s\n", line_.c_str());
  split_fields_in_place(line_, &fields_);
  const std::vector<std::string_view>& fields = fields_;
  if (!fields.empty() && fields[0] == "ERROR") {
    std::string message = fields.size() > 1 ? std::string(fields[1]) : "unspecified error";
    int code = message.starts_with("permission denied") ? kExitNoPerm
               : message.starts_with("too many")        ? kExitTempFail  // busy: retry later
               : message.starts_with("BAN-RM: no ban")  ? kExitNotFound
               : message.starts_with("BAN-ADD: ") ||
                       message.find("would keep everyone out") != std::string::npos ||
                       message.find("too many bans") != std::string::npos
                   ? kExitUsage  // a ban the request cannot set, or needs --force
                   : kExitSoftware;
    throw CliError{code, "anvild: " + message};
  }
  return fields;
}

void AdminConnection::parse_session(const std::vector<std::string_view>& fields, std::size_t first,
                                    Session* out) {
  Session& s = *out;
  s.id = {};
  s.owner = 0;
  s.pid = 0;
  s.uid = kNoUid;
  s.service.clear();
  s.user.clear();
  s.client_ip.reset();
  s.client_port = s.local_port = s.dest_port = 0;
  s.dest_ip.reset();
  s.alt_names.clear();
  s.start_time = 0;
  for (std::size_t i = first; i < fields.size(); i++) {
    std::string problem = apply_session_field(s, fields[i], FieldScope::full);
    if (!problem.empty()) throw CliError{kExitSoftware, "anvild sent a bad session: " + problem};
  }
}

LineWriter AdminConnection::command(std::string_view name) const {
  LineWriter line;
  if (cluster_) {
    line.add("CLUSTER");
    if (!cluster_node_.empty()) line.add("node", cluster_node_);
  }
  line.add(name);
  return line;
}

bool AdminConnection::cluster_line(const std::vector<std::string_view>& fields,
                                   std::size_t* first) {
  *first = 1;
  if (!cluster_) return false;
  if (fields[0] == "NODE") {
    NodeStatus& node = node_statuses_.emplace_back();
    node.node = field_value(fields, 1, "node");
    node.status = field_value(fields, 1, "status");
    node.error = field_value(fields, 1, "error");
    parse_integer(field_value(fields, 1, "ms"), 0, INT64_MAX, &node.ms);
    return true;
  }
  if (fields[0] == "DONE") return true;
  if (fields.size() > 1 && fields[1].starts_with("node=")) {
    row_node_ = fields[1].substr(5);
    *first = 2;
  }
  return false;
}

Sessions AdminConnection::who(const SessionFilter& filter) {
  Sessions sessions;
  who_each(filter, [&](const Session& s) { sessions.push_back(s); });
  return sessions;
}

void AdminConnection::who_each(const SessionFilter& filter,
                               const std::function<void(const Session&)>& row) {
  LineWriter line = command("WHO");
  add_filter_fields(line, filter);
  send(line.finish());
  node_statuses_.clear();
  Session session;
  while (true) {
    const auto& fields = read_fields();
    if (fields.empty()) continue;
    if (fields[0] == "END") return;
    std::size_t first = 1;
    if (cluster_line(fields, &first) || fields[0] != "SESSION") continue;
    parse_session(fields, first, &session);
    row(session);
  }
}

KickResults AdminConnection::kick(const SessionFilter& filter, const std::string& reason,
                                  bool dry_run, bool force) {
  KickResults results;
  kick_each(filter, reason, dry_run, force,
            [&](const KickResult& result) { results.push_back(result); });
  return results;
}

void AdminConnection::kick_each(const SessionFilter& filter, const std::string& reason,
                                bool dry_run, bool force,
                                const std::function<void(const KickResult&)>& row,
                                std::optional<std::int64_t> ban, std::vector<Ban>* bans) {
  LineWriter line = command("KICK");
  line.add("reason=" + reason);
  if (dry_run) line.add("dry_run=1");
  if (force) line.add("force=1");
  if (ban) line.add("ban", *ban);
  if (!on_behalf_.empty()) line.add("on_behalf", on_behalf_);
  add_filter_fields(line, filter);
  send(line.finish());
  node_statuses_.clear();
  KickResult result{Session{}, KickStatus::kicked};
  while (true) {
    const auto& fields = read_fields();
    if (fields.empty()) continue;
    if (fields[0] == "END") return;
    std::size_t first = 1;
    if (cluster_line(fields, &first)) continue;
    if (fields[0] == "BAN") {
      if (bans) bans->push_back(parse_ban(fields));
      continue;
    }
    if (fields[0] != "RESULT" || fields.size() <= first || !fields[first].starts_with("status=")) {
      continue;
    }
    auto status = kick_status_from_name(fields[first].substr(7));
    if (!status) {
      throw CliError{kExitSoftware,
                     "anvild sent an unknown kick status: " + std::string(fields[first])};
    }
    parse_session(fields, first + 1, &result.session);
    result.status = *status;
    result.why = field_value(fields, first + 1, "why");
    row(result);
  }
}

Ban AdminConnection::parse_ban(const std::vector<std::string_view>& fields) {
  std::string text;
  std::size_t first = 1;
  cluster_line(fields, &first);
  for (std::size_t i = first; i < fields.size(); i++) {
    if (i > first) text += '\t';
    text += escape_field(fields[i]);
  }
  std::string problem;
  auto ban = parse_ban_line(text, &problem);
  if (!ban) throw CliError{kExitSoftware, "anvild sent a bad ban: " + problem};
  return *ban;
}

std::vector<Ban> AdminConnection::ban_add(const SessionFilter& filter, std::int64_t duration,
                                          const std::string& reason, bool force) {
  LineWriter line;
  line.add("BAN-ADD").add("reason", reason).add("duration", duration);
  if (force) line.add("force=1");
  if (!on_behalf_.empty()) line.add("on_behalf", on_behalf_);
  add_filter_fields(line, filter);
  send(line.finish());
  return read_bans();
}

std::vector<Ban> AdminConnection::ban_list() {
  send(command("BAN-LIST").finish());
  node_statuses_.clear();
  return read_bans();
}

void AdminConnection::ban_remove(const std::vector<std::uint64_t>& ids) {
  LineWriter line;
  line.add("BAN-RM");
  if (!on_behalf_.empty()) line.add("on_behalf", on_behalf_);
  for (std::uint64_t id : ids) line.add("id", static_cast<long long>(id));
  send(line.finish());
  read_bans();
}

std::vector<Ban> AdminConnection::read_bans() {
  std::vector<Ban> bans;
  while (true) {
    const auto& fields = read_fields();
    if (fields.empty()) continue;
    if (fields[0] == "END") return bans;
    std::size_t first = 1;
    if (cluster_line(fields, &first)) continue;
    if (fields[0] == "BAN") bans.push_back(parse_ban(fields));
  }
}

std::vector<std::string> AdminConnection::audit(long long count) {
  send(LineWriter().add("AUDIT").add("count=" + std::to_string(count)).finish());
  std::vector<std::string> records;
  while (true) {
    const auto& fields = read_fields();
    if (fields.empty()) continue;
    if (fields[0] == "END") return records;
    if (fields[0] == "RECORD" && fields.size() >= 2) records.emplace_back(fields[1]);
  }
}

std::vector<AdminConnection::Stat> AdminConnection::stats() {
  send(LineWriter().add("STATS").finish());
  std::vector<Stat> stats;
  while (true) {
    const auto& fields = read_fields();
    if (fields.empty()) continue;
    if (fields[0] == "END") return stats;
    if (fields[0] != "STAT") continue;
    Stat& stat = stats.emplace_back();
    for (std::size_t i = 1; i < fields.size(); i++) {
      std::string_view field = fields[i];
      std::size_t eq = field.find('=');
      if (eq == std::string_view::npos) continue;
      std::string_view key = field.substr(0, eq), value = field.substr(eq + 1);
      if (key == "name") {
        stat.name = value;
      } else if (key == "value") {
        if (!parse_integer(value, 0, INT64_MAX, &stat.value)) {
          throw CliError{kExitSoftware, "anvild sent a bad figure: " + std::string(field)};
        }
      } else {
        stat.labels.emplace_back(key, value);
      }
    }
  }
}

}  // namespace anvil
