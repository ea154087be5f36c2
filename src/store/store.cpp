#include "store/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>

#include "store/schema.hpp"
#include "store/sqlite.hpp"
#include "store/sqlite_reader.hpp"

namespace spamsink::store {

namespace {

// "sink:127.0.0.1:2525" -> "127.0.0.1:2525": the mode is a field of its own.
std::string_view listener_address(std::string_view name) {
  for (std::string_view m : {"sink:", "tarpit:", "relay:"})
    if (name.substr(0, m.size()) == m) return name.substr(m.size());
  return name;
}

template <class T>
void bump(std::atomic<T>& a, T n) {
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct AtomicHistogram {
  std::array<std::atomic<std::uint64_t>, kDurationBuckets.size()> buckets{};
  std::atomic<std::uint64_t> count{0};
  std::atomic<double> sum{0};

  void observe(double v) {
    for (std::size_t i = 0; i < kDurationBuckets.size(); ++i)
      if (v <= kDurationBuckets[i]) {
        bump(buckets[i], std::uint64_t{1});
        break;
      }
    bump(count, std::uint64_t{1});
    bump(sum, v);
  }
  void add_to(Histogram& h) const {
    for (std::size_t i = 0; i < buckets.size(); ++i) h.buckets[i] += buckets[i].load(std::memory_order_relaxed);
    h.count += count.load(std::memory_order_relaxed);
    h.sum += sum.load(std::memory_order_relaxed);
  }
};

struct AtomicCounters {
  std::atomic<std::uint64_t> sessions{0}, messages{0}, recipients{0}, bytes{0}, early_talkers{0}, trap_hits{0},
      relay_attempts{0};
  std::atomic<double> tarpit_seconds{0};
  std::array<std::atomic<std::uint64_t>, core::kEndReasonCount> ended_by{};
  AtomicHistogram duration, hold;
};

double seconds_between(core::TimePoint a, core::TimePoint b) {
  return b > a ? std::chrono::duration<double>(b - a).count() : 0.0;
}

}  // namespace

// ---------------------------------------------------------------- sink

class StoreSink final : public core::EventSink {
 public:
  StoreSink(Store& s, core::EventSink* next)
      : store_(s), next_(next), slots_(s.options_.listeners.size() + 3), counters_(new AtomicCounters[slots_]) {}

  void message(const core::MessageRecord& m) noexcept override {
    store_.queue_.try_push([&](Event& e) {
      e.kind = Event::Kind::kMessage;
      e.truncated = m.mail_from_truncated || m.recipients_truncated;
      e.session_id = m.session_id;
      e.recipient_count = m.recipient_count;
      e.bytes = m.size_bytes;
      e.accepted = m.accepted;
      e.has_digest = m.has_digest;
      e.sha256 = m.sha256;
      e.relay_attempt = m.relay_attempt;
      e.relay_test = m.relay_test;
      e.forwarded = m.forwarded;
      e.len = {};
      e.set(Event::kMailFrom, m.mail_from);
      e.set(Event::kRecipients, m.recipients);
    });
    if (next_) next_->message(m);
  }

  void session_closed(const core::SessionRecord& s) noexcept override {
    AtomicCounters& c = counters_[store_.listener_slot(s.listener, s.mode)];
    bump(c.sessions, std::uint64_t{1});
    bump(c.messages, std::uint64_t{s.messages});
    bump(c.recipients, std::uint64_t{s.recipients});
    bump(c.bytes, s.message_bytes);
    if (s.early_talker) bump(c.early_talkers, std::uint64_t{1});
    if (s.trap_hit) bump(c.trap_hits, std::uint64_t{1});
    bump(c.relay_attempts, std::uint64_t{s.relay_attempts});
    bump(c.ended_by[static_cast<std::size_t>(s.reason) % core::kEndReasonCount], std::uint64_t{1});
    const double secs = seconds_between(s.start, s.end);
    c.duration.observe(secs);
    if (s.mode == core::Mode::kTarpit) {
      bump(c.tarpit_seconds, secs);
      c.hold.observe(secs);
    }
    store_.queue_.try_push([&](Event& e) {
      e.kind = Event::Kind::kSession;
      e.truncated = s.helo_truncated || s.mail_from_truncated;
      e.session_id = s.session_id;
      e.mode = s.mode;
      e.reason = s.reason;
      e.ip = s.ip;
      e.port = s.port;
      e.start_ms = store_.steady_to_wall_ms(s.start);
      e.end_ms = store_.steady_to_wall_ms(s.end);
      e.recipient_count = s.recipients;
      e.messages = s.messages;
      e.errors = s.errors;
      e.bytes = s.message_bytes;
      e.bytes_in = s.bytes_in;
      e.bytes_out = s.bytes_out;
      e.early_talker = s.early_talker;
      e.tls = s.tls;
      e.trap_hit = s.trap_hit;
      e.relay_attempts = s.relay_attempts;
      e.len = {};
      e.set(Event::kListener, listener_address(s.listener));
      e.set(Event::kHelo, s.helo);
      e.set(Event::kMailFrom, s.mail_from);
      e.set(Event::kPhase, s.phase);
      e.set(Event::kEarly, s.early_bytes);
      e.set(Event::kRelayDomains, s.relay_domains);
    });
    if (next_) next_->session_closed(s);
  }

