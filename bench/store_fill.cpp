// bench/store_fill: fills a spamsink database with synthetic rows.
//
//   store_fill --sessions N --db PATH   N sessions (one 1-recipient message
//                                       each) through the Store API, as the
//                                       workers would; prints rows/s and
//                                       the file's bytes per session
//   store_fill --hosts N --db PATH      N host rows straight into `hosts`
//                                       (for API latency with 1M hosts)
// Both may be given. Addresses: 1 in 8 IPv6 (2001:db8::/32), the rest
// IPv4 in 10.0.0.0/8; a fixed seed, so runs are comparable.
// Output: one JSON object on stdout.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "core/logger.hpp"
#include "store/schema.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"

using namespace spamsink;

namespace {

core::IpAddress addr(std::uint64_t i) {
  if (i % 8 == 7) {
    std::array<std::uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8};
    for (int k = 0; k < 8; ++k) b[8 + k] = static_cast<std::uint8_t>(i >> (8 * (7 - k)));
    return core::IpAddress::from_v6(b);
  }
  return core::IpAddress::from_v4(0x0a000000u | static_cast<std::uint32_t>(i & 0xffffff));
}

std::uint64_t file_bytes(const std::string& p) {
  struct stat sb;
  std::uint64_t n = 0;
  for (const char* suffix : {"", "-wal"})
    if (::stat((p + suffix).c_str(), &sb) == 0) n += static_cast<std::uint64_t>(sb.st_size);
  return n;
}

