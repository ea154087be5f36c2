#include "net/server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <algorithm>
#include <array>
#include <deque>
#include <atomic>
#include <cerrno>
#include <climits>
#include <ctime>
#include <stdexcept>
#include <thread>

#include "aio/event_loop.hpp"
#include "aio/read_op.hpp"
#include "net/conn_limits.hpp"
#include "net/sha256_digest.hpp"
#include "session/session.hpp"

namespace spamsink::net {

namespace {

using asio::ip::tcp;
// Asio 1.22: as_tuple still lives in experimental (DESIGN.md §7).
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t kScratchBytes = 64 * 1024;
constexpr auto kTickInterval = core::Millis{250};  // sink flush and deadline sweep
constexpr auto kFdRetry = core::Seconds{1};

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

core::IpAddress to_ip(const asio::ip::address& a) {
  if (a.is_v4()) return core::IpAddress::from_v4(a.to_v4().to_uint());
  const auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return core::IpAddress::from_v4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_uint());
  return core::IpAddress::from_v6(v6.to_bytes());
}

// What one worker needs per listener, rebuilt on reload. Each worker has
// its own copy so that reference counts stay thread-local.
struct WorkerConfig {
  std::shared_ptr<const RuntimeConfig> runtime;
  std::vector<session::SessionConfig> sessions;  // index = listener
};

std::shared_ptr<const WorkerConfig> make_worker_config(std::shared_ptr<const RuntimeConfig> rc,
                                                       session::RelayHooks* relay) {
  auto wc = std::make_shared<WorkerConfig>();
  wc->runtime = std::move(rc);
  for (const auto& l : wc->runtime->listeners) {
    session::SessionConfig sc;
    sc.replies = &wc->runtime->replies;
    sc.limits = l.limits;
    sc.mode = l.mode;
    sc.listener = l.name;
    sc.early = l.early;
    sc.spamtraps = wc->runtime->spamtraps.get();
    if (l.mode == core::Mode::kRelay) sc.relay = relay;
    sc.tls = wc->runtime->tls != nullptr && l.mode != core::Mode::kTarpit;
    wc->sessions.push_back(sc);
  }
  return wc;
}

struct Worker;

// One connection: lives in its coroutine's frame, linked into its worker's
// list so that the worker's sweep can enforce deadlines and shutdown.
struct Conn {
  Conn(Worker& w, tcp::socket s, std::shared_ptr<const WorkerConfig> c, std::size_t listener,
       const session::Peer& peer, std::uint64_t id, core::TimePoint now, core::EventSink* sink);

  Worker& worker;
  aio::ScratchSocket socket;
  std::shared_ptr<const WorkerConfig> config;  // keeps session config alive
  core::IpAddress ip;
  Sha256Digest digest;
  session::Session session;
  std::string pending;  // output a short write left behind
  Conn* prev = nullptr;
  Conn* next = nullptr;
  bool timed_out = false;
  bool stopping = false;
  bool reading = false;  // an arm-free read is queued (the sweep checks it)
  bool kicked = false;   // the sweep cancelled that read: read yourself
};

struct Parked {
  tcp::socket sock;
  session::Peer peer;
  std::size_t listener;
};

struct Shared {
  ConnLimits limits;
  // Open connections per listener (config order), for the API's gauges:
  // touched at accept and close only, relaxed (DESIGN.md §4).
  std::vector<std::string> listener_names;
  std::unique_ptr<std::atomic<std::uint32_t>[]> open;
  void opened(std::size_t li) { open[li].fetch_add(1, std::memory_order_relaxed); }
  void closed(std::size_t li) { open[li].fetch_sub(1, std::memory_order_relaxed); }
  // Names are fixed at start (a reload keeps the listener set); the first
  // listener of a name gets the count when two share one.
  std::size_t index_of(std::string_view name) const {
    for (std::size_t i = 0; i < listener_names.size(); ++i)
      if (listener_names[i] == name) return i;
    return 0;
  }
  core::Logger* logger = nullptr;
  std::vector<std::unique_ptr<Worker>>* workers = nullptr;
  void wake_acceptors();
};

struct Worker {
  Worker(int index, Shared& shared, core::EventSink* sink, ForwardGateShared& gate)
      : index(index),
        shared(shared),
        sink(sink),
        slot_timer(ctx),
        tick_timer(ctx),
        grace_timer(ctx),
        relay(ctx, gate, *shared.logger) {
    out.reserve(4096);
  }
  void set_config(std::shared_ptr<const RuntimeConfig> rc) {
    relay.set_settings(rc->relay);
    config = make_worker_config(std::move(rc), &relay);
  }

