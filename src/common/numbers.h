// The one way every anvil program reads a number from text: decimal digits
// only (an optional '-' for negative ranges), nothing before or after, and
// within the caller's bounds.
#pragma once

#include <cstdint>
#include <string_view>

namespace anvil {

// True and *out set when text is a decimal integer in [min, max].
bool parse_integer(std::string_view text, long long min, long long max, long long* out);
// A TCP port in [min, 65535].
bool parse_port(std::string_view text, std::uint16_t* port, long long min = 1);

}  // namespace anvil
