#include "common/numbers.h"

#include <charconv>

namespace anvil {

bool parse_integer(std::string_view text, long long min, long long max, long long* out) {
  if (text.empty() || text.size() > 20) return false;
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  if (value < min || value > max) return false;
  *out = value;
  return true;
}

bool parse_port(std::string_view text, std::uint16_t* port, long long min) {
  long long value = 0;
  if (!parse_integer(text, min, 65535, &value)) return false;
  *port = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace anvil
