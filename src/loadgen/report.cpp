// The run's summary: smtp-benchmark's four lines first, then ours.
#include <cstdio>
#include <string>

#include "loadgen/engine.hpp"

namespace spamsink::loadgen {

namespace {

std::string fmt(const char* f, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, args...);
  return buf;
}

std::string latency_line(const char* name, const Histogram& h) {
  if (h.count() == 0) return {};
  return fmt("%s latency (ms): p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  (%llu samples)\n", name,
             static_cast<double>(h.percentile(50)) / 1000.0, static_cast<double>(h.percentile(90)) / 1000.0,
             static_cast<double>(h.percentile(99)) / 1000.0, static_cast<double>(h.max()) / 1000.0,
             static_cast<unsigned long long>(h.count()));
}

std::string json_hist(const Histogram& h) {
  return fmt("{\"count\":%llu,\"min\":%llu,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"max\":%llu,\"mean\":%.1f}",
             static_cast<unsigned long long>(h.count()), static_cast<unsigned long long>(h.min()),
             static_cast<unsigned long long>(h.percentile(50)),
             static_cast<unsigned long long>(h.percentile(90)), static_cast<unsigned long long>(h.percentile(99)),
             static_cast<unsigned long long>(h.max()), h.mean());
}

}  // namespace

std::string format_summary(const Options& o, const RunResult& r) {
  const Stats& s = r.stats;
  std::string out;
  if (o.hold > 0) {
    out += fmt("Held %llu connections (%llu closed by the server, %llu still open at --hold-time %.1f s)\n",
               static_cast<unsigned long long>(s.held), static_cast<unsigned long long>(s.hold_closed_by_server),
               static_cast<unsigned long long>(s.hold_timed_out), o.hold_time);
    if (s.hold_time.count())
      out += fmt("held (s): min %.3f  p50 %.3f  p90 %.3f  max %.3f\n", static_cast<double>(s.hold_time.min()) / 1e6,
                 static_cast<double>(s.hold_time.percentile(50)) / 1e6,
                 static_cast<double>(s.hold_time.percentile(90)) / 1e6, static_cast<double>(s.hold_time.max()) / 1e6);
    if (s.hold_bytes.count())
      out += fmt("bytes received per connection: min %llu  p50 %llu  max %llu  (total %llu)\n",
                 static_cast<unsigned long long>(s.hold_bytes.min()),
                 static_cast<unsigned long long>(s.hold_bytes.percentile(50)),
                 static_cast<unsigned long long>(s.hold_bytes.max()),
                 static_cast<unsigned long long>(s.bytes_received));
    out += latency_line("first byte", s.first_byte);
    out += latency_line("full greeting", s.greeting_done);
  } else if (o.early_talk) {
    out += r.early_report;
  } else {
    const double n = static_cast<double>(s.messages_ok);
    const double t = r.seconds > 0 ? r.seconds : 1e-9;
    out += fmt("Sent %llu messages in %.3f seconds\n", static_cast<unsigned long long>(s.messages_ok), r.seconds);
    out += fmt("%.2f messages per minute\n", n * 60.0 / t);
    out += fmt("%.2f messages per second\n", n / t);
    out += fmt("%.6f seconds per message (average)\n", n > 0 ? t / n : 0.0);
    out += fmt("%llu messages failed, %llu connections, %llu bytes sent\n",
               static_cast<unsigned long long>(s.messages_failed), static_cast<unsigned long long>(s.connections),
               static_cast<unsigned long long>(s.bytes_sent));
    out += latency_line("message", s.message_latency);
    out += latency_line("connection", s.connection_latency);
  }
  if (s.reply_errors()) {
    out += "error replies:";
    for (std::size_t c = 0; c < s.reply_codes.size(); ++c)
      if (s.reply_codes[c]) out += fmt(" %zu x%llu", c, static_cast<unsigned long long>(s.reply_codes[c]));
    out += "\n";
  }
  if (s.failures_total()) {
    out += "failures:";
    for (std::size_t k = 0; k < s.failures.size(); ++k)
      if (s.failures[k])
        out += fmt(" %s %llu", std::string(to_string(static_cast<FailKind>(k))).c_str(),
                   static_cast<unsigned long long>(s.failures[k]));
    out += "\n";
  }
  if (!r.error.empty()) out += "stopped early: " + r.error + "\n";
  return out;
}

std::string format_json(const Options& o, const RunResult& r) {
  const Stats& s = r.stats;
  const double n = static_cast<double>(s.messages_ok);
  const double t = r.seconds > 0 ? r.seconds : 1e-9;
  std::string out = "{";
  out += fmt("\"messages_sent\":%llu,\"messages_failed\":%llu,\"seconds\":%.6f,", static_cast<unsigned long long>(s.messages_ok),
             static_cast<unsigned long long>(s.messages_failed), r.seconds);
  out += fmt("\"messages_per_second\":%.3f,\"messages_per_minute\":%.3f,\"seconds_per_message\":%.9f,", n / t,
             n * 60.0 / t, n > 0 ? t / n : 0.0);
  out += fmt("\"connections\":%llu,\"bytes_sent\":%llu,\"bytes_received\":%llu,",
             static_cast<unsigned long long>(s.connections), static_cast<unsigned long long>(s.bytes_sent),
             static_cast<unsigned long long>(s.bytes_received));
  out += "\"latency_us\":{\"message\":" + json_hist(s.message_latency) +
         ",\"connection\":" + json_hist(s.connection_latency) + "},";
  out += "\"reply_codes\":{";
  bool first = true;
  for (std::size_t c = 0; c < s.reply_codes.size(); ++c)
    if (s.reply_codes[c]) {
      out += fmt("%s\"%zu\":%llu", first ? "" : ",", c, static_cast<unsigned long long>(s.reply_codes[c]));
      first = false;
    }
  out += "},\"failures\":{";
  for (std::size_t k = 0; k < s.failures.size(); ++k)
    out += fmt("%s\"%s\":%llu", k ? "," : "", std::string(to_string(static_cast<FailKind>(k))).c_str(),
               static_cast<unsigned long long>(s.failures[k]));
  out += "}";
  if (o.hold > 0) {
    out += fmt(",\"hold\":{\"held\":%llu,\"closed_by_server\":%llu,\"timed_out\":%llu,",
               static_cast<unsigned long long>(s.held), static_cast<unsigned long long>(s.hold_closed_by_server),
               static_cast<unsigned long long>(s.hold_timed_out));
    out += "\"held_us\":" + json_hist(s.hold_time) + ",\"bytes\":" + json_hist(s.hold_bytes) +
           ",\"first_byte_us\":" + json_hist(s.first_byte) + ",\"greeting_us\":" + json_hist(s.greeting_done) + "}";
  }
  if (o.early_talk) {
    out += ",\"early_talk\":\"";
    for (char c : r.early_report) {
      if (c == '"' || c == '\\') out += '\\', out += c;
      else if (c == '\n') out += "\\n";
      else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) out += fmt("\\u%04x", static_cast<unsigned char>(c));
      else out += c;
    }
    out += "\"";
  }
  if (!r.error.empty()) out += ",\"error\":\"" + r.error + "\"";
  out += "}\n";
  return out;
}

}  // namespace spamsink::loadgen