  void tick() noexcept override {
    if (next_) next_->tick();
  }

  void add_to(std::vector<ListenerCounters>& out) const {
    for (std::size_t i = 0; i < slots_; ++i) {
      const AtomicCounters& c = counters_[i];
      ListenerCounters& o = out[i];
      o.sessions += c.sessions.load(std::memory_order_relaxed);
      o.messages += c.messages.load(std::memory_order_relaxed);
      o.recipients += c.recipients.load(std::memory_order_relaxed);
      o.bytes += c.bytes.load(std::memory_order_relaxed);
      o.tarpit_seconds += c.tarpit_seconds.load(std::memory_order_relaxed);
      o.early_talkers += c.early_talkers.load(std::memory_order_relaxed);
      o.trap_hits += c.trap_hits.load(std::memory_order_relaxed);
      o.relay_attempts += c.relay_attempts.load(std::memory_order_relaxed);
      for (std::size_t r = 0; r < core::kEndReasonCount; ++r) o.ended_by[r] += c.ended_by[r].load(std::memory_order_relaxed);
      c.duration.add_to(o.session_duration);
      c.hold.add_to(o.tarpit_hold);
    }
  }

 private:
  Store& store_;
  core::EventSink* next_;
  std::size_t slots_;
  std::unique_ptr<AtomicCounters[]> counters_;
};

// -------------------------------------------------------------- writer

// The database side of the writer thread: prepared statements, the
// message -> session link, the batch being written (kept for retries).
class Store::Writer {
 public:
  explicit Writer(Db db) : db_(std::move(db)) {
    ins_message_ = Stmt(db_,
                        "INSERT INTO messages(session_id, time, mail_from, recipients, recipient_count, size, accepted, "
                        "sha256, relay_attempt, relay_test, forwarded) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)");
    ins_session_ = Stmt(db_,
                        "INSERT INTO sessions(id, ip, port, listener, mode, start, end, phase, reason, helo, mail_from, "
                        "recipient_count, messages, bytes_in, bytes_out, held_seconds, early_talker, recipients, "
                        "early_talk_bytes, early_text, tls, trap_hit, relay_attempts, relay_domains) "
                        "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24)");
    upd_host_ = Stmt(db_,
                     "UPDATE hosts SET first_seen = min(first_seen, ?2), last_seen = max(last_seen, ?3), "
                     "sessions = sessions + ?4, messages = messages + ?5, recipients = recipients + ?6, "
                     "bytes = bytes + ?7, tarpit_seconds = tarpit_seconds + ?8, early_talks = early_talks + ?9, "
                     "trap_hits = trap_hits + ?10, "
                     "last_helo = CASE WHEN ?11 <> '' AND ?3 >= last_seen THEN ?11 ELSE last_helo END WHERE ip = ?1");
    ins_host_ = Stmt(db_,
                     "INSERT INTO hosts(ip, first_seen, last_seen, sessions, messages, recipients, bytes, "
                     "tarpit_seconds, early_talks, trap_hits, last_helo) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)");
    add_totals_ = Stmt(db_,
                       "INSERT INTO totals(mode, sessions, messages, recipients, bytes, tarpit_seconds, early_talkers, "
                       "trap_hits, relay_attempts) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT(mode) DO UPDATE SET "
                       "sessions = sessions + excluded.sessions, messages = messages + excluded.messages, "
                       "recipients = recipients + excluded.recipients, bytes = bytes + excluded.bytes, "
                       "tarpit_seconds = tarpit_seconds + excluded.tarpit_seconds, "
                       "early_talkers = early_talkers + excluded.early_talkers, "
                       "trap_hits = trap_hits + excluded.trap_hits, relay_attempts = relay_attempts + excluded.relay_attempts");
    add_hosts_ = Stmt(db_,
                      "INSERT INTO meta(key, value) VALUES('unique_hosts', ?1) "
                      "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value");
    Stmt next(db_, "SELECT max(coalesce((SELECT max(id) FROM sessions), 0), "
                   "coalesce((SELECT max(session_id) FROM messages), 0))");
    next.step();
    next_id_ = next.i64(0) + 1;
  }

