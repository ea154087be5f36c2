#include "store/schema.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <vector>

namespace spamsink::store {

namespace {

struct Migration {
  int version;
  const char* sql;
};

// The ordered steps. Never edit a released step: add one.
// v1: hosts, sessions and messages as first designed.
// v2: the facts of issue 6 (TLS, spamtraps, relay) and the totals table
//     those add to; sessions.recipients from the session's messages.
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> steps = {
      {1, R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, applied INTEGER NOT NULL);
CREATE TABLE hosts(
  ip BLOB PRIMARY KEY,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  sessions INTEGER NOT NULL DEFAULT 0,
  messages INTEGER NOT NULL DEFAULT 0,
  recipients INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  tarpit_seconds REAL NOT NULL DEFAULT 0,
  early_talks INTEGER NOT NULL DEFAULT 0,
  last_helo TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX hosts_by_last_seen ON hosts(last_seen, ip);
CREATE INDEX hosts_by_sessions ON hosts(sessions, ip);
CREATE INDEX hosts_by_messages ON hosts(messages, ip);
CREATE INDEX hosts_by_tarpit ON hosts(tarpit_seconds, ip);
CREATE TABLE sessions(
  id INTEGER PRIMARY KEY,
  ip BLOB NOT NULL,
  port INTEGER NOT NULL,
  listener TEXT NOT NULL,
  mode INTEGER NOT NULL,
  start INTEGER NOT NULL,
  end INTEGER NOT NULL,
  phase TEXT NOT NULL DEFAULT '',
  reason INTEGER NOT NULL,
  helo TEXT NOT NULL DEFAULT '',
  mail_from TEXT NOT NULL DEFAULT '',
  recipient_count INTEGER NOT NULL DEFAULT 0,
  messages INTEGER NOT NULL DEFAULT 0,
  bytes_in INTEGER NOT NULL DEFAULT 0,
  bytes_out INTEGER NOT NULL DEFAULT 0,
  held_seconds REAL NOT NULL DEFAULT 0,
  early_talker INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_ip ON sessions(ip, id);
CREATE INDEX sessions_by_start ON sessions(start);
CREATE TABLE messages(
  id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL,
  time INTEGER NOT NULL,
  mail_from TEXT NOT NULL DEFAULT '',
  recipients TEXT NOT NULL DEFAULT '',
  recipient_count INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL DEFAULT 0,
  accepted INTEGER NOT NULL DEFAULT 0,
  sha256 BLOB
);
CREATE INDEX messages_by_session ON messages(session_id);
)sql"},
      {2, R"sql(
ALTER TABLE hosts ADD COLUMN trap_hits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN recipients TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN early_talk_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN early_text BLOB;
ALTER TABLE sessions ADD COLUMN tls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN trap_hit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN relay_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN relay_domains TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN relay_attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN relay_test INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN forwarded INTEGER NOT NULL DEFAULT 0;
CREATE TABLE totals(
  mode INTEGER PRIMARY KEY,
  sessions INTEGER NOT NULL DEFAULT 0,
  messages INTEGER NOT NULL DEFAULT 0,
  recipients INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  tarpit_seconds REAL NOT NULL DEFAULT 0,
  early_talkers INTEGER NOT NULL DEFAULT 0,
  trap_hits INTEGER NOT NULL DEFAULT 0,
  relay_attempts INTEGER NOT NULL DEFAULT 0
);
-- Totals of what v1 already held, so "since created" stays true.
INSERT INTO totals(mode, sessions, messages, recipients, bytes, tarpit_seconds, early_talkers)
  SELECT mode, count(*), sum(messages), sum(recipient_count), 0,
         sum(CASE WHEN mode = 1 THEN held_seconds ELSE 0 END), sum(early_talker)
  FROM sessions GROUP BY mode;
UPDATE totals SET bytes = (SELECT coalesce(sum(m.size), 0) FROM messages m JOIN sessions s ON s.id = m.session_id
                           WHERE s.mode = totals.mode AND m.accepted = 1);
INSERT OR REPLACE INTO meta(key, value) VALUES('unique_hosts', (SELECT count(*) FROM hosts));
)sql"},
  };
  return steps;
}

bool table_exists(Db& db, const char* name) {
  Stmt st(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  st.bind(1, std::string_view(name));
  return st.step();
}

bool exists(const std::string& p) {
  struct stat sb;
  return ::stat(p.c_str(), &sb) == 0;
}

}  // namespace

std::string compact_utc(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

int schema_version(Db& db) {
  if (!table_exists(db, "schema_migrations")) return 0;
  Stmt st(db, "SELECT coalesce(max(version), 0) FROM schema_migrations");
  st.step();
  return static_cast<int>(st.i64(0));
}

void migrate(Db& db, std::int64_t now_unix, int target) {
  const int have = schema_version(db);
  if (have > kSchemaVersion)
    throw DbError(SQLITE_ERROR, "database schema version " + std::to_string(have) + " is newer than this spamsink (" +
                                    std::to_string(kSchemaVersion) + "); refusing to touch it");
  for (const Migration& m : migrations()) {
    if (m.version <= have || m.version > target) continue;
    Transaction tx(db, true);
    db.exec(m.sql);
    Stmt rec(db, "INSERT INTO schema_migrations(version, applied) VALUES(?1, ?2)");
    rec.bind(1, std::int64_t{m.version}).bind(2, now_unix).run();
    Stmt ver(db, "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?1)");
    ver.bind(1, std::int64_t{m.version}).run();
    if (m.version == 1) {
      Stmt created(db, "INSERT OR IGNORE INTO meta(key, value) VALUES('created', ?1)");
      created.bind(1, now_unix).run();
    }
    tx.commit();
  }
}

namespace {

Db open_and_migrate(const std::string& path, std::int64_t now_unix) {
  Db db(path, Db::Mode::kCreate);
  db.busy_timeout(2000);
  // The first statement that reads the file: a garbage file fails here.
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=NORMAL");
  db.exec("PRAGMA foreign_keys=OFF");
  {
    Stmt st(db, "SELECT count(*) FROM sqlite_master");
    st.step();
  }
  migrate(db, now_unix);
  return db;
}

}  // namespace

OpenResult open_for_writing(const std::string& path, std::int64_t now_unix) {
  OpenResult r;
  try {
    r.db = open_and_migrate(path, now_unix);
    return r;
  } catch (const DbError& e) {
    if (!e.corrupt()) throw;
    r.corrupt_error = e.what();
  }
  r.db = Db();  // closed before the rename
  const std::string aside = path + ".corrupt-" + compact_utc(now_unix);
  if (std::rename(path.c_str(), aside.c_str()) != 0)
    throw DbError(SQLITE_CANTOPEN, "cannot move the corrupt database " + path + " aside to " + aside);
  for (const char* suffix : {"-wal", "-shm"})
    if (exists(path + suffix)) std::rename((path + suffix).c_str(), (aside + suffix).c_str());
  r.moved_aside = aside;
  r.db = open_and_migrate(path, now_unix);
  return r;
}

Db open_for_reading(const std::string& path) {
  if (!exists(path)) throw Error("no database at " + path);
  Db db(path, Db::Mode::kReadWrite);
  db.busy_timeout(1000);
  db.exec("PRAGMA query_only=1");
  const int v = schema_version(db);
  if (v != kSchemaVersion)
    throw Error("database " + path + " has schema version " + std::to_string(v) + ", this spamsink reads " +
                std::to_string(kSchemaVersion) + " (start the daemon once to migrate it)");
  return db;
}

}  // namespace spamsink::store
