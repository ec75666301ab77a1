// SASL PLAIN (RFC 4616) and the base64 it travels in (RFC 4648), for the
// proxy's AUTHENTICATE / AUTH commands and its login to a backend.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace anvil {

struct Credentials {
  std::string authzid{};  // empty: act as user
  std::string user{};
  std::string password{};
};

std::string base64_encode(std::string_view data);
// Strict: the standard alphabet with '=' padding, no blanks. nullopt otherwise.
std::optional<std::string> base64_decode(std::string_view text);

// "authzid NUL authcid NUL passwd"; nullopt when malformed or the user or
// password is empty.
std::optional<Credentials> parse_sasl_plain(std::string_view message);
std::string sasl_plain_message(const Credentials& credentials);

}  // namespace anvil