  Db& db() { return db_; }
  bool has_pending() const { return !pending_.empty(); }
  std::size_t pending_size() const { return pending_.size(); }
  int attempts() const { return attempts_; }

  // Takes `events` as the batch to write: links messages to sessions and
  // assigns session ids, once, so a retry writes the same rows.
  void prepare(std::vector<Event>& events, std::int64_t now_unix) {
    pending_.swap(events);
    ids_.assign(pending_.size(), 0);
    rcpts_.assign(pending_.size(), std::string());
    attempts_ = 0;
    now_unix_ = now_unix;
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      const Event& e = pending_[i];
      if (e.kind == Event::Kind::kMessage) {
        auto it = open_.find(e.session_id);
        if (it == open_.end()) {
          // A close that never came (dropped) must not grow this forever.
          if (open_.size() >= kMaxOpenSessions) open_.clear();
          it = open_.emplace(e.session_id, Open{next_id_++, {}}).first;
        }
        ids_[i] = it->second.id;
        std::string& r = it->second.recipients;
        const std::string_view add = e.get(Event::kRecipients);
        if (!add.empty() && r.size() < kCapRecipients) {
          if (!r.empty()) r += ',';
          r.append(add.substr(0, kCapRecipients - std::min(r.size(), kCapRecipients)));
        }
      } else {
        // Tarpit ids come from another counter and tarpit sessions carry no
        // messages: never match them against the message link.
        auto it = e.mode == core::Mode::kTarpit ? open_.end() : open_.find(e.session_id);
        if (it != open_.end()) {
          ids_[i] = it->second.id;
          rcpts_[i] = std::move(it->second.recipients);
          open_.erase(it);
        } else {
          ids_[i] = next_id_++;
        }
      }
    }
  }

  void drop_pending() {
    pending_.clear();
    attempts_ = 0;
  }

