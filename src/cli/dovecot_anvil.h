// anvilctl against Dovecot 2.3's own anvil (protocol "anvil" 1.x): who from
// its CONNECT-DUMP, filtered here; kick by signalling whole processes, as
// Dovecot does, but through pidfds and one process at a time: a process that
// also holds connections that do not match is left alone unless forced.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "cli/admin_connection.h"
#include "common/unix_socket.h"
#include "registry/session_filter.h"

namespace anvil {

class DovecotAnvil {
 public:
  // fd: connected to Dovecot's anvil socket. master_pid: Dovecot's master,
  // or 0 when unknown (then no process is signalled).
  DovecotAnvil(UniqueFd fd, std::string path, pid_t master_pid, bool debug);

  // One Session per connection: service, pid, ip and user (no id).
  std::vector<Session> sessions();
  KickResults kick(const SessionFilter& filter, bool dry_run, bool force);

 private:
  std::vector<std::string> read_fields();

  UniqueFd fd_;
  std::string path_;
  pid_t master_pid_;
  bool debug_;
  LineBuffer input_;
};

}  // namespace anvil
