#include "daemon/config.h"

#include <fstream>

#include "registry/wire_codec.h"

namespace anvil {

namespace {

std::string trim(const std::string& text) {
  std::size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  std::size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

bool parse_size(const std::string& value, long long min, long long max, std::size_t* out) {
  long long v = 0;
  if (!parse_integer(value, min, max, &v)) return false;
  *out = static_cast<std::size_t>(v);
  return true;
}

bool parse_mode(const std::string& value, mode_t* out) {
  if (value.empty() || value.size() > 4) return false;
  mode_t mode = 0;
  for (char c : value) {
    if (c < '0' || c > '7') return false;
    mode = static_cast<mode_t>(mode * 8 + static_cast<mode_t>(c - '0'));
  }
  *out = mode;
  return true;
}

}  // namespace

std::string DaemonConfig::resolve(const std::string& path) const {
  if (!path.empty() && path[0] == '/') return path;
  return run_dir + "/" + path;
}

std::string DaemonConfig::set(const std::string& key, const std::string& value) {
  auto bad = [&] { return "invalid value for " + key + ": '" + value + "'"; };
  if (key == "run_dir") {
    if (value.empty()) return bad();
    run_dir = value;
  } else if (key == "admin_socket") {
    if (value.empty()) return bad();
    admin_socket = value;
  } else if (key == "service_socket") {
    if (value.empty()) return bad();
    service_socket = value;
  } else if (key == "admin_socket_mode") {
    if (!parse_mode(value, &admin_socket_mode)) return bad();
  } else if (key == "service_socket_mode") {
    if (!parse_mode(value, &service_socket_mode)) return bad();
  } else if (key == "admin_allow_uids") {
    admin_allow_uids.clear();
    std::size_t start = 0;
    while (start <= value.size()) {
      std::size_t comma = value.find(',', start);
      std::string item =
          trim(value.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (!item.empty()) {
        long long uid = 0;
        if (!parse_integer(item, 0, 0xfffffffe, &uid)) return bad();
        admin_allow_uids.push_back(static_cast<uid_t>(uid));
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else if (key == "max_line_length") {
    if (!parse_size(value, 256, 16LL * 1024 * 1024, &max_line_length)) return bad();
  } else if (key == "max_sessions_per_process") {
    if (!parse_size(value, 1, 100'000'000, &max_sessions_per_process)) return bad();
  } else if (key == "max_service_clients") {
    if (!parse_size(value, 1, 1'000'000, &max_service_clients)) return bad();
  } else if (key == "max_admin_clients") {
    if (!parse_size(value, 1, 1'000'000, &max_admin_clients)) return bad();
  } else if (key == "kick_timeout_ms") {
    std::size_t ms = 0;
    if (!parse_size(value, 1, 600'000, &ms)) return bad();
    kick_timeout = std::chrono::milliseconds(ms);
  } else {
    return "unknown setting: " + key;
  }
  return "";
}

std::string DaemonConfig::apply_override(const std::string& assignment) {
  std::size_t eq = assignment.find('=');
  if (eq == std::string::npos) return "expected key=value, got '" + assignment + "'";
  return set(trim(assignment.substr(0, eq)), trim(assignment.substr(eq + 1)));
}

std::string DaemonConfig::load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "cannot read config file " + path;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    number++;
    std::size_t hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    line = trim(line);
    if (line.empty()) continue;
    std::size_t eq = line.find('=');
    std::string error = eq == std::string::npos
                            ? "expected key = value"
                            : set(trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
    if (!error.empty()) return path + ":" + std::to_string(number) + ": " + error;
  }
  return "";
}

}  // namespace anvil
