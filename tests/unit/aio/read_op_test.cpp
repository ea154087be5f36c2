// Tests for aio/read_op: the read a plain session queues on Asio's
// reactor. Real loopback TCP pairs on one io_context, as in the server.
#include "aio/read_op.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <array>
#include <memory>
#include <string>
#include <vector>

namespace spamsink::aio {
namespace {

using asio::ip::tcp;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

struct Result {
  bool done = false;
  asio::error_code ec;
  std::size_t n = 0;
  bool ready = false;
  std::string bytes;
};

// A connected pair: `client` is a plain blocking socket, `server` the
// accepted end wrapped as the server wraps it.
struct Pair {
  explicit Pair(asio::io_context& ctx) : client(ctx) {
    tcp::acceptor acc(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client.connect(acc.local_endpoint());
    server = std::make_unique<ScratchSocket>(acc.accept());
  }
  tcp::socket client;
  std::unique_ptr<ScratchSocket> server;
};

// Starts one read into `buf`; the completion copies what the buffer holds
// at that moment, as the session does before anything else can run.
// `own`: the buffer is the socket's own (smtpsend's), so a speculative
// start may read into it.
void start_read(asio::io_context& ctx, ScratchSocket& s, std::vector<char>& buf, Result& r, bool own = false,
                ScratchSocket::Start start = ScratchSocket::Start::kMayTry) {
  asio::co_spawn(
      ctx,
      [&, own, start]() -> asio::awaitable<void> {
        auto [ec, n, ready] = co_await s.async_read_scratch(buf.data(), buf.size(), kTuple, own, start);
        r = Result{true, ec, n, ready, std::string(buf.data(), n)};
      },
      asio::detached);
}

// The context stops whenever it runs out of work: restart it each time.
void run_until(asio::io_context& ctx, const Result& r) {
  for (int i = 0; i < 2000 && !r.done; ++i) {
    ctx.restart();
    ctx.run_one_for(std::chrono::milliseconds(5));
  }
}

void pump(asio::io_context& ctx) {
  ctx.restart();
  ctx.poll();
}

// The client sends `text`; the queued read `r` must complete with exactly
// those bytes, read by the reactor into the buffer (not `ready`).
void send_and_expect(asio::io_context& ctx, Pair& p, Result& r, const std::string& text) {
  asio::write(p.client, asio::buffer(text));
  run_until(ctx, r);
  ASSERT_TRUE(r.done);
  EXPECT_FALSE(r.ec);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.bytes, text);
}

// Takes a fresh socket's first read (the speculative start: `ready`), then
// queues `r` and lets the loop run, so that `r` waits on the reactor.
void queue_read(asio::io_context& ctx, ScratchSocket& s, std::vector<char>& buf, Result& r) {
  Result first;
  start_read(ctx, s, buf, first);
  run_until(ctx, first);
  ASSERT_TRUE(first.done && first.ready);
  start_read(ctx, s, buf, r);
  pump(ctx);
}

// A freshly registered socket: the first read may be tried at once. It must
// not read then (its completion runs later, after others may have reused
// the buffer): it reports `ready` and leaves the bytes in the kernel.
TEST(ScratchRead, FirstReadReportsReadyWithoutReading) {
  asio::io_context ctx;
  Pair p(ctx);
  asio::write(p.client, asio::buffer(std::string("EHLO x\r\n")));
  std::vector<char> buf(64);
  Result r;
  start_read(ctx, *p.server, buf, r);
  run_until(ctx, r);
  ASSERT_TRUE(r.done);
  EXPECT_FALSE(r.ec);
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.n, 0u);
  std::array<char, 64> mine;
  const ssize_t n = ::recv(p.server->native_handle(), mine.data(), mine.size(), MSG_DONTWAIT);
  ASSERT_EQ(n, 8);
  EXPECT_EQ(std::string(mine.data(), 8), "EHLO x\r\n");
}

// The server's first read after its greeting: queued without a speculative
// start, so no `ready` and no recv before data comes; the bytes that come
// next complete it, read by the reactor into the buffer.
TEST(ScratchRead, WaitForEdgeQueuesAFreshSocketsFirstRead) {
  asio::io_context ctx;
  Pair p(ctx);
  std::vector<char> buf(64);
  Result r;
  start_read(ctx, *p.server, buf, r, false, ScratchSocket::Start::kWaitForEdge);
  for (int i = 0; i < 5; ++i) pump(ctx);
  EXPECT_FALSE(r.done);  // nothing came, and no speculative completion
  ASSERT_NO_FATAL_FAILURE(send_and_expect(ctx, p, r, "EHLO x\r\n"));
}

// The first read after the greeting costs no system call to queue: it does
// not re-arm the descriptor either (Asio's way not to try a read is an
// epoll_ctl(MOD), which would report data that came before it at once).
// So a client that talked before it, whose edge the reactor already took,
// is left to the caller's EdgeSweep, which must find it.
TEST(ScratchRead, WaitForEdgeDoesNotRearm) {
  asio::io_context ctx;
  Pair p(ctx);
  Pair other(ctx);  // a queued read keeps the reactor polling
  std::vector<char> other_buf(64);
  Result other_r;
  ASSERT_NO_FATAL_FAILURE(queue_read(ctx, *other.server, other_buf, other_r));
  asio::write(p.client, asio::buffer(std::string("EHLO early\r\n")));
  for (int i = 0; i < 5; ++i) pump(ctx);  // the reactor takes p's edge; no read is queued there
  std::vector<char> buf(64);
  Result r;
  start_read(ctx, *p.server, buf, r, false, ScratchSocket::Start::kWaitForEdge);
  for (int i = 0; i < 5; ++i) pump(ctx);
  EXPECT_FALSE(r.done);  // not re-armed: no new edge, no completion
  EdgeSweep<Result> sweep;
  sweep.add(p.server->native_handle(), &r);
  std::vector<Result*> found;
  sweep.for_each_ready([&](Result* owner) { found.push_back(owner); });
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], &r);
  p.server->cancel();
  run_until(ctx, r);
  ASSERT_TRUE(r.done);
  EXPECT_EQ(r.ec, asio::error::operation_aborted);
}

