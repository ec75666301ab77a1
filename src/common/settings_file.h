// Settings as every anvil program reads them: a file of `key = value` lines
// ('#' starts a comment), then `-o key=value` overrides. Each program owns
// its keys; it passes a setter that applies one key and returns an error
// sentence, or "" when the value was taken.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace anvil {

using SettingSetter = std::function<std::string(const std::string& key, const std::string& value)>;

// Returns "" or the first error, naming the file and line.
std::string load_settings_file(const std::string& path, const SettingSetter& set);
// Applies one "key=value" (blanks around both are ignored).
std::string apply_setting_override(const std::string& assignment, const SettingSetter& set);
// A program's settings: the file (if any), then each override. Returns ""
// or the first error, ready for the log.
std::string load_settings(const std::string& file, const std::vector<std::string>& overrides,
                          const SettingSetter& set);
// The items of a list value, separated by commas and/or blanks.
std::vector<std::string> split_list(std::string_view value);

std::string trim_blanks(std::string_view text);

// "30" (seconds), "30s", "500ms", "2min", "1h". False for anything else,
// and for values outside [min, max].
bool parse_duration(std::string_view text, std::chrono::milliseconds min,
                    std::chrono::milliseconds max, std::chrono::milliseconds* out);
// A small file whole (a secret, a key): false, with *error naming the file
// and the reason, if it cannot be read or is over max_bytes.
bool read_small_file(const std::string& path, std::size_t max_bytes, std::string* out,
                     std::string* error);

// "yes"/"no" (also "true"/"false", "1"/"0").
bool parse_bool(std::string_view text, bool* out);

}  // namespace anvil
