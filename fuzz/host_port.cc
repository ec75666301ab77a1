// host:port and [v6]:port, as settings and the proxy's user map give them.
#include "common/host_port.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  anvil::fuzz::Input input(data, size);
  bool allow_no_port = input.byte() & 1;
  if (auto parsed = anvil::parse_host_port(input.rest(), allow_no_port)) {
    FUZZ_CHECK(!parsed->host.empty());
    auto again = anvil::parse_host_port(anvil::format_host_port(*parsed));
    FUZZ_CHECK(again && again->host == parsed->host && again->port == parsed->port);
  }
  return 0;
}
