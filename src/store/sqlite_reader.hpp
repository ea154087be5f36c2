// store/sqlite_reader: the Reader over a SQLite database file.
//
// Purpose: the read side shared by the daemon (HTTP API) and the offline
// CLI; it never writes.
// Invariants: every call takes a connection from a small pool (opened on
// demand, at most kReaderPool kept) under a mutex, and runs one short read
// transaction; blocklist() uses one transaction per kReadBatch rows and
// calls `emit` outside any transaction, so a slow HTTP client never holds a
// WAL snapshot. Cursors are keyset positions (order value + address for
// hosts, session id for sessions), stable while rows are added.
// Errors: store::Error on a database fault; BadQuery (an Error) on a cursor
// that does not parse.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/reader.hpp"
#include "store/sqlite.hpp"

namespace spamsink::store {

inline constexpr std::size_t kReaderPool = 4;

class SqliteReader final : public Reader {
 public:
  // Opens nothing yet; the first call opens (and checks) the file.
  explicit SqliteReader(std::string path);
  bool has_history() const override { return true; }
  Stats stats() override;
  HostPage hosts(const HostQuery& q) override;
  std::optional<HostRow> host(const core::IpAddress& ip) override;
  SessionPage sessions(const SessionQuery& q) override;
  void blocklist(const BlocklistQuery& q, const std::function<bool(const HostRow&)>& emit) override;

 private:
  class Lease;
  std::unique_ptr<Db> acquire();
  void release(std::unique_ptr<Db> db);

  std::string path_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Db>> idle_;
};

}  // namespace spamsink::store
