// Times and durations as administrators type them, and times as anvil
// prints them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace anvil {

// A duration in seconds: numbers each with a unit, s, m, h, d or w, summed
// ("90s", "15m", "1h30m", "2d"); a bare number is seconds. nullopt when
// malformed, or longer than ten years.
std::optional<std::int64_t> parse_duration(std::string_view text);

// A point in time as unix seconds, from
//   unix seconds ("1795948927"),
//   ISO 8601 date and time, "T" or a space between them, seconds optional:
//     "2026-11-30T10:42", "2026-11-30 10:42:07"; with "Z" or "+01:00"
//     it is in that zone, without, in local time,
//   a time of day, "10:42" or "10:42:07": that time today, local time.
// `now` (unix seconds) says which day today is. nullopt when malformed.
std::optional<std::int64_t> parse_time(std::string_view text, std::int64_t now);

// "2026-11-30T10:42:07Z": ISO 8601, UTC.
std::string format_utc(std::int64_t unix_seconds);

}  // namespace anvil
