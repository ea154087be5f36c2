#include "http/series.hpp"

#include "http/json.hpp"

namespace spamsink::http {

using std::chrono::seconds;
using std::chrono::sys_seconds;

std::optional<SeriesWindow> parse_series_window(std::string_view s) {
  if (s == "hour") return SeriesWindow::kHour;
  if (s == "day") return SeriesWindow::kDay;
  return std::nullopt;
}

std::string_view to_string(SeriesWindow w) { return w == SeriesWindow::kHour ? "hour" : "day"; }

std::size_t bucket_count(SeriesWindow w) { return w == SeriesWindow::kHour ? 60 : 1440; }

SeriesBuilder::SeriesBuilder(SeriesWindow window, sys_seconds now)
    : window_(window),
      now_(now),
      connections_(bucket_count(window)),
      messages_(bucket_count(window)) {
  const sys_seconds minute = std::chrono::floor<std::chrono::minutes>(now);
  from_ = minute - kSeriesStep * static_cast<int>(bucket_count(window) - 1);
}

bool SeriesBuilder::add(const store::SessionRow& s) {
  if (sessions_ >= kSeriesMaxSessions) {
    truncated_ = true;
    return false;
  }
  if (s.start < from_) return true;
  const auto index = static_cast<std::size_t>((s.start - from_) / kSeriesStep);
  if (index >= connections_.size()) return true;  // a clock step put it in the future
  ++sessions_;
  ++connections_[index];
  messages_[index] += s.messages;
  const auto mode = static_cast<std::size_t>(s.mode);
  if (mode < modes_.size()) ++modes_[mode];
  const auto reason = static_cast<std::size_t>(s.reason);
  if (reason < reasons_.size()) ++reasons_[reason];
  if (s.mode == core::Mode::kTarpit) {
    std::size_t b = 0;
    while (b < store::kDurationBuckets.size() && s.held_seconds > store::kDurationBuckets[b]) ++b;
    ++hold_[b];
    tarpit_seconds_ += s.held_seconds;
  }
  return true;
}

std::string SeriesBuilder::json() const {
  std::string body;
  body.reserve(64 + connections_.size() * 8);
  JsonWriter w(body);
  w.begin_object().str("window", to_string(window_)).num("step_seconds", std::uint64_t{kSeriesStep.count()});
  w.time("from", from_).time("now", now_).num("sessions", std::uint64_t{sessions_}).boolean("truncated", truncated_);
  w.key("connections").begin_array();
  for (auto v : connections_) w.num(v);
  w.end_array().key("messages").begin_array();
  for (auto v : messages_) w.num(v);
  w.end_array();
  w.key("hold").begin_object().key("bounds_seconds").begin_array();
  for (double b : store::kDurationBuckets) w.num(b);
  w.end_array().key("counts").begin_array();
  for (auto v : hold_) w.num(v);
  w.end_array().num("tarpit_seconds", tarpit_seconds_).end_object();
  w.key("modes").begin_object();
  for (std::size_t m = 0; m < modes_.size(); ++m) w.num(core::to_string(static_cast<core::Mode>(m)), modes_[m]);
  w.end_object().key("reasons").begin_object();
  for (std::size_t r = 0; r < reasons_.size(); ++r)
    w.num(core::to_string(static_cast<core::EndReason>(r)), reasons_[r]);
  w.end_object().end_object();
  return body;
}

std::string build_series(store::Reader& reader, SeriesWindow window, sys_seconds now) {
  SeriesBuilder b(window, now);
  store::SessionQuery q;
  q.limit = store::kMaxPageLimit;
  q.since = b.from();
  // Bounded: each page adds up to kMaxPageLimit sessions and add() refuses
  // past kSeriesMaxSessions, so at most kSeriesMaxSessions / limit + 1 pages.
  for (std::size_t page = 0; page <= kSeriesMaxSessions / store::kMaxPageLimit; ++page) {
    const store::SessionPage p = reader.sessions(q);
    bool more = true;
    for (const auto& s : p.rows)
      if (!(more = b.add(s))) break;
    if (!more || p.next_cursor.empty()) return b.json();
    q.cursor = p.next_cursor;
  }
  b.set_truncated();
  return b.json();
}

std::string SeriesCache::get(store::Reader& reader, SeriesWindow window, sys_seconds now) {
  // One walk at a time: a second dashboard waits for the first's answer
  // instead of starting its own walk of the same rows.
  std::lock_guard lock(mu_);
  Entry& e = entries_[static_cast<std::size_t>(window)];
  if (!e.body.empty() && now >= e.at && now - e.at < kSeriesCacheTtl) return e.body;
  e.body = build_series(reader, window, now);
  e.at = now;
  return e.body;
}

}  // namespace spamsink::http
