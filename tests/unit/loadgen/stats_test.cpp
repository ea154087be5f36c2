// Tests for loadgen/stats: Histogram percentiles against exact ones on
// uniform, skewed and constant samples (within the documented ~6 %; values
// below 16 exact; min and max exact); empty histograms; merge equals adding
// everything to one histogram; huge values stay in range; Stats::merge and
// the error/failure totals.
#include "loadgen/stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace spamsink::loadgen {
namespace {

// The exact percentile with the same rank rule (nearest rank).
std::uint64_t exact(std::vector<std::uint64_t> v, double p) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.5);
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return v[rank - 1];
}

void expect_close(const Histogram& h, const std::vector<std::uint64_t>& v, double p) {
  const double want = static_cast<double>(exact(v, p));
  const double got = static_cast<double>(h.percentile(p));
  EXPECT_LE(std::abs(got - want), want / 16.0 + 1e-9) << "p" << p << " want " << want << " got " << got;
}

TEST(Histogram, Empty) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.percentile(100), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 0; i < 16; ++i) {
    h.add(i);
    v.push_back(i);
  }
  for (double p : {1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 100.0}) EXPECT_EQ(h.percentile(p), exact(v, p)) << p;
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 15u);
  EXPECT_DOUBLE_EQ(h.mean(), 7.5);
}

TEST(Histogram, UniformPercentiles) {
  Histogram h;
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 1; i <= 100000; ++i) {
    h.add(i);
    v.push_back(i);
  }
  EXPECT_EQ(h.count(), 100000u);
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9}) expect_close(h, v, p);
  EXPECT_EQ(h.max(), 100000u);
  EXPECT_EQ(h.min(), 1u);
  // Bucket middles never step outside the exact min and max.
  EXPECT_EQ(h.percentile(100), 100000u);
  EXPECT_EQ(h.percentile(0), 1u);
  EXPECT_DOUBLE_EQ(h.mean(), 50000.5);
}

TEST(Histogram, SkewedPercentiles) {
  // Latency-like: most fast, a long tail.
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> d(6.0, 1.5);
  Histogram h;
  std::vector<std::uint64_t> v;
  for (int i = 0; i < 50000; ++i) {
    auto x = static_cast<std::uint64_t>(d(rng));
    h.add(x);
    v.push_back(x);
  }
  for (double p : {50.0, 90.0, 99.0, 99.9}) expect_close(h, v, p);
  EXPECT_EQ(h.max(), *std::max_element(v.begin(), v.end()));
}

TEST(Histogram, ConstantSamples) {
  Histogram h;
  for (int i = 0; i < 1000; ++i) h.add(12345);
  for (double p : {0.0, 50.0, 99.0, 100.0}) EXPECT_EQ(h.percentile(p), 12345u) << p;
}

TEST(Histogram, TwoClusters) {
  Histogram h;
  for (int i = 0; i < 900; ++i) h.add(100);
  for (int i = 0; i < 100; ++i) h.add(1000000);
  EXPECT_NEAR(static_cast<double>(h.percentile(50)), 100, 100 / 16.0);
  EXPECT_NEAR(static_cast<double>(h.percentile(90)), 100, 100 / 16.0);
  EXPECT_NEAR(static_cast<double>(h.percentile(91)), 1000000, 1000000 / 16.0);
  EXPECT_NEAR(static_cast<double>(h.percentile(99)), 1000000, 1000000 / 16.0);
  EXPECT_LE(h.percentile(100), h.max());
}

TEST(Histogram, HugeValues) {
  Histogram h;
  h.add(~std::uint64_t{0});
  h.add(std::uint64_t{1} << 40);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.max(), ~std::uint64_t{0});
  EXPECT_NEAR(static_cast<double>(h.percentile(100)), std::ldexp(1.0, 64), std::ldexp(1.0, 64) / 16.0);
  EXPECT_NEAR(static_cast<double>(h.percentile(50)), std::ldexp(1.0, 40), std::ldexp(1.0, 40) / 16.0);
}

TEST(Histogram, MergeEqualsOneHistogram) {
  Histogram a, b, all;
  for (std::uint64_t i = 0; i < 5000; ++i) {
    (i % 3 ? a : b).add(i * 7 + 3);
    all.add(i * 7 + 3);
  }
  Histogram m = a;
  m.merge(b);
  EXPECT_EQ(m.count(), all.count());
  EXPECT_EQ(m.max(), all.max());
  EXPECT_EQ(m.min(), all.min());
  EXPECT_DOUBLE_EQ(m.mean(), all.mean());
  for (double p : {1.0, 50.0, 90.0, 99.0, 100.0}) EXPECT_EQ(m.percentile(p), all.percentile(p)) << p;
  // Merging an empty one changes nothing (its min must not leak in).
  Histogram e;
  m.merge(e);
  EXPECT_EQ(m.min(), all.min());
  EXPECT_EQ(m.count(), all.count());
  e.merge(a);
  EXPECT_EQ(e.min(), a.min());
}

TEST(Stats, MergeAndTotals) {
  Stats a, b;
  a.messages_ok = 3;
  a.reply_codes[451] = 2;
  a.failures[static_cast<int>(FailKind::kTimeout)] = 1;
  a.message_latency.add(10);
  b.messages_ok = 4;
  b.messages_failed = 1;
  b.connections = 2;
  b.bytes_sent = 100;
  b.reply_codes[550] = 1;
  b.failures[static_cast<int>(FailKind::kRefused)] = 5;
  b.message_latency.add(20);
  b.held = 1;
  b.hold_timed_out = 1;
  a.merge(b);
  EXPECT_EQ(a.messages_ok, 7u);
  EXPECT_EQ(a.messages_failed, 1u);
  EXPECT_EQ(a.connections, 2u);
  EXPECT_EQ(a.bytes_sent, 100u);
  EXPECT_EQ(a.reply_errors(), 3u);
  EXPECT_EQ(a.failures_total(), 6u);
  EXPECT_EQ(a.message_latency.count(), 2u);
  EXPECT_EQ(a.held, 1u);
  EXPECT_EQ(a.hold_timed_out, 1u);
}

TEST(FailKind, Names) {
  EXPECT_EQ(to_string(FailKind::kRefused), "refused");
  EXPECT_EQ(to_string(FailKind::kReset), "reset");
  EXPECT_EQ(to_string(FailKind::kTimeout), "timeout");
  EXPECT_EQ(to_string(FailKind::kProtocol), "protocol");
  EXPECT_EQ(to_string(FailKind::kClosed), "closed");
}

}  // namespace
}  // namespace spamsink::loadgen