int usage() {
  std::fputs("usage: store_fill [--sessions N] [--hosts N] [--distinct-ips N] --db PATH\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t sessions = 0, hosts = 0, distinct = 100'000;
  std::string db, setup;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--sessions") sessions = std::stoull(argv[i + 1]);
    else if (k == "--hosts") hosts = std::stoull(argv[i + 1]);
    else if (k == "--distinct-ips") distinct = std::stoull(argv[i + 1]);
    else if (k == "--db") db = argv[i + 1];
    else if (k == "--setup-sql") setup = argv[i + 1];
    else return usage();
  }
  if (db.empty() || (sessions == 0 && hosts == 0) || distinct == 0) return usage();
  std::mt19937_64 rng(7);
  std::string out = "{\"db\":\"" + db + "\"";
  try {
    if (sessions) {
      core::NullLogger log;
      store::StoreOptions o;
      o.path = db;
      o.start_writer = false;
      o.queue_capacity = 1 << 16;
      o.retain_days = 0;
      o.retain_sessions = 0;
      o.listeners = {{"sink:0.0.0.0:25", core::Mode::kSink}};
      o.writer_setup_sql = setup;
      const std::uint64_t before = file_bytes(db);
      store::Store s(o, log);
      core::EventSink* sink = s.make_sink(nullptr);
      const auto t0 = std::chrono::steady_clock::now();
      const auto base = core::SteadyClock::now();
      char from[64], rcpt[64], helo[64];
      for (std::uint64_t i = 0; i < sessions; ++i) {
        const std::uint64_t ip = rng() % distinct;
        std::snprintf(from, sizeof from, "user%llu@spam%llu.example", static_cast<unsigned long long>(rng() % 100000),
                      static_cast<unsigned long long>(ip % 1000));
        std::snprintf(rcpt, sizeof rcpt, "victim%llu@example.org", static_cast<unsigned long long>(rng() % 1000));
        std::snprintf(helo, sizeof helo, "host%llu.bot.example", static_cast<unsigned long long>(ip));
        core::MessageRecord m;
        m.session_id = (i + 1) << 8;
        m.mail_from = from;
        m.recipients = rcpt;
        m.recipient_count = 1;
        m.size_bytes = 1000 + rng() % 4000;
        m.accepted = true;
        m.has_digest = true;
        for (auto& b : m.sha256) b = static_cast<std::uint8_t>(rng());
        sink->message(m);
        core::SessionRecord r;
        r.session_id = m.session_id;
        r.listener = "sink:0.0.0.0:25";
        r.ip = addr(ip);
        r.port = static_cast<std::uint16_t>(1024 + rng() % 60000);
        r.start = base + std::chrono::milliseconds(i);
        r.end = r.start + std::chrono::milliseconds(200 + rng() % 2000);
        r.helo = helo;
        r.mail_from = from;
        r.recipients = 1;
        r.messages = 1;
        r.message_bytes = m.size_bytes;
        r.bytes_in = m.size_bytes + 120;
        r.bytes_out = 250;
        r.reason = core::EndReason::kQuit;
        sink->session_closed(r);
        if ((i + 1) % 20000 == 0) s.flush();
      }
      s.stop();
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const store::MetricsSnapshot m = s.metrics();
      const std::uint64_t bytes = file_bytes(db) - before;
      char buf[512];
      std::snprintf(buf, sizeof buf,
                    ",\"sessions\":%llu,\"events_written\":%llu,\"events_dropped\":%llu,\"seconds\":%.2f,"
                    "\"sessions_per_s\":%.0f,\"db_bytes\":%llu,\"bytes_per_session\":%.1f,"
                    "\"mb_per_million_sessions\":%.1f",
                    static_cast<unsigned long long>(sessions), static_cast<unsigned long long>(m.events_written),
                    static_cast<unsigned long long>(m.events_dropped), secs, sessions / secs,
                    static_cast<unsigned long long>(bytes), static_cast<double>(bytes) / static_cast<double>(sessions),
                    static_cast<double>(bytes) / static_cast<double>(sessions) * 1e6 / 1e6);
      out += buf;
      if (m.events_dropped || m.events_written != 2 * sessions) {
        std::fprintf(stderr, "store_fill: %s}\nstore_fill: events were lost\n", out.c_str());
        return 1;
      }
    }
    if (hosts) {
      store::OpenResult r = store::open_for_writing(db, std::chrono::duration_cast<std::chrono::seconds>(
                                                            std::chrono::system_clock::now().time_since_epoch())
                                                            .count());
      store::Db& d = r.db;
      const auto t0 = std::chrono::steady_clock::now();
      const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
      store::Stmt ins(d,
                      "INSERT OR IGNORE INTO hosts(ip, first_seen, last_seen, sessions, messages, recipients, bytes, "
                      "tarpit_seconds, early_talks, trap_hits, last_helo) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)");
      std::uint64_t added = 0;
      const std::uint64_t batch = 50'000;
      for (std::uint64_t i = 0; i < hosts; i += batch) {
        store::Transaction tx(d, true);
        for (std::uint64_t k = i; k < std::min(hosts, i + batch); ++k) {
          core::IpAddress ip;
          if (k % 8 == 7) {
            ip = addr(k);
            ip.bytes[4] = 0x40;  // away from the --sessions addresses
          } else {
            ip = core::IpAddress::from_v4(0x20000000u + static_cast<std::uint32_t>(k));
          }
          const std::int64_t last = now - static_cast<std::int64_t>(rng() % (90 * 86400));
          const std::int64_t sess = 1 + static_cast<std::int64_t>(rng() % 50);
          char helo[48];
          std::snprintf(helo, sizeof helo, "bot%llu.example", static_cast<unsigned long long>(k));
          ins.bind_blob(1, ip.bytes.data(), 16).bind(2, last - static_cast<std::int64_t>(rng() % 86400)).bind(3, last);
          ins.bind(4, sess).bind(5, sess * static_cast<std::int64_t>(rng() % 3)).bind(6, sess * 2).bind(7, sess * 2000);
          ins.bind(8, k % 4 == 0 ? static_cast<double>(rng() % 3600) : 0.0).bind(9, std::int64_t{0});
          ins.bind(10, std::int64_t{0}).bind(11, std::string_view(helo));
          ins.run();
          added += static_cast<std::uint64_t>(d.changes());
        }
        store::Stmt meta(d, "UPDATE meta SET value = value + ?1 WHERE key = 'unique_hosts'");
        meta.bind(1, static_cast<std::int64_t>(added)).run();
        added = 0;
        tx.commit();
      }
      d.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      char buf[160];
      std::snprintf(buf, sizeof buf, ",\"hosts\":%llu,\"hosts_seconds\":%.2f", static_cast<unsigned long long>(hosts), secs);
      out += buf;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "store_fill: %s\n", e.what());
    return 1;
  }
  std::printf("%s}\n", out.c_str());
  return 0;
}