  // One transaction with the whole pending batch. Throws on a fault (the
  // transaction is rolled back and the batch kept).
  void write_pending() {
    ++attempts_;
    struct HostDelta {
      std::int64_t first = INT64_MAX, last = 0;
      std::uint64_t sessions = 0, messages = 0, recipients = 0, bytes = 0, early = 0, traps = 0;
      double tarpit = 0;
      std::string helo;
      std::int64_t helo_at = -1;
    };
    std::unordered_map<core::IpAddress, HostDelta, core::IpAddressHash> hosts;
    std::array<ModeTotals, 3> totals{};
    std::array<std::uint64_t, 3> early{}, traps{}, relays{};
    Transaction tx(db_, true);
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      const Event& e = pending_[i];
      if (e.kind == Event::Kind::kMessage) {
        ins_message_.bind(1, ids_[i]).bind(2, now_unix_).bind(3, e.get(Event::kMailFrom)).bind(4, e.get(Event::kRecipients));
        ins_message_.bind(5, std::int64_t{e.recipient_count}).bind(6, static_cast<std::int64_t>(e.bytes));
        ins_message_.bind(7, std::int64_t{e.accepted});
        if (e.has_digest) ins_message_.bind_blob(8, e.sha256.data(), e.sha256.size());
        else ins_message_.bind_null(8);
        ins_message_.bind(9, std::int64_t{e.relay_attempt}).bind(10, std::int64_t{e.relay_test}).bind(11, std::int64_t{e.forwarded});
        ins_message_.run();
        continue;
      }
      const std::int64_t start = e.start_ms / 1000, end = e.end_ms / 1000;
      const double held = e.end_ms > e.start_ms ? static_cast<double>(e.end_ms - e.start_ms) / 1000.0 : 0.0;
      ins_session_.bind(1, ids_[i]).bind_blob(2, e.ip.bytes.data(), e.ip.bytes.size()).bind(3, std::int64_t{e.port});
      ins_session_.bind(4, e.get(Event::kListener)).bind(5, static_cast<std::int64_t>(e.mode)).bind(6, start).bind(7, end);
      ins_session_.bind(8, e.get(Event::kPhase)).bind(9, static_cast<std::int64_t>(e.reason)).bind(10, e.get(Event::kHelo));
      ins_session_.bind(11, e.get(Event::kMailFrom)).bind(12, std::int64_t{e.recipient_count}).bind(13, std::int64_t{e.messages});
      ins_session_.bind(14, static_cast<std::int64_t>(e.bytes_in)).bind(15, static_cast<std::int64_t>(e.bytes_out));
      ins_session_.bind(16, held).bind(17, std::int64_t{e.early_talker}).bind(18, std::string_view(rcpts_[i]));
      const std::string_view early_text = e.get(Event::kEarly);
      ins_session_.bind(19, static_cast<std::int64_t>(early_text.size()));
      if (early_text.empty()) ins_session_.bind_null(20);
      else ins_session_.bind_blob(20, early_text.data(), early_text.size());
      ins_session_.bind(21, std::int64_t{e.tls}).bind(22, std::int64_t{e.trap_hit}).bind(23, std::int64_t{e.relay_attempts});
      ins_session_.bind(24, e.get(Event::kRelayDomains));
      ins_session_.run();

      HostDelta& h = hosts[e.ip];
      h.first = std::min(h.first, start);
      h.last = std::max(h.last, end);
      h.sessions += 1;
      h.messages += e.messages;
      h.recipients += e.recipient_count;
      h.bytes += e.bytes;
      if (e.mode == core::Mode::kTarpit) h.tarpit += held;
      h.early += e.early_talker;
      h.traps += e.trap_hit;
      if (!e.get(Event::kHelo).empty() && end >= h.helo_at) {
        h.helo = std::string(e.get(Event::kHelo));
        h.helo_at = end;
      }
      const auto m = static_cast<std::size_t>(e.mode) % 3;
      totals[m].sessions += 1;
      totals[m].messages += e.messages;
      totals[m].recipients += e.recipient_count;
      totals[m].bytes += e.bytes;
      if (e.mode == core::Mode::kTarpit) totals[m].tarpit_seconds += held;
      early[m] += e.early_talker;
      traps[m] += e.trap_hit;
      relays[m] += e.relay_attempts;
    }
    std::int64_t new_hosts = 0;
    for (const auto& [ip, h] : hosts) {
      auto bind_common = [&](Stmt& st) {
        st.bind_blob(1, ip.bytes.data(), ip.bytes.size()).bind(2, h.first).bind(3, h.last);
        st.bind(4, static_cast<std::int64_t>(h.sessions)).bind(5, static_cast<std::int64_t>(h.messages));
        st.bind(6, static_cast<std::int64_t>(h.recipients)).bind(7, static_cast<std::int64_t>(h.bytes));
        st.bind(8, h.tarpit).bind(9, static_cast<std::int64_t>(h.early)).bind(10, static_cast<std::int64_t>(h.traps));
        st.bind(11, std::string_view(h.helo));
      };
      bind_common(upd_host_);
      upd_host_.run();
      if (db_.changes() == 0) {
        bind_common(ins_host_);
        ins_host_.run();
        ++new_hosts;
      }
    }
    for (std::size_t m = 0; m < 3; ++m) {
      if (totals[m].sessions == 0) continue;
      add_totals_.bind(1, static_cast<std::int64_t>(m)).bind(2, static_cast<std::int64_t>(totals[m].sessions));
      add_totals_.bind(3, static_cast<std::int64_t>(totals[m].messages)).bind(4, static_cast<std::int64_t>(totals[m].recipients));
      add_totals_.bind(5, static_cast<std::int64_t>(totals[m].bytes)).bind(6, totals[m].tarpit_seconds);
      add_totals_.bind(7, static_cast<std::int64_t>(early[m])).bind(8, static_cast<std::int64_t>(traps[m]));
      add_totals_.bind(9, static_cast<std::int64_t>(relays[m]));
      add_totals_.run();
    }
    if (new_hosts) add_hosts_.bind(1, new_hosts).run();
    tx.commit();
    pending_.clear();
    attempts_ = 0;
  }

