#include "common/keyed_hash.h"

#include <sodium.h>

#include <cstdlib>

namespace anvil {

namespace {

struct ProcessKey {
  unsigned char bytes[crypto_shorthash_siphash24_KEYBYTES];
  ProcessKey() {
    // sodium_init fails only when the system has no random source at all;
    // then no key can be secret and the process must not run on.
    if (sodium_init() < 0) std::abort();
    randombytes_buf(bytes, sizeof bytes);
  }
};

const ProcessKey& process_key() {
  static const ProcessKey key;  // drawn on first use, thread-safe
  return key;
}

}  // namespace

std::uint64_t keyed_hash_bytes(const void* data, std::size_t size) noexcept {
  unsigned char out[crypto_shorthash_siphash24_BYTES];
  crypto_shorthash_siphash24(out, static_cast<const unsigned char*>(data), size,
                             process_key().bytes);
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; i--) value = (value << 8) | out[i];
  return value;
}

}  // namespace anvil
