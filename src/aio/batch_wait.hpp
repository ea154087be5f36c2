// aio/batch_wait: when a worker that has just been busy finds nothing
// ready, it waits `batch_wait` before it polls again, instead of blocking in
// epoll_wait. Pure: the worker loop feeds it what each poll ran.
//
// Why: on a busy sink most wake-ups serve one or two events. Each one costs
// the worker a sleep and a wake, and costs the client more: a send to a
// worker that sleeps in epoll_wait must wake it (on a VM, an inter-processor
// interrupt and an exit). While the worker waits on its own timer, clients'
// sends only queue data, and the next poll serves everything that arrived
// in one pass. Measured with smtp-source -s 20 (bench/macro.py): server CPU
// per message about 5% lower, the client's about 10% lower, messages/s up.
//
// With few sessions open, the wait only follows a burst (at least
// kMinBurst handlers since the last block or wait), so a lone client is
// never delayed, and a wait that gathers less than kMinBurst handlers turns
// waiting off for the next kBackoff blocks: with few clients that each wait
// for our reply, a wait would only add latency.
//
// With at least kBusySessions open, any work earns a wait, and a wait must
// gather kBusyGather handlers (two) to earn the next one; one that gathers
// less backs off for kBusyBackoff blocks, and a longer backoff left from
// the burst rule is cut to that. Many sessions keep their clients busy
// while we wait, so the wait costs them no time; without this rule a worker
// on a fast client falls into a stable pattern of waking for one or two
// handlers and blocking again, where every block is paid for by a client's
// wake-up. Measured with smtp-source, one message per session, against the
// burst rule alone: at -s 20 the worker blocks 0.4 times per session
// instead of 0.75, and the client spends about 6% less CPU per session;
// from -s 8 to -s 20 messages/s rose 2-6%. Applied regardless of sessions,
// the rule cost 18% of the messages/s at -s 4. Sessions open are not
// sessions active: one fast client among idle sessions gathers one handler
// per wait, so at most one of its exchanges in kBusyBackoff + 1 is waited
// for.
//
// An idle worker blocks: a wait needs work before it, so idle costs
// nothing beyond one wait after a lone event. batch_wait = 0 turns it off.
#pragma once

#include <cstddef>
#include <cstdint>

namespace spamsink::aio {

class BatchWait {
 public:
  // Handlers in a burst that earns a wait, and that a wait must gather.
  static constexpr std::size_t kMinBurst = 12;
  // Blocks without waiting after a wait gathered too little.
  static constexpr std::uint32_t kBackoff = 64;
  // Sessions open on the loop from which any work earns a wait, what such
  // a wait must gather to earn the next, and the blocks without waiting
  // after one gathered less.
  static constexpr std::size_t kBusySessions = 8;
  static constexpr std::size_t kBusyGather = 2;
  static constexpr std::uint32_t kBusyBackoff = 4;

  enum class Next { kWait, kBlock };

  explicit BatchWait(bool enabled) : enabled_(enabled) {}
  void set_enabled(bool on) { enabled_ = on; }

  // After a poll that ran `ran` handlers and stopped because nothing more
  // was ready (Asio's poll() ends with a reactor check that found
  // nothing), with `sessions` open on the loop: wait or block.
  Next after_poll(std::size_t ran, std::size_t sessions = 0) {
    burst_ += ran;
    const bool busy = sessions >= kBusySessions;
    const std::size_t min_burst = busy ? 1 : kMinBurst;
    if (busy && backoff_ > kBusyBackoff) backoff_ = kBusyBackoff;
    // What a wait gathered is the next burst: enough earns another wait.
    if (waited_ && burst_ < (busy ? kBusyGather : kMinBurst)) backoff_ = busy ? kBusyBackoff : kBackoff;
    waited_ = false;
    if (enabled_ && backoff_ == 0 && burst_ >= min_burst) {
      burst_ = 0;
      waited_ = true;
      ++waits_;
      return Next::kWait;
    }
    if (backoff_ > 0) --backoff_;
    burst_ = 0;
    return Next::kBlock;
  }

  // A blocking wait returned after running one handler.
  void after_block() { burst_ = 1; }

  std::uint64_t waits() const { return waits_; }

 private:
  bool enabled_;
  bool waited_ = false;
  std::size_t burst_ = 0;
  std::uint32_t backoff_ = 0;
  std::uint64_t waits_ = 0;
};

}  // namespace spamsink::aio
