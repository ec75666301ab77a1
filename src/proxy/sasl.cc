#include "proxy/sasl.h"

#include <array>

namespace anvil {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int, 256> decode_table() {
  std::array<int, 256> table{};
  for (auto& entry : table) entry = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); i++) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
  }
  return table;
}

constexpr auto kDecode = decode_table();

}  // namespace

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < data.size(); i += 3) {
    std::uint32_t chunk = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) chunk |= static_cast<unsigned char>(data[i + 1]) << 8;
    if (i + 2 < data.size()) chunk |= static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < data.size() ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int padding = 0;
    std::uint32_t chunk = 0;
    for (std::size_t j = 0; j < 4; j++) {
      char c = text[i + j];
      int value = 0;
      if (c == '=' && last && j >= 2) {
        padding++;
      } else if (padding > 0 || (value = kDecode[static_cast<unsigned char>(c)]) < 0) {
        return std::nullopt;  // a character after padding, or outside the alphabet
      }
      chunk = (chunk << 6) | static_cast<std::uint32_t>(value);
    }
    out += static_cast<char>((chunk >> 16) & 0xff);
    if (padding < 2) out += static_cast<char>((chunk >> 8) & 0xff);
    if (padding < 1) out += static_cast<char>(chunk & 0xff);
  }
  return out;
}

std::optional<Credentials> parse_sasl_plain(std::string_view message) {
  std::size_t first = message.find('\0');
  if (first == std::string_view::npos) return std::nullopt;
  std::size_t second = message.find('\0', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  if (message.find('\0', second + 1) != std::string_view::npos) return std::nullopt;
  Credentials credentials{std::string(message.substr(0, first)),
                          std::string(message.substr(first + 1, second - first - 1)),
                          std::string(message.substr(second + 1))};
  if (credentials.user.empty() || credentials.password.empty()) return std::nullopt;
  return credentials;
}

std::string sasl_plain_message(const Credentials& credentials) {
  std::string message = credentials.authzid;
  message += '\0';
  message += credentials.user;
  message += '\0';
  message += credentials.password;
  return message;
}

}  // namespace anvil
