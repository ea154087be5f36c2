// store/sqlite: a thin RAII layer over the SQLite C API.
//
// Purpose: open/close, prepared statements with typed binds, and errors
// as store::Error carrying SQLite's primary result code, so the writer can
// tell SQLITE_FULL, SQLITE_BUSY and SQLITE_CORRUPT apart.
// Invariants: a Db or Stmt is used by one thread at a time; Stmt::step()
// throws on anything but SQLITE_ROW / SQLITE_DONE.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/reader.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace spamsink::store {

// A store fault with SQLite's result code (e.g. SQLITE_FULL = 13).
struct DbError : Error {
  DbError(int code, const std::string& what) : Error(what), code(code) {}
  int code;
  bool corrupt() const;  // SQLITE_CORRUPT or SQLITE_NOTADB
};

class Db {
 public:
  enum class Mode { kCreate, kReadWrite };
  Db() = default;
  Db(const std::string& path, Mode mode);
  Db(Db&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Db& operator=(Db&& o) noexcept;
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const char* sql);
  sqlite3* handle() const { return db_; }
  std::int64_t last_rowid() const;
  int changes() const;
  void busy_timeout(int ms);
  [[noreturn]] void fail(int rc, std::string_view what) const;

 private:
  sqlite3* db_ = nullptr;
};

class Stmt {
 public:
  Stmt() = default;
  Stmt(Db& db, const char* sql);
  Stmt(Stmt&& o) noexcept : db_(o.db_), st_(o.st_) { o.st_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Binds are 1-based, like SQLite's.
  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, double v);
  Stmt& bind(int i, std::string_view text);
  Stmt& bind_blob(int i, const void* p, std::size_t n);
  Stmt& bind_null(int i);
  // True: a row is ready; false: done.
  bool step();
  void reset();  // also clears the binds
  // Steps until done (for INSERT/UPDATE/DELETE), then resets.
  void run();

  std::int64_t i64(int col) const;
  double f64(int col) const;
  std::string text(int col) const;
  std::string_view blob(int col) const;
  bool is_null(int col) const;

 private:
  Db* db_ = nullptr;
  sqlite3_stmt* st_ = nullptr;
};

// BEGIN ... COMMIT; rolls back if destroyed before commit().
class Transaction {
 public:
  explicit Transaction(Db& db, bool immediate = false);
  ~Transaction();
  void commit();

 private:
  Db& db_;
  bool open_ = true;
};

}  // namespace spamsink::store