  int index;
  Shared& shared;
  core::EventSink* sink;
  // One thread runs this context and every socket operation happens on it,
  // so the reactor needs no locks; the scheduler keeps its lock because
  // other threads post to it (shutdown, reload, acceptor wake-ups).
  asio::io_context ctx{ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::shared_ptr<const WorkerConfig> config;
  asio::steady_timer slot_timer;   // acceptors wait here while paused
  asio::steady_timer tick_timer;   // sink flushes
  asio::steady_timer grace_timer;  // shutdown grace
  std::array<char, kScratchBytes> scratch;
  std::string out;  // replies of the read being processed
  Conn* live = nullptr;
  std::uint32_t live_count = 0;
  aio::EdgeSweep<Conn> sweep;  // the tick's check for missed edges
  std::deque<Parked> parked;  // accepted past the cap, waiting for a slot
  std::unique_ptr<TarpitEngine> tarpit;  // created with the first tarpit listener
  RelayForwarder relay;                  // relay listeners' smarthost client
  std::uint64_t next_id = 0;
  int paused = 0;  // acceptors waiting on slot_timer
  bool draining = false;
  bool stopped = false;
  std::thread thread;

  void link(Conn* c) {
    c->next = live;
    if (live) live->prev = c;
    live = c;
    ++live_count;
  }
  void unlink(Conn* c) {
    if (c->prev) c->prev->next = c->next;
    else live = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = nullptr;
    --live_count;
    if (draining && live_count == 0) finish_drain();
  }
  void finish_drain() {
    if (stopped) return;
    stopped = true;
    grace_timer.cancel();
    tick_timer.cancel();
    slot_timer.cancel();
  }
};

void Shared::wake_acceptors() {
  for (auto& w : *workers) {
    Worker* wp = w.get();
    asio::post(wp->ctx, [wp] {
      if (wp->paused) wp->slot_timer.cancel();
    });
  }
}

Conn::Conn(Worker& w, tcp::socket s, std::shared_ptr<const WorkerConfig> c, std::size_t listener,
           const session::Peer& peer, std::uint64_t id, core::TimePoint now, core::EventSink* sink)
    : worker(w),
      socket(std::move(s)),
      config(std::move(c)),
      ip(peer.ip),
      session(config->sessions[listener], peer, id, now, sink,
              config->runtime->hash_bodies ? &digest : nullptr) {}

// Writes `out` now if the socket takes it all; otherwise keeps the rest and
// waits. Returns false when the connection failed. `last`: the session
// closes right after this reply, so it is sent with MSG_MORE and the kernel
// holds it for close(), whose FIN then rides on the same segment (one
// packet less each way per connection: 221 and FIN arrive together). Used
// only after QUIT: input still unread at close() turns it into a reset
// that drops the held reply, which only a client that keeps sending after
// QUIT, in the microseconds before close(), can cause.
asio::awaitable<bool> send(Conn& c, std::string& out, bool last = false) {
  std::size_t done = 0;
  const int flags = MSG_DONTWAIT | MSG_NOSIGNAL | (last ? MSG_MORE : 0);
  while (done < out.size()) {
    ssize_t n = ::send(c.socket.native_handle(), out.data() + done, out.size() - done, flags);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    c.session.add_bytes_out(done);
    co_return false;
  }
  c.session.add_bytes_out(done);
  if (done == out.size()) co_return true;
  // The worker's buffer is shared: keep the rest in the connection.
  c.pending.assign(out, done);
  auto [ec] = co_await c.socket.async_wait(tcp::socket::wait_write, kTuple);
  while (!ec && !c.pending.empty()) {
    ssize_t n = ::send(c.socket.native_handle(), c.pending.data(), c.pending.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      c.session.add_bytes_out(static_cast<std::size_t>(n));
      c.pending.erase(0, static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      std::tie(ec) = co_await c.socket.async_wait(tcp::socket::wait_write, kTuple);
    } else {
      break;
    }
  }
  const bool ok = c.pending.empty();
  std::string().swap(c.pending);
  co_return ok;
}

// The greet delay of a sink or relay listener: waits `delay` (after the
// teaser, if asked) while watching for a client that talks first. Bytes are
// peeked, not read, so an ignored or deferred talker's commands are read
// after the greeting like anyone's. A coroutine of its own, so that its
// timer costs memory only while a greet delay runs. False: the connection
// is over (peer gone, rejected, shutdown).
asio::awaitable<bool> greet_delay(Conn& c, core::TimePoint due) {
  using namespace asio::experimental::awaitable_operators;
  Worker& w = c.worker;
  const auto& early = c.session.config().early;
  if (early.teaser) {
    w.out.clear();
    c.session.start_teaser(w.out);
    if (!co_await send(c, w.out)) co_return false;
  }
  asio::steady_timer timer(w.ctx);
  timer.expires_at(due);
  bool talked = false;
  while (core::SteadyClock::now() < due) {
    if (talked) {
      co_await timer.async_wait(kTuple);
    } else {
      auto first = co_await (c.socket.async_wait(tcp::socket::wait_read, kTuple) || timer.async_wait(kTuple));
      if (first.index() == 0 && !std::get<0>(std::get<0>(first))) {
        std::array<char, 16> peek;
        const ssize_t n = ::recv(c.socket.native_handle(), peek.data(), peek.size(), MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          c.session.on_peer_gone(n < 0);
          co_return false;
        }
        if (n > 0) {
          talked = true;
          w.out.clear();
          c.session.on_early_talk(std::string_view(peek.data(), static_cast<std::size_t>(n)), w.out);
          if (!w.out.empty() && !co_await send(c, w.out)) c.session.on_peer_gone(true);
          if (c.session.closing()) co_return false;
        }
      }
    }
    if (c.stopping) {
      w.out.clear();
      c.session.on_shutdown(w.out);
      co_await send(c, w.out);
      co_return false;
    }
  }
  co_return true;
}

// ---- STARTTLS ------------------------------------------------------------
// TLS sessions are rare: everything they need is allocated here, for them
// only. OpenSSL reads and writes the descriptor itself (non-blocking); a
// WANT_READ/WANT_WRITE becomes a wait on the asio socket, so deadlines and
// shutdown reach a TLS session exactly as a plain one (the sweep cancels
// the wait).

struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

// The reason of OpenSSL's last error on this thread (a static text, never
// peer data), or `fallback`.
const char* tls_error(const char* fallback) {
  unsigned long e = 0, last = 0;
  while ((e = ERR_get_error()) != 0) last = e;
  const char* r = last != 0 ? ERR_reason_error_string(last) : nullptr;
  return r != nullptr ? r : fallback;
}

void log_tls_failed(Conn& c, const char* why) {
  char ip[64];
  const std::string_view ipv(ip, c.ip.format(ip));
  core::log(*c.worker.shared.logger, core::Level::kInfo, [&](core::LogLine& l) {
    l.str("event", "tls_failed").str("ip", ipv).str("listener", c.session.config().listener).str("error", why);
  });
}

// Writes `out` through TLS; like send(), the rest of a blocked write is
// kept in the connection (SSL_write is retried with the same bytes).
asio::awaitable<bool> tls_send(Conn& c, SSL* ssl, std::string& out) {
  std::string_view rest(out);
  bool kept = false;
  bool ok = true;
  while (!rest.empty()) {
    ERR_clear_error();
    const int n = SSL_write(ssl, rest.data(), static_cast<int>(std::min<std::size_t>(rest.size(), INT_MAX)));
    if (n > 0) {
      c.session.add_bytes_out(static_cast<std::uint64_t>(n));
      rest.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    const int e = SSL_get_error(ssl, n);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      ok = false;
      break;
    }
    if (!kept) {  // the worker's buffer is shared: keep the rest here
      c.pending.assign(rest);
      rest = c.pending;
      kept = true;
    }
    auto [ec] = co_await c.socket.async_wait(e == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write,
                                             kTuple);
    if (ec) {
      ok = false;
      break;
    }
  }
  ERR_clear_error();
  if (kept) std::string().swap(c.pending);
  co_return ok;
}

// After the 220 to STARTTLS: the handshake, then the rest of the session
// over TLS. Returns when the session is over.
asio::awaitable<void> run_tls(Conn& c) {
  Worker& w = c.worker;
  SSL_CTX* ctx = c.config->runtime->tls.get();
  asio::error_code nb;
  c.socket.non_blocking(true, nb);
  // OpenSSL writes a reply as several segments at times (TLS 1.3 session
  // tickets after the handshake, a record per SSL_write): with Nagle on,
  // each later one waits for the peer's delayed ACK (40 ms here).
  asio::error_code ignored;
  c.socket.set_option(tcp::no_delay(true), ignored);
  std::unique_ptr<SSL, SslFree> ssl(ctx != nullptr && !nb ? SSL_new(ctx) : nullptr);
  if (!ssl || SSL_set_fd(ssl.get(), c.socket.native_handle()) != 1) {
    log_tls_failed(c, tls_error("cannot set up TLS"));
    c.session.on_tls_failed();
    co_return;
  }
  // The handshake; bounded by the session's deadline (the command timeout
  // set by the STARTTLS line) through the worker's sweep.
  for (;;) {
    ERR_clear_error();
    const int r = SSL_accept(ssl.get());
    if (r == 1) break;
    const int e = SSL_get_error(ssl.get(), r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      auto [ec] = co_await c.socket.async_wait(
          e == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write, kTuple);
      if (!ec) continue;
      log_tls_failed(c, c.stopping ? "server stopping" : c.timed_out ? "handshake timeout" : "socket error");
    } else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
      log_tls_failed(c, tls_error("peer closed during the handshake"));
    } else {
      log_tls_failed(c, tls_error("handshake failed"));
    }
    ERR_clear_error();
    c.session.on_tls_failed();
    co_return;
  }
  c.session.on_tls_started(core::SteadyClock::now());
  bool clean = false;  // the session ended by the protocol: send close_notify
  while (!c.session.closing()) {
    w.out.clear();
    ERR_clear_error();
    // Read first, wait after: OpenSSL may hold a decrypted record already.
    const int n = SSL_read(ssl.get(), w.scratch.data(), static_cast<int>(w.scratch.size()));
    const core::TimePoint now = core::SteadyClock::now();
    if (n > 0) {
      c.session.on_bytes(std::string_view(w.scratch.data(), static_cast<std::size_t>(n)), now, w.out);
    } else {
      const int e = SSL_get_error(ssl.get(), n);
      if (e == SSL_ERROR_ZERO_RETURN) {  // close_notify
        c.session.on_peer_gone(false);
        break;
      }
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        // EOF without close_notify, a reset, or a bad record.
        c.session.on_peer_gone(!(e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0));
        break;
      }
      auto [ec] = co_await c.socket.async_wait(
          e == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write, kTuple);
      if (!ec) continue;
      if (c.stopping) {
        c.session.on_shutdown(w.out);
      } else if (c.timed_out) {
        c.timed_out = false;
        c.session.on_deadline(core::SteadyClock::now(), w.out);
      } else {
        c.session.on_peer_gone(true);
        break;
      }
    }
    if (!w.out.empty() && !co_await tls_send(c, ssl.get(), w.out)) {
      c.session.on_peer_gone(true);
      break;
    }
    clean = c.session.closing();
  }
  if (clean) SSL_shutdown(ssl.get());  // one try, never waited for
  ERR_clear_error();
}

asio::awaitable<void> run_connection(Worker& w, tcp::socket sock, std::size_t li, session::Peer peer,
                                     std::uint64_t id, core::TimePoint start) {
  if (w.config->sessions[li].mode == core::Mode::kRelay) {
    // Relay tests carry the address they were sent to: ours, per connection
    // (the listener may be a wildcard).
    asio::error_code ec;
    const auto local = sock.local_endpoint(ec);
    if (!ec) peer.local = to_ip(local.address());
  }
  Conn c(w, std::move(sock), w.config, li, peer, id, start, w.sink);
  w.link(&c);
  bool alive = true;
  // The first read after the greeting waits for its edge: a client sends
  // nothing before it has our greeting, so a speculative start (Asio tries
  // one on a new socket) would only cost a recv that fails with EAGAIN. A
  // client that talked before the greeting without a greet_delay is found
  // by the tick's sweep instead, up to kTickInterval later.
  auto first_start = aio::ScratchSocket::Start::kWaitForEdge;
  if (const auto delay = c.session.config().early.greet_delay; delay > core::Duration::zero()) {
    first_start = aio::ScratchSocket::Start::kMayTry;
    alive = co_await greet_delay(c, start + delay);
    // A rejected talker's bytes were only peeked: read them (once, bounded
    // by the scratch buffer) so that close() sends a FIN after the reply,
    // not a reset that may destroy it.
    if (!alive) (void)::recv(c.socket.native_handle(), w.scratch.data(), w.scratch.size(), MSG_DONTWAIT);
  }
  if (alive) {
    w.out.clear();
    c.session.start(w.out, static_cast<std::int64_t>(std::time(nullptr)));
    alive = co_await send(c, w.out);
  }
  // After a read that filled the scratch buffer more may be waiting with no
  // new edge to come: then wait with async_wait, which re-arms epoll.
  bool full = false;
  while (alive && !c.session.closing()) {
    asio::error_code ec;
    std::size_t got = 0;
    bool read_self = full;
    if (full) {
      std::tie(ec) = co_await c.socket.async_wait(tcp::socket::wait_read, kTuple);
    } else {
      c.reading = true;
      std::tie(ec, got, read_self) =
          co_await c.socket.async_read_scratch(w.scratch.data(), w.scratch.size(), kTuple, false, first_start);
      first_start = aio::ScratchSocket::Start::kMayTry;
      c.reading = false;
      if (c.kicked) {
        c.kicked = false;
        if (ec == asio::error::operation_aborted && !c.timed_out && !c.stopping) {
          ec.clear();
          read_self = true;
        }
      }
    }
    // A cancel for a deadline or shutdown misses a read that start_op had
    // already finished (aio/read_op.hpp): the flags decide, not the error.
    if (!ec && (c.timed_out || c.stopping)) ec = asio::error::operation_aborted;
    const core::TimePoint now = core::SteadyClock::now();
    w.out.clear();
    if (ec) {
      if (c.stopping) {
        c.session.on_shutdown(w.out);
      } else if (c.timed_out) {
        c.timed_out = false;
        c.session.on_deadline(now, w.out);
      } else {
        c.session.on_peer_gone(true);
        break;
      }
    } else {
      if (read_self) {
        const ssize_t n = ::recv(c.socket.native_handle(), w.scratch.data(), w.scratch.size(), MSG_DONTWAIT);
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            full = false;
            continue;
          }
          c.session.on_peer_gone(true);
          break;
        }
        got = static_cast<std::size_t>(n);
      }
      if (got == 0) {
        c.session.on_peer_gone(false);
        break;
      }
      full = aio::ScratchSocket::full_read(got, w.scratch.size());
      c.session.on_bytes(std::string_view(w.scratch.data(), got), now, w.out);
    }
    // After QUIT a client sends nothing more; on other closes unread input
    // would turn close() into a reset that drops a held reply.
    const bool last = c.session.closing() && c.session.end_reason() == core::EndReason::kQuit;
    if (!w.out.empty() && !co_await send(c, w.out, last)) {
      c.session.on_peer_gone(true);
      break;
    }
    if (c.session.tls_requested()) {
      co_await run_tls(c);
      break;
    }
  }
  c.session.finish(core::SteadyClock::now());
  asio::error_code ignored;
  c.socket.close(ignored);  // close() sends the FIN; no shutdown() call needed
  w.unlink(&c);
  w.shared.closed(li);
  if (w.shared.limits.release(c.ip)) w.shared.wake_acceptors();
}

