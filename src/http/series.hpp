// http/series: per-minute activity over the last hour or day, for the
// dashboard's charts (GET /api/v1/series, docs/api.md).
//
// Purpose: turn the sessions that started inside a window into per-minute
// buckets (connections, messages), a tarpit hold-time histogram, the mix of
// modes and the end reasons, from the store's read side only.
// Invariants: a bucket covers [from + i*60 s, from + (i+1)*60 s); the last
// bucket is the minute that holds `now`. A session counts in the minute it
// started (its messages too). Sessions outside the window are ignored.
// Limits: at most kSeriesMaxSessions sessions are read per answer (pages of
// store::kMaxPageLimit); past that the answer says "truncated": true. The
// answer for a window is reused for kSeriesCacheTtl, so N open dashboards
// cost the store one walk per window per TTL, not N.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_sink.hpp"
#include "store/reader.hpp"

namespace spamsink::http {

inline constexpr std::size_t kSeriesMaxSessions = 100'000;
inline constexpr std::chrono::seconds kSeriesStep{60};
inline constexpr std::chrono::seconds kSeriesCacheTtl{5};

enum class SeriesWindow : std::uint8_t { kHour, kDay };

std::optional<SeriesWindow> parse_series_window(std::string_view s);
std::string_view to_string(SeriesWindow w);
std::size_t bucket_count(SeriesWindow w);  // 60 or 1440

// Accumulates sessions into one window's figures.
class SeriesBuilder {
 public:
  SeriesBuilder(SeriesWindow window, std::chrono::sys_seconds now);
  // The first start time inside the window (query sessions since this).
  std::chrono::sys_seconds from() const { return from_; }
  // Counts `s` if it started inside the window; false once the cap is hit
  // (the caller stops reading).
  bool add(const store::SessionRow& s);
  void set_truncated() { truncated_ = true; }
  std::size_t sessions() const { return sessions_; }
  // The JSON object of docs/api.md.
  std::string json() const;

 private:
  SeriesWindow window_;
  std::chrono::sys_seconds now_;
  std::chrono::sys_seconds from_;
  std::vector<std::uint64_t> connections_, messages_;
  std::array<std::uint64_t, store::kDurationBuckets.size() + 1> hold_{};  // last: above the last bound
  std::array<std::uint64_t, 3> modes_{};
  std::array<std::uint64_t, core::kEndReasonCount> reasons_{};
  double tarpit_seconds_ = 0;
  std::size_t sessions_ = 0;
  bool truncated_ = false;
};

// Walks the store's sessions for `window` (bounded, see Limits) and returns
// the JSON; throws what the reader throws.
std::string build_series(store::Reader& reader, SeriesWindow window, std::chrono::sys_seconds now);

// build_series behind a per-window cache of kSeriesCacheTtl.
class SeriesCache {
 public:
  std::string get(store::Reader& reader, SeriesWindow window, std::chrono::sys_seconds now);

 private:
  struct Entry {
    std::chrono::sys_seconds at{};
    std::string body;
  };
  std::mutex mu_;
  std::array<Entry, 2> entries_;
};

}  // namespace spamsink::http
