#include "app/config.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <asio/ip/address.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>
#include <toml++/toml.h>

#include "core/cidr.hpp"
#include "core/units.hpp"
#include "http/api.hpp"
#include "smtp/replies.hpp"

namespace spamsink::app {

namespace {

using Setter = std::function<std::string(Config&, std::string_view)>;
using LimitSetter = std::function<std::string(core::Limits&, std::string_view)>;

struct Key {
  std::string name;  // TOML key; the flag is the same with '-' for '_'
  std::string type;  // shown in --help: SIZE, DURATION, N, ...
  std::string help;
  Setter set;
  // A list: the flag is repeatable and the TOML value an array; the setter
  // gets the items comma-joined and replaces the whole list (flags replace
  // the file's list, as for every other key).
  bool list = false;
};

std::string flag_of(const std::string& key) {
  std::string f = "--" + key;
  for (char& c : f)
    if (c == '_') c = '-';
  return f;
}

std::string bad(std::string_view key, std::string_view value, std::string_view allowed) {
  return std::string(key) + ": bad value '" + std::string(value) + "': " + std::string(allowed);
}

template <class T>
std::optional<T> parse_uint(std::string_view v, T max) {
  T out{};
  if (v.empty() || v.front() < '0' || v.front() > '9') return std::nullopt;  // no sign, no space
  auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (r.ec != std::errc{} || r.ptr != v.data() + v.size() || out > max) return std::nullopt;
  return out;
}

LimitSetter size_limit(std::string key, std::size_t core::Limits::*field, std::uint64_t min, std::uint64_t max) {
  return [=](core::Limits& l, std::string_view v) -> std::string {
    auto n = core::parse_size(v);
    if (!n || *n < min || *n > max)
      return bad(key, v, "a size in bytes (K, M, G allowed) from " + std::to_string(min) + " to " + std::to_string(max));
    l.*field = static_cast<std::size_t>(*n);
    return {};
  };
}

LimitSetter u64_size_limit(std::string key, std::uint64_t core::Limits::*field) {
  return [=](core::Limits& l, std::string_view v) -> std::string {
    auto n = core::parse_size(v);
    if (!n || *n < 1 || *n > (std::uint64_t{1} << 40))
      return bad(key, v, "a size in bytes (K, M, G allowed), at least 1, at most 1T");
    l.*field = *n;
    return {};
  };
}

LimitSetter count_limit(std::string key, std::uint32_t core::Limits::*field, std::uint32_t min) {
  return [=](core::Limits& l, std::string_view v) -> std::string {
    auto n = parse_uint<std::uint32_t>(v, 100'000'000);
    if (!n || *n < min)
      return bad(key, v, "a whole number from " + std::to_string(min) + " to 100000000" +
                             (min == 0 ? " (0 = no limit)" : ""));
    l.*field = *n;
    return {};
  };
}

LimitSetter duration_limit(std::string key, core::Duration core::Limits::*field) {
  return [=](core::Limits& l, std::string_view v) -> std::string {
    auto d = core::parse_duration(v);
    if (!d || *d < core::Millis{100})
      return bad(key, v, "a duration of at least 100ms (ms, s, m, h, d; a bare number is seconds)");
    l.*field = *d;
    return {};
  };
}

// A key whose value is one of a few words: one setter for all of them.
template <class T>
Setter choice(std::string key, std::vector<std::pair<std::string, T>> options, T& (*field)(Config&)) {
  std::string allowed;
  for (std::size_t i = 0; i < options.size(); ++i)
    allowed += (i == 0 ? "" : i + 1 == options.size() ? " or " : ", ") + options[i].first;
  return [=](Config& c, std::string_view v) -> std::string {
    for (const auto& [word, value] : options)
      if (v == word) {
        field(c) = value;
        return {};
      }
    return bad(key, v, allowed);
  };
}

struct LimitKey {
  std::string name, type, help;
  LimitSetter set;
};

// Keys valid globally and in a [[listener]] table.
const std::vector<LimitKey>& limit_keys() {
  using L = core::Limits;
  static const std::vector<LimitKey> keys = {
      {"line_length_limit", "SIZE",
       "longest command line kept, bytes (min 512; default: the persona's, postfix 2048); what a longer line gets "
       "is the persona's",
       size_limit("line_length_limit", &L::line_length_bytes, L::kMinLineLength, L::kMaxLineLength)},
      {"body_line_limit", "SIZE", "body lines longer than this are counted as long lines, bytes (default 2048)",
       size_limit("body_line_limit", &L::body_line_bytes, 1, std::uint64_t{1} << 30)},
      {"message_size_limit", "SIZE", "largest message accepted, bytes (default 10240000)",
       u64_size_limit("message_size_limit", &L::message_size_bytes)},
      {"recipient_limit", "N", "recipients accepted per message (default 1000)",
       count_limit("recipient_limit", &L::recipients_per_message, 1)},
      {"recipient_overshoot_limit", "N",
       "recipients refused past recipient_limit before each counts as an error (default 1000)",
       count_limit("recipient_overshoot_limit", &L::recipient_overshoot, 0)},
      {"error_limit", "N", "error replies per session before the persona's too-many-errors reply and close (default: the "
                          "persona's, postfix 20)",
       count_limit("error_limit", &L::errors_per_session, 1)},
      {"junk_command_limit", "N", "NOOP/RSET/VRFY/ETRN per session before each counts as an error (default 100)",
       count_limit("junk_command_limit", &L::junk_commands_per_session, 1)},
      {"command_timeout", "DURATION", "time allowed for each whole command or body line (default 5m)",
       duration_limit("command_timeout", &L::command_time)},
      {"session_lifetime", "DURATION", "longest a session may last (default 1h)",
       duration_limit("session_lifetime", &L::session_lifetime)},
  };
  return keys;
}

std::optional<core::Cidr> parse_cidr(const std::string& text);

// A comma-separated list of address blocks; `out` changes only when all parse.
std::string parse_cidr_list(std::string_view key, std::string_view v, std::string_view allowed,
                            std::vector<core::Cidr>& out) {
  std::vector<core::Cidr> list;
  while (!v.empty()) {
    const auto comma = v.find(',');
    std::string item(v.substr(0, comma));
    v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item.empty()) continue;
    auto cidr = parse_cidr(item);
    if (!cidr) return bad(key, item, allowed);
    list.push_back(*cidr);
  }
  out = std::move(list);
  return {};
}

const std::vector<Key>& global_keys() {
  static const std::vector<Key> keys = [] {
    std::vector<Key> k;
    k.push_back({"threads", "N", "worker threads, each with its own listeners (default: one per core)",
                 [](Config& c, std::string_view v) -> std::string {
                   auto n = parse_uint<int>(v, 256);
                   if (!n) return bad("threads", v, "a whole number from 0 (one per core) to 256");
                   c.threads = *n;
                   return {};
                 }});
    k.push_back({"hostname", "NAME", "name in the banner and replies (default: the system's host name)",
                 [](Config& c, std::string_view v) -> std::string {
                   if (!smtp::valid_hostname(v))
                     return bad("hostname", v, "letters, digits, '.' and '-', at most 253 bytes");
                   c.hostname = v;
                   return {};
                 }});
    k.push_back({"persona", "NAME",
                 "the MTA spamsink looks like: greeting, EHLO keywords, reply texts, queue ids; one of " + [] {
                   std::string names;
                   for (const auto& n : smtp::builtin_persona_names()) names += (names.empty() ? "" : ", ") + n;
                   return names;
                 }() + " (default postfix)",
                 [](Config& c, std::string_view v) -> std::string {
                   if (!smtp::builtin_persona_text(v)) {
                     std::string names;
                     for (const auto& n : smtp::builtin_persona_names()) names += (names.empty() ? "" : ", ") + n;
                     return bad("persona", v, names + " (or persona_file for your own)");
                   }
                   c.persona = v;
                   return {};
                 }});
    k.push_back({"persona_file", "FILE", "a persona of your own (TOML, see docs/personas.md); wins over persona",
                 [](Config& c, std::string_view v) -> std::string {
                   if (v.empty()) return bad("persona_file", v, "a file path");
                   c.persona_file = v;
                   return {};
                 }});
    k.push_back({"max_conns", "N", "connections at once, all listeners (default 10000, 0 = no limit)",
                 [](Config& c, std::string_view v) {
                   return count_limit("max_conns", &core::Limits::max_connections, 0)(c.limits, v);
                 }});
    k.push_back({"max_conns_per_ip", "N", "connections at once from one IP (default 50, 0 = no limit)",
                 [](Config& c, std::string_view v) {
                   return count_limit("max_conns_per_ip", &core::Limits::max_connections_per_ip, 0)(c.limits, v);
                 }});
    k.push_back({"shutdown_grace", "DURATION", "on SIGTERM, time sessions get to finish before 421 (default 10s)",
                 [](Config& c, std::string_view v) -> std::string {
                   auto d = core::parse_duration(v);
                   if (!d) return bad("shutdown_grace", v, "a duration (ms, s, m, h)");
                   c.shutdown_grace = *d;
                   return {};
                 }});
    k.push_back({"batch_wait", "DURATION",
                 "after a burst (after any work, with 8 or more sessions open on the worker), a worker that finds "
                 "nothing ready waits this long before polling again, so that clients' next commands are served "
                 "together (fewer wake-ups for it and for them); at most 1ms, 0 = off (default 75us)",
                 [](Config& c, std::string_view v) -> std::string {
                   auto d = core::parse_duration(v);
                   if (!d || *d > core::Millis{1}) return bad("batch_wait", v, "a duration from 0 to 1ms, e.g. 50us");
                   c.batch_wait = *d;
                   return {};
                 }});
    k.push_back({"body_hash", "KIND", "digest kept per message: sha256 or none (default sha256)",
                 choice<bool>("body_hash", {{"sha256", true}, {"none", false}}, [](Config& c) -> bool& { return c.hash_bodies; })});
    k.push_back({"log_format", "FORMAT", "kv (key=value) or json (default kv)",
                 choice<core::LogFormat>("log_format", {{"kv", core::LogFormat::kKeyValue}, {"json", core::LogFormat::kJson}},
                        [](Config& c) -> core::LogFormat& { return c.log_format; })});
    k.push_back({"log_target", "TARGET", "stderr or syslog (default stderr)",
                 [](Config& c, std::string_view v) -> std::string {
                   if (v != "stderr" && v != "syslog") return bad("log_target", v, "stderr or syslog");
                   c.log_target = v;
                   return {};
                 }});
    k.push_back({"log_level", "LEVEL", "debug, info, warn or error (default info; debug adds a line per message)",
                 choice<core::Level>("log_level",
                                      {{"debug", core::Level::kDebug}, {"info", core::Level::kInfo},
                                       {"warn", core::Level::kWarn}, {"error", core::Level::kError}},
                                      [](Config& c) -> core::Level& { return c.log_level; })});
    k.push_back({"user", "NAME", "started as root: bind, then run as this user",
                 [](Config& c, std::string_view v) -> std::string {
                   if (v.empty()) return bad("user", v, "a user name");
                   c.user = v;
                   return {};
                 }});
    k.push_back({"greet_delay", "DURATION",
                 "every listener: wait this long before greeting; a client that talks first is an early talker "
                 "(default 0 for sink and relay listeners, 5s for tarpit)",
                 [](Config& c, std::string_view v) -> std::string {
                   auto d = core::parse_duration(v);
                   if (!d || *d > core::Seconds{600}) return bad("greet_delay", v, "a duration from 0 to 10m");
                   c.greet_delay = *d;
                   return {};
                 }});
    k.push_back({"greet_teaser", "yes|no", "send a \"220-\" line at once, the greeting after greet_delay (default no)",
                 choice<bool>("greet_teaser", {{"yes", true}, {"no", false}, {"true", true}, {"false", false}},
                              [](Config& c) -> bool& { return c.tarpit.teaser; })});
    k.push_back({"tls", "yes|no",
                 "offer STARTTLS on sink and relay listeners where the persona does (default yes)",
                 choice<bool>("tls", {{"yes", true}, {"no", false}, {"true", true}, {"false", false}},
                              [](Config& c) -> bool& { return c.tls; })});
    k.push_back({"tls_cert", "FILE",
                 "PEM certificate (chain) for STARTTLS; with tls_key (default: a self-signed one made under "
                 "STATE_DIR/tls, CN = hostname)",
                 [](Config& c, std::string_view v) -> std::string {
                   if (v.empty() || v.size() > 1024) return bad("tls_cert", v, "a file path, at most 1024 bytes");
                   c.tls_cert = v;
                   return {};
                 }});
    k.push_back({"tls_key", "FILE", "PEM private key for tls_cert",
                 [](Config& c, std::string_view v) -> std::string {
                   if (v.empty() || v.size() > 1024) return bad("tls_key", v, "a file path, at most 1024 bytes");
                   c.tls_key = v;
                   return {};
                 }});
    k.push_back({"early_talker", "ACTION",
                 "what an early talker (talks before the greeting or before 354) gets: ignore (recorded only), "
                 "reject (521/421 and close) or defer (450/550 to every MAIL and RCPT) (default ignore)",
                 choice<net::TarpitSettings::EarlyAction>(
                     "early_talker",
                     {{"ignore", net::TarpitSettings::EarlyAction::kIgnore},
                      {"reject", net::TarpitSettings::EarlyAction::kReject},
                      {"defer", net::TarpitSettings::EarlyAction::kDefer}},
                     [](Config& c) -> net::TarpitSettings::EarlyAction& { return c.tarpit.early_action; })});
    k.push_back({"early_talker_reject_type", "temp|perm",
                 "early talkers: reject/defer with 421/450 (temp) or 521/550 (perm) (default perm)",
                 choice<bool>("early_talker_reject_type", {{"perm", true}, {"temp", false}},
                              [](Config& c) -> bool& { return c.tarpit.early_permanent; })});
    k.push_back({"early_talker_allow", "CIDRS",
                 "comma-separated address blocks never treated as early talkers, e.g. 192.0.2.0/24,2001:db8::/32",
                 [](Config& c, std::string_view v) -> std::string {
                   return parse_cidr_list("early_talker_allow", v, "ADDR/BITS, e.g. 192.0.2.0/24 or 2001:db8::/32",
                                          c.tarpit.early_allow);
                   return {};
                 }});
    struct DelayKey {
      const char* key;
      const char* what;
      int index;
    };
    static constexpr DelayKey kDelays[] = {
        {"tarpit_delay_helo", "HELO/EHLO", net::TarpitSettings::kDelayHelo},
        {"tarpit_delay_mail", "MAIL", net::TarpitSettings::kDelayMail},
        {"tarpit_delay_rcpt", "RCPT", net::TarpitSettings::kDelayRcpt},
        {"tarpit_delay_data", "DATA", net::TarpitSettings::kDelayData},
        {"tarpit_delay_data_end", "the end of DATA", net::TarpitSettings::kDelayDataEnd},
        {"tarpit_delay_unknown", "an unknown command", net::TarpitSettings::kDelayUnknown},
    };
    for (const DelayKey& dk : kDelays) {
      k.push_back({dk.key, "DURATION", std::string("tarpit: pause before the reply to ") + dk.what + " (default 0)",
                   [dk](Config& c, std::string_view v) -> std::string {
                     auto d = core::parse_duration(v);
                     if (!d || *d > core::Seconds{3600}) return bad(dk.key, v, "a duration from 0 to 1h");
                     c.tarpit.phase_delay[static_cast<std::size_t>(dk.index)] = *d;
                     return {};
                   }});
    }
    k.push_back({"tarpit_high_water", "PERCENT",
                 "tarpit: above this share of max_conns, new clients get a quick 421 (default 90)",
                 [](Config& c, std::string_view v) -> std::string {
                   auto n = parse_uint<std::uint32_t>(v, 100);
                   if (!n || *n < 1) return bad("tarpit_high_water", v, "a percentage from 1 to 100");
                   c.tarpit.high_water_percent = *n;
                   return {};
                 }});
    k.push_back({"tarpit_strategy", "KIND",
                 "tarpit: drip (replies a few bytes per interval), banner (an endless 220- greeting) or stall "
                 "(greet, then never read) (default drip)",
                 choice<net::TarpitSettings::Strategy>(
                     "tarpit_strategy",
                     {{"drip", net::TarpitSettings::Strategy::kDrip},
                      {"banner", net::TarpitSettings::Strategy::kBanner},
                      {"stall", net::TarpitSettings::Strategy::kStall}},
                     [](Config& c) -> net::TarpitSettings::Strategy& { return c.tarpit.strategy; })});
    k.push_back({"tarpit_interval", "DURATION", "tarpit: time between two drips of a reply (default 1s)",
                 [](Config& c, std::string_view v) -> std::string {
                   auto d = core::parse_duration(v);
                   if (!d || *d < core::Millis{10} || *d > core::Seconds{3600})
                     return bad("tarpit_interval", v, "a duration from 10ms to 1h");
                   c.tarpit.interval = *d;
                   return {};
                 }});
    k.push_back({"tarpit_drip_bytes", "N", "tarpit: bytes of a reply sent per drip (default 1)",
                 [](Config& c, std::string_view v) -> std::string {
                   auto n = parse_uint<std::uint32_t>(v, 65536);
                   if (!n || *n < 1) return bad("tarpit_drip_bytes", v, "a whole number from 1 to 65536");
                   c.tarpit.bytes_per_drip = *n;
                   return {};
                 }});
    k.push_back({"tarpit_max_hold", "DURATION",
                 "tarpit: how long a connection is held before 421 and close; its session lifetime (default 1h)",
                 [](Config& c, std::string_view v) -> std::string {
                   auto d = core::parse_duration(v);
                   if (!d || *d < core::Seconds{1}) return bad("tarpit_max_hold", v, "a duration of at least 1s");
                   c.tarpit.max_hold = *d;
                   return {};
                 }});
    k.push_back({"state_dir", "DIR", "directory for spamsink's state, created if missing (default var)",
                 [](Config& c, std::string_view v) -> std::string {
                   if (v.empty() || v.size() > 1024) return bad("state_dir", v, "a directory path, at most 1024 bytes");
                   c.state_dir = v;
                   return {};
                 }});
    k.push_back({"db", "PATH|none",
                 "the SQLite store of hosts and sessions, or none for counters only (default STATE_DIR/spamsink.db)",
                 [](Config& c, std::string_view v) -> std::string {
                   if (v.empty() || v.size() > 1024) return bad("db", v, "a file path (at most 1024 bytes) or none");
                   if (v.substr(0, 13) == "postgresql://") return bad("db", v, "a file path or none (PostgreSQL is not built yet)");
                   c.db = v;
                   return {};
                 }});
    k.push_back({"retain_days", "N", "store: delete sessions and hosts older than this many days (default 90, 0 = forever)",
                 [](Config& c, std::string_view v) -> std::string {
                   auto n = parse_uint<std::uint32_t>(v, 36500);
                   if (!n) return bad("retain_days", v, "a whole number of days from 0 (keep forever) to 36500");
                   c.retain_days = *n;
                   return {};
                 }});
    k.push_back({"retain_sessions", "N", "store: keep at most this many sessions, the newest (default 1000000, 0 = no limit)",
                 [](Config& c, std::string_view v) -> std::string {
                   auto n = parse_uint<std::uint64_t>(v, 10'000'000'000ULL);
                   if (!n) return bad("retain_sessions", v, "a whole number from 0 (no limit) to 10000000000");
                   c.retain_sessions = *n;
                   return {};
                 }});
    k.push_back({"store_queue", "N",
                 "store: events (about 1 KiB each) queued between the SMTP threads and the writer; a full queue drops "
                 "and counts (default 8192)",
                 [](Config& c, std::string_view v) -> std::string {
                   auto n = parse_uint<std::size_t>(v, 1'048'576);
                   if (!n || *n < 64) return bad("store_queue", v, "a whole number of events from 64 to 1048576");
                   c.store_queue = *n;
                   return {};
                 }});
    k.push_back({"relay_threshold", "N",
                 "relay: forward the first N messages of each new host to relay_smarthost (default 0 = never; "
                 "N > 0 needs relay_smarthost)",
                 [](Config& c, std::string_view v) -> std::string {
                   auto n = parse_uint<std::uint32_t>(v, 1000);
                   if (!n) return bad("relay_threshold", v, "a whole number from 0 to 1000");
                   c.relay.threshold = *n;
                   return {};
                 }});
    k.push_back({"relay_smarthost", "ADDR:PORT",
                 "relay: the one place forwarded messages go (numeric address, e.g. 127.0.0.1:25; default none)",
                 [](Config& c, std::string_view v) -> std::string {
                   if (v.empty()) {
                     c.relay.smarthost_host.clear();
                     c.relay.smarthost_port = 0;
                     return {};
                   }
                   net::ListenerSpec spec;
                   if (auto err = parse_listen_address(v, spec); !err.empty() || spec.port == 0)
                     return bad("relay_smarthost", v, "ADDR:PORT with a numeric address and a port from 1, e.g. 127.0.0.1:25");
                   c.relay.smarthost_host = spec.host;
                   c.relay.smarthost_port = spec.port;
                   return {};
                 }});
    k.push_back({"relay_forward_max", "N", "relay: messages forwarded per hour, all hosts together (default 10)",
                 [](Config& c, std::string_view v) -> std::string {
                   auto n = parse_uint<std::uint32_t>(v, 100000);
                   if (!n) return bad("relay_forward_max", v, "a whole number from 0 to 100000");
                   c.relay.forward_max = *n;
                   return {};
                 }});
    k.push_back({"relay_forward_size", "SIZE", "relay: larger messages are never forwarded, bytes (default 1M)",
                 [](Config& c, std::string_view v) -> std::string {
                   auto n = core::parse_size(v);
                   if (!n || *n < 1024 || *n > (std::uint64_t{64} << 20))
                     return bad("relay_forward_size", v, "a size in bytes (K, M allowed) from 1K to 64M");
                   c.relay.forward_size = *n;
                   return {};
                 }});
    k.push_back({"spamtrap_file", "FILE",
                 "addresses that mark a session as a trap hit, one a line: user@domain, *@domain, *@*.domain "
                 "(sink and relay listeners; re-read on SIGHUP)",
                 [](Config& c, std::string_view v) -> std::string {
                   c.spamtrap_file = v;
                   return {};
                 }});
    k.push_back({"api", "ADDR:PORT|none",
                 "HTTP API and /metrics (docs/api.md); outside loopback it needs api_token_file; port 0 = any "
                 "(default 127.0.0.1:8025)",
                 [](Config& c, std::string_view v) -> std::string {
                   if (v == "none") {
                     c.api_host.clear();
                     return {};
                   }
                   net::ListenerSpec spec;
                   if (auto e = parse_listen_address(v, spec); !e.empty())
                     return bad("api", v, "ADDR:PORT with a numeric address, e.g. 127.0.0.1:8025 or [::1]:8025, or none");
                   c.api_host = spec.host;
                   c.api_port = spec.port;
                   return {};
                 }});
    k.push_back({"api_token_file", "FILE",
                 "file holding the API's bearer token (at least 16 bytes); with it every route but /healthz and the "
                 "dashboard's page needs 'Authorization: Bearer TOKEN'",
                 [](Config& c, std::string_view v) -> std::string {
                   if (v.empty() || v.size() > 1024) return bad("api_token_file", v, "a file path, at most 1024 bytes");
                   c.api_token_file = v;
                   return {};
                 }});
    k.push_back({"never_list", "CIDRS",
                 "address blocks never put in a blocklist export, e.g. 192.0.2.0/24; repeatable, or comma-separated "
                 "(TOML: an array of strings)",
                 [](Config& c, std::string_view v) -> std::string {
                   return parse_cidr_list("never_list", v, "ADDR/BITS or ADDR, e.g. 192.0.2.0/24 or 2001:db8::/32",
                                          c.never_list);
                 },
                 true});
    for (const auto& lk : limit_keys()) {
      LimitSetter s = lk.set;
      std::string name = lk.name;
      k.push_back({lk.name, lk.type, lk.help, [s, name](Config& c, std::string_view v) {
                     auto err = s(c.limits, v);
                     if (err.empty()) c.limits_given.push_back(name);
                     return err;
                   }});
    }
    return k;
  }();
  return keys;
}

std::optional<core::Cidr> parse_cidr(const std::string& text) {
  const auto slash = text.find('/');
  asio::error_code ec;
  const auto addr = asio::ip::make_address(text.substr(0, slash), ec);
  if (ec) return std::nullopt;
  const unsigned max = addr.is_v4() ? 32 : 128;
  unsigned bits = max;
  if (slash != std::string::npos) {
    auto n = parse_uint<unsigned>(std::string_view(text).substr(slash + 1), max);
    if (!n) return std::nullopt;
    bits = *n;
  }
  core::IpAddress ip = addr.is_v4() ? core::IpAddress::from_v4(addr.to_v4().to_uint())
                                     : core::IpAddress::from_v6(addr.to_v6().to_bytes());
  return core::Cidr::make(ip, static_cast<std::uint8_t>(addr.is_v4() ? 96 + bits : bits));
}

const Key* find_global(std::string_view name) {
  for (const auto& k : global_keys())
    if (k.name == name) return &k;
  return nullptr;
}

const LimitKey* find_limit(std::string_view name) {
  for (const auto& k : limit_keys())
    if (k.name == name) return &k;
  return nullptr;
}

// TOML scalars become the text the setters read.
std::optional<std::string> scalar_text(const toml::node& n) {
  if (auto s = n.as_string()) return s->get();
  if (auto i = n.as_integer()) return std::to_string(i->get());
  if (auto b = n.as_boolean()) return b->get() ? "true" : "false";
  return std::nullopt;
}

std::string where(const toml::node& n) {
  const auto& src = n.source();
  return "line " + std::to_string(src.begin.line);
}

std::string make_listener(std::string_view mode, std::string_view address, const core::Limits& limits,
                          net::ListenerSpec& out) {
  if (mode == "sink")
    out.mode = core::Mode::kSink;
  else if (mode == "tarpit")
    out.mode = core::Mode::kTarpit;
  else if (mode == "relay")
    out.mode = core::Mode::kRelay;
  else
    return "mode: bad value '" + std::string(mode) + "': sink, tarpit or relay";
  out.limits = limits;
  if (auto err = parse_listen_address(address, out); !err.empty()) return err;
  out.name = std::string(mode) + ":" + std::string(address);
  return {};
}

struct PendingListener {
  std::string mode, address;
  std::vector<std::pair<std::string, std::string>> overrides;  // limit keys
  std::string origin;
};

std::string load_file(const std::string& path, Config& c, std::vector<PendingListener>& listeners) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << path << ": " << e.description() << " (line " << e.source().begin.line << ", column "
       << e.source().begin.column << ")";
    return os.str();
  }
  for (const auto& [key, node] : root) {
    const std::string k(key.str());
    if (k == "listener") {
      const auto* arr = node.as_array();
      if (!arr) return path + ": listener: must be an array of tables ([[listener]])";
      for (const auto& item : *arr) {
        const auto* t = item.as_table();
        if (!t) return path + ": listener: must be an array of tables ([[listener]])";
        PendingListener pl;
        pl.mode = "sink";
        pl.origin = path + " " + where(item);
        for (const auto& [lk, lv] : *t) {
          const std::string lks(lk.str());
          auto text = scalar_text(lv);
          if (!text) return pl.origin + ": listener." + lks + ": must be a string or a number";
          if (lks == "mode") pl.mode = *text;
          else if (lks == "address") pl.address = *text;
          else if (find_limit(lks)) pl.overrides.emplace_back(lks, *text);
          else return pl.origin + ": listener." + lks + ": unknown key (allowed: mode, address, and the limit keys)";
        }
        if (pl.address.empty()) return pl.origin + ": listener.address: missing (e.g. \"127.0.0.1:2525\")";
        listeners.push_back(std::move(pl));
      }
      continue;
    }
    const Key* def = find_global(k);
    if (!def) return path + " " + where(node) + ": " + k + ": unknown key (see spamsink --help)";
    if (def->list && node.is_array()) {
      std::string joined;
      for (const auto& item : *node.as_array()) {
        auto s = item.as_string();
        if (!s) return path + " " + where(item) + ": " + k + ": must be an array of strings";
        joined += (joined.empty() ? "" : ",") + s->get();
      }
      if (auto err = def->set(c, joined); !err.empty()) return path + " " + where(node) + ": " + err;
      continue;
    }
    auto text = scalar_text(node);
    if (!text) return path + " " + where(node) + ": " + k + ": must be a string or a number";
    if (auto err = def->set(c, *text); !err.empty()) return path + " " + where(node) + ": " + err;
  }
  return {};
}

