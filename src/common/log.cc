#include "common/log.h"

#include <unistd.h>

#include <string>

namespace anvil {

namespace {
std::string program_name = "anvil";
bool debug_enabled = false;
bool dovecot_format = false;
}  // namespace

void set_dovecot_log_format(bool on) {
  dovecot_format = on;
}

void set_log_program(std::string_view name) {
  program_name = name;
}
void enable_debug_log(bool on) {
  debug_enabled = on;
}
bool debug_log_enabled() {
  return debug_enabled;
}

std::string clip(std::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  return std::string(text.substr(0, max)) + "...";
}

bool Throttle::allow(std::size_t* held_back) {
  auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= period_) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= burst_) {
    held_back_++;
    return false;
  }
  in_window_++;
  *held_back = held_back_;
  held_back_ = 0;
  return true;
}

void write_log(LogLevel level, std::string_view message) {
  static constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
  std::string line;
  if (dovecot_format) {
    // Dovecot's log types: 0 debug, 1 info, 2 warning, 3 error; sent as type + 1.
    line = std::string("\x01") + static_cast<char>(static_cast<int>(level) + 1) +
           std::to_string(::getpid()) + " ";
  } else {
    line = program_name + ": " + kNames[static_cast<int>(level)] + ": ";
  }
  // A log line is one line, whatever a peer put into the message.
  for (char c : message) line += (c == '\n' || c == '\r') ? ' ' : c;
  line += '\n';
  // One write() per line, so lines of concurrent writers do not interleave.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace anvil
