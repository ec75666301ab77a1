#include "cli/reports.h"

#include "common/time_text.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

namespace anvil {

namespace {

std::string alt_value(const Session& s, const std::string& field) {
  for (const AltName& alt : s.alt_names) {
    if (ascii_fold(alt.field) == ascii_fold(field)) return alt.value;
  }
  return "";
}

// The columns every per-connection view starts with, and their cells.
std::vector<Column> connection_columns() {
  return {{"username", "username", false, true},
          {"service", "service"},
          {"pid", "pid"},
          {"ip", "ip"},
          {"dest_ip", "dest_ip"},
          {"dest_port", "dest_port", true, false, true},
          {"conn_id", "conn_id"},
          {"uid", "uid", true},
          {"start", "start", true, false, true},
          {"started", "started"}};
}

// Fills the first ten cells.
void connection_cells(const Session& s, std::vector<Cell>& cells) {
  auto ip = [](Cell& cell, const std::optional<IpAddress>& address) {
    if (address) {
      cell.set_text(address->to_string());
    } else {
      cell.set_absent();
    }
  };
  cells[0].set_text(s.user);
  cells[1].set_text(s.service);
  cells[2].set_number(s.pid);
  ip(cells[3], s.client_ip);
  ip(cells[4], s.dest_ip);
  if (s.dest_port == 0) {
    cells[5].set_absent();
  } else {
    cells[5].set_number(s.dest_port);
  }
  char hex[32];
  s.id.write_hex(hex);
  cells[6].set_text(s.id.is_zero() ? std::string_view() : std::string_view(hex, sizeof hex));
  if (s.uid == kNoUid) {
    cells[7].set_absent();
  } else {
    cells[7].set_number(s.uid);
  }
  if (s.start_time <= 0) {  // Dovecot 2.3's anvil keeps no start times
    cells[8].set_absent();
    cells[9].set_absent();
  } else {
    cells[8].set_number(s.start_time);
    cells[9].set_text(format_utc(s.start_time));
  }
}

}  // namespace

std::vector<Column> WhoPrinter::columns(bool one_per_connection, const std::string& alt_field,
                                        bool node_column) {
  if (!one_per_connection) {
    return {{"username", "username", false, true},
            {"connections", "#", true, false},
            {"service", "service"},
            {"pids", "(pids)"},
            {"ips", "(ips)"}};
  }
  std::vector<Column> columns = connection_columns();
  if (!alt_field.empty()) columns.push_back({alt_field, alt_field});
  if (node_column) columns.push_back({"node", "node"});
  return columns;
}

WhoPrinter::WhoPrinter(bool one_per_connection, std::string alt_field, const std::string& formatter,
                       int width, TextSink& out, bool node_column)
    : one_per_connection_(one_per_connection),
      alt_field_(std::move(alt_field)),
      node_column_(node_column && one_per_connection),
      writer_(formatter, columns(one_per_connection, alt_field_, node_column_), width, out),
      cells_(columns(one_per_connection, alt_field_, node_column_).size()) {}

void WhoPrinter::add(const Session& s, std::string_view node) {
  if (one_per_connection_) {
    connection_cells(s, cells_);
    if (!alt_field_.empty()) cells_[10] = Cell::of_text(alt_value(s, alt_field_));
    if (node_column_) cells_.back().set_text(node);
    writer_.add(cells_);
    return;
  }
  // Sessions arrive sorted by user and service: a group is a run of them.
  if (count_ > 0 && (user_ != s.user || service_ != s.service)) write_group();
  if (count_ == 0) {
    user_ = s.user;
    service_ = s.service;
  }
  count_++;
  pids_.insert(s.pid);
  if (s.client_ip) ips_.insert(*s.client_ip);
}

void WhoPrinter::write_group() {
  std::vector<std::string> pids, ips;
  for (std::int32_t pid : pids_) pids.push_back(std::to_string(pid));
  for (const IpAddress& ip : ips_) ips.push_back(ip.to_string());
  cells_ = {Cell::of_text(user_), Cell::of_number(static_cast<long long>(count_)),
            Cell::of_text(service_), Cell::of_list(std::move(pids), true),
            Cell::of_list(std::move(ips), false)};
  writer_.add(cells_);
  count_ = 0;
  pids_.clear();
  ips_.clear();
}

void WhoPrinter::finish() {
  if (count_ > 0) write_group();
  writer_.finish();
}

KickReporter::KickReporter(const std::string& formatter, bool verbose, bool dry_run, int width,
                           TextSink& out, bool node_column)
    : verbose_(verbose), dry_run_(dry_run), node_column_(node_column), out_(out) {
  if (!formatter.empty()) {
    std::vector<Column> columns = connection_columns();
    columns.push_back({"result", "result"});
    if (node_column_) columns.push_back({"node", "node"});
    cells_.resize(columns.size());
    writer_.emplace(formatter, std::move(columns), width, out);
  }
}

void KickReporter::add(const KickResult& r, std::string_view node) {
  const Session& s = r.session;
  if (writer_) {
    connection_cells(s, cells_);
    cells_[10].set_text(kick_status_name(r.status));
    if (node_column_) cells_[11].set_text(node);
    writer_->add(cells_);
  } else if (verbose_) {
    std::string where = node_column_ ? " node " + std::string(node) : "";
    out_.add(std::string(kick_status_name(r.status)) + ": " + (s.user.empty() ? "-" : s.user) +
             " " + s.service + " pid " + std::to_string(s.pid) + " ip " +
             (s.client_ip ? s.client_ip->to_string() : "-") + " id " + s.id.to_hex() + where +
             "\n");
  }
  bool hit = r.status == (dry_run_ ? KickStatus::would_kick : KickStatus::kicked);
  if (hit) {
    done_++;
    if (!writer_) users_.insert(s.user.empty() ? "-" : s.user);
    return;
  }
  if (r.status == KickStatus::timeout || r.status == KickStatus::vanished) unconfirmed_++;
  std::string service = node_column_ ? s.service + " on node " + std::string(node) : s.service;
  Problem& problem = problems_[{s.pid, std::move(service), r.status}];
  problem.count++;
  problem.others.insert(r.others.begin(), r.others.end());
  if (!r.why.empty()) problem.why = r.why;
}

Report KickReporter::finish() {
  Report report;
  for (const auto& [key, problem] : problems_) {
    const auto& [pid, service, status] = key;
    std::string what =
        status == KickStatus::timeout    ? "did not answer within the kick timeout"
        : status == KickStatus::vanished ? "went away before answering (its connections are gone)"
        : status == KickStatus::shared
            ? "also serves connections that do not match, and only a signal ends it (use "
              "--force to end it all the same)"
        : status == KickStatus::not_signalled
            ? "may not be signalled as one of Dovecot's: " + problem.why
            : "did not drop them (already closed)";
    report.err += "warning: " + std::to_string(problem.count) + " connection(s) of " + service +
                  " pid " + std::to_string(pid) + " not kicked: the process " + what + "\n";
    if (!problem.others.empty()) {
      std::string names;
      for (const std::string& user : problem.others) names += (names.empty() ? "" : " ") + user;
      report.err +=
          "  other connections would also be kicked from the following users: " + names + "\n";
    }
  }
  report.exit_code = done_ > 0 ? kExitOk : unconfirmed_ > 0 ? kExitTempFail : kExitNotFound;
  if (writer_) {
    writer_->finish();
    return report;
  }
  if (done_ == 0) {
    out_.add("no users kicked\n");
    return report;
  }
  out_.add(dry_run_ ? "would kick connections from the following users:\n"
                    : "kicked connections from the following users:\n");
  std::string names;
  for (const std::string& user : users_) {
    if (!names.empty()) names += ' ';
    names += user;
  }
  names += '\n';
  out_.add(names);
  return report;
}

Report kick_report(const KickResults& results, const std::string& formatter, bool verbose,
                   bool dry_run, int width) {
  TextSink out;
  KickReporter reporter(formatter, verbose, dry_run, width, out);
  for (const KickResult& result : results) reporter.add(result);
  Report report = reporter.finish();
  report.out = out.take();
  return report;
}

namespace {

std::string json_text(const nlohmann::json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// A member of a JSON object, or null when it is missing.
const nlohmann::json& member(const nlohmann::json& object, const char* key) {
  static const nlohmann::json missing;
  if (!object.is_object()) return missing;
  auto it = object.find(key);
  return it == object.end() ? missing : *it;
}

std::string text_of(const nlohmann::json& object, const char* key) {
  return json_text(member(object, key));
}

}  // namespace

std::string ban_report(const std::vector<Ban>& bans, const std::string& formatter, int width) {
  Table table;
  table.columns = {{"id", "id", true},
                   {"user", "user"},
                   {"alt_field", "field"},
                   {"net", "net"},
                   {"expires", "expires", false, false, true},
                   {"expires_iso", "expires"},
                   {"created", "created", false, false, true},
                   {"created_iso", "created", false, false, true},
                   {"reason", "reason", false, true},
                   {"by", "by"}};
  for (const Ban& ban : bans) {
    std::vector<Cell>& row = table.rows.emplace_back(table.columns.size());
    row[0].set_number(static_cast<long long>(ban.id));
    if (ban.user) row[1].set_text(ban.user->pattern());
    row[2].set_text(ban.alt_field);
    if (ban.network) row[3].set_text(ban.network->to_string());
    if (ban.expires) {
      row[4].set_number(ban.expires);
      row[5].set_text(format_utc(ban.expires));
    } else if (formatter != "json") {
      row[5].set_text("never");
    }
    row[6].set_number(ban.created);
    row[7].set_text(format_utc(ban.created));
    row[8].set_text(ban.reason);
    row[9].set_text(ban.set_by);
  }
  return format(formatter.empty() ? "table" : formatter, rows_of(table), width);
}

std::string ban_summary(const Ban& ban) {
  std::string what = ban.user
                         ? (ban.alt_field.empty() ? "" : ban.alt_field + " ") + ban.user->pattern()
                         : "all users";
  if (ban.network) what += " from " + ban.network->to_string();
  return "banned " + what +
         (ban.expires ? " until " + format_utc(ban.expires) : std::string(" with no end")) +
         " (ban " + std::to_string(ban.id) + ")\n";
}

Report audit_report(const std::vector<std::string>& records, const std::string& formatter) {
  Report report;
  nlohmann::json all = nlohmann::json::array();
  for (const std::string& text : records) {
    nlohmann::json record = nlohmann::json::parse(text, nullptr, false);
    if (record.is_discarded()) {
      report.err += "warning: skipping an audit record that is not JSON\n";
      continue;
    }
    if (formatter == "json") {
      all.push_back(std::move(record));
      continue;
    }
    if (record.contains("omitted")) {
      report.out += text_of(record, "omitted") + "\n";
      continue;
    }
    const nlohmann::json& peer = member(record, "peer");
    std::string filter;
    const nlohmann::json& filters = member(record, "filter");
    if (filters.is_object()) {
      for (auto it = filters.begin(); it != filters.end(); ++it) {
        if (!it.value().is_array()) continue;
        for (const nlohmann::json& value : it.value()) {
          filter += (filter.empty() ? "" : " ") + it.key() + "=" + json_text(value);
        }
      }
    }
    report.out += text_of(record, "time") + " " + text_of(record, "action") + " by " +
                  text_of(peer, "user") + " (uid " + text_of(peer, "uid") + ", pid " +
                  text_of(peer, "pid") + ", " + text_of(peer, "program") + "): " + filter +
                  ", reason \"" + text_of(record, "reason") + "\", " + text_of(record, "matched") +
                  " matched, " + text_of(record, "kicked") + " kicked\n";
    const nlohmann::json& connections = member(record, "connections");
    if (!connections.is_array()) continue;
    for (const nlohmann::json& c : connections) {
      report.out += "  " + text_of(c, "outcome") + " " + text_of(c, "user") + " " +
                    text_of(c, "service") + " pid " + text_of(c, "pid") + " ip " +
                    text_of(c, "ip") + " id " + text_of(c, "id") + "\n";
    }
  }
  if (formatter == "json") report.out = all.dump() + "\n";
  return report;
}

}  // namespace anvil
