#include "proxy/user_map.h"

#include <fstream>
#include <sstream>

#include "registry/wire_codec.h"

namespace anvil {

namespace {

std::string fold(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool parse_port(std::string_view text, std::uint16_t* port, long long min = 1) {
  long long value = 0;
  if (!parse_integer(text, min, 65535, &value)) return false;
  *port = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text, bool allow_no_port) {
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
      if (port_text.empty()) return std::nullopt;
    }
  } else {
    std::size_t colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon) {
      return std::nullopt;  // a bare IPv6 address: its port would be ambiguous
    }
    out.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = text.substr(colon + 1);
      if (port_text.empty()) return std::nullopt;
    }
  }
  if (out.host.empty() || out.host.find_first_of(" \t/") != std::string::npos) return std::nullopt;
  if (port_text.empty()) {
    if (!allow_no_port) return std::nullopt;
  } else if (!parse_port(port_text, &out.port, 0)) {
    return std::nullopt;
  }
  return out;
}

std::string format_host_port(const HostPort& destination) {
  std::string host = destination.host.find(':') != std::string::npos ? "[" + destination.host + "]"
                                                                     : destination.host;
  return host + ":" + std::to_string(destination.port);
}

std::string UserMap::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "cannot read user map " + path;
  std::unordered_map<std::string, Entry> entries;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    number++;
    auto error = [&](const std::string& text) {
      return path + ":" + std::to_string(number) + ": " + text;
    };
    std::size_t hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    std::istringstream words(line);
    std::string pattern, destination, word;
    if (!(words >> pattern)) continue;
    if (!(words >> destination)) return error("expected a destination after " + pattern);
    if (pattern.starts_with("*") && (!pattern.starts_with("*@") || pattern.size() == 2 ||
                                     pattern.find_first_of("*?", 1) != std::string::npos)) {
      return error("a pattern is a user name or *@domain, not " + pattern);
    }
    Entry entry;
    auto parsed = parse_host_port(destination, true);
    if (!parsed || (parsed->port == 0 && destination.back() == '0'))
      return error("invalid destination " + destination + " (expected host[:port])");
    entry.destination = *parsed;
    while (words >> word) {
      std::size_t eq = word.find('=');
      if (eq == std::string::npos || eq == 0) return error("expected key=value, got " + word);
      std::string key = word.substr(0, eq), value = word.substr(eq + 1);
      if (key == "imap_port" || key == "pop3_port") {
        if (!parse_port(value, key == "imap_port" ? &entry.imap_port : &entry.pop3_port)) {
          return error("invalid " + key + ": " + value);
        }
      } else if (key.starts_with("user_") && key.size() > 5) {
        entry.alt_names.emplace_back(key, value);
      } else {
        return error("unknown key " + key + " (expected imap_port, pop3_port or user_*)");
      }
    }
    if (!entries.emplace(fold(pattern), std::move(entry)).second) {
      return error("duplicate entry for " + pattern);
    }
  }
  entries_ = std::move(entries);
  return "";
}

Route UserMap::route(const std::string& user, MailProtocol protocol,
                     const HostPort& default_backend) const {
  std::string key = fold(user);
  auto found = entries_.find(key);
  if (found == entries_.end()) {
    std::size_t at = key.rfind('@');
    if (at != std::string::npos) found = entries_.find("*" + key.substr(at));
  }
  if (found == entries_.end()) return {default_backend, {}};
  const Entry& entry = found->second;
  Route route{entry.destination, entry.alt_names};
  std::uint16_t protocol_port = protocol == MailProtocol::imap ? entry.imap_port : entry.pop3_port;
  if (protocol_port != 0) {
    route.backend.port = protocol_port;
  } else if (route.backend.port == 0) {
    route.backend.port = default_backend.port;
  }
  return route;
}

}  // namespace anvil
