// store/reader: the read side of the store, as the HTTP API and the
// offline CLI (`spamsink hosts`, `spamsink stats`) see it.
//
// Purpose: one interface between src/store (which implements it over
// SQLite, or over in-memory totals with `--db none`) and src/http (which
// only formats). DESIGN.md §5 has the schema.
// Invariants: every call may come from any thread except an SMTP worker;
// each call uses its own short read transaction (a blocklist export reads
// in batches of at most kReadBatch rows, one transaction each), so an API
// reader never holds a snapshot long enough to stall a WAL checkpoint.
// Times are wall-clock UTC, second resolution.
// Errors: calls throw store::Error (a std::runtime_error) on a store fault;
// the caller answers 503 and goes on.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/address.hpp"
#include "core/event_sink.hpp"

namespace spamsink::store {

using WallTime = std::chrono::sys_seconds;

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A query the store cannot run as asked (a cursor that does not parse):
// the caller answers 400. It is an Error, so a caller that only knows
// Error still handles it.
struct BadQuery : Error {
  using Error::Error;
};

inline constexpr std::size_t kReadBatch = 1000;
inline constexpr std::size_t kMaxPageLimit = 1000;  // hosts/sessions `limit`

struct ModeTotals {
  std::uint64_t sessions = 0;
  std::uint64_t messages = 0;
  std::uint64_t recipients = 0;
  std::uint64_t bytes = 0;  // accepted message bytes, discarded
  double tarpit_seconds = 0;
};

// Totals since `since` (the database's creation; with --db none, the start).
struct Stats {
  std::uint64_t messages = 0;
  std::uint64_t recipients = 0;
  std::uint64_t bytes_discarded = 0;
  std::uint64_t sessions_total = 0;
  double tarpit_seconds = 0;
  std::uint64_t unique_hosts = 0;
  std::uint64_t early_talkers = 0;  // sessions that talked early
  std::uint64_t trap_hits = 0;      // sessions with a spamtrap recipient
  std::uint64_t relay_attempts = 0; // messages that were relay attempts
  WallTime since{};
  std::array<ModeTotals, 3> per_mode{};  // indexed by core::Mode
};

enum class HostOrder : std::uint8_t { kLastSeen, kSessions, kMessages, kTarpitSeconds };

struct HostRow {
  core::IpAddress ip;
  WallTime first_seen{};
  WallTime last_seen{};
  std::uint64_t sessions = 0;
  std::uint64_t messages = 0;
  std::uint64_t recipients = 0;
  std::uint64_t bytes = 0;
  double tarpit_seconds = 0;
  std::uint64_t early_talks = 0;
  std::uint64_t trap_hits = 0;
  std::string last_helo;  // as received (capped); escape before output
};

struct HostQuery {
  std::size_t limit = 100;          // 1..kMaxPageLimit
  std::optional<WallTime> since;    // last_seen >= since
  HostOrder order = HostOrder::kLastSeen;  // always descending
  std::string cursor;               // opaque, from HostPage::next_cursor
};

struct HostPage {
  std::vector<HostRow> rows;
  std::string next_cursor;  // empty: this was the last page
};

struct SessionRow {
  std::uint64_t id = 0;
  core::IpAddress ip;
  std::uint16_t port = 0;
  std::string listener;
  core::Mode mode = core::Mode::kSink;
  WallTime start{};
  WallTime end{};
  std::string phase;
  core::EndReason reason = core::EndReason::kPeerClosed;
  std::string helo, mail_from, recipients;  // capped; escape before output
  std::uint32_t recipient_count = 0;
  std::uint32_t messages = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
  double held_seconds = 0;
  std::uint64_t early_talk_bytes = 0;
  bool tls = false;
  bool trap_hit = false;
  std::string relay_domains;
};

struct SessionQuery {
  std::size_t limit = 100;  // 1..kMaxPageLimit; newest first
  std::optional<core::IpAddress> ip;
  std::optional<core::Mode> mode;
  std::optional<std::string> listener;
  std::optional<core::EndReason> reason;
  std::optional<WallTime> since, until;  // on start time
  std::string cursor;
};

struct SessionPage {
  std::vector<SessionRow> rows;
  std::string next_cursor;
};

struct BlocklistQuery {
  std::uint64_t min_sessions = 1;
  std::optional<WallTime> since;  // last_seen >= since
};

class Reader {
 public:
  virtual ~Reader() = default;
  // False with --db none: hosts/sessions/blocklist then throw Error.
  virtual bool has_history() const = 0;
  virtual Stats stats() = 0;
  virtual HostPage hosts(const HostQuery& q) = 0;
  virtual std::optional<HostRow> host(const core::IpAddress& ip) = 0;
  virtual SessionPage sessions(const SessionQuery& q) = 0;
  // Hosts matching `q`, in address order, in batches; `emit` returning
  // false stops the export (e.g. the HTTP client went away).
  virtual void blocklist(const BlocklistQuery& q, const std::function<bool(const HostRow&)>& emit) = 0;
};

// Live figures for /metrics, kept in memory by the store (work with --db
// none too). Counters restart at 0 with the process, as Prometheus expects.
inline constexpr std::array<double, 12> kDurationBuckets = {0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600};

struct Histogram {
  std::array<std::uint64_t, kDurationBuckets.size()> buckets{};  // non-cumulative counts per bucket
  std::uint64_t count = 0;  // includes observations above the last bucket
  double sum = 0;
};

struct ListenerCounters {
  std::string listener;  // "127.0.0.1:2525"
  core::Mode mode = core::Mode::kSink;
  std::uint64_t sessions = 0, messages = 0, recipients = 0, bytes = 0;
  double tarpit_seconds = 0;
  std::uint64_t early_talkers = 0, trap_hits = 0, relay_attempts = 0;
  std::array<std::uint64_t, core::kEndReasonCount> ended_by{};  // indexed by core::EndReason
  Histogram session_duration;
  Histogram tarpit_hold;
};

struct MetricsSnapshot {
  std::vector<ListenerCounters> listeners;
  std::uint64_t queue_depth = 0, queue_capacity = 0;
  std::uint64_t events_dropped = 0;  // queue full: counted, never waited for
  std::uint64_t store_errors = 0;
  std::uint64_t batches_written = 0;
  std::uint64_t events_written = 0;  // committed to the database
  std::uint64_t events_lost = 0;     // in a batch given up after kMaxWriteAttempts failures
};

class MetricsSource {
 public:
  virtual ~MetricsSource() = default;
  virtual MetricsSnapshot metrics() const = 0;
};

}  // namespace spamsink::store