// After its first read, a socket's kWaitForEdge read takes Asio's own way
// (no try, a re-arm): a primer could be queued there ahead of the read.
TEST(ScratchRead, WaitForEdgeOnALaterReadStillReads) {
  asio::io_context ctx;
  Pair p(ctx);
  std::vector<char> buf(64);
  Result r1;
  start_read(ctx, *p.server, buf, r1, false, ScratchSocket::Start::kWaitForEdge);
  pump(ctx);
  ASSERT_NO_FATAL_FAILURE(send_and_expect(ctx, p, r1, "EHLO x\r\n"));
  Result r2;
  start_read(ctx, *p.server, buf, r2, false, ScratchSocket::Start::kWaitForEdge);
  pump(ctx);
  EXPECT_FALSE(r2.done);
  ASSERT_NO_FATAL_FAILURE(send_and_expect(ctx, p, r2, "MAIL FROM:<a@b>\r\n"));
}

// A socket whose buffer is its own (smtpsend's) may read at a speculative
// start: the bytes come at once, not `ready`.
TEST(ScratchRead, OwnBufferReadsAtOnce) {
  asio::io_context ctx;
  Pair p(ctx);
  asio::write(p.client, asio::buffer(std::string("220 hello\r\n")));
  std::vector<char> buf(64);
  Result r;
  start_read(ctx, *p.server, buf, r, true);
  run_until(ctx, r);
  ASSERT_TRUE(r.done);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.bytes, "220 hello\r\n");
}

// After the socket was drained, the next read is queued, costs no system
// call to arm, and completes with the bytes when they arrive.
TEST(ScratchRead, QueuedReadDeliversBytes) {
  asio::io_context ctx;
  Pair p(ctx);
  std::vector<char> buf(64);
  Result r;
  queue_read(ctx, *p.server, buf, r);
  EXPECT_FALSE(r.done) << "nothing was sent yet";
  ASSERT_NO_FATAL_FAILURE(send_and_expect(ctx, p, r, "MAIL FROM:<a@b>\r\n"));
  // And again: a later command on the same registration, with no re-arm.
  Result again;
  start_read(ctx, *p.server, buf, again);
  pump(ctx);
  EXPECT_FALSE(again.done);
  asio::write(p.client, asio::buffer(std::string("QUIT\r\n")));
  run_until(ctx, again);
  ASSERT_TRUE(again.done);
  EXPECT_EQ(again.bytes, "QUIT\r\n");
}

