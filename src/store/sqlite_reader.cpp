#include "store/sqlite_reader.hpp"

#include <charconv>
#include <cstdio>
#include <cstring>

#include "store/cursor.hpp"
#include "store/schema.hpp"

namespace spamsink::store {

namespace {

constexpr const char* kHostColumns =
    "ip, first_seen, last_seen, sessions, messages, recipients, bytes, tarpit_seconds, early_talks, trap_hits, "
    "last_helo";

core::IpAddress ip_of(std::string_view blob) {
  core::IpAddress a;
  if (blob.size() == a.bytes.size()) std::memcpy(a.bytes.data(), blob.data(), a.bytes.size());
  return a;
}

WallTime wall(std::int64_t unix_s) { return WallTime{std::chrono::seconds{unix_s}}; }

std::uint64_t u64(const Stmt& st, int col) {
  const std::int64_t v = st.i64(col);
  return v < 0 ? 0 : static_cast<std::uint64_t>(v);
}

HostRow host_row(const Stmt& st) {
  HostRow r;
  r.ip = ip_of(st.blob(0));
  r.first_seen = wall(st.i64(1));
  r.last_seen = wall(st.i64(2));
  r.sessions = u64(st, 3);
  r.messages = u64(st, 4);
  r.recipients = u64(st, 5);
  r.bytes = u64(st, 6);
  r.tarpit_seconds = st.f64(7);
  r.early_talks = u64(st, 8);
  r.trap_hits = u64(st, 9);
  r.last_helo = st.text(10);
  return r;
}

const char* order_column(HostOrder o) {
  switch (o) {
    case HostOrder::kSessions: return "sessions";
    case HostOrder::kMessages: return "messages";
    case HostOrder::kTarpitSeconds: return "tarpit_seconds";
    case HostOrder::kLastSeen: break;
  }
  return "last_seen";
}

// The cursor of the row after which the next page starts.
std::string host_cursor(const HostRow& r, HostOrder o) {
  HostCursor c;
  c.ip = r.ip;
  switch (o) {
    case HostOrder::kSessions: c.i = static_cast<std::int64_t>(r.sessions); break;
    case HostOrder::kMessages: c.i = static_cast<std::int64_t>(r.messages); break;
    case HostOrder::kTarpitSeconds:
      c.real = true;
      c.d = r.tarpit_seconds;
      break;
    case HostOrder::kLastSeen: c.i = r.last_seen.time_since_epoch().count(); break;
  }
  return encode_host_cursor(c);
}

std::size_t clamp_limit(std::size_t n) { return n < 1 ? 1 : n > kMaxPageLimit ? kMaxPageLimit : n; }

}  // namespace

class SqliteReader::Lease {
 public:
  explicit Lease(SqliteReader& r) : r_(r), db_(r.acquire()) {}
  ~Lease() {
    if (db_) r_.release(std::move(db_));
  }
  Db& db() { return *db_; }
  // A connection that failed mid-call is not reused.
  void discard() { db_.reset(); }

 private:
  SqliteReader& r_;
  std::unique_ptr<Db> db_;
};

SqliteReader::SqliteReader(std::string path) : path_(std::move(path)) {}

std::unique_ptr<Db> SqliteReader::acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto db = std::move(idle_.back());
      idle_.pop_back();
      return db;
    }
  }
  return std::make_unique<Db>(open_for_reading(path_));
}

void SqliteReader::release(std::unique_ptr<Db> db) {
  std::lock_guard lock(mu_);
  if (idle_.size() < kReaderPool) idle_.push_back(std::move(db));
}

