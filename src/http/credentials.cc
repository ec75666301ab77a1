#include "http/credentials.h"

#include <sodium.h>

#include <fstream>

#include "common/settings_file.h"
#include "common/user_mask.h"

namespace anvil {

namespace {
constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kMaxKeyLength = 1024;

bool is_hex64(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}
}  // namespace

const char* http_role_name(HttpRole role) {
  return role == HttpRole::kick ? "kick" : "read";
}

bool Credentials::valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string Credentials::hash_hex(std::string_view key) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

void Credentials::add(const Principal& principal, std::string_view key) {
  by_hash_[hash_hex(key)] = principal;
}

std::string Credentials::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "cannot read keys file " + path;
  std::unordered_map<std::string, Principal> loaded;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    number++;
    if (std::size_t hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::vector<std::string> words = split_list(line);
    if (words.empty()) continue;
    auto where = [&] { return path + " line " + std::to_string(number) + ": "; };
    if (words.size() != 3) return where() + "want <name> <role> <sha256 of the key>";
    if (!valid_name(words[0])) return where() + "invalid key name " + words[0];
    Principal principal{words[0], HttpRole::read};
    if (words[1] == "kick") {
      principal.role = HttpRole::kick;
    } else if (words[1] != "read") {
      return where() + "role must be read or kick, not " + words[1];
    }
    if (!is_hex64(words[2])) return where() + "the key's hash must be 64 lowercase hex digits";
    for (const auto& [hash, other] : loaded) {
      if (other.name == principal.name) return where() + "key name " + words[0] + " used twice";
    }
    loaded[words[2]] = principal;
  }
  by_hash_ = std::move(loaded);
  return "";
}

std::optional<Principal> Credentials::find(std::string_view key, std::string_view user) const {
  if (key.empty() || key.size() > kMaxKeyLength) return std::nullopt;
  auto it = by_hash_.find(hash_hex(key));
  if (it == by_hash_.end()) return std::nullopt;
  // Basic's user name is the key's name, or "doveadm" as doveadm's clients
  // send it.
  if (!user.empty() && user != "doveadm" && user != it->second.name) return std::nullopt;
  return it->second;
}

std::optional<Principal> Credentials::authenticate(std::string_view authorization) const {
  auto scheme = [&](std::string_view name) {
    if (authorization.size() <= name.size() || authorization[name.size()] != ' ' ||
        ascii_fold(authorization.substr(0, name.size())) != ascii_fold(name)) {
      return false;
    }
    authorization.remove_prefix(name.size() + 1);
    while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
    while (!authorization.empty() && authorization.back() == ' ') authorization.remove_suffix(1);
    return true;
  };
  if (scheme("Bearer")) return find(authorization, "");
  if (scheme("X-Dovecot-API")) {
    auto key = decode_base64(authorization);
    return key ? find(*key, "") : std::nullopt;
  }
  if (scheme("Basic")) {
    auto pair = decode_base64(authorization);
    if (!pair) return std::nullopt;
    std::size_t colon = pair->find(':');
    if (colon == std::string::npos || colon == 0) return std::nullopt;
    return find(std::string_view(*pair).substr(colon + 1),
                std::string_view(*pair).substr(0, colon));
  }
  return std::nullopt;
}

std::string Credentials::new_key() {
  unsigned char bytes[kKeyBytes];
  randombytes_buf(bytes, sizeof bytes);
  char text[sodium_base64_ENCODED_LEN(kKeyBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof text, bytes, sizeof bytes,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return text;
}

std::string Credentials::key_line(const Principal& principal, std::string_view key) {
  return principal.name + " " + http_role_name(principal.role) + " " + hash_hex(key);
}

std::optional<std::string> decode_base64(std::string_view text) {
  if (text.size() > 4 * kMaxKeyLength) return std::nullopt;
  std::string out(text.size() / 4 * 3 + 3, '\0');
  std::size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &length, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &length, &end,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
        end != text.data() + text.size()) {
      return std::nullopt;
    }
  }
  out.resize(length);
  return out;
}

}  // namespace anvil
