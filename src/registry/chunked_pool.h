// Objects of one type in chunks of 4096, named by a 32-bit index that
// stays valid until the object is freed: growing never moves an object,
// and a million of them cost their own size plus at most one chunk.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

namespace anvil {

template <typename T>
class ChunkedPool {
 public:
  static constexpr std::uint32_t kChunkBits = 12;
  static constexpr std::uint32_t kChunkSize = 1u << kChunkBits;

  T& operator[](std::uint32_t index) {
    return chunks_[index >> kChunkBits][index & (kChunkSize - 1)];
  }
  const T& operator[](std::uint32_t index) const {
    return chunks_[index >> kChunkBits][index & (kChunkSize - 1)];
  }

  // A fresh T (value-initialised), reusing a freed index first.
  std::uint32_t allocate() {
    if (!free_.empty()) {
      std::uint32_t index = free_.back();
      free_.pop_back();
      (*this)[index] = T{};
      return index;
    }
    if (count_ == UINT32_MAX) throw std::length_error("pool is full");
    if ((count_ & (kChunkSize - 1)) == 0) chunks_.push_back(std::make_unique<T[]>(kChunkSize));
    return count_++;
  }
  void free(std::uint32_t index) { free_.push_back(index); }
  std::uint32_t live() const { return count_ - static_cast<std::uint32_t>(free_.size()); }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  std::uint32_t count_ = 0;
  std::vector<std::uint32_t> free_;
};

}  // namespace anvil
