// A connection id names one client connection across anvil: 128 random bits,
// written as 32 lower-case hex digits on the wire and in every output.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace anvil {

struct ConnectionId {
  std::uint64_t high = 0;
  std::uint64_t low = 0;

  // A fresh id from the system's random source (getrandom).
  static ConnectionId random();
  // Accepts exactly 32 hex digits, either case; anything else is nullopt.
  static std::optional<ConnectionId> parse(std::string_view hex);
  std::string to_hex() const;
  // The 32 digits of to_hex() into out, without a terminating NUL.
  void write_hex(char* out) const;

  bool is_zero() const { return high == 0 && low == 0; }
  auto operator<=>(const ConnectionId&) const = default;
};

struct ConnectionIdHash {
  std::size_t operator()(const ConnectionId& id) const noexcept {
    return std::hash<std::uint64_t>{}(id.high ^ (id.low * 0x9e3779b97f4a7c15ULL));
  }
};

}  // namespace anvil