Stats SqliteReader::stats() {
  Lease lease(*this);
  try {
    Db& db = lease.db();
    Transaction tx(db);
    Stats s;
    Stmt t(db,
           "SELECT mode, sessions, messages, recipients, bytes, tarpit_seconds, early_talkers, trap_hits, "
           "relay_attempts FROM totals");
    while (t.step()) {
      const auto mode = t.i64(0);
      if (mode < 0 || mode >= static_cast<std::int64_t>(s.per_mode.size())) continue;
      ModeTotals& m = s.per_mode[static_cast<std::size_t>(mode)];
      m.sessions = u64(t, 1);
      m.messages = u64(t, 2);
      m.recipients = u64(t, 3);
      m.bytes = u64(t, 4);
      m.tarpit_seconds = t.f64(5);
      s.sessions_total += m.sessions;
      s.messages += m.messages;
      s.recipients += m.recipients;
      s.bytes_discarded += m.bytes;
      s.tarpit_seconds += m.tarpit_seconds;
      s.early_talkers += u64(t, 6);
      s.trap_hits += u64(t, 7);
      s.relay_attempts += u64(t, 8);
    }
    Stmt meta(db, "SELECT key, value FROM meta WHERE key IN ('created', 'unique_hosts')");
    while (meta.step()) {
      const std::string k = meta.text(0);
      if (k == "created") s.since = wall(meta.i64(1));
      else s.unique_hosts = u64(meta, 1);
    }
    tx.commit();
    return s;
  } catch (...) {
    lease.discard();
    throw;
  }
}

HostPage SqliteReader::hosts(const HostQuery& q) {
  const std::size_t limit = clamp_limit(q.limit);
  const char* col = order_column(q.order);
  std::string sql = std::string("SELECT ") + kHostColumns + " FROM hosts WHERE 1";
  if (q.since) sql += " AND last_seen >= ?1";
  HostCursor key;
  if (!q.cursor.empty()) {
    auto parsed = decode_host_cursor(q.cursor, q.order == HostOrder::kTarpitSeconds);
    if (!parsed) throw BadQuery("cursor: not a hosts cursor for this order");
    key = *parsed;
    sql += std::string(" AND (") + col + ", ip) < (?2, ?3)";
  }
  sql += std::string(" ORDER BY ") + col + " DESC, ip DESC LIMIT ?4";
  Lease lease(*this);
  try {
    Db& db = lease.db();
    Transaction tx(db);
    Stmt st(db, sql.c_str());
    if (q.since) st.bind(1, static_cast<std::int64_t>(q.since->time_since_epoch().count()));
    if (!q.cursor.empty()) {
      if (key.real) st.bind(2, key.d);
      else st.bind(2, key.i);
      st.bind_blob(3, key.ip.bytes.data(), key.ip.bytes.size());
    }
    st.bind(4, static_cast<std::int64_t>(limit + 1));
    HostPage page;
    while (st.step()) page.rows.push_back(host_row(st));
    tx.commit();
    if (page.rows.size() > limit) {
      page.rows.resize(limit);
      page.next_cursor = host_cursor(page.rows.back(), q.order);
    }
    return page;
  } catch (...) {
    lease.discard();
    throw;
  }
}

std::optional<HostRow> SqliteReader::host(const core::IpAddress& ip) {
  Lease lease(*this);
  try {
    Db& db = lease.db();
    Stmt st(db, (std::string("SELECT ") + kHostColumns + " FROM hosts WHERE ip = ?1").c_str());
    st.bind_blob(1, ip.bytes.data(), ip.bytes.size());
    std::optional<HostRow> r;
    if (st.step()) r = host_row(st);
    return r;
  } catch (...) {
    lease.discard();
    throw;
  }
}

