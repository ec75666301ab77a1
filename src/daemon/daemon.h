// Runs anvild until SIGTERM or SIGINT. Kept free of Asio so that main.cc
// compiles fast.
#pragma once

#include "daemon/config.h"

namespace anvil {

// Returns the process exit code.
int run_daemon(const DaemonConfig& config);

}  // namespace anvil
