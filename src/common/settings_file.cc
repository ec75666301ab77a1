#include "common/settings_file.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

namespace anvil {

std::string trim_blanks(std::string_view text) {
  std::size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return "";
  std::size_t end = text.find_last_not_of(" \t\r");
  return std::string(text.substr(begin, end - begin + 1));
}

std::string apply_setting_override(const std::string& assignment, const SettingSetter& set) {
  std::size_t eq = assignment.find('=');
  if (eq == std::string::npos) return "expected key=value, got '" + assignment + "'";
  return set(trim_blanks(std::string_view(assignment).substr(0, eq)),
             trim_blanks(std::string_view(assignment).substr(eq + 1)));
}

std::string load_settings_file(const std::string& path, const SettingSetter& set) {
  std::ifstream in(path);
  if (!in) return "cannot read config file " + path;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    number++;
    std::size_t hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    line = trim_blanks(line);
    if (line.empty()) continue;
    std::string error = line.find('=') == std::string::npos ? "expected key = value"
                                                            : apply_setting_override(line, set);
    if (!error.empty()) return path + ":" + std::to_string(number) + ": " + error;
  }
  return "";
}

std::string load_settings(const std::string& file, const std::vector<std::string>& overrides,
                          const SettingSetter& set) {
  if (!file.empty()) {
    if (std::string error = load_settings_file(file, set); !error.empty()) return error;
  }
  for (const std::string& assignment : overrides) {
    if (std::string error = apply_setting_override(assignment, set); !error.empty()) {
      return "-o " + assignment + ": " + error;
    }
  }
  return "";
}

std::vector<std::string> split_list(std::string_view value) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start < value.size()) {
    std::size_t end = value.find_first_of(", \t", start);
    if (end == std::string_view::npos) end = value.size();
    if (end > start) items.emplace_back(value.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

bool parse_duration(std::string_view text, std::chrono::milliseconds min,
                    std::chrono::milliseconds max, std::chrono::milliseconds* out) {
  long long number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data() || number < 0) return false;
  std::string unit =
      trim_blanks(std::string_view(end, static_cast<std::size_t>(text.data() + text.size() - end)));
  long long factor = 0;
  if (unit.empty() || unit == "s" || unit == "sec" || unit == "secs") {
    factor = 1000;
  } else if (unit == "ms" || unit == "msec" || unit == "msecs") {
    factor = 1;
  } else if (unit == "min" || unit == "mins") {
    factor = 60'000;
  } else if (unit == "h" || unit == "hour" || unit == "hours") {
    factor = 3'600'000;
  } else {
    return false;
  }
  if (number > max.count() / factor) return false;  // number * factor would pass max
  std::chrono::milliseconds value(number * factor);
  if (value < min || value > max) return false;
  *out = value;
  return true;
}

bool parse_bool(std::string_view text, bool* out) {
  if (text == "yes" || text == "true" || text == "1") {
    *out = true;
  } else if (text == "no" || text == "false" || text == "0") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

bool read_small_file(const std::string& path, std::size_t max_bytes, std::string* out,
                     std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::string text(max_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_bytes) {
    *error = path + " is over " + std::to_string(max_bytes) + " bytes";
    return false;
  }
  *out = std::move(text);
  return true;
}

}  // namespace anvil
