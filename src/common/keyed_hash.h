// Hashing for every table whose keys a peer chooses (connection ids, user
// names, pids, penalty idents). An unkeyed hash lets a peer pick keys that
// all land in one bucket and turn each insert into a scan of the others;
// SipHash-2-4 under a key drawn at random when the process starts makes
// crafted keys cost what random keys cost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "anvil/connection_id.h"

namespace anvil {

// SipHash-2-4 of bytes under this process's random key.
std::uint64_t keyed_hash_bytes(const void* data, std::size_t size) noexcept;

struct KeyedHash {
  using is_transparent = void;  // lookups by string_view need no std::string

  std::size_t operator()(const ConnectionId& id) const noexcept {
    const std::uint64_t words[2] = {id.high, id.low};
    return keyed_hash_bytes(words, sizeof words);
  }
  std::size_t operator()(std::string_view text) const noexcept {
    return keyed_hash_bytes(text.data(), text.size());
  }
  std::size_t operator()(const std::string& text) const noexcept {
    return (*this)(std::string_view(text));
  }
  std::size_t operator()(std::int64_t number) const noexcept {
    return keyed_hash_bytes(&number, sizeof number);
  }
};

}  // namespace anvil
