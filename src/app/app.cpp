#include "app/app.hpp"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <ctime>
#include <memory>
#include <thread>
#include <vector>

#include "app/config.hpp"
#include "app/log_sink.hpp"
#include "app/logger.hpp"
#include "app/offline.hpp"
#include "core/units.hpp"
#include "http/api.hpp"
#include "net/server.hpp"
#include "store/store.hpp"

namespace spamsink::app {

namespace {

std::shared_ptr<net::RuntimeConfig> runtime_of(const Config& c) {
  auto rc = std::make_shared<net::RuntimeConfig>();
  rc->listeners = c.listeners;
  rc->limits = c.limits;
  std::uint64_t size = 0;
  for (const auto& l : c.listeners) size = std::max<std::uint64_t>(size, l.limits.message_size_bytes);
  rc->replies = smtp::ReplyTable::from_persona(c.persona_data, c.hostname, size == 0 ? c.limits.message_size_bytes : size,
                                               static_cast<std::int64_t>(std::time(nullptr)));
  rc->hash_bodies = c.hash_bodies;
  rc->shutdown_grace = c.shutdown_grace;
  rc->batch_wait = c.batch_wait;
  auto relay = std::make_shared<net::RelaySettings>(c.relay);
  relay->helo = c.hostname;
  rc->relay = std::move(relay);
  rc->spamtraps = c.spamtraps;
  rc->tls = c.tls ? c.tls_context : nullptr;
  return rc;
}

// With TLS on and no tls_cert: the self-signed certificate under
// <state_dir>/tls (made on first start, reused after), loaded into
// c.tls_context. Returns "" or the error.
std::string make_state_dir(const std::string& db, const std::string& user);

std::string load_self_signed(Config& c, core::Logger& log) {
  if (!c.tls || c.tls_context) return {};
  const std::string dir = c.state_dir + "/tls";
  // Started as root with --user: the directories are made for that user
  // (the store's database goes next to them), and so are the files, so
  // that a reload after the privilege drop can read them.
  if (!c.user.empty())
    if (auto err = make_state_dir(dir + "/cert.pem", c.user); !err.empty()) return "tls: " + err;
  net::SelfSigned ss;
  if (auto err = net::ensure_self_signed(dir, c.hostname, ss); !err.empty()) return err;
  if (!c.user.empty() && geteuid() == 0)
    if (struct passwd* pw = getpwnam(c.user.c_str()); pw != nullptr)
      for (const auto& f : {ss.cert_path, ss.key_path})
        if (::chown(f.c_str(), pw->pw_uid, pw->pw_gid) != 0) return "tls: cannot hand " + f + " to '" + c.user + "'";
  std::string err;
  c.tls_context = net::make_tls_context(ss.cert_path, ss.key_path, err);
  if (!c.tls_context) return err;
  core::log(log, core::Level::kInfo, [&](core::LogLine& l) {
    l.str("event", ss.created ? "tls_cert_created" : "tls_cert_reused").str("cert", ss.cert_path).str("cn", c.hostname);
  });
  return {};
}

// Raises the descriptor limit to its hard cap and keeps max_conns under it.
void fit_descriptors(Config& c, core::Logger& log) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  // Listeners, logging and the runtime need a few descriptors of their own.
  const rlim_t reserve = 32 + static_cast<rlim_t>(c.listeners.size() * static_cast<std::size_t>(c.threads));
  const rlim_t room = rl.rlim_cur > reserve ? rl.rlim_cur - reserve : 1;
  if (c.limits.max_connections == 0 || c.limits.max_connections > room) {
    core::log(log, core::Level::kWarn, [&](core::LogLine& l) {
      l.str("event", "max_conns_lowered").num("configured", c.limits.max_connections).num("now", std::uint64_t{room});
      l.num("rlimit_nofile", std::uint64_t{rl.rlim_cur});
    });
    c.limits.max_connections = static_cast<std::uint32_t>(room);
  }
}

std::string drop_privileges(const std::string& user) {
  struct passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) return "user: no such user '" + user + "'";
  if (geteuid() != 0) {
    if (pw->pw_uid == geteuid()) return {};
    return "user: switching to '" + user + "' needs root";
  }
  if (setgroups(0, nullptr) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
    return "user: cannot switch to '" + user + "'";
  if (setuid(0) == 0) return "user: could regain root after dropping to '" + user + "'";
  return {};
}

// Started as root with --user: the database's directory is created now,
// while we may, and handed to that user, who opens the database after the
// privilege drop (so its files belong to the user that writes them).
// Directories that already exist are left as they are.
std::string make_state_dir(const std::string& db, const std::string& user) {
  const std::filesystem::path parent = std::filesystem::path(db).parent_path();
  if (parent.empty() || geteuid() != 0) return {};
  struct passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) return {};  // drop_privileges reports it
  std::filesystem::path at;
  for (const auto& part : parent) {
    at /= part;
    std::error_code ec;
    if (std::filesystem::exists(at, ec)) continue;
    if (!std::filesystem::create_directory(at, ec) || ec)
      return "cannot create " + at.string() + ": " + (ec ? ec.message() : std::string("failed"));
    if (::chown(at.c_str(), pw->pw_uid, pw->pw_gid) != 0) return "cannot hand " + at.string() + " to '" + user + "'";
  }
  return {};
}

}  // namespace

