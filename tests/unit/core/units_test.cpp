// Tests for core/units: every duration and size unit, bare numbers, bad
// text and overflow (which must give nullopt, never a wrapped value), and
// format_duration, including that its output parses back to the same value.
#include "core/units.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>

namespace spamsink::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ParseDuration, EveryUnit) {
  EXPECT_EQ(parse_duration("500ms"), Duration{milliseconds{500}});
  EXPECT_EQ(parse_duration("20s"), Duration{seconds{20}});
  EXPECT_EQ(parse_duration("5m"), Duration{seconds{300}});
  EXPECT_EQ(parse_duration("1h"), Duration{seconds{3600}});
  EXPECT_EQ(parse_duration("2d"), Duration{seconds{2 * 86400}});
  EXPECT_EQ(parse_duration("0ms"), Duration{0});
  EXPECT_EQ(parse_duration("1ms"), Duration{milliseconds{1}});
  EXPECT_EQ(parse_duration("100us"), Duration{std::chrono::microseconds{100}});
  EXPECT_EQ(parse_duration("2000us"), Duration{milliseconds{2}});
}

TEST(ParseDuration, BareNumberIsSeconds) {
  EXPECT_EQ(parse_duration("30"), Duration{seconds{30}});
  EXPECT_EQ(parse_duration("0"), Duration{0});
  EXPECT_EQ(parse_duration("300"), Duration{seconds{300}});
}

TEST(ParseDuration, BadTextIsNullopt) {
  for (const char* bad : {"", "s", "ms", "m5", "5x", "5sec", "5 s", "-5s", "+5s", "5.5s", "1e3", "5S", "5ms5",
                          "0x10", "five", "5h30m"}) {
    EXPECT_EQ(parse_duration(bad), std::nullopt) << '"' << bad << '"';
  }
  // An embedded NUL is not a unit.
  EXPECT_EQ(parse_duration(std::string_view("5\0s", 3)), std::nullopt);
}

TEST(ParseDuration, OverflowIsNullopt) {
  EXPECT_EQ(parse_duration("99999999999999999999"), std::nullopt);   // > 2^64
  EXPECT_EQ(parse_duration("18446744073709551615"), std::nullopt);   // 2^64-1 seconds
  EXPECT_EQ(parse_duration("18446744073709551615ms"), std::nullopt);
  EXPECT_EQ(parse_duration("213503982335d"), std::nullopt);          // ms overflow 2^64
  EXPECT_EQ(parse_duration("9223372036854775807ms"), std::nullopt);  // nanoseconds overflow
}

TEST(ParseDuration, LargestAcceptedValueStillAddsToATimePoint) {
  // "Results never overflow": whatever is accepted must be usable as a
  // deadline offset from any realistic steady_clock reading.
  auto d = parse_duration("36500d");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, Duration{seconds{36500LL * 86400}});
  const TimePoint far = TimePoint{} + std::chrono::hours{24 * 365 * 100};
  EXPECT_GT((far + *d).time_since_epoch().count(), far.time_since_epoch().count());
  EXPECT_EQ(parse_duration("36501d"), std::nullopt);
}

TEST(ParseSize, EveryUnit) {
  EXPECT_EQ(parse_size("2048"), 2048u);
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("10K"), 10u * 1024);
  EXPECT_EQ(parse_size("10k"), 10u * 1024);
  EXPECT_EQ(parse_size("10M"), 10u * 1024 * 1024);
  EXPECT_EQ(parse_size("10m"), 10u * 1024 * 1024);
  EXPECT_EQ(parse_size("1G"), 1024u * 1024 * 1024);
  EXPECT_EQ(parse_size("1g"), 1024u * 1024 * 1024);
  EXPECT_EQ(parse_size("3GB"), 3ull << 30);
}

TEST(ParseSize, OptionalB) {
  EXPECT_EQ(parse_size("10B"), 10u);
  EXPECT_EQ(parse_size("10KB"), 10u * 1024);
  EXPECT_EQ(parse_size("10MB"), 10u * 1024 * 1024);
  EXPECT_EQ(parse_size("10kb"), 10u * 1024);
}

TEST(ParseSize, BadTextIsNullopt) {
  for (const char* bad : {"", "K", "B", "KB", "10X", "10KK", "10BB", "10KBB", "-1", "+1", "1.5M", "10 K", "ten",
                          "0x10", "10T", "10KiB"}) {
    EXPECT_EQ(parse_size(bad), std::nullopt) << '"' << bad << '"';
  }
}

TEST(ParseSize, OverflowIsNullopt) {
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(parse_size("18446744073709551615"), kMax);
  EXPECT_EQ(parse_size("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parse_size("99999999999999999999999"), std::nullopt);
  EXPECT_EQ(parse_size("17179869183G"), kMax - ((1ull << 30) - 1));  // (2^34-1) * 2^30
  EXPECT_EQ(parse_size("17179869184G"), std::nullopt);                // 2^64
  EXPECT_EQ(parse_size("18014398509481984K"), std::nullopt);          // 2^54 K = 2^64
  EXPECT_EQ(parse_size("17592186044416M"), std::nullopt);             // 2^44 M = 2^64
}

TEST(FormatDuration, PicksTheLargestExactUnit) {
  EXPECT_EQ(format_duration(milliseconds{500}), "500ms");
  EXPECT_EQ(format_duration(milliseconds{1500}), "1500ms");
  EXPECT_EQ(format_duration(seconds{20}), "20s");
  EXPECT_EQ(format_duration(seconds{90}), "90s");
  EXPECT_EQ(format_duration(seconds{300}), "5m");
  EXPECT_EQ(format_duration(seconds{3600}), "1h");
  EXPECT_EQ(format_duration(seconds{5400}), "90m");
  EXPECT_EQ(format_duration(seconds{2 * 86400}), "48h");
  EXPECT_EQ(format_duration(Duration{0}), "0s");
  EXPECT_EQ(format_duration(std::chrono::microseconds{50}), "50us");
  EXPECT_EQ(format_duration(std::chrono::microseconds{1500}), "1500us");
}

TEST(FormatDuration, OutputParsesBack) {
  for (const Duration d : {Duration{0}, Duration{std::chrono::microseconds{1}}, Duration{std::chrono::microseconds{999}},
                           Duration{milliseconds{1}}, Duration{milliseconds{999}},
                           Duration{milliseconds{1001}}, Duration{seconds{1}}, Duration{seconds{59}},
                           Duration{seconds{61}}, Duration{seconds{300}}, Duration{seconds{3600}},
                           Duration{seconds{86400}}, Duration{seconds{36500LL * 86400}}}) {
    const std::string text = format_duration(d);
    EXPECT_EQ(parse_duration(text), d) << text;
  }
}

}  // namespace
}  // namespace spamsink::core
