// Log lines on stderr: "<program>: <level>: <message>". Programs call
// set_log_program() once; debug lines show only after enable_debug_log().
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace anvil {

enum class LogLevel { debug, info, warning, error };

void set_log_program(std::string_view name);
// Dovecot's internal format ("\x01" + level + pid + " " + text) for a
// process whose stderr is a pipe to Dovecot's log process.
void set_dovecot_log_format(bool on);
void enable_debug_log(bool on);
bool debug_log_enabled();
void write_log(LogLevel level, std::string_view message);

template <typename... Args>
void log_debug(fmt::format_string<Args...> format, Args&&... args) {
  if (debug_log_enabled())
    write_log(LogLevel::debug, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void log_info(fmt::format_string<Args...> format, Args&&... args) {
  write_log(LogLevel::info, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void log_warning(fmt::format_string<Args...> format, Args&&... args) {
  write_log(LogLevel::warning, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void log_error(fmt::format_string<Args...> format, Args&&... args) {
  write_log(LogLevel::error, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace anvil
