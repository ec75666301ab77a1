// The options every anvil program takes: -c FILE, -o key=value, -D,
// --help and --version. Each program handles its own options and passes
// the rest here.
#pragma once

#include <string>
#include <vector>

namespace anvil {

struct ProgramInfo {
  const char* name;     // "anvil-proxy"
  const char* version;  // "0.1.0"
  const char* usage;    // the --help text
};

struct CommonOptions {
  std::string config_file;             // -c
  std::vector<std::string> overrides;  // each -o, in order
};

enum class OptionOutcome {
  taken,     // a common option (with its value): go on
  not_mine,  // not a common option: the program's own, or unknown
  done,      // --help, --version or a usage error: exit with *exit_code
};

// Looks at argv[*i]; advances *i past a value it takes. Prints --help's
// and --version's text on stdout, a usage error (exit code 64) on stderr.
OptionOutcome take_common_option(const ProgramInfo& program, int argc, char** argv, int* i,
                                 CommonOptions* out, int* exit_code);

// Prints "<name>: <message>" and the usage on stderr; returns 64.
int usage_error(const ProgramInfo& program, const std::string& message);

}  // namespace anvil
