// loadgen/stats: counters and latency histograms for smtpsend.
//
// Purpose: what a run measured, per thread while it runs, merged at the
// end, printed as smtp-benchmark's summary plus percentiles, or as JSON.
// Invariants: fixed memory: a histogram is kBuckets counters whatever the
// number of samples; values are microseconds; a percentile is exact to
// within 1/16 of its power of two (about 6%), the max is exact.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace spamsink::loadgen {

class Histogram {
 public:
  static constexpr int kSub = 16;
  static constexpr int kBuckets = 64 * kSub;

  void add(std::uint64_t us);
  void merge(const Histogram& o);
  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  // p in [0, 100]
  std::uint64_t percentile(double p) const;

 private:
  static int bucket_of(std::uint64_t v);
  static std::uint64_t value_of(int bucket);
  std::array<std::uint64_t, kBuckets> b_{};
  std::uint64_t count_ = 0, sum_ = 0, max_ = 0, min_ = ~std::uint64_t{0};
};

enum class FailKind : std::uint8_t { kRefused, kReset, kTimeout, kProtocol, kClosed, kCount };
std::string_view to_string(FailKind k);

struct Stats {
  std::uint64_t messages_ok = 0;
  std::uint64_t messages_failed = 0;
  std::uint64_t connections = 0;       // established
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::array<std::uint64_t, 600> reply_codes{};  // 4xx/5xx replies by code
  std::array<std::uint64_t, static_cast<int>(FailKind::kCount)> failures{};
  Histogram message_latency;
  Histogram connection_latency;
  // --hold
  std::uint64_t held = 0;
  Histogram hold_time;      // how long each connection was held
  Histogram first_byte;     // connect to first byte received
  Histogram greeting_done;  // connect to the end of the first complete reply
  Histogram hold_bytes;     // bytes received per held connection (not us)
  std::uint64_t hold_closed_by_server = 0;
  std::uint64_t hold_timed_out = 0;

  void merge(const Stats& o);
  std::uint64_t reply_errors() const;
  std::uint64_t failures_total() const;
};

}  // namespace spamsink::loadgen