  // Deletes in chunks, one transaction each; returns rows deleted.
  std::uint64_t delete_chunks(const char* sql, std::int64_t arg) {
    Stmt st(db_, sql);
    std::uint64_t total = 0;
    for (;;) {
      Transaction tx(db_, true);
      st.bind(1, arg).bind(2, static_cast<std::int64_t>(kRetentionChunk));
      st.run();
      const int n = db_.changes();
      tx.commit();
      total += static_cast<std::uint64_t>(n);
      if (n < static_cast<int>(kRetentionChunk)) return total;
    }
  }

  std::uint64_t retention(std::int64_t now_unix, std::uint32_t days, std::uint64_t keep) {
    std::int64_t cut = 0;
    const std::int64_t cutoff = now_unix - std::int64_t{days} * 86400;
    if (days) {
      Stmt st(db_, "SELECT coalesce(max(id), 0) FROM sessions WHERE start < ?1");
      st.bind(1, cutoff);
      st.step();
      cut = st.i64(0);
    }
    if (keep) {
      Stmt st(db_, "SELECT id FROM sessions ORDER BY id DESC LIMIT 1 OFFSET ?1");
      st.bind(1, static_cast<std::int64_t>(keep));
      if (st.step()) cut = std::max(cut, st.i64(0));
    }
    std::uint64_t deleted = 0;
    if (cut > 0) {
      deleted = delete_chunks("DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE id <= ?1 LIMIT ?2)", cut);
      delete_chunks("DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE session_id <= ?1 LIMIT ?2)", cut);
    }
    if (days)
      delete_chunks("DELETE FROM hosts WHERE ip IN (SELECT ip FROM hosts WHERE last_seen < ?1 LIMIT ?2)", cutoff);
    return deleted;
  }

 private:
  struct Open {
    std::int64_t id;
    std::string recipients;
  };
  Db db_;
  Stmt ins_message_, ins_session_, upd_host_, ins_host_, add_totals_, add_hosts_;
  std::unordered_map<std::uint64_t, Open> open_;
  std::int64_t next_id_ = 1;
  std::vector<Event> pending_;
  std::vector<std::int64_t> ids_;
  std::vector<std::string> rcpts_;
  std::int64_t now_unix_ = 0;
  int attempts_ = 0;
};

// --------------------------------------------------------------- store

Store::Store(StoreOptions options, core::Logger& log)
    : options_(std::move(options)), log_(log), queue_(options_.queue_capacity) {
  if (!options_.wall_clock) options_.wall_clock = [] { return std::chrono::system_clock::now(); };
  started_ = options_.wall_clock();
  steady_offset_ = started_.time_since_epoch() -
                   std::chrono::duration_cast<std::chrono::system_clock::duration>(core::SteadyClock::now().time_since_epoch());
  if (!options_.defer_open) open();
}

void Store::open() {
  if (opened_) return;
  opened_ = true;
  const std::int64_t now_unix = std::chrono::duration_cast<std::chrono::seconds>(options_.wall_clock().time_since_epoch()).count();
  if (!options_.path.empty()) {
    const std::filesystem::path parent = std::filesystem::path(options_.path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) throw Error("cannot create the directory " + parent.string() + " for " + options_.path + ": " + ec.message());
    OpenResult opened = open_for_writing(options_.path, now_unix);
    if (!opened.moved_aside.empty()) {
      moved_aside_ = opened.moved_aside;
      store_errors_.fetch_add(1, std::memory_order_relaxed);
      core::log(log_, core::Level::kError, [&](core::LogLine& l) {
        l.str("event", "store_corrupt").str("db", options_.path).str("error", opened.corrupt_error);
        l.str("moved_to", opened.moved_aside).str("action", "created a fresh database");
      });
    }
    opened.db.busy_timeout(options_.busy_timeout_ms);
    if (!options_.writer_setup_sql.empty()) opened.db.exec(options_.writer_setup_sql.c_str());
    writer_ = std::make_unique<Writer>(std::move(opened.db));
    reader_ = std::make_unique<SqliteReader>(options_.path);
    core::log(log_, core::Level::kInfo, [&](core::LogLine& l) {
      l.str("event", "store_opened").str("db", options_.path).num("schema", std::int64_t{kSchemaVersion});
      l.num("queue", std::uint64_t{queue_.capacity()}).num("retain_days", std::uint64_t{options_.retain_days});
      l.num("retain_sessions", options_.retain_sessions);
    });
  }
  if (options_.start_writer) thread_ = std::thread([this] { writer_loop(); });
}