SessionPage SqliteReader::sessions(const SessionQuery& q) {
  const std::size_t limit = clamp_limit(q.limit);
  std::string sql =
      "SELECT id, ip, port, listener, mode, start, end, phase, reason, helo, mail_from, recipients, recipient_count, "
      "messages, bytes_in, bytes_out, held_seconds, early_talk_bytes, tls, trap_hit, relay_domains FROM sessions "
      "WHERE 1";
  std::int64_t cursor = 0;
  if (!q.cursor.empty()) {
    auto parsed = decode_session_cursor(q.cursor);
    if (!parsed) throw BadQuery("cursor: not a sessions cursor");
    cursor = *parsed;
    sql += " AND id < ?1";
  }
  if (q.ip) sql += " AND ip = ?2";
  if (q.mode) sql += " AND mode = ?3";
  if (q.listener) sql += " AND listener = ?4";
  if (q.reason) sql += " AND reason = ?5";
  if (q.since) sql += " AND start >= ?6";
  if (q.until) sql += " AND start <= ?7";
  sql += " ORDER BY id DESC LIMIT ?8";
  Lease lease(*this);
  try {
    Db& db = lease.db();
    Transaction tx(db);
    Stmt st(db, sql.c_str());
    if (cursor) st.bind(1, cursor);
    if (q.ip) st.bind_blob(2, q.ip->bytes.data(), q.ip->bytes.size());
    if (q.mode) st.bind(3, static_cast<std::int64_t>(*q.mode));
    if (q.listener) st.bind(4, std::string_view(*q.listener));
    if (q.reason) st.bind(5, static_cast<std::int64_t>(*q.reason));
    if (q.since) st.bind(6, static_cast<std::int64_t>(q.since->time_since_epoch().count()));
    if (q.until) st.bind(7, static_cast<std::int64_t>(q.until->time_since_epoch().count()));
    st.bind(8, static_cast<std::int64_t>(limit + 1));
    SessionPage page;
    while (st.step()) {
      SessionRow r;
      r.id = u64(st, 0);
      r.ip = ip_of(st.blob(1));
      r.port = static_cast<std::uint16_t>(st.i64(2));
      r.listener = st.text(3);
      const auto mode = st.i64(4);
      r.mode = mode >= 0 && mode <= 2 ? static_cast<core::Mode>(mode) : core::Mode::kSink;
      r.start = wall(st.i64(5));
      r.end = wall(st.i64(6));
      r.phase = st.text(7);
      const auto reason = st.i64(8);
      r.reason = reason >= 0 && reason < static_cast<std::int64_t>(core::kEndReasonCount)
                     ? static_cast<core::EndReason>(reason)
                     : core::EndReason::kPeerClosed;
      r.helo = st.text(9);
      r.mail_from = st.text(10);
      r.recipients = st.text(11);
      r.recipient_count = static_cast<std::uint32_t>(st.i64(12));
      r.messages = static_cast<std::uint32_t>(st.i64(13));
      r.bytes_in = u64(st, 14);
      r.bytes_out = u64(st, 15);
      r.held_seconds = st.f64(16);
      r.early_talk_bytes = u64(st, 17);
      r.tls = st.i64(18) != 0;
      r.trap_hit = st.i64(19) != 0;
      r.relay_domains = st.text(20);
      page.rows.push_back(std::move(r));
    }
    tx.commit();
    if (page.rows.size() > limit) {
      page.rows.resize(limit);
      page.next_cursor = std::to_string(page.rows.back().id);
    }
    return page;
  } catch (...) {
    lease.discard();
    throw;
  }
}

void SqliteReader::blocklist(const BlocklistQuery& q, const std::function<bool(const HostRow&)>& emit) {
  std::string sql = std::string("SELECT ") + kHostColumns + " FROM hosts WHERE ip > ?1 AND sessions >= ?2";
  if (q.since) sql += " AND last_seen >= ?3";
  sql += " ORDER BY ip LIMIT ?4";
  core::IpAddress after;  // all zero: before every stored address (:: is never a peer)
  bool first = true;
  std::vector<HostRow> batch;
  for (;;) {
    batch.clear();
    {
      Lease lease(*this);
      try {
        Db& db = lease.db();
        Transaction tx(db);
        Stmt st(db, sql.c_str());
        if (first) st.bind_blob(1, "", 0);  // an empty blob sorts before every 16-byte one
        else st.bind_blob(1, after.bytes.data(), after.bytes.size());
        st.bind(2, static_cast<std::int64_t>(q.min_sessions));
        if (q.since) st.bind(3, static_cast<std::int64_t>(q.since->time_since_epoch().count()));
        st.bind(4, static_cast<std::int64_t>(kReadBatch));
        while (st.step()) batch.push_back(host_row(st));
        tx.commit();
      } catch (...) {
        lease.discard();
        throw;
      }
    }
    // Outside the transaction: a slow consumer holds no snapshot.
    for (const HostRow& r : batch)
      if (!emit(r)) return;
    if (batch.size() < kReadBatch) return;
    after = batch.back().ip;
    first = false;
  }
}

}  // namespace spamsink::store
