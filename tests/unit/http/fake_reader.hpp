// tests/unit/http/fake_reader: an in-memory store::Reader for the API tests.
//
// Holds hosts and sessions in vectors, answers the queries the way the
// contract in store/reader.hpp says (order, since, limit, cursor = the
// offset as decimal text), and can be told to throw store::Error to test
// the 503 path. Test-only: the product wires the real store.
#pragma once

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "store/reader.hpp"

namespace spamsink::http::testing {

class FakeReader : public store::Reader, public store::MetricsSource {
 public:
  bool history = true;
  std::atomic<bool> fail{false};
  store::Stats totals;
  std::vector<store::HostRow> host_rows;
  std::vector<store::SessionRow> session_rows;
  store::MetricsSnapshot snapshot;
  mutable std::atomic<int> blocklist_batches{0};

  bool has_history() const override { return history; }
  store::Stats stats() override {
    check();
    return totals;
  }
  store::HostPage hosts(const store::HostQuery& q) override {
    check();
    std::vector<store::HostRow> rows;
    for (const auto& h : host_rows)
      if (!q.since || h.last_seen >= *q.since) rows.push_back(h);
    std::stable_sort(rows.begin(), rows.end(), [&](const auto& a, const auto& b) {
      switch (q.order) {
        case store::HostOrder::kSessions: return a.sessions > b.sessions;
        case store::HostOrder::kMessages: return a.messages > b.messages;
        case store::HostOrder::kTarpitSeconds: return a.tarpit_seconds > b.tarpit_seconds;
        default: return a.last_seen > b.last_seen;
      }
    });
    return page<store::HostPage>(rows, q.limit, q.cursor);
  }
  std::optional<store::HostRow> host(const core::IpAddress& ip) override {
    check();
    for (const auto& h : host_rows)
      if (h.ip == ip) return h;
    return std::nullopt;
  }
  store::SessionPage sessions(const store::SessionQuery& q) override {
    check();
    last_session_query = q;
    std::vector<store::SessionRow> rows;
    for (const auto& s : session_rows) {
      if (q.ip && s.ip != *q.ip) continue;
      if (q.mode && s.mode != *q.mode) continue;
      if (q.listener && s.listener != *q.listener) continue;
      if (q.reason && s.reason != *q.reason) continue;
      if (q.since && s.start < *q.since) continue;
      if (q.until && s.start >= *q.until) continue;
      rows.push_back(s);
    }
    return page<store::SessionPage>(rows, q.limit, q.cursor);
  }
  void blocklist(const store::BlocklistQuery& q, const std::function<bool(const store::HostRow&)>& emit) override {
    check();
    std::vector<const store::HostRow*> rows;
    for (const auto& h : host_rows)
      if (h.sessions >= q.min_sessions && (!q.since || h.last_seen >= *q.since)) rows.push_back(&h);
    std::sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->ip.bytes < b->ip.bytes; });
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (i % store::kReadBatch == 0) ++blocklist_batches;
      if (fail_after_rows >= 0 && static_cast<long>(i) == fail_after_rows) throw store::Error("disk I/O error");
      if (!emit(*rows[i])) return;
    }
  }
  store::MetricsSnapshot metrics() const override { return snapshot; }

  store::SessionQuery last_session_query;
  long fail_after_rows = -1;

 private:
  void check() {
    if (fail) throw store::Error("database is locked");
  }
  template <class Page, class Row>
  static Page page(const std::vector<Row>& rows, std::size_t limit, const std::string& cursor) {
    if (cursor.find_first_not_of("0123456789") != std::string::npos) throw store::BadQuery("not a cursor");
    std::size_t off = cursor.empty() ? 0 : std::stoul(cursor);
    Page p;
    for (std::size_t i = off; i < rows.size() && p.rows.size() < limit; ++i) p.rows.push_back(rows[i]);
    if (off + p.rows.size() < rows.size()) p.next_cursor = std::to_string(off + p.rows.size());
    return p;
  }
};

}  // namespace spamsink::http::testing
