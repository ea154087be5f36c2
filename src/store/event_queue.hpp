// store/event_queue: the bounded queue between the SMTP workers and the
// store's writer thread.
//
// Purpose: a worker copies a record into a fixed-size Event and pushes it
// without waiting; the one writer thread pops in batches.
// Invariants: push never blocks, never allocates and never spins on a full
// queue: it returns false and the drop is counted (many producers, one
// consumer; Dmitry Vyukov's bounded-queue scheme: each cell carries a
// sequence number that says whose turn it is).
// Limits: capacity is a power of two >= 2 (rounded up from the config);
// every text field of an Event has a fixed cap (kCap*), longer text is cut
// and flagged, so an Event is about 1 KiB whatever the peer sent.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "core/address.hpp"
#include "core/event_sink.hpp"

namespace spamsink::store {

// Caps of the text an Event carries, bytes. The session already caps HELO
// (128), MAIL FROM (256) and recipients (512); these match them.
inline constexpr std::size_t kCapListener = 64;
inline constexpr std::size_t kCapHelo = 128;
inline constexpr std::size_t kCapMailFrom = 256;
inline constexpr std::size_t kCapRecipients = 512;  // per message and per session
inline constexpr std::size_t kCapPhase = 32;
inline constexpr std::size_t kCapEarlyBytes = 64;
inline constexpr std::size_t kCapRelayDomains = 256;

// One fixed-size, self-contained copy of a MessageRecord or SessionRecord.
struct Event {
  enum class Kind : std::uint8_t { kMessage, kSession };
  // Text slots; a message uses kMailFrom and kRecipients only.
  enum Field : std::uint8_t { kListener, kHelo, kMailFrom, kRecipients, kPhase, kEarly, kRelayDomains, kFieldCount };
  static constexpr std::array<std::size_t, kFieldCount> kCaps = {kCapListener, kCapHelo,       kCapMailFrom,
                                                                 kCapRecipients, kCapPhase,   kCapEarlyBytes,
                                                                 kCapRelayDomains};
  static constexpr std::size_t kTextBytes = kCapListener + kCapHelo + kCapMailFrom + kCapRecipients + kCapPhase +
                                            kCapEarlyBytes + kCapRelayDomains;

  Kind kind = Kind::kMessage;
  core::Mode mode = core::Mode::kSink;
  core::EndReason reason = core::EndReason::kPeerClosed;
  bool accepted = false, has_digest = false, relay_attempt = false, relay_test = false, forwarded = false;
  bool early_talker = false, tls = false, trap_hit = false, truncated = false;
  std::uint16_t port = 0;
  std::uint32_t recipient_count = 0, messages = 0, errors = 0, relay_attempts = 0;
  std::uint64_t session_id = 0, bytes = 0, bytes_in = 0, bytes_out = 0;
  std::int64_t start_ms = 0, end_ms = 0;  // wall clock, ms since the Unix epoch (sessions)
  core::IpAddress ip;
  std::array<std::uint8_t, 32> sha256{};
  std::array<std::uint16_t, kFieldCount> len{};
  char text[kTextBytes];

  void set(Field f, std::string_view v);
  std::string_view get(Field f) const { return {text + offset(f), len[f]}; }
  static constexpr std::size_t offset(Field f) {
    std::size_t o = 0;
    for (std::size_t i = 0; i < f; ++i) o += kCaps[i];
    return o;
  }
  // Copies the header and only the used text bytes.
  void copy_from(const Event& o);
};

class EventQueue {
 public:
  explicit EventQueue(std::size_t capacity);
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  // Any thread. `fill(Event&)` writes the event in place; false: full, counted.
  template <class Fill>
  bool try_push(Fill&& fill) noexcept;
  // The consumer thread only. False: empty.
  bool try_pop(Event& out) noexcept;

  std::size_t capacity() const { return mask_ + 1; }
  std::size_t depth() const;  // approximate
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t pushed() const { return pushed_.load(std::memory_order_relaxed); }

 private:
  struct Cell {
    std::atomic<std::size_t> seq;
    Event ev;
  };
  std::unique_ptr<Cell[]> cells_;
  std::size_t mask_;
  alignas(64) std::atomic<std::size_t> head_{0};  // next push position
  alignas(64) std::atomic<std::size_t> tail_{0};  // next pop position (one consumer)
  alignas(64) std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> pushed_{0};
};

template <class Fill>
bool EventQueue::try_push(Fill&& fill) noexcept {
  std::size_t pos = head_.load(std::memory_order_relaxed);
  Cell* cell;
  for (;;) {
    cell = &cells_[pos & mask_];
    const std::size_t seq = cell->seq.load(std::memory_order_acquire);
    const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos);
    if (diff == 0) {
      if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
    } else if (diff < 0) {
      // The consumer has not freed this cell yet: the queue is full.
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    } else {
      pos = head_.load(std::memory_order_relaxed);
    }
  }
  fill(cell->ev);
  cell->seq.store(pos + 1, std::memory_order_release);
  pushed_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace spamsink::store
