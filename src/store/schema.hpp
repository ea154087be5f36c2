// store/schema: the SQLite schema, its versions and migrations, and how a
// database file is opened (WAL, synchronous=NORMAL, corrupt files moved
// aside).
//
// Purpose: one ordered list of migration steps; a database at version v
// gets steps v+1..kSchemaVersion, each in its own transaction, recorded in
// `schema_migrations` and in meta.schema_version. meta.created is the
// "since" of every total.
// Invariants: a database newer than this binary is refused, never
// downgraded. A file SQLite calls corrupt (SQLITE_CORRUPT, SQLITE_NOTADB)
// at open is renamed `<name>.corrupt-<UTC timestamp>` (its -wal and -shm
// too) and a fresh database is created; the caller logs that loudly.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "store/sqlite.hpp"

namespace spamsink::store {

inline constexpr int kSchemaVersion = 2;

// The schema version recorded in `db` (0: empty database).
int schema_version(Db& db);

// Applies the migration steps after the current version up to `target`
// (tests stop early to build an old database). `now_unix` stamps meta.created
// when the database is new.
void migrate(Db& db, std::int64_t now_unix, int target = kSchemaVersion);

struct OpenResult {
  Db db;
  std::string moved_aside;  // non-empty: the corrupt file now has this name
  std::string corrupt_error;  // what SQLite said about it
};

// Opens (creating if needed) the database at `path` for writing, in WAL
// mode with synchronous=NORMAL, migrated to the current version.
// Throws DbError when the file cannot be opened for another reason
// (permissions, a directory, a newer schema).
OpenResult open_for_writing(const std::string& path, std::int64_t now_unix);

// Opens an existing database for the read side (API, CLI): no create,
// query_only, a busy timeout. Throws Error if it is missing or its schema is
// not the current one.
Db open_for_reading(const std::string& path);

// "20261125T041500Z"
std::string compact_utc(std::int64_t unix_seconds);

}  // namespace spamsink::store
