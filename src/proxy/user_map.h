// Where the proxy sends a user: the user map file says it per user or per
// domain, and everyone else goes to the default backend.
//
// File format, one entry per line ('#' starts a comment):
//   <user or *@domain>  <host>[:<port>]  [imap_port=N] [pop3_port=N] [user_*=value]...
// A port in the destination applies to IMAP and POP3 alike; imap_port and
// pop3_port override it per protocol; without any, a protocol keeps the port
// of its default backend. Names compare case-insensitively (ASCII); an exact
// user entry wins over its domain's entry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/host_port.h"

namespace anvil {

enum class MailProtocol { imap, pop3 };

struct Route {
  HostPort backend;
  std::vector<std::pair<std::string, std::string>> alt_names;  // user_* fields
};

class UserMap {
 public:
  // Reads a map file; returns "" or an error naming the file and line.
  std::string load(const std::string& path);

  // The route for a user: from the map, or the default backend.
  Route route(const std::string& user, MailProtocol protocol,
              const HostPort& default_backend) const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    HostPort destination;
    std::uint16_t imap_port = 0;
    std::uint16_t pop3_port = 0;
    std::vector<std::pair<std::string, std::string>> alt_names;
  };
  std::unordered_map<std::string, Entry> entries_;  // key: folded user or "*@domain"
};

}  // namespace anvil
