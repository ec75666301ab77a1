#include "proxy/user_map.h"

#include <fstream>
#include <sstream>

#include "common/user_mask.h"

namespace anvil {

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
    if (!entries.emplace(ascii_fold(pattern), std::move(entry)).second) {
      return error("duplicate entry for " + pattern);
    }
  }
  entries_ = std::move(entries);
  return "";
}

Route UserMap::route(const std::string& user, MailProtocol protocol,
                     const HostPort& default_backend) const {
  std::string key = ascii_fold(user);
  auto found = entries_.find(key);
  if (found == entries_.end()) {
    std::size_t at = key.rfind('@');
    if (at != std::string::npos) {
      // "*@domain" by appending: g++ 12 at -O3 warns wrongly (-Wrestrict,
      // GCC bug 105329) about a literal + a string, and about replace().
      std::string wildcard(1, '*');
      wildcard.append(key, at);
      found = entries_.find(wildcard);
    }
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