void refuse(Worker& w, tcp::socket& sock, const session::Peer& peer, std::size_t listener, std::string_view text,
            core::EndReason reason = core::EndReason::kTooManyConns) {
  ::send(sock.native_handle(), text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  const auto now = core::SteadyClock::now();
  core::SessionRecord r;
  r.session_id = (++w.next_id << 8) | static_cast<std::uint64_t>(w.index);
  r.mode = w.config->sessions[listener].mode;
  r.listener = w.config->sessions[listener].listener;
  r.ip = peer.ip;
  r.port = peer.port;
  r.start = r.end = now;
  r.bytes_out = text.size();
  r.reason = reason;
  if (w.sink) w.sink->session_closed(r);
  asio::error_code ignored;
  sock.close(ignored);
}

asio::awaitable<void> wait_for_slot(Worker& w, core::Duration limit) {
  ++w.paused;
  w.slot_timer.expires_after(limit);
  co_await w.slot_timer.async_wait(kTuple);
  --w.paused;
}

// Starts the session of an accepted client, or refuses it (per-IP cap), or
// parks it when the total cap was reached between the check before accept
// and the accept itself (several workers accept at once). A parked client
// is connected but not greeted, exactly like one waiting in the backlog;
// it is admitted as soon as a slot frees. Each worker pauses right after
// parking, so at most one client per worker is ever parked.
void admit(Worker& w, Parked p) {
  const session::SessionConfig& sc = w.config->sessions[p.listener];
  const bool tarpit = sc.mode == core::Mode::kTarpit;
  switch (w.shared.limits.acquire(p.peer.ip, !tarpit)) {
    case ConnLimits::Result::kOk: {
      if (tarpit) {
        // spamd's load shedding: above the high-water mark a newcomer gets
        // a quick 421 instead of a hold, so the last slots stay free and the
        // listener is never paused for long.
        const std::uint32_t max = w.shared.limits.max_total();
        const auto& ts = w.config->runtime->listeners[p.listener].tarpit;
        if (max != 0 && static_cast<std::uint64_t>(w.shared.limits.total()) * 100 > std::uint64_t{max} * ts.high_water_percent) {
          refuse(w, p.sock, p.peer, p.listener, sc.replies->get(smtp::ReplyId::kShed), core::EndReason::kShed);
          if (w.shared.limits.release(p.peer.ip)) w.shared.wake_acceptors();
          return;
        }
        // A held connection becomes a record: the socket object goes away.
        const int fd = p.sock.release();
        w.shared.opened(p.listener);
        w.tarpit->adopt(fd, p.peer.ip, p.peer.port, sc.listener, sc.replies,
                        w.config->runtime->listeners[p.listener].tarpit, core::SteadyClock::now());
        return;
      }
      const std::uint64_t id = (++w.next_id << 8) | static_cast<std::uint64_t>(w.index);
      w.shared.opened(p.listener);
      asio::co_spawn(w.ctx, run_connection(w, std::move(p.sock), p.listener, p.peer, id, core::SteadyClock::now()),
                     asio::detached);
      return;
    }
    case ConnLimits::Result::kPerIpFull: {
      std::string text;
      char ipbuf[64];
      w.config->runtime->replies.too_many_conns(std::string_view(ipbuf, p.peer.ip.format(ipbuf)), text);
      refuse(w, p.sock, p.peer, p.listener, text);
      return;
    }
    case ConnLimits::Result::kTotalFull:
      w.parked.push_back(std::move(p));
      return;
  }
}

// Admits parked clients while slots are free.
void unpark(Worker& w) {
  while (!w.parked.empty() && !w.shared.limits.full()) {
    Parked p = std::move(w.parked.front());
    w.parked.pop_front();
    admit(w, std::move(p));
  }
}

asio::awaitable<void> accept_loop(Worker& w, std::size_t li) {
  tcp::acceptor& acc = *w.acceptors[li];
  bool logged_fd_pause = false;
  for (;;) {
    if (w.draining) co_return;
    unpark(w);
    if (w.shared.limits.full() || !w.parked.empty()) {
      // At the cap: leave the listener alone (clients queue in the backlog)
      // until a connection closes somewhere.
      co_await wait_for_slot(w, core::Seconds{3600});
      continue;
    }
    tcp::socket sock(w.ctx);
    tcp::endpoint peer_ep;
    auto [ec] = co_await acc.async_accept(sock, peer_ep, kTuple);
    if (ec) {
      if (w.draining || ec == asio::error::operation_aborted) co_return;
      if (ec == asio::error::no_descriptors || ec.value() == ENFILE || ec.value() == ENOBUFS ||
          ec.value() == ENOMEM) {
        if (!logged_fd_pause) {
          core::log(*w.shared.logger, core::Level::kWarn, [&](core::LogLine& l) {
            l.str("event", "accept_paused").str("reason", ec.message()).num("open", w.shared.limits.total());
          });
          logged_fd_pause = true;
        }
        co_await wait_for_slot(w, kFdRetry);
      }
      continue;  // ECONNABORTED and friends: the next client
    }
    logged_fd_pause = false;
    session::Peer peer{to_ip(peer_ep.address()), peer_ep.port()};
    admit(w, Parked{std::move(sock), peer, li});
    unpark(w);
  }
}

// Every tick: flush the sink, and end the waits of connections past their
// deadline. One timer per worker instead of one per connection: a
// connection's deadline moves with every line at the cost of a store, and
// no timer is armed or cancelled per connection (deadlines are enforced to
// within one tick).
asio::awaitable<void> tick_loop(Worker& w) {
  while (!w.stopped) {
    w.tick_timer.expires_after(kTickInterval);
    co_await w.tick_timer.async_wait(kTuple);
    if (w.sink) w.sink->tick();
    const auto now = core::SteadyClock::now();
    w.sweep.clear();
    for (Conn* c = w.live; c != nullptr; c = c->next) {
      if (!c->timed_out && !c->session.closing() && now >= c->session.deadline()) {
        c->timed_out = true;
        asio::error_code ignored;
        c->socket.cancel(ignored);
      } else if (c->reading && !c->kicked) {
        w.sweep.add(c->socket.native_handle(), c);
      }
    }
    // A FIN or reset that came with a read's last bytes gives no new edge
    // (aio/read_op.hpp): find those sockets and let their coroutines read.
    w.sweep.for_each_ready([](Conn* c) {
      c->kicked = true;
      asio::error_code ignored;
      c->socket.cancel(ignored);
    });
  }
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  std::shared_ptr<const RuntimeConfig> config;
  SinkFactory sinks;
  core::Logger& logger;
  Shared shared;
  ForwardGateShared gate;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::string> bound;
  bool started = false;

  Impl(ServerOptions o, std::shared_ptr<const RuntimeConfig> c, SinkFactory s, core::Logger& l)
      : options(o), config(std::move(c)), sinks(std::move(s)), logger(l) {
    shared.logger = &logger;
    shared.workers = &workers;
    shared.limits.set(config->limits.max_connections, config->limits.max_connections_per_ip);
    for (const auto& l : config->listeners) shared.listener_names.push_back(l.name);
    shared.open = std::make_unique<std::atomic<std::uint32_t>[]>(std::max<std::size_t>(1, config->listeners.size()));
    if (options.threads < 1) options.threads = 1;
    for (int i = 0; i < options.threads; ++i) {
      workers.push_back(std::make_unique<Worker>(i, shared, sinks ? sinks(i) : nullptr, gate));
      workers.back()->set_config(config);
    }
  }
};

Server::Server(ServerOptions options, std::shared_ptr<const RuntimeConfig> config, SinkFactory sinks,
               core::Logger& logger)
    : impl_(std::make_unique<Impl>(options, std::move(config), std::move(sinks), logger)) {}

Server::~Server() {
  if (impl_->started) {
    shutdown();
    join();
  }
}

void Server::bind() {
  const auto& listeners = impl_->config->listeners;
  for (const auto& l : listeners) {
    if (l.mode != core::Mode::kTarpit) continue;
    for (auto& wp : impl_->workers) {
      Worker* w = wp.get();
      w->tarpit = std::make_unique<TarpitEngine>(w->ctx, w->sink, [w](const core::IpAddress& ip, std::string_view listener) {
        w->shared.closed(w->shared.index_of(listener));
        if (w->shared.limits.release(ip)) w->shared.wake_acceptors();
      });
    }
    break;
  }
  for (std::size_t li = 0; li < listeners.size(); ++li) {
    const ListenerSpec& spec = listeners[li];
    asio::error_code ec;
    const asio::ip::address addr = asio::ip::make_address(spec.host, ec);
    if (ec) throw std::runtime_error("listener " + spec.name + ": bad address '" + spec.host + "'");
    // "[::]" alone is dual-stack; next to an IPv4 listener on the same port
    // it must be IPv6-only, or the two binds collide.
    bool v6only = false;
    if (addr.is_v6())
      for (const auto& other : listeners)
        if (&other != &spec && other.port == spec.port && other.port != 0 &&
            asio::ip::make_address(other.host, ec).is_v4())
          v6only = true;
    std::uint16_t port = spec.port;
    for (auto& w : impl_->workers) {
      auto acc = std::make_unique<tcp::acceptor>(w->ctx);
      tcp::endpoint ep(addr, port);
      auto fail = [&](const char* what, const asio::error_code& e) {
        throw std::runtime_error("listener " + spec.name + ": " + what + " " + spec.host + ":" +
                                 std::to_string(port) + ": " + e.message());
      };
      acc->open(ep.protocol(), ec);
      if (ec) fail("cannot open socket for", ec);
      acc->set_option(tcp::acceptor::reuse_address(true), ec);
      acc->set_option(ReusePort(true), ec);
      if (ec) fail("cannot set SO_REUSEPORT on", ec);
      if (addr.is_v6()) acc->set_option(asio::ip::v6_only(v6only), ec);
      if (spec.mode == core::Mode::kTarpit && spec.tarpit.strategy == TarpitSettings::Strategy::kStall) {
        // Before listen(): accepted sockets inherit it, and only then is the
        // window the bot is offered small from the start (DESIGN.md §6).
        acc->set_option(asio::socket_base::receive_buffer_size(1), ec);
        if (ec) fail("cannot set SO_RCVBUF on", ec);
      }
      acc->bind(ep, ec);
      if (ec) fail("cannot bind", ec);
      acc->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) fail("cannot listen on", ec);
      if (port == 0) port = acc->local_endpoint().port();
      w->acceptors.push_back(std::move(acc));
    }
    const bool v6 = addr.is_v6();
    impl_->bound.push_back((v6 ? "[" : "") + spec.host + (v6 ? "]" : "") + ":" + std::to_string(port));
  }
}

