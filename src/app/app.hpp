// app/app: wiring, signals and privileges; the whole daemon.
//
// Purpose: parse the config, bind, drop privileges, run the workers, and
// answer signals: TERM/INT drain and exit 0, HUP reloads (a bad file keeps
// the old config), USR1 logs the totals.
#pragma once

namespace spamsink::app {

// Runs spamsink; returns the process exit code (0 ok, 1 runtime failure,
// 2 bad usage or config).
int run(int argc, const char* const* argv);

}  // namespace spamsink::app