// Loads the persona (file or embedded) into c.persona_data, and applies its
// own limits where the operator set none.
std::string load_persona(Config& c) {
  if (!c.persona_file.empty()) {
    std::ifstream f(c.persona_file, std::ios::binary);
    if (!f) return "persona_file: cannot read '" + c.persona_file + "'";
    std::string text;
    char buf[4096];
    while (f.read(buf, sizeof buf) || f.gcount() > 0) {
      text.append(buf, static_cast<std::size_t>(f.gcount()));
      if (text.size() > smtp::Persona::kMaxPersonaBytes)
        return "persona_file: " + c.persona_file + ": larger than " + std::to_string(smtp::Persona::kMaxPersonaBytes) +
               " bytes";
    }
    auto r = smtp::parse_persona(text, c.persona_file);
    if (!r.persona) return "persona_file: " + r.error;
    c.persona_data = std::move(*r.persona);
  } else {
    c.persona_data = smtp::builtin_persona(c.persona);
  }
  auto given = [&](std::string_view key) {
    return std::find(c.limits_given.begin(), c.limits_given.end(), key) != c.limits_given.end();
  };
  if (!given("line_length_limit")) c.limits.line_length_bytes = c.persona_data.line_length_limit;
  if (!given("error_limit")) c.limits.errors_per_session = c.persona_data.error_limit;
  return {};
}

}  // namespace