std::vector<std::string> Server::bound_addresses() const { return impl_->bound; }

void Server::start() {
  impl_->started = true;
  for (auto& wp : impl_->workers) {
    Worker& w = *wp;
    for (std::size_t li = 0; li < w.acceptors.size(); ++li)
      asio::co_spawn(w.ctx, accept_loop(w, li), asio::detached);
    asio::co_spawn(w.ctx, tick_loop(w), asio::detached);
    w.thread = std::thread([&w] {
      for (;;) {
        try {
          // run(), but after a burst the worker may wait batch_wait
          // instead of sleeping in epoll_wait (docs/architecture.md).
          aio::run_batched(
              w.ctx, [&w] { return w.config->runtime->batch_wait; }, [&w] { return std::size_t{w.live_count}; });
          break;
        } catch (const std::exception& e) {
          // An exception ends one session at most; the worker goes on.
          core::log(*w.shared.logger, core::Level::kError,
                    [&](core::LogLine& l) { l.str("event", "worker_exception").str("what", e.what()); });
        }
      }
      if (w.sink) w.sink->tick();
    });
  }
}

void Server::update_config(std::shared_ptr<const RuntimeConfig> config) {
  // Listeners are bound once: the caller keeps their number and order.
  if (config->listeners.size() != impl_->config->listeners.size())
    throw std::logic_error("update_config: the listener set cannot change without a restart");
  impl_->shared.limits.set(config->limits.max_connections, config->limits.max_connections_per_ip);
  impl_->config = config;
  for (auto& wp : impl_->workers) {
    Worker* w = wp.get();
    asio::post(w->ctx, [w, config]() mutable { w->set_config(std::move(config)); });
  }
  impl_->shared.wake_acceptors();
}