Store::~Store() { stop(); }

core::EventSink* Store::make_sink(core::EventSink* next) {
  std::lock_guard lock(mu_);
  sinks_.push_back(std::make_unique<StoreSink>(*this, next));
  return sinks_.back().get();
}

std::int64_t Store::steady_to_wall_ms(core::TimePoint t) const {
  const auto wall = std::chrono::duration_cast<std::chrono::system_clock::duration>(t.time_since_epoch()) + steady_offset_;
  return std::chrono::duration_cast<std::chrono::milliseconds>(wall).count();
}

std::size_t Store::listener_slot(std::string_view name, core::Mode mode) const {
  const auto& ls = options_.listeners;
  for (std::size_t i = 0; i < ls.size(); ++i)
    if (ls[i].name == name) return i;
  return ls.size() + static_cast<std::size_t>(mode) % 3;  // an unknown listener: one slot per mode
}

void Store::count_error(const std::exception& e, std::string_view what) {
  store_errors_.fetch_add(1, std::memory_order_relaxed);
  const auto* db = dynamic_cast<const DbError*>(&e);
  core::log(log_, core::Level::kError, [&](core::LogLine& l) {
    l.str("event", "store_error").str("during", what).str("error", e.what());
    if (db) l.num("sqlite_code", std::int64_t{db->code});
    if (writer_ && writer_->has_pending()) {
      l.num("batch", std::uint64_t{writer_->pending_size()}).num("attempt", std::int64_t{writer_->attempts()});
    }
  });
}

std::size_t Store::flush() {
  std::size_t taken = 0;
  std::vector<Event> batch;
  for (;;) {
    if (writer_ && writer_->has_pending()) {
      try {
        const std::size_t n = writer_->pending_size();
        writer_->write_pending();
        batches_.fetch_add(1, std::memory_order_relaxed);
        events_written_.fetch_add(n, std::memory_order_relaxed);
      } catch (const std::exception& e) {
        count_error(e, "write");
        if (writer_->attempts() >= kMaxWriteAttempts) {
          const std::size_t n = writer_->pending_size();
          events_lost_.fetch_add(n, std::memory_order_relaxed);
          writer_->drop_pending();
          core::log(log_, core::Level::kError, [&](core::LogLine& l) {
            l.str("event", "store_batch_dropped").num("events", std::uint64_t{n}).num("attempts", std::int64_t{kMaxWriteAttempts});
          });
        }
        return taken;  // retried on the next round; the queue holds (or drops) the rest
      }
    }
    batch.clear();
    for (;;) {
      if (batch.size() >= kMaxBatch) break;
      batch.emplace_back();
      if (!queue_.try_pop(batch.back())) {
        batch.pop_back();
        break;
      }
    }
    const std::size_t n = batch.size();
    if (n == 0) return taken;
    taken += n;
    if (!writer_) {
      std::lock_guard lock(hosts_mu_);
      for (const Event& e : batch)
        if (e.kind == Event::Kind::kSession && memory_hosts_.size() < kMemoryHostsCap) memory_hosts_.insert(e.ip);
      continue;
    }
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(options_.wall_clock().time_since_epoch()).count();
    writer_->prepare(batch, now);
  }
}

std::uint64_t Store::run_retention() {
  if (!writer_ || (options_.retain_days == 0 && options_.retain_sessions == 0)) return 0;
  try {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(options_.wall_clock().time_since_epoch()).count();
    const std::uint64_t n = writer_->retention(now, options_.retain_days, options_.retain_sessions);
    if (n)
      core::log(log_, core::Level::kInfo, [&](core::LogLine& l) { l.str("event", "store_retention").num("sessions_deleted", n); });
    return n;
  } catch (const std::exception& e) {
    count_error(e, "retention");
    return 0;
  }
}