std::shared_ptr<const session::SpamtrapList> load_spamtraps(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::string("cannot read: ") + std::strerror(errno);
    return nullptr;
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > session::SpamtrapList::kMaxFileBytes) {
      error = "larger than " + std::to_string(session::SpamtrapList::kMaxFileBytes) + " bytes";
      return nullptr;
    }
  }
  if (in.bad()) {
    error = "read error";
    return nullptr;
  }
  auto list = std::make_shared<session::SpamtrapList>();
  if (!session::SpamtrapList::parse(text, *list, error)) return nullptr;
  return list;
}

std::string parse_listen_address(std::string_view text, net::ListenerSpec& spec) {
  const std::string t(text);
  const std::string allowed = "ADDR:PORT with a numeric address, e.g. 127.0.0.1:2525 or [::1]:2525";
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return "address: bad value '" + t + "': " + allowed;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon)
      return "address: bad value '" + t + "': " + allowed + " (IPv6 goes in brackets)";
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto p = parse_uint<std::uint32_t>(port, 65535);
  if (host.empty() || !p) return "address: bad value '" + t + "': " + allowed + ", port 0-65535";
  asio::error_code ec;
  auto addr = asio::ip::make_address(std::string(host), ec);
  if (ec) return "address: bad value '" + t + "': '" + std::string(host) + "' is not a numeric IP address";
  if (addr.is_v6() != (text.front() == '['))
    return "address: bad value '" + t + "': " + allowed;
  spec.host = std::string(host);
  spec.port = static_cast<std::uint16_t>(*p);
  return {};
}

