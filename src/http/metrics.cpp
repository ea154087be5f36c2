#include "http/metrics.hpp"

#include <charconv>
#include <cmath>

namespace spamsink::http {

namespace {

void append_value(double v, std::string& out) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_value(std::uint64_t v, std::string& out) { out += std::to_string(v); }

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void labels(std::string& out, std::string_view listener, core::Mode mode, std::string_view extra_key = {},
            std::string_view extra_value = {}) {
  out += "{listener=\"";
  escape_label(listener, out);
  out += "\",mode=\"";
  out += core::to_string(mode);
  out += '"';
  if (!extra_key.empty()) {
    out += ',';
    out += extra_key;
    out += "=\"";
    escape_label(extra_value, out);
    out += '"';
  }
  out += '}';
}

template <class Field>
void per_listener(std::string& out, const store::MetricsSnapshot& s, const char* name, const char* type,
                  const char* help, Field field) {
  header(out, name, type, help);
  for (const auto& l : s.listeners) {
    out += name;
    labels(out, l.listener, l.mode);
    out += ' ';
    append_value(field(l), out);
    out += '\n';
  }
}

void histogram(std::string& out, const store::MetricsSnapshot& s, const char* name, const char* help,
               const store::Histogram store::ListenerCounters::*field) {
  header(out, name, "histogram", help);
  const std::string bucket = std::string(name) + "_bucket";
  for (const auto& l : s.listeners) {
    const store::Histogram& h = l.*field;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < store::kDurationBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      std::string le;
      append_value(store::kDurationBuckets[i], le);
      out += bucket;
      labels(out, l.listener, l.mode, "le", le);
      out += ' ' + std::to_string(cumulative) + '\n';
    }
    out += bucket;
    labels(out, l.listener, l.mode, "le", "+Inf");
    // count includes what lies above the last bucket; never below the buckets
    out += ' ' + std::to_string(std::max(h.count, cumulative)) + '\n';
    out += name;
    out += "_sum";
    labels(out, l.listener, l.mode);
    out += ' ';
    append_value(h.sum, out);
    out += '\n';
    out += name;
    out += "_count";
    labels(out, l.listener, l.mode);
    out += ' ' + std::to_string(std::max(h.count, cumulative)) + '\n';
  }
}

void scalar(std::string& out, const char* name, const char* type, const char* help, std::uint64_t v) {
  header(out, name, type, help);
  out += name;
  out += ' ' + std::to_string(v) + '\n';
}

}  // namespace

void escape_label(std::string_view v, std::string& out) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

std::string render_metrics(const store::MetricsSnapshot* snapshot, const std::vector<OpenSessions>& open,
                           double start_time_seconds) {
  std::string out;
  out.reserve(4096);
  header(out, "spamsink_sessions_open", "gauge", "Sessions open now, per listener.");
  for (const auto& o : open) {
    out += "spamsink_sessions_open";
    labels(out, o.listener, o.mode);
    out += ' ' + std::to_string(o.open) + '\n';
  }
  header(out, "spamsink_start_time_seconds", "gauge", "Start time of the process, seconds since the epoch.");
  out += "spamsink_start_time_seconds ";
  append_value(start_time_seconds, out);
  out += '\n';
  if (snapshot == nullptr) return out;
  const auto& s = *snapshot;
  using L = store::ListenerCounters;
  per_listener(out, s, "spamsink_sessions_total", "counter", "Sessions that ended, per listener.",
               [](const L& l) { return l.sessions; });
  header(out, "spamsink_sessions_ended_total", "counter", "Sessions that ended, per listener and end reason.");
  for (const auto& l : s.listeners)
    for (std::size_t r = 0; r < core::kEndReasonCount; ++r) {
      out += "spamsink_sessions_ended_total";
      labels(out, l.listener, l.mode, "reason", core::to_string(static_cast<core::EndReason>(r)));
      out += ' ' + std::to_string(l.ended_by[r]) + '\n';
    }
  per_listener(out, s, "spamsink_messages_total", "counter", "Messages accepted and discarded.",
               [](const L& l) { return l.messages; });
  per_listener(out, s, "spamsink_recipients_total", "counter", "Recipients accepted.",
               [](const L& l) { return l.recipients; });
  per_listener(out, s, "spamsink_message_bytes_total", "counter", "Bytes of accepted messages, discarded.",
               [](const L& l) { return l.bytes; });
  per_listener(out, s, "spamsink_tarpit_seconds_total", "counter", "Seconds clients were held in the tarpit.",
               [](const L& l) { return l.tarpit_seconds; });
  per_listener(out, s, "spamsink_early_talkers_total", "counter", "Sessions that talked before the greeting.",
               [](const L& l) { return l.early_talkers; });
  per_listener(out, s, "spamsink_trap_hits_total", "counter", "Sessions with a spamtrap recipient.",
               [](const L& l) { return l.trap_hits; });
  per_listener(out, s, "spamsink_relay_attempts_total", "counter", "Messages that were relay attempts.",
               [](const L& l) { return l.relay_attempts; });
  histogram(out, s, "spamsink_session_duration_seconds", "Session duration, accept to close.",
            &store::ListenerCounters::session_duration);
  histogram(out, s, "spamsink_tarpit_hold_seconds", "Time a tarpit connection was held.",
            &store::ListenerCounters::tarpit_hold);
  scalar(out, "spamsink_store_queue_depth", "gauge", "Events waiting for the store writer.", s.queue_depth);
  scalar(out, "spamsink_store_queue_capacity", "gauge", "Capacity of the store queue, events.", s.queue_capacity);
  scalar(out, "spamsink_store_events_dropped_total", "counter", "Events dropped because the store queue was full.",
         s.events_dropped);
  scalar(out, "spamsink_store_errors_total", "counter", "Store errors (write or read faults).", s.store_errors);
  scalar(out, "spamsink_store_batches_written_total", "counter", "Transactions the store writer committed.",
         s.batches_written);
  return out;
}

}  // namespace spamsink::http
