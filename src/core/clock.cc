#include "core/clock.h"

#include <chrono>

namespace shoal {

TimestampMs WallClock::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace shoal