ParseResult parse_config(int argc, const char* const* argv) {
  ParseResult result;
  Config c;
  CLI::App cli{
      "spamsink: a mail server that only pretends. Sink mode accepts every message with 250 and keeps\n"
      "only the facts (IP, HELO, MAIL FROM, recipients, size, SHA-256, timings), never the body.\n"
      "Sizes take K/M/G (binary); durations take ms/s/m/h/d (a bare number is seconds).\n"
      "Every option is also a key in the --config TOML file (with '_' for '-'); flags win over the file.\n"
      "Offline, from the store: 'spamsink hosts [--since T] [--json] [--db PATH]' and\n"
      "'spamsink stats [--json] [--db PATH]' (each has --help).",
      "spamsink"};
  cli.set_help_flag("-h,--help", "print this help and exit");
  cli.get_formatter()->column_width(34);

  std::vector<std::string> sinks;
  bool check = false;
  bool version = false;
  std::string config_file;
  cli.add_option("--config", config_file, "TOML file with the same keys, and [[listener]] tables")
      ->type_name("FILE");
  cli.add_flag("--check-config", check, "validate the configuration, print it, and exit");
  cli.add_flag("--version", version, "print the version and exit");
  cli.add_option("--sink", sinks,
                 "sink listener ADDR:PORT, repeatable; replaces the default listeners (port 0 = any)")
      ->type_name("ADDR:PORT");
  std::vector<std::string> tarpits;
  cli.add_option("--tarpit", tarpits,
                 "tarpit listener ADDR:PORT, repeatable: holds clients, drips replies, never accepts a message")
      ->type_name("ADDR:PORT");
  std::map<std::string, std::string> given;
  std::vector<std::string> relays;
  cli.add_option("--relay", relays,
                 "relay listener ADDR:PORT, repeatable: a fake open relay that accepts mail for any domain and "
                 "drops it (see relay_threshold)")
      ->type_name("ADDR:PORT");
  std::map<std::string, std::vector<std::string>> given_lists;
  std::vector<std::pair<const Key*, CLI::Option*>> opts;
  for (const auto& k : global_keys()) {
    if (k.list) {
      CLI::Option* o = cli.add_option(flag_of(k.name), given_lists[k.name], k.help)->type_name(k.type);
      opts.emplace_back(&k, o);
      continue;
    }
    CLI::Option* o = cli.add_option(flag_of(k.name), given[k.name], k.help)->type_name(k.type);
    opts.emplace_back(&k, o);
  }

  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    result.output = cli.help();
    result.exit_code = 0;
    return result;
  } catch (const CLI::ParseError& e) {
    result.output = std::string("spamsink: ") + e.what() + "\nRun 'spamsink --help' for the options.\n";
    result.exit_code = 2;
    return result;
  }
  if (version) {
    result.output = "spamsink 0.1.0\n";
    return result;
  }

  std::vector<PendingListener> file_listeners;
  if (!config_file.empty()) {
    if (auto err = load_file(config_file, c, file_listeners); !err.empty()) {
      result.output = "spamsink: config error: " + err + "\n";
      result.exit_code = 2;
      return result;
    }
  }
  for (const auto& [key, opt] : opts) {
    if (opt->count() == 0) continue;
    std::string value = given[key->name];
    if (key->list) {
      value.clear();
      for (const auto& item : given_lists[key->name]) value += (value.empty() ? "" : ",") + item;
    }
    if (auto err = key->set(c, value); !err.empty()) {
      result.output = "spamsink: " + flag_of(key->name) + ": " + err + "\n";
      result.exit_code = 2;
      return result;
    }
  }
  auto fail = [&](const std::string& err) {
    result.output = "spamsink: config error: " + err + "\n";
    result.exit_code = 2;
    return result;
  };
  if (auto err = load_persona(c); !err.empty()) return fail(err);
  if (auto err = c.limits.validate(); !err.empty()) return fail(err);

  // Listeners: flags replace the file's, the file's replace the default.
  if (!sinks.empty() || !tarpits.empty() || !relays.empty()) {
    for (const auto& s : sinks) {
      net::ListenerSpec spec;
      if (auto err = make_listener("sink", s, c.limits, spec); !err.empty()) return fail("--sink: " + err);
      c.listeners.push_back(spec);
    }
    for (const auto& s : tarpits) {
      net::ListenerSpec spec;
      if (auto err = make_listener("tarpit", s, c.limits, spec); !err.empty()) return fail("--tarpit: " + err);
      c.listeners.push_back(spec);
    }
    for (const auto& s : relays) {
      net::ListenerSpec spec;
      if (auto err = make_listener("relay", s, c.limits, spec); !err.empty()) return fail("--relay: " + err);
      c.listeners.push_back(spec);
    }
  } else if (!file_listeners.empty()) {
    for (const auto& pl : file_listeners) {
      net::ListenerSpec spec;
      core::Limits limits = c.limits;
      for (const auto& [k, v] : pl.overrides)
        if (auto err = find_limit(k)->set(limits, v); !err.empty()) return fail(pl.origin + ": listener." + err);
      if (auto err = limits.validate(); !err.empty()) return fail(pl.origin + ": listener." + err);
      if (auto err = make_listener(pl.mode, pl.address, limits, spec); !err.empty())
        return fail(pl.origin + ": listener." + err);
      c.listeners.push_back(spec);
    }
  } else {
    // DESIGN.md §2: a sink on 2525 and a tarpit on 2526, loopback only.
    net::ListenerSpec spec;
    make_listener("sink", "127.0.0.1:2525", c.limits, spec);
    c.listeners.push_back(spec);
    net::ListenerSpec tarpit;
    make_listener("tarpit", "127.0.0.1:2526", c.limits, tarpit);
    c.listeners.push_back(tarpit);
  }
  if (c.greet_delay) c.tarpit.greet_delay = *c.greet_delay;
  if (c.tarpit.greet_delay >= c.tarpit.max_hold)
    for (const auto& l : c.listeners)
      if (l.mode == core::Mode::kTarpit)
        return fail("greet_delay (" + core::format_duration(c.tarpit.greet_delay) +
                    ") must be shorter than tarpit_max_hold (" + core::format_duration(c.tarpit.max_hold) +
                    "), or no client is ever greeted");
  for (auto& l : c.listeners) {
    if (l.mode != core::Mode::kTarpit) {
      using A = session::EarlyTalkPolicy::Action;
      using T = net::TarpitSettings::EarlyAction;
      l.early.action = c.tarpit.early_action == T::kReject  ? A::kReject
                       : c.tarpit.early_action == T::kDefer ? A::kDefer
                                                            : A::kIgnore;
      l.early.permanent = c.tarpit.early_permanent;
      l.early.greet_delay = c.greet_delay.value_or(core::Duration::zero());
      l.early.teaser = c.tarpit.teaser && l.early.greet_delay > core::Duration::zero();
      l.early.allow = c.tarpit.early_allow;
      if (l.early.greet_delay >= l.limits.command_time)
        return fail("greet_delay (" + core::format_duration(l.early.greet_delay) +
                    ") must be shorter than command_timeout (" + core::format_duration(l.limits.command_time) +
                    ") on " + l.name);
      continue;
    }
    l.tarpit = c.tarpit;
    l.limits.session_lifetime = c.tarpit.max_hold;  // in tarpit mode, max-hold is the lifetime
  }
  for (std::size_t i = 0; i < c.listeners.size(); ++i)
    for (std::size_t j = i + 1; j < c.listeners.size(); ++j)
      if (c.listeners[i].host == c.listeners[j].host && c.listeners[i].port == c.listeners[j].port &&
          c.listeners[i].port != 0)
        return fail("listener " + c.listeners[j].name + " is given twice");

  // Relay forwarding: the one way out, so every bound is checked here.
  if (c.relay.threshold != 0 && c.relay.smarthost_host.empty())
    return fail("relay_threshold is " + std::to_string(c.relay.threshold) +
                " but relay_smarthost is not set: forwarding needs a smarthost (set relay_smarthost = ADDR:PORT, "
                "or relay_threshold = 0)");
  for (const auto& l : c.listeners)
    if (l.mode == core::Mode::kRelay && l.port == c.relay.smarthost_port && l.host == c.relay.smarthost_host)
      return fail("relay_smarthost " + l.host + ":" + std::to_string(l.port) +
                  " is this server's own relay listener: forwarded mail would loop");
  if (!c.spamtrap_file.empty()) {
    std::string err;
    auto list = load_spamtraps(c.spamtrap_file, err);
    if (!list) return fail("spamtrap_file: " + c.spamtrap_file + ": " + err);
    c.spamtraps = std::move(list);
  }

  if (c.threads == 0) {
    unsigned n = std::thread::hardware_concurrency();
    c.threads = n == 0 ? 1 : static_cast<int>(n);
  }
  if (c.hostname.empty()) {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) == 0 && smtp::valid_hostname(buf)) c.hostname = buf;
    else c.hostname = "localhost";
  }
  if (c.db.empty()) c.db = c.state_dir + "/spamsink.db";
  else if (c.db == "none") c.db.clear();
  if (!c.api_host.empty()) {
    if (!c.api_token_file.empty()) {
      std::ifstream f(c.api_token_file, std::ios::binary);
      if (!f) return fail("api_token_file: cannot read '" + c.api_token_file + "'");
      std::string token((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      const auto first = token.find_first_not_of(" \t\r\n");
      const auto last = token.find_last_not_of(" \t\r\n");
      token = first == std::string::npos ? std::string() : token.substr(first, last - first + 1);
      if (token.size() < http::kMinTokenBytes || token.size() > 4096)
        return fail("api_token_file: '" + c.api_token_file + "' must hold one token of " +
                    std::to_string(http::kMinTokenBytes) + " to 4096 bytes");
      for (char ch : token)
        if (static_cast<unsigned char>(ch) <= 0x20 || static_cast<unsigned char>(ch) >= 0x7f)
          return fail("api_token_file: '" + c.api_token_file + "': the token must be printable ASCII without spaces");
      c.api_token = std::move(token);
    } else if (!http::is_loopback(c.api_host)) {
      return fail("api: " + c.api_host + " is not a loopback address: set api_token_file (--api-token-file) so "
                  "that the API asks for a bearer token, or bind the API to 127.0.0.1 or ::1");
    }
  }
  if (c.tls_cert.empty() != c.tls_key.empty())
    return fail(std::string(c.tls_cert.empty() ? "tls_key" : "tls_cert") +
                " is set but " + (c.tls_cert.empty() ? "tls_cert" : "tls_key") +
                " is not: give both (or neither, for a self-signed certificate)");
  if (c.tls && !c.tls_cert.empty()) {
    std::string err;
    c.tls_context = net::make_tls_context(c.tls_cert, c.tls_key, err);
    if (!c.tls_context) return fail(err);
  }
  c.config_file = config_file;
  c.check_only = check;
  result.config = std::move(c);
  return result;
}

std::string describe(const Config& c) {
  std::ostringstream os;
  os << "threads = " << c.threads << "\n";
  os << "hostname = \"" << c.hostname << "\"\n";
  if (c.persona_file.empty())
    os << "persona = \"" << c.persona << "\"\n";
  else
    os << "persona_file = \"" << c.persona_file << "\"  # persona " << c.persona_data.name << "\n";
  os << "max_conns = " << c.limits.max_connections << "\n";
  os << "max_conns_per_ip = " << c.limits.max_connections_per_ip << "\n";
  os << "shutdown_grace = \"" << core::format_duration(c.shutdown_grace) << "\"\n";
  os << "batch_wait = \"" << core::format_duration(c.batch_wait) << "\"\n";
  os << "body_hash = \"" << (c.hash_bodies ? "sha256" : "none") << "\"\n";
  os << "log_format = \"" << (c.log_format == core::LogFormat::kJson ? "json" : "kv") << "\"\n";
  os << "log_target = \"" << c.log_target << "\"\n";
  os << "log_level = \"" << core::to_string(c.log_level) << "\"\n";
  static constexpr const char* kStrategy[] = {"drip", "banner", "stall"};
  os << "tarpit_strategy = \"" << kStrategy[static_cast<int>(c.tarpit.strategy)] << "\"\n";
  os << "tarpit_interval = \"" << core::format_duration(c.tarpit.interval) << "\"\n";
  os << "tarpit_drip_bytes = " << c.tarpit.bytes_per_drip << "\n";
  os << "tarpit_max_hold = \"" << core::format_duration(c.tarpit.max_hold) << "\"\n";
  os << "tarpit_high_water = " << c.tarpit.high_water_percent << "\n";
  static constexpr const char* kDelayNames[] = {"helo", "mail", "rcpt", "data", "data_end", "unknown"};
  for (std::size_t i = 0; i < c.tarpit.phase_delay.size(); ++i)
    os << "tarpit_delay_" << kDelayNames[i] << " = \"" << core::format_duration(c.tarpit.phase_delay[i]) << "\"\n";
  if (c.greet_delay)
    os << "greet_delay = \"" << core::format_duration(*c.greet_delay) << "\"\n";
  else
    os << "# greet_delay: not set (5s on tarpit listeners, 0 on sink and relay listeners)\n";
  os << "greet_teaser = \"" << (c.tarpit.teaser ? "yes" : "no") << "\"\n";
  static constexpr const char* kEarly[] = {"ignore", "reject", "defer"};
  os << "early_talker = \"" << kEarly[static_cast<int>(c.tarpit.early_action)] << "\"\n";
  os << "early_talker_reject_type = \"" << (c.tarpit.early_permanent ? "perm" : "temp") << "\"\n";
  os << "relay_threshold = " << c.relay.threshold << "\n";
  if (!c.relay.smarthost_host.empty())
    os << "relay_smarthost = \""
       << (c.relay.smarthost_host.find(':') != std::string::npos ? "[" + c.relay.smarthost_host + "]"
                                                                  : c.relay.smarthost_host)
       << ":" << c.relay.smarthost_port << "\"\n";
  os << "relay_forward_max = " << c.relay.forward_max << "\n";
  os << "relay_forward_size = " << c.relay.forward_size << "\n";
  if (!c.spamtrap_file.empty())
    os << "spamtrap_file = \"" << c.spamtrap_file << "\"  # " << c.spamtraps->size() << " entries\n";
  os << "early_talker_allow = \"";
  for (std::size_t i = 0; i < c.tarpit.early_allow.size(); ++i) {
    const auto& a = c.tarpit.early_allow[i];
    os << (i ? "," : "") << a.net.to_string() << "/" << (a.net.is_v4() ? a.prefix - 96 : a.prefix);
  }
  os << "\"\n";
  if (!c.user.empty()) os << "user = \"" << c.user << "\"\n";
  os << "tls = \"" << (c.tls ? "yes" : "no") << "\"\n";
  if (!c.tls_cert.empty()) os << "tls_cert = \"" << c.tls_cert << "\"\ntls_key = \"" << c.tls_key << "\"\n";
  else if (c.tls) os << "# tls_cert, tls_key: not set (self-signed, under " << c.state_dir << "/tls)\n";
  os << "state_dir = \"" << c.state_dir << "\"\n";
  os << "db = \"" << (c.db.empty() ? "none" : c.db) << "\"\n";
  os << "retain_days = " << c.retain_days << "\n";
  os << "retain_sessions = " << c.retain_sessions << "\n";
  os << "store_queue = " << c.store_queue << "\n";
  if (c.api_host.empty()) os << "api = \"none\"\n";
  else os << "api = \"" << (c.api_host.find(':') != std::string::npos ? "[" + c.api_host + "]" : c.api_host) << ":"
          << c.api_port << "\"\n";
  if (!c.api_token_file.empty()) os << "api_token_file = \"" << c.api_token_file << "\"\n";
  os << "never_list = [";
  for (std::size_t i = 0; i < c.never_list.size(); ++i) {
    const auto& a = c.never_list[i];
    os << (i ? ", " : "") << "\"" << a.net.to_string() << "/" << (a.net.is_v4() ? a.prefix - 96 : a.prefix) << "\"";
  }
  os << "]\n";
  for (const auto& l : c.listeners) {
    os << "\n[[listener]]\nmode = \"" << core::to_string(l.mode) << "\"\naddress = \""
       << (l.host.find(':') != std::string::npos ? "[" + l.host + "]" : l.host) << ":" << l.port << "\"\n";
    os << "line_length_limit = " << l.limits.line_length_bytes << "\n";
    os << "body_line_limit = " << l.limits.body_line_bytes << "\n";
    os << "message_size_limit = " << l.limits.message_size_bytes << "\n";
    os << "recipient_limit = " << l.limits.recipients_per_message << "\n";
    os << "recipient_overshoot_limit = " << l.limits.recipient_overshoot << "\n";
    os << "error_limit = " << l.limits.errors_per_session << "\n";
    os << "junk_command_limit = " << l.limits.junk_commands_per_session << "\n";
    os << "command_timeout = \"" << core::format_duration(l.limits.command_time) << "\"\n";
    os << "session_lifetime = \"" << core::format_duration(l.limits.session_lifetime) << "\"\n";
  }
  return os.str();
}

}  // namespace spamsink::app
