// What `who` and `kick` print, built from anvild's answers. Pure functions:
// no I/O, so every output form is unit-tested.
#pragma once

#include <string>
#include <vector>

#include "cli/admin_connection.h"
#include "cli/table.h"

namespace anvil {

// Grouped view: one row per (user, service): username # service (pids) (ips),
// pids in numeric and ips in address order.
RowSource who_grouped(const Sessions& sessions);
// -1: one row per connection: username service pid ip dest_ip conn_id
// [alt_field].
RowSource who_per_connection(const Sessions& sessions, const std::string& alt_field);

struct Report {
  std::string out;  // for stdout
  std::string err;  // for stderr
  int exit_code = 0;
};

// formatter empty: the doveadm-style text ("kicked connections from the
// following users:" and the names); otherwise one row per connection.
Report kick_report(const KickResults& results, const std::string& formatter, bool verbose,
                   bool dry_run, int width);

// audit: each record (a JSON text from anvild's audit trail) as a short
// paragraph, or with formatter "json" as one JSON array.
Report audit_report(const std::vector<std::string>& records, const std::string& formatter);

}  // namespace anvil
