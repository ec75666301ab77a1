// The audit trail: one JSON line per kick and dry run, appended to a file
// and on disk before the administrator gets the answer. Who asked (uid,
// user name, pid, program), the filter as given, the reason, and what became
// of each connection. Reopened on SIGHUP for log rotation. See
// docs/security.md.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/unix_socket.h"

namespace anvil {

struct KickOutcome;

// What an audit record says about the kick besides its outcomes.
struct KickAudit {
  PeerCredentials peer;
  std::vector<std::string> filter;  // the KICK line's filter fields, as sent
  std::string reason;
  bool dry_run = false;
  bool force = false;
  std::string on_behalf;  // whom a relaying peer (anvil-httpd) asked for; "" if none
};

class AuditLog {
 public:
  // path "" turns the trail off.
  explicit AuditLog(std::string path) : path_(std::move(path)) {}
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Opens (creating the directory and the file, mode 0640) or reopens the
  // file; "" or an error sentence.
  std::string open();
  bool enabled() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

  // Appends one record and waits until it is on disk; "" or an error.
  std::string record(const KickAudit& kick, const std::vector<KickOutcome>& outcomes);
  // The last `count` records (JSON lines), oldest first.
  std::vector<std::string> tail(std::size_t count) const;

  // One record as a JSON line (without LF); for tests.
  static std::string format(const KickAudit& kick, const std::vector<KickOutcome>& outcomes,
                            std::int64_t unix_ms);
  // The same, appended to `out`; emit(out) is called whenever out has grown
  // past about 1 MiB (emit empties it), so that a record of a million
  // connections is written in parts and never held whole.
  static void format_into(const KickAudit& kick, const std::vector<KickOutcome>& outcomes,
                          std::int64_t unix_ms, std::string& out,
                          const std::function<void(std::string&)>& emit);

 private:
  std::string path_;
  UniqueFd fd_;
  std::string buffer_;  // a record's parts, reused
};

}  // namespace anvil
