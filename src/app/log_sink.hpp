// app/log_sink: the EventSink of one worker: totals and session-close lines.
//
// Purpose: until the store exists, what a session reports becomes one log
// line per session close (key=value or JSON) and totals for SIGUSR1.
// Invariants: one instance per worker thread; counters are written only by
// that thread (relaxed atomics, so the main thread can read them); lines
// are batched and flushed on tick() (every 250 ms) or at 16 KiB, never
// per session, so logging costs no syscall per connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "core/event_sink.hpp"
#include "core/logger.hpp"

namespace spamsink::app {

struct Totals {
  std::uint64_t sessions = 0;
  std::uint64_t messages = 0;
  std::uint64_t recipients = 0;
  std::uint64_t bytes = 0;
  std::uint64_t refused_messages = 0;
  std::uint64_t refused_connections = 0;
  std::uint64_t early_talkers = 0;
  std::uint64_t relay_attempts = 0;  // relay-mode messages accepted
  std::uint64_t relay_tests = 0;     // ... that looked like relay tests
  std::uint64_t forwarded = 0;       // ... handed to the smarthost client
  std::uint64_t trap_hits = 0;       // sessions with a spamtrap recipient
};

class LogSink final : public core::EventSink {
 public:
  explicit LogSink(core::Logger& logger) : logger_(logger) {}
  void message(const core::MessageRecord& m) noexcept override;
  void session_closed(const core::SessionRecord& s) noexcept override;
  void tick() noexcept override;
  // Safe from any thread.
  Totals totals() const;

 private:
  void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  core::Logger& logger_;
  std::string buf_;
  std::atomic<std::uint64_t> sessions_{0}, messages_{0}, recipients_{0}, bytes_{0}, refused_messages_{0},
      refused_connections_{0}, early_talkers_{0}, relay_attempts_{0}, relay_tests_{0}, forwarded_{0}, trap_hits_{0};
};

}  // namespace spamsink::app
