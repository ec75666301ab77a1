// The options every anvil program takes: -c FILE, -o key=value, -D,
// --help and --version. Each program handles its own options and passes
// the rest here.
#pragma once

#include <functional>
#include <optional>
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

// Goes through argv: the common options here, every other argument through
// `own`, which is given its index (and advances it past any value it
// takes). `own` returns nullopt to go on, or the exit code to stop with.
// Returns nullopt when the program should run, else its exit code.
std::optional<int> parse_command_line(const ProgramInfo& program, int argc, char** argv,
                                      CommonOptions* out,
                                      const std::function<std::optional<int>(int* i)>& own);

// Prints "<name>: <message>" and the usage on stderr; returns 64.
int usage_error(const ProgramInfo& program, const std::string& message);

}  // namespace anvil
