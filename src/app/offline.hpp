// app/offline: `spamsink hosts` and `spamsink stats`, the store read
// offline (no daemon, no HTTP) for admins.
//
// Purpose: print the hosts and the totals from the same SQLite database the
// daemon writes, as text or JSON (--json).
// Invariants: read-only (query_only connections, short read transactions);
// safe while the daemon runs (WAL). Peer text (HELO) is escaped: \xNN in
// text, \u00NN in JSON.
#pragma once

#include <string_view>

namespace spamsink::app {

// True when argv[1] names an offline subcommand.
bool is_offline_command(int argc, const char* const* argv);
// Runs it; returns the exit code (0 ok, 1 store error, 2 usage).
int run_offline(int argc, const char* const* argv);

}  // namespace spamsink::app