// Two connections, one shared buffer, both with data when epoll reports:
// each completion sees its own bytes, because each read's completion runs
// before the reactor performs the next read.
TEST(ScratchRead, SharedBufferIsNeverOverwrittenBeforeItsCompletion) {
  asio::io_context ctx;
  std::vector<std::unique_ptr<Pair>> pairs;
  for (int i = 0; i < 8; ++i) pairs.push_back(std::make_unique<Pair>(ctx));
  std::vector<char> buf(64);
  std::vector<Result> warm(pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) start_read(ctx, *pairs[i]->server, buf, warm[i]);
  for (auto& w : warm) run_until(ctx, w);
  std::vector<Result> r(pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) start_read(ctx, *pairs[i]->server, buf, r[i]);
  pump(ctx);
  for (std::size_t i = 0; i < pairs.size(); ++i)
    asio::write(pairs[i]->client, asio::buffer("conn " + std::to_string(i) + "\r\n"));
  for (auto& x : r) run_until(ctx, x);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    ASSERT_TRUE(r[i].done) << i;
    EXPECT_FALSE(r[i].ready) << i;
    EXPECT_EQ(r[i].bytes, "conn " + std::to_string(i) + "\r\n") << i;
  }
}

// The peer's FIN: no error, no bytes, not `ready`.
TEST(ScratchRead, PeerCloseIsZeroBytes) {
  asio::io_context ctx;
  Pair p(ctx);
  std::vector<char> buf(64);
  Result r;
  queue_read(ctx, *p.server, buf, r);
  p.client.close();
  run_until(ctx, r);
  ASSERT_TRUE(r.done);
  EXPECT_FALSE(r.ec);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.n, 0u);
}

// A read that fills the buffer says so: the caller must not wait for a new
// edge then (full_read), and the rest is still in the kernel.
TEST(ScratchRead, FullReadLeavesTheRest) {
  asio::io_context ctx;
  Pair p(ctx);
  std::vector<char> buf(16);
  Result r;
  queue_read(ctx, *p.server, buf, r);
  asio::write(p.client, asio::buffer(std::string(40, 'x')));
  run_until(ctx, r);
  ASSERT_TRUE(r.done);
  EXPECT_EQ(r.n, 16u);
  EXPECT_TRUE(ScratchSocket::full_read(r.n, buf.size()));
  std::array<char, 64> rest;
  EXPECT_EQ(::recv(p.server->native_handle(), rest.data(), rest.size(), MSG_DONTWAIT), 24);
}

// Bytes and a FIN in one epoll event: the read takes the bytes and, having
// reported the socket drained, the next read waits for an edge that never
// comes. EdgeSweep finds exactly such sockets, and not idle ones.
TEST(ScratchRead, EdgeSweepFindsAFinThatCameWithTheLastBytes) {
  asio::io_context ctx;
  Pair p(ctx);
  Pair idle(ctx);
  std::vector<char> buf(64);
  Result first, warm;
  start_read(ctx, *p.server, buf, first);
  run_until(ctx, first);
  start_read(ctx, *idle.server, buf, warm);
  run_until(ctx, warm);
  Result r;
  start_read(ctx, *p.server, buf, r);
  asio::write(p.client, asio::buffer(std::string("QUIT\r\n")));
  p.client.close();  // the FIN follows the bytes before the loop runs
  run_until(ctx, r);
  ASSERT_TRUE(r.done);
  EXPECT_EQ(r.bytes, "QUIT\r\n");
  Result missed, idle_read;
  start_read(ctx, *p.server, buf, missed);
  start_read(ctx, *idle.server, buf, idle_read);
  for (int i = 0; i < 20; ++i) pump(ctx);
  EXPECT_FALSE(missed.done) << "the FIN gave no new edge";
  std::size_t ids[] = {0, 1};  // the owners: which of the two was added
  EdgeSweep<std::size_t> sweep;
  sweep.add(idle.server->native_handle(), &ids[0]);
  sweep.add(p.server->native_handle(), &ids[1]);
  std::vector<std::size_t> ready;
  sweep.for_each_ready([&](std::size_t* id) { ready.push_back(*id); });
  EXPECT_EQ(ready, std::vector<std::size_t>{1});
  // The caller's way out: cancel, then read itself (EOF).
  p.server->cancel();
  run_until(ctx, missed);
  EXPECT_EQ(missed.ec, asio::error::operation_aborted);
  std::array<char, 8> tail;
  EXPECT_EQ(::recv(p.server->native_handle(), tail.data(), tail.size(), MSG_DONTWAIT), 0);
}

// A client's own buffer filled by one read: the next read must not wait
// for an edge (none comes for bytes already queued); it reads them at once.
TEST(ScratchRead, OwnBufferFullReadThenTheRest) {
  asio::io_context ctx;
  Pair p(ctx);
  std::vector<char> buf(16);
  Result first;
  start_read(ctx, *p.server, buf, first, true);  // nothing yet: queued
  pump(ctx);
  asio::write(p.client, asio::buffer(std::string(40, 'y')));
  run_until(ctx, first);
  ASSERT_TRUE(first.done);
  EXPECT_EQ(first.n, 16u);
  for (std::size_t want : {16u, 8u}) {
    Result next;
    start_read(ctx, *p.server, buf, next, true);
    run_until(ctx, next);
    ASSERT_TRUE(next.done) << want;
    EXPECT_EQ(next.n, want);
  }
}

