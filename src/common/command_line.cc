#include "common/command_line.h"

#include <cstdio>

#include "common/log.h"

namespace anvil {

int usage_error(const ProgramInfo& program, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n%s", program.name, message.c_str(), program.usage);
  return 64;
}

OptionOutcome take_common_option(const ProgramInfo& program, int argc, char** argv, int* i,
                                 CommonOptions* out, int* exit_code) {
  std::string arg = argv[*i];
  if (arg == "--help" || arg == "-h") {
    std::fputs(program.usage, stdout);
    *exit_code = 0;
    return OptionOutcome::done;
  }
  if (arg == "--version") {
    std::printf("%s %s\n", program.name, program.version);
    *exit_code = 0;
    return OptionOutcome::done;
  }
  if (arg == "-D") {
    enable_debug_log(true);
    return OptionOutcome::taken;
  }
  if (arg == "-c" || arg == "-o") {
    if (*i + 1 >= argc) {
      *exit_code = usage_error(program, arg + (arg == "-c" ? " needs a file" : " needs key=value"));
      return OptionOutcome::done;
    }
    std::string value = argv[++*i];
    if (arg == "-c") {
      out->config_file = value;
    } else {
      out->overrides.push_back(value);
    }
    return OptionOutcome::taken;
  }
  return OptionOutcome::not_mine;
}

std::optional<int> parse_command_line(const ProgramInfo& program, int argc, char** argv,
                                      CommonOptions* out,
                                      const std::function<std::optional<int>(int* i)>& own) {
  for (int i = 1; i < argc; i++) {
    int exit_code = 0;
    switch (take_common_option(program, argc, argv, &i, out, &exit_code)) {
      case OptionOutcome::taken: continue;
      case OptionOutcome::done: return exit_code;
      case OptionOutcome::not_mine:
        if (auto stop = own(&i)) return stop;
    }
  }
  return std::nullopt;
}

}  // namespace anvil
