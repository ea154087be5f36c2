// aio/read_op: a plain session's read, with no system call to arm it.
//
// Asio 1.22 offers two ways to wait for a command, and each costs one
// system call per command on top of the recv: async_read_some first tries a
// speculative recv (EAGAIN, because the client is still waiting for our
// reply), and async_wait re-arms the descriptor with epoll_ctl(MOD). The
// first also needs a buffer per connection, which DESIGN.md §4 forbids.
//
// ScratchSocket::async_read_scratch queues a reactor operation of our own
// on the socket's existing edge-triggered registration. It costs nothing
// to arm; when epoll reports data, the reactor calls recv into the worker's
// scratch buffer and then, before it performs any other descriptor's
// operation, hands the bytes to the completion (descriptor_state::
// do_complete completes the first finished operation inline). After a
// short read the operation reports the socket drained (done_and_exhausted),
// so the next read is queued, not tried. After a read that filled the
// buffer it does not: the next read is tried at once (a client's own
// buffer) or comes back `ready` (a shared buffer), since more may be queued
// in the kernel with no new edge to come. One case slips through:
// a FIN or reset that arrived in the same epoll event as the last bytes is
// still pending after the read, and no new edge will tell. Callers sweep
// their waiting sockets now and then with EdgeSweep (one poll() for all)
// and cancel those that are readable or hung up, then read them themselves.
//
// A speculative start (the reactor tries the operation inside start_op when
// epoll reported data while no read was queued) would complete later, after
// other handlers that may reuse the scratch buffer, so the operation does
// not read then: it completes with `ready` set and the caller recv()s
// itself. Cancellation (socket.cancel(), close()) completes it with
// operation_aborted, exactly like Asio's own operations, but only while it
// is queued: one that start_op already finished (`ready`, or a client's
// immediate read) completes normally, so callers that cancel for a reason
// (deadline, shutdown) must check their own flag after the read too.
// Per-operation cancellation slots (awaitable operators such as ||) are
// not supported. One thread per io_context (the server's and smtpsend's
// case): the operation is touched after start_op returns.
//
// This uses Asio's detail namespace (reactor_op, the reactor's start_op and
// the socket's implementation), pinned to the Debian 12 version, 1.22
// (DESIGN.md §7). tests/unit/aio/read_op_test.cpp checks the contract, and
// every integration test runs through it.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

// The public headers first: the detail ones rely on what they declare.
#include <asio/async_result.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/detail/reactor.hpp>
#include <asio/detail/reactor_op.hpp>
#include <cerrno>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace spamsink::aio {

class ScratchSocket : public asio::ip::tcp::socket {
 public:
  // A socket to connect (a client's).
  explicit ScratchSocket(asio::io_context& ctx) : asio::ip::tcp::socket(ctx) {}
  // An accepted socket (a server's).
  explicit ScratchSocket(asio::ip::tcp::socket&& s) : asio::ip::tcp::socket(std::move(s)) {
    // An accepted socket is registered as "possibly duplicated", so that
    // close() removes it from epoll first (EPOLL_CTL_DEL). This descriptor
    // has no duplicate: closing it removes it from the epoll set by itself.
    impl_.get_implementation().state_ &= ~asio::detail::socket_ops::possible_dup;
  }

  // Opens the socket non-blocking from the start and registers it with the
  // reactor: two system calls (socket, epoll_ctl ADD). Asio's open() plus
  // its first async operation add an ioctl(FIONBIO). Asio is told the
  // descriptor is non-blocking and not duplicated, as after its own open.
  asio::error_code open_nonblocking(const asio::ip::tcp& protocol) {
    asio::error_code ec;
    const int fd = ::socket(protocol.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol.protocol());
    if (fd < 0) return asio::error_code(errno, asio::error::get_system_category());
    assign(protocol, fd, ec);
    if (ec) {
      ::close(fd);
      return ec;
    }
    auto& state = impl_.get_implementation().state_;
    state &= ~asio::detail::socket_ops::possible_dup;
    state |= asio::detail::socket_ops::internal_non_blocking;
    return ec;
  }

  // Completes with (error, bytes, ready): bytes were read into buf[0..cap);
  // or, with ready set and no bytes, data may be waiting and the caller
  // reads it itself; or an error (operation_aborted when cancelled). Zero
  // bytes with no error and ready unset is the peer's FIN.
  // `own_buffer`: buf belongs to this socket alone (a client's buffer), so
  // a speculative start may read into it. `start`: kWaitForEdge queues the
  // read without a speculative start even where Asio would try one, as it
  // does on a socket's first read (registration marks it "try"), and
  // without the epoll_ctl(MOD) that Asio's own way to skip the try costs:
  // for a read that nothing can have come for before it was queued, such
  // as the first command after the server's greeting. Data that came
  // earlier and whose edge the reactor already took is then found only by
  // the caller's EdgeSweep.
  enum class Start { kMayTry, kWaitForEdge };
  template <typename Token>
  auto async_read_scratch(char* buf, std::size_t cap, Token&& token, bool own_buffer = false,
                          Start start = Start::kMayTry) {
    return asio::async_initiate<Token, void(asio::error_code, std::size_t, bool)>(
        [this, buf, cap, own_buffer, start](auto handler) {
          // A fresh socket's try is taken by a primer; on any other socket
          // Asio's own way (MOD) is the safe one, see prime(). (No reactor
          // looked up yet means no async_read_scratch yet; callers start
          // no other read-type operation before their first one.)
          bool may_try = true;
          if (start == Start::kWaitForEdge) {
            if (reactor_ != nullptr)
              may_try = false;
            else
              prime();
          }
          using Op = ReadOp<std::decay_t<decltype(handler)>>;
          auto* op = new Op(native_handle(), buf, cap, std::move(handler));
          op->starting = !own_buffer;
          reactor().start_op(asio::detail::reactor::read_op, native_handle(),
                             impl_.get_implementation().reactor_data_, op, false, may_try);
          // start_op either queued it or finished it (and posted its
          // completion): it is still alive here in both cases.
          op->starting = false;
        },
        token);
  }

