// Addresses and networks, and the shape test that keeps "999.1.1.1" from
// becoming a user name.
#include "common/ip_address.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  anvil::fuzz::Input input(data, size);
  std::string_view text = input.rest();
  if (auto ip = anvil::IpAddress::parse(text)) {
    auto again = anvil::IpAddress::parse(ip->to_string());
    FUZZ_CHECK(again && *again == *ip);
  }
  if (auto net = anvil::Cidr::parse(text)) {
    auto again = anvil::Cidr::parse(net->to_string());
    FUZZ_CHECK(again && again->to_string() == net->to_string());
    FUZZ_CHECK(net->contains(net->first()) && net->contains(net->last()));
    FUZZ_CHECK(anvil::looks_like_network(net->to_string()));
  }
  (void)anvil::looks_like_network(text);
  return 0;
}
