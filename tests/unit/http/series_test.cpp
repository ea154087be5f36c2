// http/series: per-minute buckets, the hold histogram, modes and reasons,
// paging through the reader, the cap and the cache.
#include "http/series.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fake_reader.hpp"
#include "http/params.hpp"

namespace spamsink::http {
namespace {

using namespace std::chrono;
using json = nlohmann::json;
using testing::FakeReader;

// 04:05:30: the current minute is 04:05, so the hour window starts 03:06.
const sys_seconds kNow = sys_days{year{2026} / 11 / 25} + hours{4} + minutes{5} + seconds{30};

store::SessionRow session(sys_seconds start, core::Mode mode, std::uint32_t messages, double held = 0,
                          core::EndReason reason = core::EndReason::kQuit) {
  store::SessionRow s;
  s.ip = *parse_ip("192.0.2.7");
  s.start = start;
  s.end = start + seconds{1};
  s.mode = mode;
  s.messages = messages;
  s.held_seconds = held;
  s.reason = reason;
  return s;
}

TEST(SeriesWindow, Parse) {
  EXPECT_EQ(parse_series_window("hour"), SeriesWindow::kHour);
  EXPECT_EQ(parse_series_window("day"), SeriesWindow::kDay);
  EXPECT_FALSE(parse_series_window("week"));
  EXPECT_FALSE(parse_series_window(""));
  EXPECT_FALSE(parse_series_window("HOUR"));
  EXPECT_EQ(bucket_count(SeriesWindow::kHour), 60U);
  EXPECT_EQ(bucket_count(SeriesWindow::kDay), 1440U);
}

TEST(SeriesBuilder, BucketsByStartMinuteAndIgnoresOutsideTheWindow) {
  SeriesBuilder b(SeriesWindow::kHour, kNow);
  const sys_seconds from = sys_days{year{2026} / 11 / 25} + hours{3} + minutes{6};
  EXPECT_EQ(b.from(), from);
  EXPECT_TRUE(b.add(session(from, core::Mode::kSink, 2)));                     // first bucket
  EXPECT_TRUE(b.add(session(from + seconds{59}, core::Mode::kSink, 1)));       // still the first
  EXPECT_TRUE(b.add(session(from + seconds{60}, core::Mode::kRelay, 3)));      // second
  EXPECT_TRUE(b.add(session(kNow, core::Mode::kSink, 1)));                     // last (the current minute)
  EXPECT_TRUE(b.add(session(from - seconds{1}, core::Mode::kSink, 9)));        // before: ignored
  EXPECT_TRUE(b.add(session(kNow + minutes{1}, core::Mode::kSink, 9)));        // after (clock step): ignored
  const json j = json::parse(b.json());
  EXPECT_EQ(j["window"], "hour");
  EXPECT_EQ(j["step_seconds"], 60);
  EXPECT_EQ(j["from"], "2026-11-25T03:06:00Z");
  EXPECT_EQ(j["now"], "2026-11-25T04:05:30Z");
  EXPECT_EQ(j["sessions"], 4);
  EXPECT_EQ(j["truncated"], false);
  ASSERT_EQ(j["connections"].size(), 60U);
  ASSERT_EQ(j["messages"].size(), 60U);
  EXPECT_EQ(j["connections"][0], 2);
  EXPECT_EQ(j["messages"][0], 3);
  EXPECT_EQ(j["connections"][1], 1);
  EXPECT_EQ(j["messages"][1], 3);
  EXPECT_EQ(j["connections"][59], 1);
  EXPECT_EQ(j["modes"]["sink"], 3);
  EXPECT_EQ(j["modes"]["relay"], 1);
  EXPECT_EQ(j["modes"]["tarpit"], 0);
  EXPECT_EQ(j["reasons"]["quit"], 4);
}

TEST(SeriesBuilder, HoldHistogramCountsTarpitSessionsOnly) {
  SeriesBuilder b(SeriesWindow::kDay, kNow);
  b.add(session(kNow - hours{20}, core::Mode::kTarpit, 0, 0.005, core::EndReason::kPeerClosed));  // <= 0.01
  b.add(session(kNow - hours{2}, core::Mode::kTarpit, 0, 1.0, core::EndReason::kTimeout));        // <= 1 (edge)
  b.add(session(kNow - hours{1}, core::Mode::kTarpit, 0, 1.5, core::EndReason::kTimeout));        // <= 5
  b.add(session(kNow, core::Mode::kTarpit, 0, 7200, core::EndReason::kLifetime));                 // > 3600
  b.add(session(kNow, core::Mode::kSink, 1, 99));                                                 // not a hold
  const json j = json::parse(b.json());
  EXPECT_EQ(j["connections"].size(), 1440U);
  const auto& h = j["hold"];
  ASSERT_EQ(h["bounds_seconds"].size(), store::kDurationBuckets.size());
  ASSERT_EQ(h["counts"].size(), store::kDurationBuckets.size() + 1);
  EXPECT_EQ(h["counts"][0], 1);
  EXPECT_EQ(h["counts"][3], 1);
  EXPECT_EQ(h["counts"][4], 1);
  EXPECT_EQ(h["counts"][12], 1);
  EXPECT_DOUBLE_EQ(h["tarpit_seconds"].get<double>(), 0.005 + 1.0 + 1.5 + 7200);
  EXPECT_EQ(j["reasons"]["timeout"], 2);
  EXPECT_EQ(j["reasons"]["lifetime"], 1);
  EXPECT_EQ(j["reasons"]["peer_closed"], 1);
}

TEST(SeriesBuilder, StopsAtTheCapAndSaysTruncated) {
  SeriesBuilder b(SeriesWindow::kHour, kNow);
  const auto s = session(kNow, core::Mode::kSink, 1);
  for (std::size_t i = 0; i < kSeriesMaxSessions; ++i) ASSERT_TRUE(b.add(s));
  EXPECT_FALSE(b.add(s));
  const json j = json::parse(b.json());
  EXPECT_EQ(j["truncated"], true);
  EXPECT_EQ(j["sessions"], kSeriesMaxSessions);
  EXPECT_EQ(j["connections"][59], kSeriesMaxSessions);
}

TEST(BuildSeries, PagesThroughTheReaderSinceTheWindowStart) {
  FakeReader r;
  const std::size_t n = 2 * store::kMaxPageLimit + 500;  // three pages
  for (std::size_t i = 0; i < n; ++i)
    r.session_rows.push_back(session(kNow - seconds{static_cast<int>(i % 3600)}, core::Mode::kSink, 1));
  const json j = json::parse(build_series(r, SeriesWindow::kHour, kNow));
  // Sessions older than 03:06:00 were filtered by the query's `since`.
  EXPECT_EQ(r.last_session_query.since, sys_days{year{2026} / 11 / 25} + hours{3} + minutes{6});
  EXPECT_EQ(r.last_session_query.limit, store::kMaxPageLimit);
  std::uint64_t total = 0;
  for (auto& v : j["connections"]) total += v.get<std::uint64_t>();
  EXPECT_EQ(total, j["sessions"].get<std::uint64_t>());
  std::uint64_t expect = 0;
  for (const auto& s : r.session_rows) expect += s.start >= r.last_session_query.since ? 1 : 0;
  EXPECT_EQ(total, expect);
  EXPECT_GT(expect, 2 * store::kMaxPageLimit);  // it really read past page 2
  EXPECT_EQ(j["truncated"], false);
}

TEST(SeriesCache, ReusesAnAnswerForTheTtlThenRebuilds) {
  FakeReader r;
  r.session_rows.push_back(session(kNow, core::Mode::kSink, 1));
  SeriesCache cache;
  const json a = json::parse(cache.get(r, SeriesWindow::kHour, kNow));
  r.session_rows.push_back(session(kNow, core::Mode::kSink, 1));
  const json b = json::parse(cache.get(r, SeriesWindow::kHour, kNow + kSeriesCacheTtl - seconds{1}));
  EXPECT_EQ(a["sessions"], 1);
  EXPECT_EQ(b["sessions"], 1);  // cached
  const json d = json::parse(cache.get(r, SeriesWindow::kDay, kNow));
  EXPECT_EQ(d["sessions"], 2);  // another window, its own entry
  const json c = json::parse(cache.get(r, SeriesWindow::kHour, kNow + kSeriesCacheTtl));
  EXPECT_EQ(c["sessions"], 2);  // rebuilt
}

}  // namespace
}  // namespace spamsink::http
