// net/server: listeners, worker threads and the connection driver.
//
// Purpose: run sessions over real sockets. N workers, each with its own
// io_context and its own SO_REUSEPORT listener per configured address, so
// a connection lives and dies on one thread.
// Invariants:
//  - a connection is one coroutine that owns its socket and lives in the
//    coroutine's frame; its deadline is the session's, enforced by the
//    worker's 250 ms sweep (one timer per worker, none per connection);
//    nothing is allocated per read;
//  - reads are wait-then-read into the worker's 64 KiB scratch buffer; a
//    connection keeps only what the session keeps (its unfinished line);
//  - replies produced by one read go out in one write;
//  - at the total cap, or on EMFILE/ENFILE, a worker stops accepting (the
//    listener stays open so queued clients wait in the backlog) and resumes
//    when a slot frees: no polling, no spinning;
//  - shared counters are touched at accept and close only.
// STARTTLS: after the 220 the connection runs a second coroutine that owns
// an OpenSSL SSL on the same descriptor (allocated then, freed at the end,
// so a plain connection carries nothing for TLS); the handshake is bounded
// by the command timeout, and a failed one ends that session only.
// Relay listeners run the same sessions in relay mode; each worker has a
// RelayForwarder (net/relay_forwarder.hpp) and all share one forwarding
// gate, so the hourly budget holds over every worker and host.
// Limits: see core::Limits; scratch 64 KiB per worker.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/event_sink.hpp"
#include "core/limits.hpp"
#include "core/logger.hpp"
#include "net/relay_forwarder.hpp"
#include "net/tarpit_engine.hpp"
#include "net/tls_context.hpp"
#include "session/session.hpp"
#include "session/spamtrap.hpp"
#include "smtp/replies.hpp"

namespace spamsink::net {

struct ListenerSpec {
  std::string name;  // e.g. "sink:127.0.0.1:2525"
  core::Mode mode = core::Mode::kSink;
  std::string host;  // numeric address: "127.0.0.1", "::"
  std::uint16_t port = 0;
  // Per-listener overrides of the global limits (filled by config).
  core::Limits limits;
  // Tarpit mode only.
  TarpitSettings tarpit;
  // Sink and relay modes: greet delay and early talkers (the tarpit has
  // its own, in `tarpit`).
  session::EarlyTalkPolicy early;
};

// Everything a session needs that a reload may change.
struct RuntimeConfig {
  std::vector<ListenerSpec> listeners;
  // Global limits; the connection caps (max_connections*) are taken from
  // here, the session limits from each listener.
  core::Limits limits;
  smtp::ReplyTable replies = smtp::ReplyTable::postfix("localhost", 10240000);
  bool hash_bodies = true;
  core::Duration shutdown_grace = core::Seconds{10};
  // After a burst, an idle worker waits this long before it polls again
  // instead of blocking (aio/batch_wait.hpp); 0 = off.
  core::Duration batch_wait{0};
  // Relay listeners: forwarding bounds and the smarthost (never null).
  std::shared_ptr<const RelaySettings> relay = std::make_shared<RelaySettings>();
  // Sink and relay listeners: null = no spamtraps.
  std::shared_ptr<const session::SpamtrapList> spamtraps;
  // Sink and relay listeners: STARTTLS where the persona offers it; null =
  // no TLS. Shared by every session (an SSL holds its own reference, so a
  // reload never pulls it from under a live session).
  TlsContextPtr tls;
};

struct ServerOptions {
  int threads = 1;
};

class Server {
 public:
  // Creates the EventSink of worker `index`; called once per worker.
  using SinkFactory = std::function<core::EventSink*(int index)>;

  Server(ServerOptions options, std::shared_ptr<const RuntimeConfig> config, SinkFactory sinks,
         core::Logger& logger);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens every listener on every worker. Throws std::runtime_error with a
  // message naming the address on failure. Port 0 picks one port, shared by
  // all workers.
  void bind();
  // "ADDR:PORT" of each listener, after bind(), in config order.
  std::vector<std::string> bound_addresses() const;
  // Starts the worker threads.
  void start();
  // New limits/replies for new sessions (listeners are not re-bound).
  void update_config(std::shared_ptr<const RuntimeConfig> config);
  // Stops accepting; sessions get `grace` to finish, then a 421.
  void shutdown();
  // Waits for the workers to finish.
  void join();
  std::uint32_t open_connections() const;
  // Open connections of each listener, in config order (relaxed reads:
  // any thread may call it, e.g. the HTTP API's).
  std::vector<std::uint32_t> open_by_listener() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spamsink::net
