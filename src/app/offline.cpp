#include "app/offline.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "core/event_sink.hpp"
#include "store/reader.hpp"
#include "store/sqlite_reader.hpp"
#include "store/time_text.hpp"

namespace spamsink::app {

namespace {

std::string escape_text(std::string_view v) {
  std::string out;
  for (unsigned char c : v) {
    if (c >= 0x21 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char b[5];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  return out;
}

std::string json_string(std::string_view v) {
  std::string out = "\"";
  for (unsigned char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    }
  }
  return out + "\"";
}

std::string num(double d) {
  char b[40];
  std::snprintf(b, sizeof b, "%.3f", d);
  return b;
}

void print_stats(const store::Stats& s, bool json) {
  static constexpr const char* kModes[] = {"sink", "tarpit", "relay"};
  if (!json) {
    std::printf("since           %s\n", store::format_rfc3339(s.since).c_str());
    std::printf("messages        %llu\n", static_cast<unsigned long long>(s.messages));
    std::printf("recipients      %llu\n", static_cast<unsigned long long>(s.recipients));
    std::printf("bytes_discarded %llu\n", static_cast<unsigned long long>(s.bytes_discarded));
    std::printf("sessions_total  %llu\n", static_cast<unsigned long long>(s.sessions_total));
    std::printf("tarpit_seconds  %s\n", num(s.tarpit_seconds).c_str());
    std::printf("unique_hosts    %llu\n", static_cast<unsigned long long>(s.unique_hosts));
    std::printf("early_talkers   %llu\n", static_cast<unsigned long long>(s.early_talkers));
    std::printf("trap_hits       %llu\n", static_cast<unsigned long long>(s.trap_hits));
    std::printf("relay_attempts  %llu\n", static_cast<unsigned long long>(s.relay_attempts));
    for (std::size_t i = 0; i < s.per_mode.size(); ++i) {
      const auto& m = s.per_mode[i];
      std::printf("%-6s sessions=%llu messages=%llu recipients=%llu bytes=%llu tarpit_seconds=%s\n", kModes[i],
                  static_cast<unsigned long long>(m.sessions), static_cast<unsigned long long>(m.messages),
                  static_cast<unsigned long long>(m.recipients), static_cast<unsigned long long>(m.bytes),
                  num(m.tarpit_seconds).c_str());
    }
    return;
  }
  std::string out = "{";
  auto field = [&](const char* k, const std::string& v) { out += (out.size() > 1 ? "," : "") + json_string(k) + ":" + v; };
  field("since", json_string(store::format_rfc3339(s.since)));
  field("messages", std::to_string(s.messages));
  field("recipients", std::to_string(s.recipients));
  field("bytes_discarded", std::to_string(s.bytes_discarded));
  field("sessions_total", std::to_string(s.sessions_total));
  field("tarpit_seconds", num(s.tarpit_seconds));
  field("unique_hosts", std::to_string(s.unique_hosts));
  field("early_talkers", std::to_string(s.early_talkers));
  field("trap_hits", std::to_string(s.trap_hits));
  field("relay_attempts", std::to_string(s.relay_attempts));
  std::string modes = "{";
  for (std::size_t i = 0; i < s.per_mode.size(); ++i) {
    const auto& m = s.per_mode[i];
    modes += std::string(i ? "," : "") + json_string(kModes[i]) + ":{\"sessions\":" + std::to_string(m.sessions) +
             ",\"messages\":" + std::to_string(m.messages) + ",\"recipients\":" + std::to_string(m.recipients) +
             ",\"bytes\":" + std::to_string(m.bytes) + ",\"tarpit_seconds\":" + num(m.tarpit_seconds) + "}";
  }
  field("per_mode", modes + "}");
  std::printf("%s}\n", out.c_str());
}

std::string host_json(const store::HostRow& h) {
  return "{\"ip\":" + json_string(h.ip.to_string()) + ",\"first_seen\":" + json_string(store::format_rfc3339(h.first_seen)) +
         ",\"last_seen\":" + json_string(store::format_rfc3339(h.last_seen)) + ",\"sessions\":" + std::to_string(h.sessions) +
         ",\"messages\":" + std::to_string(h.messages) + ",\"recipients\":" + std::to_string(h.recipients) +
         ",\"bytes\":" + std::to_string(h.bytes) + ",\"tarpit_seconds\":" + num(h.tarpit_seconds) +
         ",\"early_talks\":" + std::to_string(h.early_talks) + ",\"trap_hits\":" + std::to_string(h.trap_hits) +
         ",\"last_helo\":" + json_string(h.last_helo) + "}";
}

}  // namespace

bool is_offline_command(int argc, const char* const* argv) {
  if (argc < 2) return false;
  const std::string_view c = argv[1];
  return c == "hosts" || c == "stats";
}

int run_offline(int argc, const char* const* argv) {
  const std::string cmd = argv[1];
  const bool hosts = cmd == "hosts";
  CLI::App cli{hosts ? "spamsink hosts: the hosts in the store, newest first (read offline; safe while the daemon runs)"
                     : "spamsink stats: the store's totals since it was created (read offline)",
               "spamsink " + cmd};
  cli.set_help_flag("-h,--help", "print this help and exit");
  std::string db, state_dir = "var", since, order = "last_seen";
  bool json = false;
  std::size_t limit = 0;
  cli.add_option("--db", db, "the database (default STATE_DIR/spamsink.db)")->type_name("PATH");
  cli.add_option("--state-dir", state_dir, "the daemon's state directory (default var)")->type_name("DIR");
  cli.add_flag("--json", json, hosts ? "one JSON array of host objects" : "one JSON object");
  if (hosts) {
    cli.add_option("--since", since, "only hosts seen at or after this time, e.g. 2026-11-25T00:00:00Z")
        ->type_name("RFC3339");
    cli.add_option("--order", order, "last_seen, sessions, messages or tarpit_seconds (default last_seen), descending")
        ->type_name("KEY");
    cli.add_option("--limit", limit, "at most this many hosts (default 0 = all)")->type_name("N");
  }
  try {
    cli.parse(argc - 1, argv + 1);
  } catch (const CLI::CallForHelp&) {
    std::fputs(cli.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "spamsink %s: %s\nRun 'spamsink %s --help' for the options.\n", cmd.c_str(), e.what(), cmd.c_str());
    return 2;
  }
  if (db.empty()) db = state_dir + "/spamsink.db";
  if (db == "none") {
    std::fprintf(stderr, "spamsink %s: --db none has no history to read\n", cmd.c_str());
    return 2;
  }
  store::HostQuery q;
  if (hosts) {
    if (!since.empty()) {
      q.since = store::parse_rfc3339(since);
      if (!q.since) {
        std::fprintf(stderr, "spamsink hosts: --since: bad value '%s': an RFC 3339 time, e.g. 2026-11-25T00:00:00Z\n",
                     escape_text(since).c_str());
        return 2;
      }
    }
    if (order == "last_seen") q.order = store::HostOrder::kLastSeen;
    else if (order == "sessions") q.order = store::HostOrder::kSessions;
    else if (order == "messages") q.order = store::HostOrder::kMessages;
    else if (order == "tarpit_seconds") q.order = store::HostOrder::kTarpitSeconds;
    else {
      std::fprintf(stderr, "spamsink hosts: --order: bad value '%s': last_seen, sessions, messages or tarpit_seconds\n",
                   escape_text(order).c_str());
      return 2;
    }
  }
  try {
    store::SqliteReader reader(db);
    if (!hosts) {
      print_stats(reader.stats(), json);
      return 0;
    }
    if (json) std::fputs("[", stdout);
    else
      std::printf("%-39s %-20s %-20s %9s %9s %10s %12s %12s %5s %5s %s\n", "ip", "first_seen", "last_seen", "sessions",
                  "messages", "recipients", "bytes", "tarpit_s", "early", "traps", "last_helo");
    std::size_t printed = 0;
    for (;;) {
      q.limit = store::kMaxPageLimit;
      if (limit && limit - printed < q.limit) q.limit = limit - printed;
      store::HostPage page = reader.hosts(q);
      for (const auto& h : page.rows) {
        if (json) {
          std::printf("%s%s", printed ? ",\n" : "\n", host_json(h).c_str());
        } else {
          std::printf("%-39s %-20s %-20s %9llu %9llu %10llu %12llu %12s %5llu %5llu %s\n", h.ip.to_string().c_str(),
                      store::format_rfc3339(h.first_seen).c_str(), store::format_rfc3339(h.last_seen).c_str(),
                      static_cast<unsigned long long>(h.sessions), static_cast<unsigned long long>(h.messages),
                      static_cast<unsigned long long>(h.recipients), static_cast<unsigned long long>(h.bytes),
                      num(h.tarpit_seconds).c_str(), static_cast<unsigned long long>(h.early_talks),
                      static_cast<unsigned long long>(h.trap_hits), escape_text(h.last_helo).c_str());
        }
        ++printed;
      }
      if (page.next_cursor.empty() || (limit && printed >= limit)) break;
      q.cursor = page.next_cursor;
    }
    if (json) std::fputs(printed ? "\n]\n" : "]\n", stdout);
    return 0;
  } catch (const store::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "spamsink %s: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}

}  // namespace spamsink::app
