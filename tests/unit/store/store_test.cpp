// Unit tests of src/store: the queue, batching, migrations, retention,
// paging, IPv6, and the faults (corrupt file, full database, locked database).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "store/event_queue.hpp"
#include "store/schema.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "store/time_text.hpp"

namespace spamsink::store {
namespace {

using namespace std::chrono_literals;

class CaptureLogger final : public core::Logger {
 public:
  bool enabled(core::Level) const override { return true; }
  core::LogFormat format() const override { return core::LogFormat::kKeyValue; }
  void stamp(core::LogLine&, core::Level) const override {}
  void write(core::Level, std::string_view lines) noexcept override {
    std::lock_guard lock(mu_);
    text_.append(lines);
  }
  std::string text() const {
    std::lock_guard lock(mu_);
    return text_;
  }

 private:
  mutable std::mutex mu_;
  std::string text_;
};

core::IpAddress v4(std::uint32_t a) { return core::IpAddress::from_v4(a); }
core::IpAddress v6(std::uint8_t last, std::uint8_t first = 0x20) {
  std::array<std::uint8_t, 16> b{};
  b[0] = first;
  b[1] = 0x01;
  b[2] = 0x0d;
  b[3] = 0xb8;
  b[15] = last;
  return core::IpAddress::from_v6(b);
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/spamsink-store-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/spamsink.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  StoreOptions options(const std::string& path) {
    StoreOptions o;
    o.path = path;
    o.start_writer = false;
    o.queue_capacity = 1 << 14;
    o.wall_clock = [this] { return now_; };
    o.listeners = {{"sink:127.0.0.1:2525", core::Mode::kSink}, {"tarpit:127.0.0.1:2526", core::Mode::kTarpit}};
    return o;
  }

  core::SessionRecord session(std::uint64_t id, core::IpAddress ip, core::Mode mode = core::Mode::kSink,
                              std::uint32_t messages = 1, core::Duration length = 2s) {
    core::SessionRecord s;
    s.session_id = id;
    s.mode = mode;
    s.listener = mode == core::Mode::kTarpit ? "tarpit:127.0.0.1:2526" : "sink:127.0.0.1:2525";
    s.ip = ip;
    s.port = 40000;
    s.start = core::SteadyClock::now();
    s.end = s.start + length;
    s.helo = "bot.example";
    s.mail_from = "spam@example.com";
    s.recipients = messages;
    s.messages = messages;
    s.message_bytes = 100ull * messages;
    s.bytes_in = 200;
    s.bytes_out = 300;
    s.reason = core::EndReason::kQuit;
    return s;
  }

  core::MessageRecord message(std::uint64_t session_id, const char* rcpt = "victim@example.org") {
    core::MessageRecord m;
    m.session_id = session_id;
    m.mail_from = "spam@example.com";
    m.recipients = rcpt;
    m.recipient_count = 1;
    m.size_bytes = 100;
    m.accepted = true;
    m.has_digest = true;
    m.sha256.fill(0xab);
    return m;
  }

  std::int64_t count(const std::string& sql) {
    Db db(path_, Db::Mode::kReadWrite);
    Stmt st(db, sql.c_str());
    st.step();
    return st.i64(0);
  }

  std::string dir_, path_;
  std::chrono::system_clock::time_point now_ = std::chrono::sys_days{std::chrono::year{2026} / 11 / 25} + 4h;
  CaptureLogger log_;
};

// ------------------------------------------------------------- the queue

TEST(EventQueueTest, FullQueueDropsAndCountsNeverWaits) {
  EventQueue q(5);  // rounded up to 8
  ASSERT_EQ(q.capacity(), 8u);
  int pushed = 0;
  for (int i = 0; i < 20; ++i)
    if (q.try_push([&](Event& e) {
          e.kind = Event::Kind::kSession;
          e.session_id = static_cast<std::uint64_t>(i);
          e.len = {};
        }))
      ++pushed;
  EXPECT_EQ(pushed, 8);
  EXPECT_EQ(q.dropped(), 12u);
  EXPECT_EQ(q.depth(), 8u);
  Event e;
  for (std::uint64_t i = 0; i < 8; ++i) {
    ASSERT_TRUE(q.try_pop(e));
    EXPECT_EQ(e.session_id, i);  // FIFO
  }
  EXPECT_FALSE(q.try_pop(e));
  EXPECT_TRUE(q.try_push([](Event& ev) { ev.len = {}; }));  // room again after the pops
}

TEST(EventQueueTest, TextIsCappedAndFlagged) {
  Event e;
  e.len = {};
  e.set(Event::kHelo, std::string(1000, 'h'));
  e.set(Event::kMailFrom, "a@b");
  EXPECT_EQ(e.get(Event::kHelo).size(), kCapHelo);
  EXPECT_TRUE(e.truncated);
  EXPECT_EQ(e.get(Event::kMailFrom), "a@b");
  Event copy;
  copy.copy_from(e);
  EXPECT_EQ(copy.get(Event::kMailFrom), "a@b");
  EXPECT_EQ(copy.get(Event::kHelo), std::string(kCapHelo, 'h'));
}

TEST(EventQueueTest, ManyProducersLoseNothingWhileThereIsRoom) {
  EventQueue q(1 << 16);
  constexpr int kThreads = 4, kEach = 10000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        q.try_push([&](Event& e) {
          e.session_id = static_cast<std::uint64_t>(t) << 32 | static_cast<std::uint64_t>(i);
          e.len = {};
        });
    });
  std::set<std::uint64_t> seen;
  Event e;
  std::size_t got = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (got < kThreads * kEach && std::chrono::steady_clock::now() < deadline) {
    if (q.try_pop(e)) {
      seen.insert(e.session_id);
      ++got;
    }
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(got, static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(q.dropped(), 0u);
}

// ------------------------------------------------------------- the store

TEST_F(StoreTest, FullQueueCountsDropsAndSmtpSideGoesOn) {
  auto o = options(path_);
  o.queue_capacity = 64;
  Store store(o, log_);
  core::EventSink* sink = store.make_sink(nullptr);
  for (std::uint64_t i = 1; i <= 100; ++i) sink->session_closed(session(i << 8, v4(0x0a000001)));
  MetricsSnapshot m = store.metrics();
  EXPECT_EQ(m.queue_capacity, 64u);
  EXPECT_EQ(m.queue_depth, 64u);
  EXPECT_EQ(m.events_dropped, 36u);
  // The in-memory counters saw every session, dropped or not.
  ASSERT_GE(m.listeners.size(), 1u);
  EXPECT_EQ(m.listeners[0].sessions, 100u);
  store.flush();
  EXPECT_EQ(store.stats().sessions_total, 64u);
  EXPECT_EQ(store.metrics().events_written, 64u);
}

TEST_F(StoreTest, BatchesAreWrittenInTransactionsOfAtMostMaxBatch) {
  Store store(options(path_), log_);
  core::EventSink* sink = store.make_sink(nullptr);
  const std::uint64_t n = kMaxBatch + 10;
  for (std::uint64_t i = 1; i <= n; ++i) sink->session_closed(session(i << 8, v4(0x0a000000 + static_cast<std::uint32_t>(i % 7)), core::Mode::kSink, 0));
  EXPECT_EQ(store.flush(), n);
  const MetricsSnapshot m = store.metrics();
  EXPECT_EQ(m.batches_written, 2u);
  EXPECT_EQ(m.events_written, n);
  const Stats s = store.stats();
  EXPECT_EQ(s.sessions_total, n);
  EXPECT_EQ(s.unique_hosts, 7u);
  EXPECT_EQ(count("SELECT count(*) FROM hosts"), 7);
}

TEST_F(StoreTest, WriterThreadCommitsWithinTheFlushInterval) {
  auto o = options(path_);
  o.start_writer = true;
  o.flush_interval = 50ms;
  Store store(o, log_);
  core::EventSink* sink = store.make_sink(nullptr);
  sink->session_closed(session(1 << 8, v4(0x0a000001)));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (store.stats().sessions_total == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(store.stats().sessions_total, 1u);
  store.stop();
  EXPECT_EQ(store.metrics().events_written, 1u);
}

TEST_F(StoreTest, StopDrainsEverythingQueued) {
  {
    auto o = options(path_);
    o.start_writer = true;
    o.flush_interval = 10s;  // only stop() writes
    Store store(o, log_);
    core::EventSink* sink = store.make_sink(nullptr);
    for (std::uint64_t i = 1; i <= 500; ++i) {
      sink->message(message(i << 8));
      sink->session_closed(session(i << 8, v4(0x0a000001)));
    }
    store.stop();
  }
  EXPECT_EQ(count("SELECT count(*) FROM sessions"), 500);
  EXPECT_EQ(count("SELECT count(*) FROM messages"), 500);
  EXPECT_EQ(count("SELECT sum(messages) FROM totals"), 500);
}

TEST_F(StoreTest, MessagesLinkToTheirSessionAndTotalsSurviveRestart) {
  {
    Store store(options(path_), log_);
    core::EventSink* sink = store.make_sink(nullptr);
    sink->message(message(7 << 8, "a@x.org"));
    store.flush();  // the session closes in a later batch
    sink->message(message(7 << 8, "b@y.org"));
    sink->session_closed(session(7 << 8, v4(0xc0000201), core::Mode::kSink, 2));
    // A tarpit session whose id collides with an open sink session.
    sink->message(message(9 << 8));
    sink->session_closed(session(9 << 8, v4(0xc0000202), core::Mode::kTarpit, 0, 30s));
    sink->session_closed(session(9 << 8, v4(0xc0000201), core::Mode::kSink, 1));
    store.flush();
    store.stop();
  }
  EXPECT_EQ(count("SELECT count(*) FROM messages m JOIN sessions s ON s.id = m.session_id WHERE s.ip = "
                  "x'00000000000000000000ffffc0000201'"),
            3);
  {
    Store store(options(path_), log_);
    SessionQuery q;
    q.ip = v4(0xc0000201);
    SessionPage p = store.sessions(q);
    ASSERT_EQ(p.rows.size(), 2u);
    EXPECT_EQ(p.rows[1].recipients, "a@x.org,b@y.org");
    EXPECT_EQ(p.rows[1].messages, 2u);
    EXPECT_EQ(p.rows[1].listener, "127.0.0.1:2525");
    core::EventSink* sink = store.make_sink(nullptr);
    sink->session_closed(session(1 << 8, v4(0xc0000203)));
    store.flush();
    const Stats s = store.stats();
    EXPECT_EQ(s.sessions_total, 4u);
    EXPECT_EQ(s.messages, 4u);
    EXPECT_EQ(s.per_mode[1].sessions, 1u);
    EXPECT_NEAR(s.tarpit_seconds, 30.0, 0.01);
    EXPECT_EQ(s.unique_hosts, 3u);
    EXPECT_EQ(std::chrono::system_clock::time_point(s.since), std::chrono::floor<std::chrono::seconds>(now_));
    // Ids go on after the restart: none reused.
    EXPECT_EQ(count("SELECT count(DISTINCT id) FROM sessions"), 4);
  }
}

TEST_F(StoreTest, SteadyTimesBecomeWallTimes) {
  Store store(options(path_), log_);
  core::EventSink* sink = store.make_sink(nullptr);
  core::SessionRecord s = session(1 << 8, v4(0x0a000001));
  s.start = core::SteadyClock::now() - 3600s;
  s.end = s.start + 10s;
  sink->session_closed(s);
  store.flush();
  SessionPage p = store.sessions({});
  ASSERT_EQ(p.rows.size(), 1u);
  const auto expect_start = std::chrono::floor<std::chrono::seconds>(now_ - 3600s);
  EXPECT_LE(std::chrono::abs(std::chrono::system_clock::time_point(p.rows[0].start) - expect_start), 2s);
  EXPECT_EQ(p.rows[0].end - p.rows[0].start, 10s);
  EXPECT_NEAR(p.rows[0].held_seconds, 10.0, 0.01);
}

TEST_F(StoreTest, MigratesVersionOneToCurrent) {
  {
    Db db(path_, Db::Mode::kCreate);
    migrate(db, 1'700'000'000, 1);
    ASSERT_EQ(schema_version(db), 1);
    db.exec(
        "INSERT INTO hosts(ip, first_seen, last_seen, sessions, messages, last_helo) "
        "VALUES(x'00000000000000000000ffff0a000009', 1700000000, 1700000100, 1, 3, 'old.example');"
        "INSERT INTO sessions(id, ip, port, listener, mode, start, end, reason, messages, recipient_count, held_seconds) "
        "VALUES(5, x'00000000000000000000ffff0a000009', 25, '127.0.0.1:2525', 0, 1700000000, 1700000100, 0, 3, 4, 100);"
        "INSERT INTO messages(session_id, time, size, accepted) VALUES(5, 1700000050, 1000, 1);");
  }
  Store store(options(path_), log_);
  {
    Db db(path_, Db::Mode::kReadWrite);
    EXPECT_EQ(schema_version(db), kSchemaVersion);
  }
  EXPECT_EQ(count("SELECT count(*) FROM schema_migrations"), kSchemaVersion);
  const Stats s = store.stats();
  EXPECT_EQ(s.sessions_total, 1u);
  EXPECT_EQ(s.messages, 3u);
  EXPECT_EQ(s.recipients, 4u);
  EXPECT_EQ(s.bytes_discarded, 1000u);
  EXPECT_EQ(s.unique_hosts, 1u);
  EXPECT_EQ(s.since.time_since_epoch().count(), 1'700'000'000);  // "since" kept from v1
  SessionPage p = store.sessions({});
  ASSERT_EQ(p.rows.size(), 1u);
  EXPECT_FALSE(p.rows[0].tls);
  EXPECT_EQ(p.rows[0].relay_domains, "");
  // New rows go on after the migrated ones.
  core::EventSink* sink = store.make_sink(nullptr);
  sink->session_closed(session(1 << 8, v4(0x0a000009)));
  store.flush();
  auto h = store.host(v4(0x0a000009));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->sessions, 2u);
  EXPECT_EQ(count("SELECT min(id) FROM sessions WHERE id > 5"), 6);
}

TEST_F(StoreTest, RefusesANewerSchema) {
  {
    Store store(options(path_), log_);
  }
  {
    Db db(path_, Db::Mode::kReadWrite);
    db.exec("INSERT INTO schema_migrations(version, applied) VALUES(99, 0)");
  }
  EXPECT_THROW(Store(options(path_), log_), Error);
}

TEST_F(StoreTest, RetentionByAgeWithAnInjectedClock) {
  auto o = options(path_);
  o.retain_days = 90;
  o.retain_sessions = 0;
  Store store(o, log_);
  core::EventSink* sink = store.make_sink(nullptr);
  for (std::uint64_t i = 1; i <= 30; ++i) {
    sink->message(message(i << 8));
    sink->session_closed(session(i << 8, v4(0x0a000001)));
  }
  store.flush();
  EXPECT_EQ(store.run_retention(), 0u);  // all fresh
  now_ += std::chrono::days{60};
  // Sessions recorded "now" by the store's clock: 60 days later.
  core::SessionRecord late = session(100 << 8, v4(0x0a000002));
  late.start += std::chrono::days{60};
  late.end += std::chrono::days{60};
  sink->session_closed(late);
  store.flush();
  now_ += std::chrono::days{31};  // the first 30 are now 91 days old, the late one 31
  EXPECT_EQ(store.run_retention(), 30u);
  EXPECT_EQ(count("SELECT count(*) FROM sessions"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM messages"), 0);
  EXPECT_FALSE(store.host(v4(0x0a000001)));  // not seen for 91 days
  EXPECT_TRUE(store.host(v4(0x0a000002)));
  // Totals never shrink.
  EXPECT_EQ(store.stats().sessions_total, 31u);
}

TEST_F(StoreTest, RetentionByRowCountKeepsTheNewest) {
  auto o = options(path_);
  o.retain_days = 0;
  o.retain_sessions = 10;
  Store store(o, log_);
  core::EventSink* sink = store.make_sink(nullptr);
  for (std::uint64_t i = 1; i <= 25; ++i) sink->session_closed(session(i << 8, v4(0x0a000000 + static_cast<std::uint32_t>(i))));
  store.flush();
  EXPECT_EQ(store.run_retention(), 15u);
  EXPECT_EQ(count("SELECT count(*) FROM sessions"), 10);
  EXPECT_EQ(count("SELECT min(id) FROM sessions"), count("SELECT max(id) FROM sessions") - 9);
  EXPECT_EQ(store.run_retention(), 0u);
}

TEST_F(StoreTest, HostPagingVisitsEveryHostOnceInOrder) {
  Store store(options(path_), log_);
  core::EventSink* sink = store.make_sink(nullptr);
  std::uint64_t id = 0;
  constexpr std::uint32_t kHosts = 1234;
  for (std::uint32_t h = 0; h < kHosts; ++h) {
    const std::uint32_t n = 1 + h % 5;  // many ties: the address breaks them
    for (std::uint32_t k = 0; k < n; ++k) sink->session_closed(session(++id << 8, v4(0x0b000000 + h), core::Mode::kSink, k % 2));
    if (h % 100 == 0) store.flush();
  }
  sink->session_closed(session(++id << 8, v6(1)));
  store.flush();
  for (HostOrder order : {HostOrder::kLastSeen, HostOrder::kSessions, HostOrder::kMessages, HostOrder::kTarpitSeconds}) {
    HostQuery q;
    q.limit = 100;
    q.order = order;
    std::set<std::string> seen;
    std::uint64_t prev = UINT64_MAX;
    int pages = 0;
    for (; pages < 100; ++pages) {
      HostPage p = store.hosts(q);
      for (const auto& r : p.rows) {
        EXPECT_TRUE(seen.insert(r.ip.to_string()).second) << r.ip.to_string();
        if (order == HostOrder::kSessions) {
          EXPECT_LE(r.sessions, prev);
          prev = r.sessions;
        }
      }
      if (p.next_cursor.empty()) break;
      q.cursor = p.next_cursor;
    }
    EXPECT_EQ(seen.size(), kHosts + 1u) << static_cast<int>(order);
    EXPECT_EQ(pages, 12);
  }
  HostQuery bad;
  bad.cursor = "not-a-cursor";
  EXPECT_THROW(store.hosts(bad), BadQuery);
  HostQuery since;
  since.since = std::chrono::floor<std::chrono::seconds>(now_ + 3600s);
  EXPECT_TRUE(store.hosts(since).rows.empty());
}

TEST_F(StoreTest, SessionPagingAndFilters) {
  Store store(options(path_), log_);
  core::EventSink* sink = store.make_sink(nullptr);
  for (std::uint64_t i = 1; i <= 250; ++i)
    sink->session_closed(session(i << 8, i % 2 ? v4(0x0a000001) : v6(2), i % 5 ? core::Mode::kSink : core::Mode::kTarpit, 0));
  store.flush();
  SessionQuery q;
  q.limit = 40;
  std::set<std::uint64_t> ids;
  std::uint64_t prev = UINT64_MAX;
  for (int pages = 0; pages < 20; ++pages) {
    SessionPage p = store.sessions(q);
    for (const auto& r : p.rows) {
      EXPECT_LT(r.id, prev);  // newest first
      prev = r.id;
      ids.insert(r.id);
    }
    if (p.next_cursor.empty()) break;
    q.cursor = p.next_cursor;
  }
  EXPECT_EQ(ids.size(), 250u);
  SessionQuery f;
  f.ip = v6(2);
  f.mode = core::Mode::kTarpit;
  f.limit = 1000;
  SessionPage p = store.sessions(f);
  EXPECT_EQ(p.rows.size(), 25u);  // even i, multiple of 5
  for (const auto& r : p.rows) {
    EXPECT_EQ(r.ip, v6(2));
    EXPECT_EQ(r.mode, core::Mode::kTarpit);
  }
  SessionQuery bad;
  bad.cursor = "12x";
  EXPECT_THROW(store.sessions(bad), BadQuery);
}

TEST_F(StoreTest, Ipv6HostsAndBlocklistInBatches) {
  Store store(options(path_), log_);
  core::EventSink* sink = store.make_sink(nullptr);
  std::uint64_t id = 0;
  const std::size_t n = kReadBatch * 2 + 17;
  for (std::size_t i = 0; i < n; ++i) {
    std::array<std::uint8_t, 16> b{};
    b[0] = 0x20;
    b[1] = 0x01;
    b[14] = static_cast<std::uint8_t>(i >> 8);
    b[15] = static_cast<std::uint8_t>(i);
    sink->session_closed(session(++id << 8, core::IpAddress::from_v6(b)));
    if (i % 2 == 0) sink->session_closed(session(++id << 8, core::IpAddress::from_v6(b)));
  }
  sink->session_closed(session(++id << 8, v4(0x7f000001)));
  store.flush();
  auto h = store.host(v6(0, 0x20));
  EXPECT_FALSE(h);
  std::array<std::uint8_t, 16> b{};
  b[0] = 0x20;
  b[1] = 0x01;
  b[15] = 4;
  h = store.host(core::IpAddress::from_v6(b));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->sessions, 2u);
  EXPECT_EQ(h->ip.to_string(), "2001::4");
  std::vector<core::IpAddress> out;
  store.blocklist({}, [&](const HostRow& r) {
    out.push_back(r.ip);
    return true;
  });
  ASSERT_EQ(out.size(), n + 1);
  EXPECT_EQ(out.front(), v4(0x7f000001));  // ::ffff:0:0/96 sorts before 2001::
  for (std::size_t i = 1; i < out.size(); ++i) EXPECT_LT(out[i - 1].bytes, out[i].bytes);
  BlocklistQuery two;
  two.min_sessions = 2;
  std::size_t k = 0;
  store.blocklist(two, [&](const HostRow& r) {
    EXPECT_GE(r.sessions, 2u);
    ++k;
    return true;
  });
  EXPECT_EQ(k, (n + 1) / 2);
  std::size_t stopped = 0;
  store.blocklist({}, [&](const HostRow&) { return ++stopped < 5; });
  EXPECT_EQ(stopped, 5u);
}

TEST_F(StoreTest, NoDatabaseKeepsCountersAndStats) {
  auto o = options("");
  Store store(o, log_);
  EXPECT_FALSE(store.has_history());
  core::EventSink* sink = store.make_sink(nullptr);
  core::SessionRecord t = session(1, v4(0x0a000001), core::Mode::kTarpit, 0, 45s);
  t.early_talker = true;
  sink->session_closed(t);
  sink->session_closed(session(2 << 8, v4(0x0a000002), core::Mode::kSink, 3));
  store.flush();
  const Stats s = store.stats();
  EXPECT_EQ(s.sessions_total, 2u);
  EXPECT_EQ(s.messages, 3u);
  EXPECT_EQ(s.early_talkers, 1u);
  EXPECT_NEAR(s.tarpit_seconds, 45.0, 0.01);
  EXPECT_EQ(s.unique_hosts, 2u);
  EXPECT_THROW(store.hosts({}), Error);
  const MetricsSnapshot m = store.metrics();
  ASSERT_EQ(m.listeners.size(), 2u);
  EXPECT_EQ(m.listeners[0].listener, "127.0.0.1:2525");
  EXPECT_EQ(m.listeners[1].mode, core::Mode::kTarpit);
  EXPECT_EQ(m.listeners[1].tarpit_hold.count, 1u);
  EXPECT_EQ(m.listeners[1].tarpit_hold.buckets[7], 1u);  // 45 s: the (30, 60] bucket
  EXPECT_EQ(m.listeners[0].session_duration.buckets[4], 1u);  // 2 s: (1, 5]
  EXPECT_EQ(m.listeners[0].ended_by[static_cast<std::size_t>(core::EndReason::kQuit)], 1u);
}

TEST_F(StoreTest, ForwardsEveryRecordToTheNextSink) {
  struct Counting : core::EventSink {
    int messages = 0, sessions = 0, ticks = 0;
    void message(const core::MessageRecord&) noexcept override { ++messages; }
    void session_closed(const core::SessionRecord&) noexcept override { ++sessions; }
    void tick() noexcept override { ++ticks; }
  } next;
  auto o = options(path_);
  o.queue_capacity = 2;  // drops must not stop the forwarding
  Store store(o, log_);
  core::EventSink* sink = store.make_sink(&next);
  for (int i = 0; i < 5; ++i) {
    sink->message(message(1));
    sink->session_closed(session(1, v4(1)));
    sink->tick();
  }
  EXPECT_EQ(next.messages, 5);
  EXPECT_EQ(next.sessions, 5);
  EXPECT_EQ(next.ticks, 5);
}

TEST_F(StoreTest, SessionFactsRoundTrip) {
  Store store(options(path_), log_);
  core::EventSink* sink = store.make_sink(nullptr);
  core::MessageRecord m = message(3 << 8, "x@relay-target.example");
  m.relay_attempt = true;
  sink->message(m);
  core::SessionRecord s = session(3 << 8, v4(0xc6336401), core::Mode::kSink, 1);
  s.tls = true;
  s.trap_hit = true;
  s.relay_attempts = 1;
  s.relay_domains = "relay-target.example,other.example";
  s.early_talker = true;
  s.early_bytes = "EHLO x\r\n";
  s.phase = "rcpt";
  s.reason = core::EndReason::kTimeout;
  sink->session_closed(s);
  store.flush();
  SessionPage p = store.sessions({});
  ASSERT_EQ(p.rows.size(), 1u);
  const SessionRow& r = p.rows[0];
  EXPECT_TRUE(r.tls);
  EXPECT_TRUE(r.trap_hit);
  EXPECT_EQ(r.relay_domains, "relay-target.example,other.example");
  EXPECT_EQ(r.early_talk_bytes, 8u);
  EXPECT_EQ(r.phase, "rcpt");
  EXPECT_EQ(r.reason, core::EndReason::kTimeout);
  EXPECT_EQ(r.helo, "bot.example");
  EXPECT_EQ(r.mail_from, "spam@example.com");
  EXPECT_EQ(r.port, 40000);
  EXPECT_EQ(r.bytes_in, 200u);
  EXPECT_EQ(r.bytes_out, 300u);
  const Stats st = store.stats();
  EXPECT_EQ(st.trap_hits, 1u);
  EXPECT_EQ(st.relay_attempts, 1u);
  EXPECT_EQ(st.early_talkers, 1u);
  auto h = store.host(v4(0xc6336401));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->trap_hits, 1u);
  EXPECT_EQ(h->early_talks, 1u);
  EXPECT_EQ(h->last_helo, "bot.example");
  EXPECT_EQ(count("SELECT relay_attempt FROM messages"), 1);
  EXPECT_EQ(count("SELECT length(sha256) FROM messages"), 32);
}

TEST_F(StoreTest, ReadersRunWhileTheWriterWrites) {
  auto o = options(path_);
  o.start_writer = true;
  o.flush_interval = 5ms;
  Store store(o, log_);
  core::EventSink* sink = store.make_sink(nullptr);
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t)
    readers.emplace_back([&] {
      while (!done.load()) {
        HostQuery q;
        q.limit = 50;
        for (int pages = 0; pages < 100; ++pages) {
          HostPage p = store.hosts(q);
          if (p.next_cursor.empty()) break;
          q.cursor = p.next_cursor;
        }
        (void)store.stats();
        (void)store.sessions({});
        reads.fetch_add(1);
      }
    });
  for (std::uint64_t i = 1; i <= 3000; ++i) {
    sink->session_closed(session(i << 8, v4(0x0c000000 + static_cast<std::uint32_t>(i % 500))));
    if (i % 300 == 0) std::this_thread::sleep_for(5ms);
  }
  store.stop();
  done.store(true);
  for (auto& t : readers) t.join();
  EXPECT_GT(reads.load(), 0);
  const MetricsSnapshot m = store.metrics();
  EXPECT_EQ(m.events_written, 3000u);
  EXPECT_EQ(m.store_errors, 0u);
  EXPECT_EQ(store.stats().sessions_total, 3000u);
  EXPECT_EQ(store.stats().unique_hosts, 500u);
}

// -------------------------------------------------------------- faults

TEST_F(StoreTest, CorruptFileAtStartIsMovedAsideAndRecreated) {
  {
    std::ofstream f(path_, std::ios::binary);
    for (int i = 0; i < 4096; ++i) f << "this is not a database ";
  }
  Store store(options(path_), log_);
  const std::string aside = store.moved_aside();
  ASSERT_FALSE(aside.empty());
  EXPECT_EQ(aside, path_ + ".corrupt-20261125T040000Z");
  EXPECT_TRUE(std::filesystem::exists(aside));
  EXPECT_EQ(store.metrics().store_errors, 1u);
  EXPECT_NE(log_.text().find("event=store_corrupt"), std::string::npos);
  core::EventSink* sink = store.make_sink(nullptr);
  sink->session_closed(session(1 << 8, v4(0x0a000001)));
  store.flush();
  EXPECT_EQ(store.stats().sessions_total, 1u);
}

TEST_F(StoreTest, CorruptPageInsideAValidFileIsMovedAside) {
  {
    Store store(options(path_), log_);
    core::EventSink* sink = store.make_sink(nullptr);
    for (std::uint64_t i = 1; i <= 200; ++i) sink->session_closed(session(i << 8, v4(0x0a000000 + static_cast<std::uint32_t>(i))));
    store.flush();
    store.stop();
  }
  {
    // Keep the header, smash the schema page (page 1 after the header).
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    const std::string junk(3000, '\xff');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  Store store(options(path_), log_);
  EXPECT_FALSE(store.moved_aside().empty());
  EXPECT_EQ(store.stats().sessions_total, 0u);
}

TEST_F(StoreTest, FullDatabaseIsCountedAndGivenUpAfterRetries) {
  auto o = options(path_);
  // SQLite's own limit gives a real SQLITE_FULL once the file would grow.
  o.writer_setup_sql = "PRAGMA max_page_count = 40";
  Store store(o, log_);
  core::EventSink* sink = store.make_sink(nullptr);
  std::string big(kCapMailFrom, 'x');
  const std::size_t n = 3000;
  for (std::uint64_t i = 1; i <= n; ++i) {
    core::SessionRecord s = session(i << 8, v4(0x0a000000 + static_cast<std::uint32_t>(i)));
    s.mail_from = big;
    sink->session_closed(s);
  }
  for (int round = 0; round < kMaxWriteAttempts + 2; ++round) store.flush();
  const MetricsSnapshot m = store.metrics();
  EXPECT_GE(m.store_errors, static_cast<std::uint64_t>(kMaxWriteAttempts));
  EXPECT_GT(m.events_lost, 0u);
  EXPECT_EQ(m.events_lost + m.events_written, n);
  EXPECT_NE(log_.text().find("sqlite_code=13"), std::string::npos);  // SQLITE_FULL
  EXPECT_NE(log_.text().find("event=store_batch_dropped"), std::string::npos);
  // The SMTP side is untouched: counters and pushes go on.
  EXPECT_EQ(m.listeners[0].sessions, n);
  sink->session_closed(session((n + 1) << 8, v4(0x0a0f0001)));
  EXPECT_EQ(store.metrics().listeners[0].sessions, n + 1);
  // What was committed before it filled is still readable.
  EXPECT_EQ(store.stats().sessions_total, m.events_written);
}

TEST_F(StoreTest, LockedDatabaseIsRetriedThenWritten) {
  auto o = options(path_);
  o.busy_timeout_ms = 20;
  Store store(o, log_);
  core::EventSink* sink = store.make_sink(nullptr);
  for (std::uint64_t i = 1; i <= 50; ++i) sink->session_closed(session(i << 8, v4(0x0a000001)));
  {
    Db other(path_, Db::Mode::kReadWrite);
    other.exec("BEGIN EXCLUSIVE");
    store.flush();
    store.flush();
    EXPECT_EQ(store.metrics().store_errors, 2u);
    EXPECT_EQ(store.metrics().events_written, 0u);
    EXPECT_NE(log_.text().find("sqlite_code=5"), std::string::npos);  // SQLITE_BUSY
    other.exec("ROLLBACK");
  }
  store.flush();
  const MetricsSnapshot m = store.metrics();
  EXPECT_EQ(m.events_written, 50u);
  EXPECT_EQ(m.events_lost, 0u);
  EXPECT_EQ(store.stats().sessions_total, 50u);
}

// --------------------------------------------------------------- times

TEST(TimeTextTest, FormatsAndParsesRfc3339) {
  const WallTime t{std::chrono::seconds{1'764'044'100}};
  EXPECT_EQ(format_rfc3339(t), "2025-11-25T04:15:00Z");
  EXPECT_EQ(parse_rfc3339("2025-11-25T04:15:00Z"), t);
  EXPECT_EQ(parse_rfc3339("2025-11-25T05:15:00.123+01:00"), t);
  EXPECT_EQ(parse_rfc3339("2025-11-24T23:15:00-05:00"), t);
  for (const char* bad : {"", "2025-11-25", "2025-11-25T04:15:00", "2025-13-01T00:00:00Z", "2025-02-30T00:00:00Z",
                          "2025-11-25T24:00:00Z", "2025-11-25T04:15:00Zjunk", "1969-12-31T23:59:59Z",
                          "2025-11-25T04:15:00.Z", "2025-11-25T04:15:00+0100", "2025-11-25 04:15:00Z"})
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
}

}  // namespace
}  // namespace spamsink::store
