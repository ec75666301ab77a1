// User masks: '*' and '?', anchored, ASCII case-insensitive, against a
// plain reference table.
#include <vector>

#include "common/user_mask.h"
#include "fuzz_input.h"

namespace {

char fold(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Whether mask[i:] matches name[j:], for every i and j, from the ends: a
// plain table, quadratic but never slow (a recursive reference is
// exponential in the stars: "*********" and 40 more bytes took minutes).
bool reference(std::string_view mask, std::string_view name) {
  std::vector<std::vector<char>> rest(mask.size() + 1, std::vector<char>(name.size() + 1, 0));
  rest[mask.size()][name.size()] = 1;
  for (std::size_t i = mask.size(); i-- > 0;) {
    for (std::size_t j = name.size() + 1; j-- > 0;) {
      bool more = j < name.size();
      if (mask[i] == '*') {
        rest[i][j] = rest[i + 1][j] || (more && rest[i][j + 1]);
      } else {
        rest[i][j] =
            more && (mask[i] == '?' || fold(mask[i]) == fold(name[j])) && rest[i + 1][j + 1];
      }
    }
  }
  return rest[0][0];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 512) return 0;  // the reference's table grows with the square
  anvil::fuzz::Input input(data, size);
  std::string mask(input.piece());
  std::string_view name = input.rest();
  anvil::UserMask compiled(mask);
  FUZZ_CHECK(compiled.matches(name) == reference(mask, name));
  return 0;
}
