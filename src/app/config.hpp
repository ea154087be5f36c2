// app/config: every setting, from defaults, a TOML file and flags.
//
// Purpose: one table of keys; each key is a TOML key (snake_case) and a
// flag (--kebab-case), parsed and validated by one setter (endlessh's
// model), so the file and the command line can never disagree.
// Invariants: a Config that parse_config() returns is valid; a bad value
// yields an error naming the key and what is allowed.
// Order: embedded defaults < --config file < flags. Listeners given in the
// file or on the command line replace the default set (the command line
// wins over the file).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cidr.hpp"
#include "core/limits.hpp"
#include "core/log_format.hpp"
#include "core/logger.hpp"
#include "net/server.hpp"
#include "smtp/persona.hpp"

namespace spamsink::app {

struct Config {
  std::vector<net::ListenerSpec> listeners;
  core::Limits limits;  // global; listeners inherit and may override
  net::TarpitSettings tarpit;  // every tarpit listener
  // greet_delay as given; unset: 5s on tarpit listeners, 0 on the others.
  std::optional<core::Duration> greet_delay;
  net::RelaySettings relay;    // every relay listener (helo = hostname)
  std::string spamtrap_file;   // "" = no spamtraps
  std::shared_ptr<const session::SpamtrapList> spamtraps;  // loaded from spamtrap_file
  int threads = 0;      // 0 = one per core
  std::string hostname;  // "" = the system's
  std::string persona = "postfix";  // an embedded persona (personas/*.toml)
  std::string persona_file;         // a persona file; wins over `persona`
  smtp::Persona persona_data;       // the one loaded (parse_config fills it)
  std::vector<std::string> limits_given;  // limit keys set in the file or by a flag
  bool hash_bodies = true;
  core::Duration shutdown_grace = core::Seconds{10};
  core::Duration batch_wait = std::chrono::microseconds{75};
  core::LogFormat log_format = core::LogFormat::kKeyValue;
  std::string log_target = "stderr";
  core::Level log_level = core::Level::kInfo;
  std::string user;
  // The store (src/store). `db` is resolved by parse_config: the path of the
  // SQLite file (default <state_dir>/spamsink.db), or "" for --db none.
  std::string state_dir = "var";
  std::string db;
  std::uint32_t retain_days = 90;            // 0 = keep forever
  std::uint64_t retain_sessions = 1'000'000;  // 0 = no limit
  std::size_t store_queue = 8192;            // events
  // The HTTP API (src/http, docs/api.md). api_host empty: --api none.
  std::string api_host = "127.0.0.1";
  std::uint16_t api_port = 8025;
  std::string api_token_file;
  std::string api_token;  // read from api_token_file at parse time; never printed
  std::vector<core::Cidr> never_list;  // kept out of every blocklist export
  // STARTTLS on sink and relay listeners, where the persona offers it.
  // Both files or neither; neither: a self-signed certificate under
  // <state_dir>/tls, made by the app at start (tls_context stays null here).
  bool tls = true;
  std::string tls_cert;
  std::string tls_key;
  net::TlsContextPtr tls_context;  // loaded by parse_config from tls_cert/tls_key
  std::string config_file;
  bool check_only = false;
};

struct ParseResult {
  std::optional<Config> config;  // empty: exit with `exit_code`
  int exit_code = 0;
  std::string output;  // --help text or the error, for the caller to print
};

// Parses argv (flags and --config). Never exits.
ParseResult parse_config(int argc, const char* const* argv);

// Parses "ADDR:PORT" ("127.0.0.1:25", "[::1]:25", "[::]:25") into `spec`.
std::string parse_listen_address(std::string_view text, net::ListenerSpec& spec);

// Reads and parses a spamtrap file; null with `error` set on failure.
std::shared_ptr<const session::SpamtrapList> load_spamtraps(const std::string& path, std::string& error);

// A readable dump of the effective config (for --check-config).
std::string describe(const Config& c);

}  // namespace spamsink::app
