// Splits a fuzzer's input into the pieces a target needs, so each target
// reads as what it tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace anvil::fuzz {

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return rest_.empty(); }
  // One byte (0 when the input is used up).
  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // Up to the next `separator` (not included), or the rest.
  std::string_view piece(char separator = '\0') {
    std::size_t at = rest_.find(separator);
    std::string_view out = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + 1);
    return out;
  }
  std::string_view rest() {
    std::string_view out = rest_;
    rest_ = {};
    return out;
  }
  // The rest cut into chunks whose sizes the input chooses.
  std::vector<std::string_view> chunks() {
    std::vector<std::string_view> out;
    while (!rest_.empty()) {
      std::size_t want = byte() % 64 + 1u;  // before rest_ is measured: byte() takes from it
      std::size_t size = std::min(rest_.size(), want);
      out.push_back(rest_.substr(0, size));
      rest_.remove_prefix(size);
    }
    return out;
  }

 private:
  std::string_view rest_;
};

}  // namespace anvil::fuzz

// A property that must hold; a crash tells the fuzzer it found a case.
#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)
