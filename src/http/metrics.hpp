// http/metrics: /metrics in the Prometheus text format (0.0.4).
//
// Purpose: render the store's live counters (store::MetricsSnapshot) and
// the listeners' open-connection counts as `spamsink_*` series.
// Invariants: labels are listener, mode and (for ended sessions) reason
// only: never an address, so the series count is bounded by listeners x
// reasons; label values are escaped; histogram buckets are cumulative and
// end with +Inf = _count; every family has one HELP and one TYPE line.
// Limits: none beyond the listener count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/event_sink.hpp"
#include "store/reader.hpp"

namespace spamsink::http {

struct OpenSessions {
  std::string listener;  // the listener's name in session records
  core::Mode mode = core::Mode::kSink;
  std::uint32_t open = 0;
};

// `snapshot` may be null (no store wired): the store families are omitted.
std::string render_metrics(const store::MetricsSnapshot* snapshot, const std::vector<OpenSessions>& open,
                           double start_time_seconds);

// Appends `v` escaped for a label value (\\, \", \n).
void escape_label(std::string_view v, std::string& out);

}  // namespace spamsink::http
