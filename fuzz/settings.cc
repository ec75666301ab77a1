// anvild's and anvil-proxy's settings, one `key = value` line at a time,
// and the value parsers they share.
#include <chrono>

#include "common/settings_file.h"
#include "daemon/config.h"
#include "fuzz_input.h"
#include "proxy/proxy_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  anvil::fuzz::Input input(data, size);
  anvil::DaemonConfig daemon;
  anvil::ProxyConfig proxy;
  while (!input.empty()) {
    std::string line(input.piece('\n'));
    (void)daemon.apply_override(line);
    (void)proxy.apply_override(line);
    std::chrono::milliseconds out{};
    if (anvil::parse_duration(line, std::chrono::milliseconds(0), std::chrono::milliseconds::max(),
                              &out)) {
      FUZZ_CHECK(out.count() >= 0);
    }
    bool flag = false;
    (void)anvil::parse_bool(line, &flag);
    for (const std::string& item : anvil::split_list(line)) FUZZ_CHECK(!item.empty());
  }
  return 0;
}
