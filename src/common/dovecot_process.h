// The one rule for signalling a process as one of Dovecot's: anvild (for
// sessions registered in Dovecot 2.3's protocol) and anvilctl (against
// Dovecot's own anvil) both apply it. A pid is only a claim; a process may
// be signalled only if it is a child of a Dovecot master we know and does
// not run as root (Dovecot's mail processes run as mail users). Callers hold
// a pidfd on it, so the facts read here are about that very process.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace anvil {

struct ProcessFacts {
  pid_t parent = 0;
  uid_t uid = 0;  // effective uid
};

// From /proc; nullopt once the process is gone.
std::optional<ProcessFacts> read_process_facts(pid_t pid);
// Its command name (/proc/<pid>/comm), "" once it is gone.
std::string process_name(pid_t pid);

// "" if pid may be signalled as a Dovecot process of one of masters; else
// why not, as a sentence. uids: the uids Dovecot's services run as; empty
// means any uid but root.
std::string dovecot_signal_refusal(pid_t pid, const std::vector<pid_t>& masters,
                                   const std::vector<uid_t>& uids);

// The pid in a Dovecot master.pid file, if the file holds one.
std::optional<pid_t> read_pid_file(const std::string& path);

}  // namespace anvil