void Store::writer_loop() {
  auto last_retention = core::SteadyClock::now() - kRetentionEvery + std::chrono::seconds{30};
  std::unique_lock lock(mu_);
  while (!stop_requested_) {
    cv_.wait_for(lock, options_.flush_interval, [&] { return stop_requested_; });
    if (stop_requested_) break;
    lock.unlock();
    flush();
    if (writer_ && core::SteadyClock::now() - last_retention >= kRetentionEvery) {
      run_retention();
      last_retention = core::SteadyClock::now();
    }
    lock.lock();
  }
}

void Store::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stop_requested_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Drain: each round either writes, or fails and counts an attempt, so
  // this ends after at most kMaxWriteAttempts failures per batch.
  for (int rounds = 0; rounds < 100000; ++rounds) {
    flush();
    if (queue_.depth() == 0 && !(writer_ && writer_->has_pending())) break;
  }
  if (writer_) {
    try {
      writer_->db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch (const std::exception& e) {
      count_error(e, "checkpoint");
    }
  }
  if (!opened_) return;  // the daemon never got as far as opening it
  core::log(log_, core::Level::kInfo, [&](core::LogLine& l) {
    l.str("event", "store_stopped").str("db", options_.path.empty() ? "none" : options_.path);
    l.num("events_written", events_written_.load()).num("events_dropped", queue_.dropped());
    l.num("events_lost", events_lost_.load()).num("store_errors", store_errors_.load());
  });
  writer_.reset();
}

Stats Store::stats() {
  if (reader_) return reader_->stats();
  Stats s;
  const MetricsSnapshot m = metrics();
  for (const ListenerCounters& c : m.listeners) {
    ModeTotals& t = s.per_mode[static_cast<std::size_t>(c.mode) % 3];
    t.sessions += c.sessions;
    t.messages += c.messages;
    t.recipients += c.recipients;
    t.bytes += c.bytes;
    t.tarpit_seconds += c.tarpit_seconds;
    s.early_talkers += c.early_talkers;
    s.trap_hits += c.trap_hits;
    s.relay_attempts += c.relay_attempts;
  }
  for (const ModeTotals& t : s.per_mode) {
    s.sessions_total += t.sessions;
    s.messages += t.messages;
    s.recipients += t.recipients;
    s.bytes_discarded += t.bytes;
    s.tarpit_seconds += t.tarpit_seconds;
  }
  {
    std::lock_guard lock(hosts_mu_);
    s.unique_hosts = memory_hosts_.size();
  }
  s.since = std::chrono::floor<std::chrono::seconds>(started_);
  return s;
}

HostPage Store::hosts(const HostQuery& q) {
  if (!reader_) throw Error("no history: the store runs with --db none");
  return reader_->hosts(q);
}

std::optional<HostRow> Store::host(const core::IpAddress& ip) {
  if (!reader_) throw Error("no history: the store runs with --db none");
  return reader_->host(ip);
}

SessionPage Store::sessions(const SessionQuery& q) {
  if (!reader_) throw Error("no history: the store runs with --db none");
  return reader_->sessions(q);
}

void Store::blocklist(const BlocklistQuery& q, const std::function<bool(const HostRow&)>& emit) {
  if (!reader_) throw Error("no history: the store runs with --db none");
  reader_->blocklist(q, emit);
}

MetricsSnapshot Store::metrics() const {
  MetricsSnapshot m;
  const std::size_t slots = options_.listeners.size() + 3;
  std::vector<ListenerCounters> all(slots);
  for (std::size_t i = 0; i < options_.listeners.size(); ++i) {
    all[i].listener = std::string(listener_address(options_.listeners[i].name));
    all[i].mode = options_.listeners[i].mode;
  }
  for (std::size_t i = 0; i < 3; ++i) {
    all[options_.listeners.size() + i].listener = "other";
    all[options_.listeners.size() + i].mode = static_cast<core::Mode>(i);
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& s : sinks_) s->add_to(all);
  }
  for (std::size_t i = 0; i < slots; ++i)
    if (i < options_.listeners.size() || all[i].sessions > 0) m.listeners.push_back(std::move(all[i]));
  m.queue_depth = queue_.depth();
  m.queue_capacity = queue_.capacity();
  m.events_dropped = queue_.dropped();
  m.store_errors = store_errors_.load(std::memory_order_relaxed);
  m.batches_written = batches_.load(std::memory_order_relaxed);
  m.events_written = events_written_.load(std::memory_order_relaxed);
  m.events_lost = events_lost_.load(std::memory_order_relaxed);
  return m;
}

}  // namespace spamsink::store