void Server::shutdown() {
  for (auto& wp : impl_->workers) {
    Worker* w = wp.get();
    asio::post(w->ctx, [w] {
      if (w->draining) return;
      w->draining = true;
      asio::error_code ignored;
      for (auto& acc : w->acceptors) acc->close(ignored);
      w->parked.clear();  // never greeted: closing them loses nothing
      if (w->tarpit) w->tarpit->close_all();  // a tarpit has nothing to finish
      w->relay.stop();  // forwards in flight are abandoned, each with its log line
      w->slot_timer.cancel();
      if (w->live_count == 0) return w->finish_drain();
      w->grace_timer.expires_after(w->config->runtime->shutdown_grace);
      w->grace_timer.async_wait([w](const asio::error_code& ec) {
        if (ec) return;
        for (Conn* c = w->live; c != nullptr; c = c->next) {
          c->stopping = true;
          asio::error_code ignored2;
          c->socket.cancel(ignored2);
        }
      });
    });
  }
}

void Server::join() {
  for (auto& w : impl_->workers)
    if (w->thread.joinable()) w->thread.join();
  impl_->started = false;
}

std::uint32_t Server::open_connections() const { return impl_->shared.limits.total(); }

std::vector<std::uint32_t> Server::open_by_listener() const {
  std::vector<std::uint32_t> out(impl_->shared.listener_names.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = impl_->shared.open[i].load(std::memory_order_relaxed);
  return out;
}

}  // namespace spamsink::net
