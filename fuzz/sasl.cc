// base64 and SASL PLAIN, as clients send them to the proxy.
#include "proxy/sasl.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  anvil::fuzz::Input input(data, size);
  std::string_view text = input.rest();
  FUZZ_CHECK(anvil::base64_decode(anvil::base64_encode(text)) == std::string(text));
  if (auto decoded = anvil::base64_decode(text)) {
    // Unused bits before the padding need not be zero, so the text may
    // differ from the canonical one; what it decodes to may not.
    FUZZ_CHECK(anvil::base64_decode(anvil::base64_encode(*decoded)) == decoded);
  }
  if (auto credentials = anvil::parse_sasl_plain(text)) {
    FUZZ_CHECK(!credentials->user.empty() && !credentials->password.empty());
    auto again = anvil::parse_sasl_plain(anvil::sasl_plain_message(*credentials));
    FUZZ_CHECK(again && again->user == credentials->user &&
               again->password == credentials->password && again->authzid == credentials->authzid);
  }
  return 0;
}
