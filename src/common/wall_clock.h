#pragma once

#include <chrono>
#include <cstdint>

namespace anvil {

// Seconds since the epoch from CLOCK_REALTIME. time(2) reads the coarse
// clock, which may still show the previous second for a tick after
// another process has seen the new one.
inline std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace anvil
