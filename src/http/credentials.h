// anvil-httpd's credentials: API keys, each with a name and a role, read
// from a file of lines
//
//   <name> <role> <sha256 of the key, 64 hex digits>
//
// ('#' starts a comment). Only the key's hash is stored, so the file does
// not hold the keys themselves. A request presents its key in any of the
// forms doveadm's HTTP API and common tools use:
//
//   Authorization: X-Dovecot-API <base64 of the key>
//   Authorization: Basic <base64 of "name:key" or "doveadm:key">
//   Authorization: Bearer <key>
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace anvil {

enum class HttpRole { read, kick };

const char* http_role_name(HttpRole role);

struct Principal {
  std::string name;
  HttpRole role = HttpRole::read;
};

class Credentials {
 public:
  // Reads a keys file; "" or an error sentence naming the file and line.
  std::string load(const std::string& path);
  // Adds one key (its hash is kept); for tests and load().
  void add(const Principal& principal, std::string_view key);
  std::size_t size() const { return by_hash_.size(); }

  // Who an Authorization header value stands for; nullopt when it is
  // missing, malformed or names no key.
  std::optional<Principal> authenticate(std::string_view authorization) const;

  // A new random key (32 bytes, base64url without padding), and the keys
  // file line for it.
  static std::string new_key();
  static std::string key_line(const Principal& principal, std::string_view key);
  // A key name: 1 to 64 of A-Z a-z 0-9 . _ @ -.
  static bool valid_name(std::string_view name);

 private:
  static std::string hash_hex(std::string_view key);
  std::optional<Principal> find(std::string_view key, std::string_view user) const;
  std::unordered_map<std::string, Principal> by_hash_;  // keyed by the hex hash
};

// Standard base64 (RFC 4648 §4, padding optional); nullopt when malformed.
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace anvil
