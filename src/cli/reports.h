// What `who` and `kick` print, built from anvild's answers. Pure functions:
// no I/O, so every output form is unit-tested.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "cli/admin_connection.h"
#include "cli/table.h"

namespace anvil {

// who's output, printed as the sessions arrive (sorted by user and
// service, as anvild sends them). Grouped: one row per (user, service):
// username # service (pids) (ips), pids in numeric and ips in address
// order. -1 (one_per_connection): one row per connection: username service
// pid ip dest_ip conn_id uid [alt_field].
class WhoPrinter {
 public:
  // node_column: a last column "node" (cluster answers; -1 only).
  WhoPrinter(bool one_per_connection, std::string alt_field, const std::string& formatter,
             int width, TextSink& out, bool node_column = false);
  void add(const Session& session, std::string_view node = {});
  void finish();
  static std::vector<Column> columns(bool one_per_connection, const std::string& alt_field,
                                     bool node_column = false);

 private:
  void write_group();

  bool one_per_connection_;
  std::string alt_field_;
  bool node_column_;
  RowWriter writer_;
  std::vector<Cell> cells_;
  // The group being gathered.
  std::string user_, service_;
  std::size_t count_ = 0;
  std::set<std::int32_t> pids_;
  std::set<IpAddress> ips_;  // address order, so output is stable
};

struct Report {
  std::string out;  // for stdout
  std::string err;  // for stderr
  int exit_code = 0;
};

// kick's output, written as the results arrive. formatter empty: the
// doveadm-style text ("kicked connections from the following users:" and
// the names, after one line per connection with verbose); otherwise one
// row per connection. The warnings about processes that did not drop what
// they were asked to go to stderr at the end.
class KickReporter {
 public:
  // node_column: rows (with a formatter) end with the node (cluster kicks).
  KickReporter(const std::string& formatter, bool verbose, bool dry_run, int width, TextSink& out,
               bool node_column = false);
  KickReporter(const KickReporter&) = delete;
  KickReporter& operator=(const KickReporter&) = delete;
  void add(const KickResult& result, std::string_view node = {});
  // Writes the rest of the output; returns the warnings (err) and the exit
  // code (out stays empty: everything went to the sink).
  Report finish();

 private:
  struct Problem {
    std::size_t count = 0;
    std::set<std::string> others;
    std::string why;
  };
  bool verbose_;
  bool dry_run_;
  bool node_column_;
  TextSink& out_;
  std::optional<RowWriter> writer_;  // with a formatter
  std::vector<Cell> cells_;
  std::set<std::string> users_;
  std::size_t done_ = 0, unconfirmed_ = 0;
  // Per process: what did not go as asked, for the warnings.
  std::map<std::tuple<std::int32_t, std::string, KickStatus>, Problem> problems_;
};

// All of it at once, into Report::out (tests, and anvilctl's Dovecot path).
Report kick_report(const KickResults& results, const std::string& formatter, bool verbose,
                   bool dry_run, int width);

// ban list (and what ban add set): a row per ban, oldest first: id, user
// mask, alternative name field, network, expiry (UTC; "never"), reason, who
// set it. json adds created and expires as unix seconds and ISO 8601.
std::string ban_report(const std::vector<Ban>& bans, const std::string& formatter, int width);
// One line for a ban just set: "banned jane from 192.0.2.0/24 until
// 2026-11-30T11:42:07Z (ban 7)".
std::string ban_summary(const Ban& ban);

// audit: each record (a JSON text from anvild's audit trail) as a short
// paragraph, or with formatter "json" as one JSON array.
Report audit_report(const std::vector<std::string>& records, const std::string& formatter);

}  // namespace anvil