  // True when a read returned as much as was asked: more may be queued in
  // the kernel with no new edge to come. After a full read of its own, the
  // caller must not wait for an edge either (the server waits with
  // async_wait, which re-arms epoll).
  static constexpr bool full_read(std::size_t n, std::size_t cap) { return n == cap; }

 private:
  // Makes a fresh socket's first read start queued, with no system call.
  // Registration marks a socket "try the next read"; Asio's way not to
  // try, a start with allow_speculative unset, re-arms the descriptor with
  // epoll_ctl(MOD). Instead a no-op operation takes that try: it finishes
  // at once, "exhausted", which tells the reactor not to try the next one.
  // Only where a try is certainly due: a primer that was queued instead
  // would be what the next edge performs, and, "exhausted", it would stop
  // the reactor before the read behind it, which would then wait for
  // another edge or the caller's sweep. On a fresh socket the try is due
  // (and no except operation is queued): only a read-type operation that
  // finds the socket drained clears the mark, and none was started yet.
  void prime() {
    auto* p = new Primer;
    reactor().start_op(asio::detail::reactor::read_op, native_handle(), impl_.get_implementation().reactor_data_, p,
                       false, true);
  }

  class Primer : public asio::detail::reactor_op {
   public:
    Primer() : reactor_op(asio::error_code(), &Primer::do_perform, &Primer::do_complete) {}

   private:
    static status do_perform(reactor_op*) { return done_and_exhausted; }
    static void do_complete(void*, asio::detail::operation* base, const asio::error_code&, std::size_t) {
      delete static_cast<Primer*>(base);
    }
  };

  // use_service() takes a mutex and walks a list: look the reactor up once
  // per socket (8 bytes), at its first read.
  asio::detail::reactor& reactor() {
    if (reactor_ == nullptr)
      reactor_ = &asio::use_service<asio::detail::reactor>(asio::query(get_executor(), asio::execution::context));
    return *reactor_;
  }

  asio::detail::reactor* reactor_ = nullptr;

  template <typename Handler>
  class ReadOp : public asio::detail::reactor_op {
   public:
    ReadOp(int fd, char* buf, std::size_t cap, Handler&& h)
        : reactor_op(asio::error_code(), &ReadOp::do_perform, &ReadOp::do_complete),
          fd_(fd),
          buf_(buf),
          cap_(cap),
          handler_(std::move(h)) {}

    bool starting = true;

   private:
    static status do_perform(reactor_op* base) {
      auto* o = static_cast<ReadOp*>(base);
      if (o->starting) {
        o->ready_ = true;
        return done_and_exhausted;
      }
      for (;;) {
        const ssize_t n = ::recv(o->fd_, o->buf_, o->cap_, MSG_DONTWAIT);
        if (n >= 0) {
          o->bytes_transferred_ = static_cast<std::size_t>(n);
          return static_cast<std::size_t>(n) == o->cap_ ? done : done_and_exhausted;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
        o->ec_ = asio::error_code(errno, asio::error::get_system_category());
        return done_and_exhausted;
      }
    }

    static void do_complete(void* owner, asio::detail::operation* base, const asio::error_code&, std::size_t) {
      auto* o = static_cast<ReadOp*>(base);
      Handler h(std::move(o->handler_));
      const asio::error_code ec = o->ec_;
      const std::size_t n = o->bytes_transferred_;
      const bool ready = o->ready_;
      delete o;
      // No owner: the io_context is being destroyed; drop the handler.
      if (owner) std::move(h)(ec, n, ready);
    }

    int fd_;
    char* buf_;
    std::size_t cap_;
    bool ready_ = false;
    Handler handler_;
  };
};

// Finds, among descriptors with a read queued, those epoll will not report
// again: readable (bytes or a FIN) or hung up right now. One poll() call
// for all of them. Each descriptor is added with its owner (the caller's
// connection), which the callback gets back. The vectors are reused, so
// they never hold more entries than the most sockets swept at once.
template <typename Owner>
class EdgeSweep {
 public:
  void clear() {
    fds_.clear();
    owners_.clear();
  }
  void add(int fd, Owner* owner) {
    fds_.push_back(pollfd{fd, static_cast<short>(POLLIN | POLLRDHUP), 0});
    owners_.push_back(owner);
  }
  // Calls f(owner) for each such descriptor, in the order of add().
  template <typename F>
  void for_each_ready(F&& f) {
    if (fds_.empty() || ::poll(fds_.data(), fds_.size(), 0) <= 0) return;
    for (std::size_t i = 0; i < fds_.size(); ++i)
      if (fds_[i].revents != 0) f(owners_[i]);
  }

 private:
  std::vector<pollfd> fds_;
  std::vector<Owner*> owners_;
};

}  // namespace spamsink::aio
