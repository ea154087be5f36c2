// loadgen/engine: smtpsend's Asio driver.
//
// Purpose: run the ClientSessions of a load over real sockets, or the
// --hold / --early-talk probes, and collect Stats.
// Invariants:
//  - every wait has a limit: connecting and each reply get --timeout, a
//    held connection gets --hold-time; a per-thread watchdog (one timer per
//    thread, 100 ms) cancels the overdue ones, so no timer is armed per read;
//  - a sender reads replies into its own 16 KiB buffer with async_read_some
//    (no epoll_ctl per reply; the server's wait-then-read trades that
//    syscall for memory, a client need not); probes read into a per-thread
//    64 KiB buffer; message bodies are sent from the shared template with
//    sendmsg, never copied;
//  - the run stops by itself: after -n messages, after -t seconds, or when
//    connecting keeps failing (kMaxConnectFailures in a row per sender).
#pragma once

#include <functional>
#include <string>

#include "loadgen/client_session.hpp"
#include "loadgen/options.hpp"
#include "loadgen/stats.hpp"

namespace spamsink::loadgen {

struct RunResult {
  Stats stats;
  double seconds = 0;
  std::string error;         // why the run stopped early, if it did
  std::string early_report;  // --early-talk: what the server said
};

// Renders the message every connection sends.
MessageTemplate make_template(const Options& o);

// Runs what the options ask for. `progress` (may be empty) is called about
// once a second with the messages done so far.
RunResult run(const Options& o, const std::function<void(std::uint64_t ok, std::uint64_t failed, double secs)>& progress);

// The summary: smtp-benchmark's lines first, then ours; or JSON.
std::string format_summary(const Options& o, const RunResult& r);
std::string format_json(const Options& o, const RunResult& r);

}  // namespace spamsink::loadgen
