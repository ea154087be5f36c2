#include "loadgen/engine.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <tuple>

#include "aio/event_loop.hpp"
#include "aio/read_op.hpp"

namespace spamsink::loadgen {

namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t kScratch = 64 * 1024;
constexpr std::size_t kSenderBuffer = 16 * 1024;  // replies land here
constexpr auto kWatchdog = std::chrono::milliseconds{100};
constexpr int kMaxConnectFailures = 20;  // in a row, per sender

std::uint64_t us_between(Clock::time_point a, Clock::time_point b) {
  return b > a ? static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(b - a).count()) : 0;
}

Clock::duration secs(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

struct Shared {
  const Options& o;
  MessageTemplate tmpl;
  ClientOptions copts;
  tcp::endpoint target;
  std::vector<asio::ip::address> binds;
  Clock::time_point start;
  Clock::time_point stop_at;  // -t
  std::uint64_t total = 0;    // 0 = by time
  std::atomic<std::uint64_t> claimed{0};
  std::atomic<std::uint64_t> next_bind{0};
  std::atomic<bool> stop{false};
  std::shared_ptr<SSL_CTX> tls;  // --starttls: one client context, no verification
  std::mutex mu;
  std::string error;
  std::string early_report;

  explicit Shared(const Options& opts) : o(opts) {}
  void fail(const std::string& why) {
    std::lock_guard l(mu);
    if (error.empty()) error = why;
    stop = true;
  }
};

// A wait in progress, watched by the worker's watchdog.
struct Watch {
  tcp::socket* sock = nullptr;
  Clock::time_point deadline = Clock::time_point::max();
  bool fired = false;
  bool reading = false;  // an arm-free read is queued (the sweep checks it)
  bool kicked = false;   // the sweep cancelled it: read yourself
  Watch* prev = nullptr;
  Watch* next = nullptr;
};

struct Worker {
  // Nothing is ever posted to a worker from another thread: no locks at all.
  asio::io_context ctx{ASIO_CONCURRENCY_HINT_UNSAFE};
  aio::EdgeSweep<Watch> sweep;  // the watchdog's check for missed edges
  Stats stats;
  std::atomic<std::uint64_t> ok{0}, failed{0};  // for the progress line
  std::array<char, kScratch> scratch;
  Watch* watches = nullptr;
  int live = 0;
  bool dog_running = false;
  asio::steady_timer dog{ctx};

  void add(Watch& w) {
    w.next = watches;
    if (watches) watches->prev = &w;
    watches = &w;
    ++live;
  }
  void remove(Watch& w) {
    if (w.prev) w.prev->next = w.next;
    else watches = w.next;
    if (w.next) w.next->prev = w.prev;
    w.prev = w.next = nullptr;
    // With nothing left to watch the watchdog ends: wake it now, or the
    // thread's run would end up to a tick (100 ms) after the last close.
    if (--live == 0) dog.cancel();
  }
};

asio::awaitable<void> watchdog(Worker& w) {
  while (w.live > 0) {
    w.dog.expires_after(kWatchdog);
    const auto [ec] = co_await w.dog.async_wait(kTuple);
    if (ec == asio::error::operation_aborted) continue;  // remove() woke us: live is 0, or soon again not
    const auto now = Clock::now();
    w.sweep.clear();
    for (Watch* x = w.watches; x != nullptr; x = x->next) {
      if (!x->fired && now >= x->deadline) {
        x->fired = true;
        asio::error_code ignored;
        x->sock->cancel(ignored);
      } else if (x->reading && !x->kicked) {
        w.sweep.add(x->sock->native_handle(), x);
      }
    }
    // A FIN or reset that came with a read's last bytes gives no new edge
    // (aio/read_op.hpp): let those senders read for themselves.
    w.sweep.for_each_ready([](Watch* x) {
      x->kicked = true;
      asio::error_code ignored;
      x->sock->cancel(ignored);
    });
  }
  w.dog_running = false;
}

void watch_start(Worker& w, Watch& watch) {
  w.add(watch);
  if (!w.dog_running) {
    w.dog_running = true;
    asio::co_spawn(w.ctx, watchdog(w), asio::detached);
  }
}

// What an open socket needs before it connects: --mss, --bind, and the
// connect timeout.
asio::error_code prepare_to_connect(Shared& sh, Watch& watch, tcp::socket& sock) {
  asio::error_code ec;
  if (sh.o.mss > 0) {
    int mss = sh.o.mss;
    ::setsockopt(sock.native_handle(), IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);
  }
  if (!sh.binds.empty()) {
    const auto& a = sh.binds[sh.next_bind.fetch_add(1, std::memory_order_relaxed) % sh.binds.size()];
    sock.bind(tcp::endpoint(a, 0), ec);
    if (ec) return ec;
  }
  watch.fired = false;
  watch.deadline = Clock::now() + secs(sh.o.timeout);
  return ec;
}

// Opens, binds and connects `sock` within the timeout (the probes: they
// time the connection itself).
asio::awaitable<asio::error_code> open_and_connect(Shared& sh, Watch& watch, tcp::socket& sock) {
  asio::error_code ec;
  sock.open(sh.target.protocol(), ec);
  if (!ec) ec = prepare_to_connect(sh, watch, sock);
  if (ec) co_return ec;
  auto [cec] = co_await sock.async_connect(sh.target, kTuple);
  if (cec == asio::error::operation_aborted && watch.fired) co_return asio::error::timed_out;
  co_return cec;
}

// A read the watchdog's sweep cancelled (epoll would not report it again,
// aio/read_op.hpp): read for yourself. False when nothing was there after
// all: queue the read again.
bool read_after_kick(Watch& watch, tcp::socket& sock, std::array<char, kSenderBuffer>& buf, asio::error_code& ec,
                     std::size_t& got) {
  if (!watch.kicked) return true;
  watch.kicked = false;
  if (ec != asio::error::operation_aborted || watch.fired) return true;
  const ssize_t n = ::recv(sock.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
  if (n >= 0) {
    ec.clear();
    got = static_cast<std::size_t>(n);
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
  ec = asio::error_code(errno, asio::error::get_system_category());
  return true;
}

// A sender's connect and the first read after it.
struct Greeted {
  asio::error_code ec;     // the read (or the connect) failed; timed_out when the watch fired
  std::size_t got = 0;     // bytes in the buffer; none and no error: the server closed
  bool connected = false;  // false: a failed connect, which `ec` names
};

// Connects without waiting for the connection: a non-blocking connect(),
// then the read of the greeting, which a failed connect ends with its
// error (connection refused...). Asio's async_connect costs four system
// calls more per connection: ioctl(FIONBIO), epoll_ctl(MOD) for EPOLLOUT,
// and poll() and getsockopt(SO_ERROR) when it completes. After a timeout,
// getpeername() tells a connect that never completed from a silent server.
asio::awaitable<Greeted> connect_and_read(Shared& sh, Watch& watch, aio::ScratchSocket& sock,
                                          std::array<char, kSenderBuffer>& buf) {
  Greeted g;
  g.ec = sock.open_nonblocking(sh.target.protocol());
  if (!g.ec) g.ec = prepare_to_connect(sh, watch, sock);
  if (g.ec) co_return g;
  const int fd = sock.native_handle();
  if (::connect(fd, sh.target.data(), static_cast<socklen_t>(sh.target.size())) != 0 && errno != EINPROGRESS) {
    g.ec = asio::error_code(errno, asio::error::get_system_category());
    co_return g;
  }
  // The socket was registered before connect(), so the greeting's arrival
  // (or the connect's failure) is an edge: wait for it rather than try a
  // recv that, this soon after connect(), mostly finds nothing.
  auto start = aio::ScratchSocket::Start::kWaitForEdge;
  bool ready = false;  // an own buffer is read at once, never left `ready`
  do {
    watch.reading = true;
    std::tie(g.ec, g.got, ready) = co_await sock.async_read_scratch(buf.data(), buf.size(), kTuple, true, start);
    watch.reading = false;
    start = aio::ScratchSocket::Start::kMayTry;
  } while (!read_after_kick(watch, sock, buf, g.ec, g.got));
  if (!g.ec) {
    g.connected = true;
  } else if (g.ec == asio::error::operation_aborted && watch.fired) {
    g.ec = asio::error::timed_out;
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    g.connected = ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0;
  } else {
    // Only a reset proves the connection was made: one in SYN_SENT is
    // "refused", and every other error (unreachable, an ICMP reject such
    // as EACCES, a SYN timeout) ends a connect.
    g.connected = g.ec == asio::error::connection_reset;
  }
  co_return g;
}

FailKind kind_of(const asio::error_code& ec) {
  if (ec == asio::error::connection_refused) return FailKind::kRefused;
  if (ec == asio::error::timed_out) return FailKind::kTimeout;
  return FailKind::kReset;
}

// Sends head then body, all of it; false on error or timeout.
asio::awaitable<bool> send_all(Shared& sh, Watch& watch, tcp::socket& sock, Output& out, Stats& st) {
  std::size_t head_off = 0, body_off = 0;
  while (head_off < out.head.size() || body_off < out.body.size()) {
    iovec iov[2];
    int n = 0;
    if (head_off < out.head.size()) iov[n++] = {out.head.data() + head_off, out.head.size() - head_off};
    if (body_off < out.body.size())
      iov[n++] = {const_cast<char*>(out.body.data()) + body_off, out.body.size() - body_off};
    ssize_t sent;
    if (n == 1) {
      // One buffer (every command; a body goes with its headers in the
      // second): send() skips sendmsg()'s msghdr and iovec copies.
      sent = ::send(sock.native_handle(), iov[0].iov_base, iov[0].iov_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    } else {
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<std::size_t>(n);
      sent = ::sendmsg(sock.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    if (sent > 0) {
      st.bytes_sent += static_cast<std::uint64_t>(sent);
      std::size_t s = static_cast<std::size_t>(sent);
      std::size_t h = std::min(s, out.head.size() - head_off);
      head_off += h;
      body_off += s - h;
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      watch.fired = false;
      watch.deadline = Clock::now() + secs(sh.o.timeout);
      auto [ec] = co_await sock.async_wait(tcp::socket::wait_write, kTuple);
      if (ec) co_return false;
      continue;
    }
    co_return false;
  }
  co_return true;
}

class Events final : public ClientEvents {
 public:
  Events(Shared& sh, Worker& w) : sh_(sh), w_(w) {}
  // The run stopped, or its -t time is up.
  static bool over(const Shared& sh) {
    return sh.stop.load(std::memory_order_relaxed) || (sh.total == 0 && Clock::now() >= sh.stop_at);
  }
  // Takes a message from the budget; false when none is left.
  static bool reserve(Shared& sh, std::uint64_t& ticket) {
    if (over(sh)) return false;
    ticket = sh.claimed.fetch_add(1, std::memory_order_relaxed);
    return sh.total == 0 || ticket < sh.total;
  }
  // The connection was opened for a message reserved before connecting, so
  // that no connection is opened for a message that does not exist.
  void use_reserved(std::uint64_t ticket) {
    reserved_ = true;
    ticket_ = ticket;
  }
  bool claim_message() override {
    if (reserved_) {
      reserved_ = false;
    } else if (!reserve(sh_, ticket_)) {
      return false;
    }
    start_ = sh_.o.rate > 0 ? scheduled(sh_, ticket_) : Clock::now();
    claimed_ = true;
    return true;
  }
  static Clock::time_point scheduled(const Shared& sh, std::uint64_t ticket) {
    return sh.start + secs(static_cast<double>(ticket) / sh.o.rate);
  }
  void message_done(bool accepted) override {
    w_.stats.message_latency.add(us_between(start_, Clock::now()));
    if (accepted) {
      ++w_.stats.messages_ok;
      w_.ok.store(w_.stats.messages_ok, std::memory_order_relaxed);
    } else {
      ++w_.stats.messages_failed;
      w_.failed.store(w_.stats.messages_failed, std::memory_order_relaxed);
    }
  }
  void reply_error(int code, Stage stage) override {
    if (code >= 0 && code < 600) ++w_.stats.reply_codes[static_cast<std::size_t>(code)];
    if (sh_.o.verbose && session_ != nullptr) {
      std::string t(session_->last_text());
      std::fprintf(stderr, "smtpsend: %d %s (at %s)\n", code, t.c_str(), std::string(to_string(stage)).c_str());
    }
  }
  // A message was claimed during the last on_bytes(): when may it start?
  bool take_claim(Clock::time_point& when) {
    if (!claimed_) return false;
    claimed_ = false;
    when = start_;
    return true;
  }
  void set_session(const ClientSession* s) { session_ = s; }

 private:
  Shared& sh_;
  Worker& w_;
  const ClientSession* session_ = nullptr;
  std::uint64_t ticket_ = 0;
  Clock::time_point start_{};
  bool claimed_ = false;
  bool reserved_ = false;
};

// --starttls: after the 220, the handshake and the rest of the connection
// over TLS. OpenSSL reads and writes the descriptor; WANT_READ/WANT_WRITE
// become waits on the socket, watched by the worker's watchdog like every
// other wait. Returns kCount when the session ended normally.
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

asio::awaitable<bool> tls_wait(Shared& sh, Watch& watch, tcp::socket& sock, int err) {
  watch.fired = false;
  watch.deadline = Clock::now() + secs(sh.o.timeout);
  auto [ec] = co_await sock.async_wait(err == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write,
                                       kTuple);
  co_return !ec;
}

asio::awaitable<bool> tls_write(Shared& sh, Watch& watch, tcp::socket& sock, SSL* ssl, std::string_view data,
                                Stats& st) {
  while (!data.empty()) {
    ERR_clear_error();
    const int n = SSL_write(ssl, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), INT_MAX)));
    if (n > 0) {
      st.bytes_sent += static_cast<std::uint64_t>(n);
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    const int e = SSL_get_error(ssl, n);
    if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || !co_await tls_wait(sh, watch, sock, e))
      co_return false;
  }
  co_return true;
}

asio::awaitable<FailKind> tls_session(Shared& sh, Worker& w, tcp::socket& sock, Watch& watch, ClientSession& cs,
                                      Events& events, Output& out, std::array<char, kSenderBuffer>& rbuf,
                                      asio::steady_timer* pace) {
  asio::error_code ec;
  sock.non_blocking(true, ec);
  sock.set_option(tcp::no_delay(true), ec);  // a record per write: never wait for a delayed ACK
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(sh.tls.get()));
  if (!ssl || SSL_set_fd(ssl.get(), sock.native_handle()) != 1) co_return FailKind::kProtocol;
  for (;;) {
    ERR_clear_error();
    const int r = SSL_connect(ssl.get());
    if (r == 1) break;
    const int e = SSL_get_error(ssl.get(), r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      if (sh.o.verbose) {
        char buf[256];
        ERR_error_string_n(ERR_peek_last_error(), buf, sizeof buf);
        std::fprintf(stderr, "smtpsend: TLS handshake failed: %s\n", buf);
      }
      ERR_clear_error();
      co_return FailKind::kProtocol;
    }
    if (!co_await tls_wait(sh, watch, sock, e)) co_return watch.fired ? FailKind::kTimeout : FailKind::kReset;
  }
  out.clear();
  cs.on_tls_started(out);
  for (;;) {
    if (!out.empty()) {
      if (!co_await tls_write(sh, watch, sock, ssl.get(), out.head, w.stats) ||
          !co_await tls_write(sh, watch, sock, ssl.get(), out.body, w.stats))
        co_return watch.fired ? FailKind::kTimeout : FailKind::kReset;
    }
    if (cs.finished()) break;
    ERR_clear_error();
    const int n = SSL_read(ssl.get(), rbuf.data(), static_cast<int>(rbuf.size()));
    if (n <= 0) {
      const int e = SSL_get_error(ssl.get(), n);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        out.clear();
        if (!co_await tls_wait(sh, watch, sock, e)) co_return watch.fired ? FailKind::kTimeout : FailKind::kReset;
        continue;
      }
      ERR_clear_error();
      cs.on_closed();  // close_notify or EOF
      co_return cs.state() == ClientSession::State::kFailed ? FailKind::kClosed : FailKind::kCount;
    }
    w.stats.bytes_received += static_cast<std::uint64_t>(n);
    out.clear();
    cs.on_bytes(std::string_view(rbuf.data(), static_cast<std::size_t>(n)), out);
    if (cs.protocol_error()) co_return FailKind::kProtocol;
    Clock::time_point when;
    if (events.take_claim(when) && pace != nullptr && when > Clock::now()) {
      pace->expires_at(when);
      co_await pace->async_wait(kTuple);
    }
  }
  SSL_shutdown(ssl.get());  // one close_notify, not waited for
  ERR_clear_error();
  co_return FailKind::kCount;
}

asio::awaitable<void> sender(Shared& sh, Worker& w, std::uint32_t index) {
  int failures_in_a_row = 0;
  Output out;
  auto rbuf = std::make_unique<std::array<char, kSenderBuffer>>();
  std::unique_ptr<asio::steady_timer> pace;
  if (sh.o.rate > 0) pace = std::make_unique<asio::steady_timer>(w.ctx);
  std::uint64_t ticket = 0;
  bool have_ticket = false;
  for (;;) {
    if (!have_ticket) {
      if (!(have_ticket = Events::reserve(sh, ticket))) break;
    } else if (Events::over(sh)) {
      // The message reserved before a failed connect waits for this try,
      // unless the run is over (-t ran out, or another sender stopped it).
      break;
    }
    if (pace && Events::scheduled(sh, ticket) > Clock::now()) {
      // Open loop: connect when the message is due, not before.
      pace->expires_at(Events::scheduled(sh, ticket));
      co_await pace->async_wait(kTuple);
    }
    const auto t0 = Clock::now();
    aio::ScratchSocket sock(w.ctx);
    Watch watch;
    watch.sock = &sock;
    watch_start(w, watch);
    Greeted first = co_await connect_and_read(sh, watch, sock, *rbuf);
    if (!first.connected) {
      const asio::error_code ec = first.ec;
      w.remove(watch);
      ++w.stats.failures[static_cast<std::size_t>(kind_of(ec))];
      if (sh.o.verbose) std::fprintf(stderr, "smtpsend: sender %u: connect: %s\n", index, ec.message().c_str());
      if (++failures_in_a_row >= kMaxConnectFailures) {
        sh.fail("cannot connect to " + sh.o.host + ":" + std::to_string(sh.o.port) + ": " + ec.message());
        break;
      }
      if (!pace) pace = std::make_unique<asio::steady_timer>(w.ctx);
      pace->expires_after(std::chrono::milliseconds{50});
      co_await pace->async_wait(kTuple);
      continue;
    }
    failures_in_a_row = 0;
    ++w.stats.connections;
    Events events(sh, w);
    events.use_reserved(ticket);
    have_ticket = false;
    ClientSession cs(sh.tmpl, sh.copts, events);
    events.set_session(&cs);
    FailKind failed = FailKind::kCount;
    // The connect's read comes first: the greeting, or how it ended.
    asio::error_code rec = first.ec;
    std::size_t got = first.got;
    for (;;) {
      if (!rec && got == 0) {
        cs.on_closed();
        if (cs.state() == ClientSession::State::kFailed) failed = FailKind::kClosed;
        break;
      }
      if (rec) {
        failed = watch.fired ? FailKind::kTimeout : FailKind::kReset;
        break;
      }
      const auto n = got;
      w.stats.bytes_received += static_cast<std::uint64_t>(n);
      out.clear();
      cs.on_bytes(std::string_view(rbuf->data(), n), out);
      if (cs.protocol_error()) {
        failed = FailKind::kProtocol;
        break;
      }
      Clock::time_point when;
      if (events.take_claim(when) && pace && when > Clock::now()) {
        pace->expires_at(when);
        co_await pace->async_wait(kTuple);
      }
      if (!out.empty() && !co_await send_all(sh, watch, sock, out, w.stats)) {
        failed = watch.fired ? FailKind::kTimeout : FailKind::kReset;
        break;
      }
      if (cs.tls_requested()) {
        failed = co_await tls_session(sh, w, sock, watch, cs, events, out, *rbuf, pace.get());
        break;
      }
      if (cs.finished()) break;
      watch.fired = false;
      watch.deadline = Clock::now() + secs(sh.o.timeout);
      // A read into the sender's own buffer, queued on the reactor: it
      // costs no system call to arm (aio/read_op.hpp). The watchdog's
      // sweep cancels it when a FIN or reset came with the last bytes.
      bool ready = false;  // an own buffer is read at once, never left `ready`
      do {
        watch.reading = true;
        std::tie(rec, got, ready) = co_await sock.async_read_scratch(rbuf->data(), rbuf->size(), kTuple, true);
        watch.reading = false;
      } while (!read_after_kick(watch, sock, *rbuf, rec, got));
    }
    if (failed != FailKind::kCount) {
      ++w.stats.failures[static_cast<std::size_t>(failed)];
      if (!cs.finished()) cs.on_closed();  // counts an open message as failed
      if (sh.o.verbose)
        std::fprintf(stderr, "smtpsend: sender %u: connection %s in state %d\n", index,
                     std::string(to_string(failed)).c_str(), static_cast<int>(cs.state()));
    }
    w.remove(watch);
    asio::error_code ignored;
    sock.close(ignored);
    w.stats.connection_latency.add(us_between(t0, Clock::now()));
    if (sh.o.verbose)
      std::fprintf(stderr, "smtpsend: sender %u: connection done, %u messages, %.3f ms\n", index,
                   cs.messages_started(), static_cast<double>(us_between(t0, Clock::now())) / 1000.0);
  }
}

asio::awaitable<void> holder(Shared& sh, Worker& w) {
  tcp::socket sock(w.ctx);
  Watch watch;
  watch.sock = &sock;
  watch_start(w, watch);
  const auto t0 = Clock::now();
  asio::error_code ec = co_await open_and_connect(sh, watch, sock);
  if (ec) {
    ++w.stats.failures[static_cast<std::size_t>(kind_of(ec))];
    w.remove(watch);
    co_return;
  }
  ++w.stats.connections;
  const auto connected = Clock::now();
  watch.fired = false;
  watch.deadline = connected + secs(sh.o.hold_time);
  smtp::ReplyParser greeting;
  bool first = true, greeted = false;
  std::uint64_t bytes = 0;
  for (;;) {
    auto [wec] = co_await sock.async_wait(tcp::socket::wait_read, kTuple);
    if (wec) {
      if (watch.fired) ++w.stats.hold_timed_out;
      else ++w.stats.failures[static_cast<std::size_t>(FailKind::kReset)];
      break;
    }
    ssize_t n = ::recv(sock.native_handle(), w.scratch.data(), w.scratch.size(), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    if (n <= 0) {
      ++w.stats.hold_closed_by_server;
      break;
    }
    const auto now = Clock::now();
    bytes += static_cast<std::uint64_t>(n);
    if (first) {
      w.stats.first_byte.add(us_between(connected, now));
      first = false;
    }
    if (!greeted) {
      std::string_view in(w.scratch.data(), static_cast<std::size_t>(n));
      if (greeting.next(in) != smtp::ReplyParser::Status::kNeedMore) {
        greeted = true;
        w.stats.greeting_done.add(us_between(connected, now));
      }
    }
  }
  w.stats.bytes_received += bytes;
  w.stats.hold_bytes.add(bytes);
  w.stats.hold_time.add(us_between(t0, Clock::now()));
  ++w.stats.held;
  w.remove(watch);
}

asio::awaitable<void> early_talker(Shared& sh, Worker& w, std::uint32_t index) {
  tcp::socket sock(w.ctx);
  Watch watch;
  watch.sock = &sock;
  watch_start(w, watch);
  asio::error_code ec = co_await open_and_connect(sh, watch, sock);
  std::string report = "connection " + std::to_string(index) + ": ";
  if (ec) {
    ++w.stats.failures[static_cast<std::size_t>(kind_of(ec))];
    report += "connect failed: " + ec.message();
  } else {
    ++w.stats.connections;
    const auto t0 = Clock::now();
    // Talk first: the EHLO goes out before we have read a byte.
    std::string ehlo = sh.tmpl.ehlo;
    ::send(sock.native_handle(), ehlo.data(), ehlo.size(), MSG_NOSIGNAL);
    w.stats.bytes_sent += ehlo.size();
    smtp::ReplyParser rp;
    int replies = 0;
    watch.fired = false;
    watch.deadline = t0 + secs(sh.o.timeout);
    bool closed = false;
    while (replies < 2) {
      auto [wec] = co_await sock.async_wait(tcp::socket::wait_read, kTuple);
      if (wec) {
        report += watch.fired ? " [no more replies within --timeout]" : " [reset]";
        break;
      }
      ssize_t n = ::recv(sock.native_handle(), w.scratch.data(), w.scratch.size(), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (n <= 0) {
        closed = true;
        break;
      }
      w.stats.bytes_received += static_cast<std::uint64_t>(n);
      std::string_view in(w.scratch.data(), static_cast<std::size_t>(n));
      smtp::ReplyParser::Status st;
      while (replies < 2 && (st = rp.next(in)) != smtp::ReplyParser::Status::kNeedMore) {
        if (st == smtp::ReplyParser::Status::kBad) {
          report += " [malformed reply]";
          replies = 2;
          break;
        }
        char line[64];
        std::snprintf(line, sizeof line, "%s%d ", replies == 0 ? "greeting " : "; then ", rp.code());
        report += line;
        report += std::string(rp.text());
        report += " (+" + std::to_string(us_between(t0, Clock::now()) / 1000) + " ms)";
        if (rp.code() >= 400) ++w.stats.reply_codes[static_cast<std::size_t>(rp.code())];
        ++replies;
      }
    }
    if (closed) report += " [server closed the connection]";
    if (!closed) ::send(sock.native_handle(), "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  {
    std::lock_guard l(sh.mu);
    sh.early_report += report + "\n";
  }
  w.remove(watch);
}

void raise_nofile() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

std::string dot_stuff(std::string_view body) {
  std::string out;
  out.reserve(body.size() + 16);
  bool bol = true;
  for (char c : body) {
    if (bol && c == '.') out.push_back('.');
    out.push_back(c);
    bol = c == '\n';
  }
  return out;
}

}  // namespace

MessageTemplate make_template(const Options& o) {
  MessageTemplate t;
  t.ehlo = "EHLO " + o.helo + "\r\n";
  t.helo = "HELO " + o.helo + "\r\n";
  t.mail = "MAIL FROM:<" + o.from + ">\r\n";
  const auto at = o.to.rfind('@');
  for (std::uint32_t i = 0; i < o.recipients; ++i) {
    std::string to = o.recipients == 1 ? o.to : o.to.substr(0, at) + "+" + std::to_string(i + 1) + o.to.substr(at);
    t.rcpts.push_back("RCPT TO:<" + to + ">\r\n");
  }
  std::string msg = "From: <" + o.from + ">\r\nTo: <" + o.to + ">\r\nSubject: " + o.subject +
                    "\r\nMessage-Id: <smtpsend@" + o.helo + ">\r\n\r\n";
  // The body: exactly body_bytes (but for -b 1, which cannot end in CRLF),
  // in lines of up to 78 bytes, CRLF included.
  std::string body;
  body.reserve(o.body_bytes + 2);
  while (body.size() < o.body_bytes) {
    const std::size_t room = o.body_bytes - body.size();
    if (room < 3) {
      body.append(room == 2 ? "\r\n" : "X");
      break;
    }
    std::size_t line = std::min<std::size_t>(78, room);
    // Never leave 1 or 2 bytes behind: they could not make a CRLF line.
    const std::size_t rest = room - line;
    if (rest == 1 || rest == 2) line -= 3 - rest;
    body.append(line - 2, 'X');
    body.append("\r\n");
  }
  msg += body;
  if (msg.size() < 2 || msg.compare(msg.size() - 2, 2, "\r\n") != 0) msg += "\r\n";
  t.bdat_body = msg;
  t.bdat_cmd = "BDAT " + std::to_string(msg.size()) + " LAST\r\n";
  t.data_body = dot_stuff(msg) + ".\r\n";
  return t;
}

RunResult run(const Options& o, const std::function<void(std::uint64_t, std::uint64_t, double)>& progress) {
  RunResult result;
  raise_nofile();
  Shared sh(o);
  sh.tmpl = make_template(o);
  sh.copts.pipelining = o.pipelining;
  sh.copts.bdat = o.bdat;
  sh.copts.messages_per_conn = o.per_conn;
  sh.copts.starttls = o.starttls;
  if (o.starttls) {
    // A load generator: any certificate will do (spamsink's is self-signed).
    sh.tls.reset(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    if (!sh.tls) {
      result.error = "--starttls: cannot create an SSL context";
      return result;
    }
    SSL_CTX_set_min_proto_version(sh.tls.get(), TLS1_2_VERSION);
    SSL_CTX_set_verify(sh.tls.get(), SSL_VERIFY_NONE, nullptr);
  }
  sh.total = o.seconds > 0 ? 0 : o.total;
  {
    asio::io_context resolver_ctx;
    tcp::resolver resolver(resolver_ctx);
    asio::error_code ec;
    auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec || results.empty()) {
      result.error = "cannot resolve " + o.host + ": " + ec.message();
      return result;
    }
    sh.target = *results.begin();
    for (const auto& b : o.bind) {
      auto a = asio::ip::make_address(b, ec);
      if (ec) {
        result.error = "--bind " + b + ": not a numeric address";
        return result;
      }
      sh.binds.push_back(a);
    }
  }
  const unsigned nthreads = std::max(1u, o.threads);
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < nthreads; ++i) workers.push_back(std::make_unique<Worker>());
  sh.start = Clock::now();
  sh.stop_at = o.seconds > 0 ? sh.start + secs(o.seconds) : Clock::time_point::max();
  if (o.hold > 0) {
    for (std::uint32_t i = 0; i < o.hold; ++i) asio::co_spawn(workers[i % nthreads]->ctx, holder(sh, *workers[i % nthreads]), asio::detached);
  } else if (o.early_talk) {
    for (std::uint32_t i = 0; i < o.senders; ++i)
      asio::co_spawn(workers[i % nthreads]->ctx, early_talker(sh, *workers[i % nthreads], i), asio::detached);
  } else {
    for (std::uint32_t i = 0; i < o.senders; ++i)
      asio::co_spawn(workers[i % nthreads]->ctx, sender(sh, *workers[i % nthreads], i), asio::detached);
  }
  std::vector<std::thread> threads;
  // The last thread to finish wakes this one at once: the run (and its
  // wall time) ends with its last session, not at a polling interval.
  std::mutex done_mu;
  std::condition_variable done_cv;
  unsigned running = nthreads;
  for (auto& wp : workers) {
    Worker* w = wp.get();
    threads.emplace_back([w, &done_mu, &done_cv, &running, wait = o.batch_wait] {
      // run(), but after a burst of replies the thread may wait instead
      // of sleeping in epoll_wait (aio/batch_wait.hpp).
      aio::run_batched(
          w->ctx, [wait] { return wait; }, [w] { return static_cast<std::size_t>(w->live); });
      const std::lock_guard lock(done_mu);
      if (--running == 0) done_cv.notify_one();
    });
  }
  {
    std::unique_lock lock(done_mu);
    auto last = Clock::now();
    while (running > 0) {
      if (!progress) {
        done_cv.wait(lock, [&running] { return running == 0; });
        break;
      }
      if (done_cv.wait_until(lock, last + std::chrono::seconds{1}, [&running] { return running == 0; })) break;
      last = Clock::now();
      std::uint64_t ok = 0, failed = 0;
      for (auto& w : workers) {
        ok += w->ok.load(std::memory_order_relaxed);
        failed += w->failed.load(std::memory_order_relaxed);
      }
      lock.unlock();  // the progress callback writes to the terminal
      progress(ok, failed, std::chrono::duration<double>(last - sh.start).count());
      lock.lock();
    }
  }
  for (auto& t : threads) t.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - sh.start).count();
  for (auto& w : workers) result.stats.merge(w->stats);
  result.error = sh.error;
  result.early_report = sh.early_report;
  return result;
}

}  // namespace spamsink::loadgen