int run(int argc, const char* const* argv) {
  if (is_offline_command(argc, argv)) return run_offline(argc, argv);
  ParseResult parsed = parse_config(argc, argv);
  if (!parsed.config) {
    std::fputs(parsed.output.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  Config config = std::move(*parsed.config);
  if (config.check_only) {
    std::printf("# configuration ok\n%s", describe(config).c_str());
    return 0;
  }

  AppLogger logger;
  logger.configure(config.log_format, config.log_level, config.log_target);
  fit_descriptors(config, logger);
  if (auto err = load_self_signed(config, logger); !err.empty()) {
    std::fprintf(stderr, "spamsink: config error: %s\n", err.c_str());
    return 2;
  }

  // Signals are taken synchronously by this thread; workers inherit the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // The store: every worker's records go to its StoreSink, which forwards
  // them to that worker's LogSink (the session_close lines and totals).
  std::unique_ptr<store::Store> store;
  try {
    store::StoreOptions so;
    so.path = config.db;
    so.queue_capacity = config.store_queue;
    so.retain_days = config.retain_days;
    so.retain_sessions = config.retain_sessions;
    for (const auto& l : config.listeners) so.listeners.push_back({l.name, l.mode});
    so.defer_open = true;  // opened below, as the user that will write it
    store = std::make_unique<store::Store>(std::move(so), logger);
  } catch (const std::exception& e) {
    core::log(logger, core::Level::kError, [&](core::LogLine& l) {
      l.str("event", "store_open_failed").str("db", config.db).str("error", e.what());
    });
    return 1;
  }
  std::vector<std::unique_ptr<LogSink>> sinks;
  std::vector<core::EventSink*> store_sinks;
  for (int i = 0; i < config.threads; ++i) {
    sinks.push_back(std::make_unique<LogSink>(logger));
    store_sinks.push_back(store->make_sink(sinks.back().get()));
  }
  net::Server server(net::ServerOptions{config.threads}, runtime_of(config),
                     [&](int i) -> core::EventSink* { return store_sinks[static_cast<std::size_t>(i)]; }, logger);
  try {
    server.bind();
  } catch (const std::exception& e) {
    core::log(logger, core::Level::kError, [&](core::LogLine& l) { l.str("event", "bind_failed").str("error", e.what()); });
    return 1;
  }
  // The API: its own threads, bound before the privilege drop (like the
  // listeners), reading the store and the listeners' open counts only.
  std::unique_ptr<http::ApiServer> api;
  if (!config.api_host.empty()) {
    http::ApiOptions ao;
    ao.host = config.api_host;
    ao.port = config.api_port;
    ao.token = config.api_token;
    ao.never_list = config.never_list;
    std::vector<http::OpenSessions> names;
    // Named as the store names them (the address; the mode is a label).
    for (const auto& l : config.listeners) names.push_back({l.name.substr(l.name.find(':') + 1), l.mode, 0});
    api = std::make_unique<http::ApiServer>(
        std::move(ao), store.get(), store.get(),
        [&server, names]() {
          auto out = names;
          const auto open = server.open_by_listener();
          for (std::size_t i = 0; i < out.size() && i < open.size(); ++i) out[i].open = open[i];
          return out;
        },
        logger);
    try {
      api->bind();
    } catch (const std::exception& e) {
      core::log(logger, core::Level::kError, [&](core::LogLine& l) { l.str("event", "bind_failed").str("error", e.what()); });
      return 1;
    }
  }
  if (!config.user.empty()) {
    if (auto err = config.db.empty() ? std::string() : make_state_dir(config.db, config.user); !err.empty()) {
      core::log(logger, core::Level::kError, [&](core::LogLine& l) {
        l.str("event", "store_open_failed").str("db", config.db).str("error", err);
      });
      return 1;
    }
    if (auto err = drop_privileges(config.user); !err.empty()) {
      core::log(logger, core::Level::kError, [&](core::LogLine& l) { l.str("event", "privilege_drop_failed").str("error", err); });
      return 1;
    }
  }
  const auto addrs = server.bound_addresses();
  for (std::size_t i = 0; i < addrs.size(); ++i) {
    core::log(logger, core::Level::kInfo, [&](core::LogLine& l) {
      l.str("event", "listening").str("mode", core::to_string(config.listeners[i].mode)).str("address", addrs[i]);
    });
  }
  core::log(logger, core::Level::kInfo, [&](core::LogLine& l) {
    l.str("event", "started").str("version", "0.1.0").num("threads", config.threads).str("hostname", config.hostname);
    l.str("persona", config.persona_data.name);
    l.num("max_conns", config.limits.max_connections).num("max_conns_per_ip", config.limits.max_connections_per_ip);
    l.num("uid", std::uint64_t{geteuid()});
    l.str("api", api ? api->bound_address() : std::string("none"));
  });
  try {
    store->open();
  } catch (const std::exception& e) {
    core::log(logger, core::Level::kError, [&](core::LogLine& l) {
      l.str("event", "store_open_failed").str("db", config.db).str("error", e.what());
    });
    return 1;
  }
  server.start();
  if (api) api->start();

  auto log_totals = [&](std::string_view event) {
    Totals t;
    for (const auto& s : sinks) {
      Totals w = s->totals();
      t.sessions += w.sessions;
      t.messages += w.messages;
      t.recipients += w.recipients;
      t.bytes += w.bytes;
      t.refused_messages += w.refused_messages;
      t.refused_connections += w.refused_connections;
      t.early_talkers += w.early_talkers;
      t.relay_attempts += w.relay_attempts;
      t.relay_tests += w.relay_tests;
      t.forwarded += w.forwarded;
      t.trap_hits += w.trap_hits;
    }
    core::log(logger, core::Level::kInfo, [&](core::LogLine& l) {
      l.str("event", event).num("sessions", t.sessions).num("messages", t.messages).num("recipients", t.recipients);
      l.num("bytes", t.bytes).num("refused_messages", t.refused_messages);
      l.num("refused_connections", t.refused_connections).num("early_talkers", t.early_talkers);
      l.num("relay_attempts", t.relay_attempts).num("relay_tests", t.relay_tests).num("forwarded", t.forwarded);
      l.num("trap_hits", t.trap_hits);
      l.num("open", std::uint64_t{server.open_connections()});
    });
  };

  std::atomic<bool> workers_done{false};
  std::thread joiner;
  bool stopping = false;
  for (;;) {
    struct timespec timeout = {0, 200'000'000};
    siginfo_t info;
    const int sig = sigtimedwait(&sigs, &info, &timeout);
    if (workers_done.load()) break;
    if (sig < 0) continue;
    if (sig == SIGTERM || sig == SIGINT) {
      if (stopping) {
        core::log(logger, core::Level::kWarn, [&](core::LogLine& l) { l.str("event", "forced_exit").num("signal", sig); });
        log_totals("totals");
        std::_Exit(1);
      }
      stopping = true;
      core::log(logger, core::Level::kInfo, [&](core::LogLine& l) {
        l.str("event", "stopping").num("signal", sig).num("open", std::uint64_t{server.open_connections()});
        l.str("grace", core::format_duration(config.shutdown_grace));
      });
      server.shutdown();
      joiner = std::thread([&] {
        server.join();
        workers_done.store(true);
      });
    } else if (sig == SIGUSR1) {
      log_totals("totals");
    } else if (sig == SIGHUP) {
      ParseResult again = parse_config(argc, argv);
      if (!again.config) {
        std::string why = again.output;
        while (!why.empty() && why.back() == '\n') why.pop_back();
        core::log(logger, core::Level::kError, [&](core::LogLine& l) {
          l.str("event", "reload_failed").str("error", why).str("action", "keeping the running config");
        });
        continue;
      }
      Config next = std::move(*again.config);
      bool same_listeners = next.listeners.size() == config.listeners.size();
      for (std::size_t i = 0; same_listeners && i < next.listeners.size(); ++i)
        same_listeners = next.listeners[i].name == config.listeners[i].name;
      if (!same_listeners || next.threads != config.threads || next.user != config.user) {
        core::log(logger, core::Level::kWarn, [&](core::LogLine& l) {
          l.str("event", "reload_partial").str("reason", "listeners, threads and user change only on restart");
        });
        next.listeners = config.listeners;
        for (auto& l : next.listeners) l.limits = next.limits;
        next.threads = config.threads;
        next.user = config.user;
      }
      if (next.api_host != config.api_host || next.api_port != config.api_port ||
          next.api_token != config.api_token || next.never_list != config.never_list) {
        core::log(logger, core::Level::kWarn, [&](core::LogLine& l) {
          l.str("event", "reload_partial").str("reason", "api, api_token_file and never_list change only on restart");
        });
      }
      next.api_host = config.api_host;
      next.api_port = config.api_port;
      next.api_token_file = config.api_token_file;
      next.api_token = config.api_token;
      next.never_list = config.never_list;
      fit_descriptors(next, logger);
      if (auto err = load_self_signed(next, logger); !err.empty()) {
        // A certificate that cannot be made or read now: the running one stays.
        core::log(logger, core::Level::kError, [&](core::LogLine& l) {
          l.str("event", "tls_reload_failed").str("error", err).str("action", "keeping the running certificate");
        });
        next.tls_context = config.tls_context;
      }
      logger.configure(next.log_format, next.log_level, next.log_target);
      server.update_config(runtime_of(next));
      config = std::move(next);
      core::log(logger, core::Level::kInfo, [&](core::LogLine& l) {
        l.str("event", "reloaded").str("config", config.config_file.empty() ? "(flags only)" : config.config_file);
      });
    }
  }
  if (joiner.joinable()) joiner.join();
  if (api) api->stop();  // before the store it reads goes away
  store->stop();  // the workers are done: everything they recorded is queued
  log_totals("stopped");
  return 0;
}

}  // namespace spamsink::app
