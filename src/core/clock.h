#pragma once
// Time is an input: logic receives a Clock& and never reads the system clock itself, so the
// same code runs live (WallClock) and in replay or tests (ManualClock).
#include <atomic>
#include <cstdint>

namespace shoal {

// Milliseconds since the Unix epoch, UTC. The engine's unit of time everywhere.
using TimestampMs = std::int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimestampMs now_ms() const = 0;
};

// The system's real-time clock. Thread-safe.
class WallClock final : public Clock {
 public:
  TimestampMs now_ms() const override;
};

// A clock that moves only when told. Thread-safe; for replay and tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimestampMs start = 0) : now_(start) {}
  TimestampMs now_ms() const override { return now_.load(std::memory_order_acquire); }
  void set(TimestampMs t) { now_.store(t, std::memory_order_release); }
  void advance(TimestampMs delta) { now_.fetch_add(delta, std::memory_order_acq_rel); }

 private:
  std::atomic<TimestampMs> now_;
};

}  // namespace shoal
