// core/clock: the one notion of time the pure layers see.
//
// Purpose: sessions and policies never read a clock; the driver passes
// `TimePoint`s in. `Clock` exists for the code that does read time (net,
// app) so that tests can inject a `ManualClock`.
// Invariants: TimePoint is monotonic (steady_clock based).
#pragma once

#include <chrono>

namespace spamsink::core {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;
using Duration = SteadyClock::duration;
using Millis = std::chrono::milliseconds;
using Seconds = std::chrono::seconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return SteadyClock::now(); }
};

// A clock that moves only when told to: for tests of time-heavy logic.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{} + Seconds{1000}) : now_(start) {}
  TimePoint now() const override { return now_; }
  void advance(Duration d) { now_ += d; }

 private:
  TimePoint now_;
};

}  // namespace spamsink::core
