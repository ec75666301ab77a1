// Log lines on stderr: "<program>: <level>: <message>". Programs call
// set_log_program() once; debug lines show only after enable_debug_log().
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstddef>
#include <string>
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

// What a peer sent, cut to at most max bytes for a log line or an error
// reply ("..." marks the cut), so that no peer can make anvil repeat a large
// value over and over.
std::string clip(std::string_view text, std::size_t max = 100);

// Lets at most `burst` events through per `period`; the rest are counted.
// A peer that provokes errors in a loop then costs a few log lines and
// replies a second, not one each.
class Throttle {
 public:
  explicit Throttle(std::size_t burst = 20,
                    std::chrono::milliseconds period = std::chrono::seconds(1))
      : burst_(burst), period_(period) {}
  // True if this event may be reported; *held_back is then how many were
  // not since the last one that was.
  bool allow(std::size_t* held_back);

 private:
  std::size_t burst_;
  std::chrono::milliseconds period_;
  std::chrono::steady_clock::time_point window_start_{};
  std::size_t in_window_ = 0;
  std::size_t held_back_ = 0;
};

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
