// The PROXY protocol header, read the way the proxy reads it: never a byte
// past the header.
#include "proxy/proxy_header.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  anvil::fuzz::Input input(data, size);
  std::string_view stream = input.rest();
  std::string have;
  for (int rounds = 0; rounds < 64; rounds++) {
    anvil::ProxyHeaderParse parse = anvil::parse_proxy_header(have);
    using Status = anvil::ProxyHeaderParse::Status;
    if (parse.status == Status::done || parse.status == Status::invalid) {
      FUZZ_CHECK(parse.status == Status::invalid || have.size() <= 16 + 65535);
      return 0;
    }
    std::size_t take = parse.count;
    if (parse.status == Status::need_line) {
      std::size_t lf = stream.substr(0, parse.count).find('\n');
      take = lf == std::string_view::npos ? std::min(parse.count, stream.size()) : lf + 1;
    }
    FUZZ_CHECK(take > 0 || stream.empty());
    if (take > stream.size()) return 0;  // the stream ended first
    have.append(stream.substr(0, take));
    stream.remove_prefix(take);
    if (take == 0) return 0;
  }
  return 0;
}
