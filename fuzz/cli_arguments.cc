// anvilctl's command line (doveadm's syntax), arguments split at NUL.
#include "cli/arguments.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  anvil::fuzz::Input input(data, size);
  std::vector<std::string> args;
  while (!input.empty() && args.size() < 32) args.emplace_back(input.piece());
  anvil::Invocation invocation;
  auto no_resolver = [](const std::string&, std::vector<anvil::IpAddress>*) {
    return std::string("no resolver here");
  };
  auto problem = anvil::parse_arguments(args, no_resolver, &invocation);
  if (!problem && invocation.command == anvil::Command::kick)
    FUZZ_CHECK(!invocation.filter.empty());
  return 0;
}