// A read that start_op finished at once (`ready`) is not cancelled by a
// cancel() before its completion runs: whoever cancels for a reason must
// look at its own flag after the read (the server does).
TEST(ScratchRead, CancelDoesNotReachAReadStartOpFinished) {
  asio::io_context ctx;
  Pair p(ctx);
  std::vector<char> buf(64);
  Result r;
  bool started = false;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        started = true;  // the initiation below runs start_op before this handler returns
        auto [ec, n, ready] = co_await p.server->async_read_scratch(buf.data(), buf.size(), kTuple);
        r = Result{true, ec, n, ready, {}};
      },
      asio::detached);
  for (int i = 0; i < 100 && !started; ++i) ctx.poll_one();
  ASSERT_TRUE(started);
  ASSERT_FALSE(r.done);
  p.server->cancel();
  run_until(ctx, r);
  ASSERT_TRUE(r.done);
  EXPECT_FALSE(r.ec);
  EXPECT_TRUE(r.ready);
}

// cancel() (the server's deadline sweep and shutdown) ends a queued read
// with operation_aborted, like Asio's own operations.
TEST(ScratchRead, CancelAborts) {
  asio::io_context ctx;
  Pair p(ctx);
  std::vector<char> buf(64);
  Result r;
  queue_read(ctx, *p.server, buf, r);
  ASSERT_FALSE(r.done);
  p.server->cancel();
  run_until(ctx, r);
  ASSERT_TRUE(r.done);
  EXPECT_EQ(r.ec, asio::error::operation_aborted);
}

// A socket closed with a read queued, then its io_context destroyed before
// the abort ran (as at shutdown): the operation is freed without calling
// its handler (ASan reports a leak otherwise).
TEST(ScratchRead, PendingReadIsFreedWithTheContext) {
  Result r;
  std::vector<char> buf(64);
  {
    asio::io_context ctx;
    Pair p(ctx);
    queue_read(ctx, *p.server, buf, r);
    ASSERT_FALSE(r.done);
    p.server.reset();  // the abort is posted, never run
  }
  EXPECT_FALSE(r.done);
}

// smtpsend's connect: a socket opened non-blocking, connect() not waited
// for; the first read, queued for its edge, gets the greeting.
TEST(ScratchRead, OpenNonblockingConnectsWithoutWaiting) {
  asio::io_context ctx;
  tcp::acceptor acc(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ScratchSocket s(ctx);
  ASSERT_FALSE(s.open_nonblocking(tcp::v4()));
  EXPECT_NE(::fcntl(s.native_handle(), F_GETFL) & O_NONBLOCK, 0);
  const tcp::endpoint to = acc.local_endpoint();
  const int rc = ::connect(s.native_handle(), to.data(), static_cast<socklen_t>(to.size()));
  ASSERT_TRUE(rc == 0 || errno == EINPROGRESS);
  std::vector<char> buf(64);
  Result r;
  start_read(ctx, s, buf, r, true, ScratchSocket::Start::kWaitForEdge);
  pump(ctx);
  EXPECT_FALSE(r.done);
  tcp::socket server = acc.accept();
  asio::write(server, asio::buffer(std::string("220 hi\r\n")));
  run_until(ctx, r);
  ASSERT_TRUE(r.done);
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(r.bytes, "220 hi\r\n");
}

// A refused connect ends that first read with the error.
TEST(ScratchRead, OpenNonblockingReportsARefusedConnectAtTheRead) {
  asio::io_context ctx;
  tcp::endpoint to;
  {
    tcp::acceptor gone(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    to = gone.local_endpoint();
  }  // closed: nothing listens there now
  ScratchSocket s(ctx);
  ASSERT_FALSE(s.open_nonblocking(tcp::v4()));
  const int rc = ::connect(s.native_handle(), to.data(), static_cast<socklen_t>(to.size()));
  // Linux answers a non-blocking connect() before the RST is seen.
  ASSERT_TRUE(rc == -1 && errno == EINPROGRESS);
  std::vector<char> buf(64);
  Result r;
  start_read(ctx, s, buf, r, true, ScratchSocket::Start::kWaitForEdge);
  run_until(ctx, r);
  ASSERT_TRUE(r.done);
  EXPECT_EQ(r.ec, asio::error::connection_refused);
}

}  // namespace
}  // namespace spamsink::aio
