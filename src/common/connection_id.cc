#include "anvil/connection_id.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace anvil {

ConnectionId ConnectionId::random() {
  ConnectionId id;
  do {
    std::uint64_t words[2];
    std::size_t got = 0;
    while (got < sizeof words) {
      ssize_t n = getrandom(reinterpret_cast<char*>(words) + got, sizeof words - got, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno));
      }
      got += static_cast<std::size_t>(n);
    }
    id.high = words[0];
    id.low = words[1];
  } while (id.is_zero());  // zero is reserved as "no id"
  return id;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<ConnectionId> ConnectionId::parse(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  ConnectionId id;
  for (std::size_t i = 0; i < 32; i++) {
    int v = hex_value(hex[i]);
    if (v < 0) return std::nullopt;
    std::uint64_t& word = i < 16 ? id.high : id.low;
    word = (word << 4) | static_cast<std::uint64_t>(v);
  }
  return id;
}

std::string ConnectionId::to_hex() const {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; i++) {
    out[15 - i] = digits[(high >> (4 * i)) & 0xf];
    out[31 - i] = digits[(low >> (4 * i)) & 0xf];
  }
  return out;
}

}  // namespace anvil
