// Dovecot 2.3's ident: service/ip/user or service/user.
#include "registry/dovecot_ident.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  anvil::fuzz::Input input(data, size);
  auto ident = anvil::parse_dovecot_ident(input.rest());
  if (ident) {
    auto again = anvil::parse_dovecot_ident(
        anvil::format_dovecot_ident(ident->service, ident->ip, ident->user));
    FUZZ_CHECK(again && *again == *ident);
  }
  return 0;
}
