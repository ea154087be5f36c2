#include "loadgen/stats.hpp"

#include <bit>

namespace spamsink::loadgen {

int Histogram::bucket_of(std::uint64_t v) {
  if (v < static_cast<std::uint64_t>(kSub)) return static_cast<int>(v);
  const int e = std::bit_width(v) - 1;  // v in [2^e, 2^(e+1))
  const int shift = e - 4;              // keep 4 bits below the top one
  const int sub = static_cast<int>((v >> shift) & (kSub - 1));
  const int b = (e - 3) * kSub + sub;
  return b < kBuckets ? b : kBuckets - 1;
}

std::uint64_t Histogram::value_of(int b) {
  if (b < kSub) return static_cast<std::uint64_t>(b);
  const int e = b / kSub + 3;
  const int sub = b % kSub;
  const std::uint64_t lo = (std::uint64_t{1} << e) | (static_cast<std::uint64_t>(sub) << (e - 4));
  return lo + ((std::uint64_t{1} << (e - 4)) >> 1);  // middle of the bucket
}

void Histogram::add(std::uint64_t us) {
  ++b_[static_cast<std::size_t>(bucket_of(us))];
  ++count_;
  sum_ += us;
  if (us > max_) max_ = us;
  if (us < min_) min_ = us;
}

void Histogram::merge(const Histogram& o) {
  for (std::size_t i = 0; i < b_.size(); ++i) b_[i] += o.b_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  if (o.max_ > max_) max_ = o.max_;
  if (o.count_ && o.min_ < min_) min_ = o.min_;
}

std::uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  std::uint64_t rank = static_cast<std::uint64_t>(p / 100.0 * static_cast<double>(count_) + 0.5);
  if (rank < 1) rank = 1;
  if (rank > count_) rank = count_;
  std::uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += b_[static_cast<std::size_t>(i)];
    if (seen >= rank) {
      std::uint64_t v = value_of(i);
      if (v > max_) v = max_;
      if (v < min_) v = min_;
      return v;
    }
  }
  return max_;
}

std::string_view to_string(FailKind k) {
  switch (k) {
    case FailKind::kRefused: return "refused";
    case FailKind::kReset: return "reset";
    case FailKind::kTimeout: return "timeout";
    case FailKind::kProtocol: return "protocol";
    case FailKind::kClosed: return "closed";
    case FailKind::kCount: break;
  }
  return "unknown";
}

void Stats::merge(const Stats& o) {
  messages_ok += o.messages_ok;
  messages_failed += o.messages_failed;
  connections += o.connections;
  bytes_sent += o.bytes_sent;
  bytes_received += o.bytes_received;
  for (std::size_t i = 0; i < reply_codes.size(); ++i) reply_codes[i] += o.reply_codes[i];
  for (std::size_t i = 0; i < failures.size(); ++i) failures[i] += o.failures[i];
  message_latency.merge(o.message_latency);
  connection_latency.merge(o.connection_latency);
  held += o.held;
  hold_time.merge(o.hold_time);
  first_byte.merge(o.first_byte);
  greeting_done.merge(o.greeting_done);
  hold_bytes.merge(o.hold_bytes);
  hold_closed_by_server += o.hold_closed_by_server;
  hold_timed_out += o.hold_timed_out;
}

std::uint64_t Stats::reply_errors() const {
  std::uint64_t n = 0;
  for (auto c : reply_codes) n += c;
  return n;
}

std::uint64_t Stats::failures_total() const {
  std::uint64_t n = 0;
  for (auto c : failures) n += c;
  return n;
}

}  // namespace spamsink::loadgen
