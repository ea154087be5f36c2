// net/tarpit_engine: held connections as records, dripped from FIFOs.
//
// Purpose: tarpit mode (DESIGN.md §1, §4). A held connection is a ~80-byte
// record in a per-worker slab: its file descriptor, a TarpitConversation,
// its peer and counters. No coroutine, no socket object, no buffer: the
// descriptors sit in the engine's own epoll set (edge-triggered), which
// the worker's io_context watches as one descriptor, and the drip runs
// from FIFOs with one timer per engine.
// Invariants:
//  - one FIFO per distinct interval (endlessh's trick): every entry of a
//    FIFO was appended with the same delay, so appending keeps it sorted
//    and the due entries are always at its front (O(1) per record);
//    closed records leave stale entries, skipped by generation number;
//  - every record is in the hold FIFO (max-hold) and, while it has output
//    due, in its listener's drip FIFO, at most once;
//  - runs only on its worker's thread.
// Limits: a record per held connection; a FIFO entry is 16 bytes; input
// is read into one 4 KiB engine buffer and never kept.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include <array>
#include <vector>

#include "core/address.hpp"
#include "core/cidr.hpp"
#include "core/clock.hpp"
#include "core/event_sink.hpp"
#include "smtp/replies.hpp"

namespace asio {
class io_context;
}

namespace spamsink::net {

struct TarpitSettings {
  // drip: every reply goes out bytes_per_drip bytes per interval.
  // banner: an endless greeting, one random "220-" line per interval.
  // stall: the greeting at once, then nothing is ever read again, so the
  //        bot's data sits in a full receive window.
  enum class Strategy : std::uint8_t { kDrip, kBanner, kStall };
  Strategy strategy = Strategy::kDrip;
  core::Duration interval = core::Seconds{1};  // one drip every interval
  std::uint32_t bytes_per_drip = 1;
  core::Duration max_hold = core::Seconds{3600};  // then 421 and close
  // Haraka's hooks_to_delay: a pause before the reply of each phase (the
  // greeting's is greet_delay), then the reply drips as usual.
  enum DelayPhase : std::uint8_t { kDelayHelo, kDelayMail, kDelayRcpt, kDelayData, kDelayDataEnd, kDelayUnknown, kDelayCount };
  std::array<core::Duration, kDelayCount> phase_delay{};
  // Above this share of max_conns, new tarpit clients get a quick 421.
  std::uint32_t high_water_percent = 90;
  // Early talkers: clients that send before the greeting (or a 354) is whole.
  enum class EarlyAction : std::uint8_t { kIgnore, kReject, kDefer };
  core::Duration greet_delay = core::Seconds{5};  // before the first drip
  bool teaser = false;                            // a "220-" line at once
  EarlyAction early_action = EarlyAction::kIgnore;
  bool early_permanent = true;                    // 521/550, else 421/450
  std::vector<core::Cidr> early_allow;            // never treated as talkers

  friend bool operator==(const TarpitSettings&, const TarpitSettings&) = default;
};

class TarpitEngine {
 public:
  // Called when a held connection closes (to release the connection caps
  // and count it out of its listener's open gauge).
  using OnClose = std::function<void(const core::IpAddress&, std::string_view listener)>;

  TarpitEngine(asio::io_context& ctx, core::EventSink* sink, OnClose on_close);
  ~TarpitEngine();
  TarpitEngine(const TarpitEngine&) = delete;
  TarpitEngine& operator=(const TarpitEngine&) = delete;

  // Takes over `fd` (a connected, accepted socket). `replies`, `listener`
  // and `settings` must outlive the record (they live in the config).
  void adopt(int fd, const core::IpAddress& ip, std::uint16_t port, std::string_view listener,
             const smtp::ReplyTable* replies, const TarpitSettings& settings, core::TimePoint now);
  // Ends every held connection with a 421 (server shutdown).
  void close_all();
  std::size_t held() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spamsink::net
