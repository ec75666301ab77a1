// User masks: '*' and '?', anchored, ASCII case-insensitive, against a
// plain recursive reference.
#include "common/user_mask.h"
#include "fuzz_input.h"

namespace {

char fold(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool reference(std::string_view mask, std::string_view name) {
  if (mask.empty()) return name.empty();
  if (mask[0] == '*') {
    for (std::size_t skip = 0; skip <= name.size(); skip++) {
      if (reference(mask.substr(1), name.substr(skip))) return true;
    }
    return false;
  }
  if (name.empty()) return false;
  if (mask[0] != '?' && fold(mask[0]) != fold(name[0])) return false;
  return reference(mask.substr(1), name.substr(1));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64) return 0;  // the reference is exponential in the stars
  anvil::fuzz::Input input(data, size);
  std::string mask(input.piece());
  std::string_view name = input.rest();
  anvil::UserMask compiled(mask);
  FUZZ_CHECK(compiled.matches(name) == reference(mask, name));
  return 0;
}
