// Process file descriptors: a pidfd names one process for as long as it is
// open, so a signal sent through it can never reach a process that later
// got the same pid.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/unix_socket.h"

namespace anvil {

// An empty fd, with *error set, when the process does not exist.
UniqueFd open_pidfd(pid_t pid, std::string* error);
// "" or an error sentence.
std::string signal_pidfd(int pidfd, pid_t pid, int signal_number);

}  // namespace anvil
