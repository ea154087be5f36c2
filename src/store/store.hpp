// store/store: the store of every host and session (DESIGN.md §5).
//
// Purpose: implements core::EventSink for the SMTP workers (one StoreSink
// per worker thread, from make_sink()), keeps per-listener counters and
// histograms in memory (MetricsSource, also with --db none), and has one
// writer thread that moves the events into SQLite in batches (Reader).
// Invariants:
//  - On a worker, a record costs a copy into a fixed-size Event and a
//    non-blocking push; a full queue counts the event as dropped and SMTP
//    goes on. Counters are per worker, written only by it (relaxed atomics).
//  - The writer commits what it has at least every flush_interval (250 ms
//    by default, so kill -9 loses well under a second) and drains the queue
//    at stop(): after a clean stop every event that was queued is written.
//  - A store fault (disk full, locked, corrupt) is logged and counted; the
//    failed batch is retried up to kMaxWriteAttempts times, then given up
//    and counted in events_lost. It never reaches the SMTP threads.
//  - Session times arrive on the steady clock; one steady->wall offset,
//    taken at construction, turns them into UTC.
//  - Totals (the `totals` table, meta.unique_hosts) only grow; retention
//    deletes rows, never totals.
// Limits: queue_capacity events (about 1 KiB each); kMaxBatch events per
// transaction; at most kMaxOpenSessions sessions remembered between their
// first message and their close (for the message -> session link).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/event_sink.hpp"
#include "core/logger.hpp"
#include "store/event_queue.hpp"
#include "store/reader.hpp"

namespace spamsink::store {

inline constexpr std::size_t kMaxBatch = 4096;
inline constexpr int kMaxWriteAttempts = 5;
inline constexpr std::size_t kMaxOpenSessions = 200'000;
inline constexpr std::size_t kMemoryHostsCap = 100'000;  // --db none: unique hosts counted up to this
inline constexpr std::chrono::minutes kRetentionEvery{10};
inline constexpr std::size_t kRetentionChunk = 10'000;  // rows deleted per transaction

using WallClock = std::function<std::chrono::system_clock::time_point()>;

struct ListenerInfo {
  std::string name;  // as in SessionRecord::listener ("sink:127.0.0.1:2525")
  core::Mode mode = core::Mode::kSink;
};

struct StoreOptions {
  std::string path;  // "" = --db none: counters only, no history
  std::size_t queue_capacity = 8192;
  std::uint32_t retain_days = 90;            // 0 = keep forever
  std::uint64_t retain_sessions = 1'000'000;  // 0 = no limit
  std::chrono::milliseconds flush_interval{250};
  std::vector<ListenerInfo> listeners;
  WallClock wall_clock;       // default: the system clock; tests inject one
  bool start_writer = true;   // false: tests call flush() by hand
  int busy_timeout_ms = 2000;  // the writer waits this long for a lock, then counts an error
  std::string writer_setup_sql;  // run on the writer's connection after open (tests inject faults)
  // The daemon opens the file only after dropping privileges (open()), so
  // the database belongs to the user that writes it.
  bool defer_open = false;
};

class StoreSink;

class Store final : public Reader, public MetricsSource {
 public:
  // Unless options.defer_open, opens at once (see open()).
  Store(StoreOptions options, core::Logger& log);
  // Opens (creating, migrating, or moving a corrupt file aside) the
  // database and starts the writer thread. Throws Error if the file cannot
  // be opened at all. Records pushed before open() wait in the queue.
  void open();
  ~Store() override;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The EventSink of one worker, owned by the store; `next` (may be null)
  // receives every record too (the log sink). Call before start traffic.
  core::EventSink* make_sink(core::EventSink* next);

  // Drains the queue into the database and stops the writer. Idempotent.
  void stop();

  // Writes everything queued now, in batches; returns the events taken.
  // The writer thread calls it; tests without a writer call it directly.
  std::size_t flush();
  // Deletes sessions and messages past retain_days / retain_sessions and
  // hosts not seen for retain_days. The writer runs it every
  // kRetentionEvery; tests call it directly. Returns sessions deleted.
  std::uint64_t run_retention();

  const std::string& path() const { return options_.path; }
  std::string moved_aside() const { return moved_aside_; }

  // Reader
  bool has_history() const override { return reader_ != nullptr; }
  Stats stats() override;
  HostPage hosts(const HostQuery& q) override;
  std::optional<HostRow> host(const core::IpAddress& ip) override;
  SessionPage sessions(const SessionQuery& q) override;
  void blocklist(const BlocklistQuery& q, const std::function<bool(const HostRow&)>& emit) override;

  // MetricsSource
  MetricsSnapshot metrics() const override;

 private:
  friend class StoreSink;
  class Writer;
  void writer_loop();
  void count_error(const std::exception& e, std::string_view what);
  std::int64_t steady_to_wall_ms(core::TimePoint t) const;
  std::size_t listener_slot(std::string_view name, core::Mode mode) const;

  StoreOptions options_;
  core::Logger& log_;
  std::chrono::system_clock::duration steady_offset_;
  std::chrono::system_clock::time_point started_;
  EventQueue queue_;
  std::vector<std::unique_ptr<StoreSink>> sinks_;
  std::unique_ptr<Writer> writer_;     // null with --db none
  std::unique_ptr<Reader> reader_;     // null with --db none
  std::string moved_aside_;
  bool opened_ = false;

  // --db none: unique hosts, kept by the drain thread.
  std::mutex hosts_mu_;
  std::unordered_set<core::IpAddress, core::IpAddressHash> memory_hosts_;

  mutable std::mutex mu_;  // sinks_, the stop flags
  std::condition_variable cv_;
  bool stop_requested_ = false;
  bool stopped_ = false;
  std::thread thread_;

  std::atomic<std::uint64_t> store_errors_{0}, batches_{0}, events_written_{0}, events_lost_{0};
};

}  // namespace spamsink::store
