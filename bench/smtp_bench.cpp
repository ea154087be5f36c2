// bench/smtp_bench: micro benchmarks of the sink's hot path (pure layers).
//
// What it covers: the per-byte and per-command costs that the macro
// benchmark (bench/macro.py) sees as server CPU:
//  - LineFramer cutting a pipelined group of typical command lines, whole
//    (the zero-copy path) and split across reads (the copying path);
//  - DataScanner over a 1 KiB and a 1 MiB body, fed in 64 KiB reads like
//    the server's scratch buffer, without and with the SHA-256 digest the
//    server keeps per message (net::Sha256Digest, OpenSSL);
//  - Session answering one whole pipelined transaction (MAIL, RCPT, DATA,
//    1 KiB body, ".") on a long-lived session (the "msg" scenario), and a
//    whole connection from greeting to QUIT (the "conn" scenario).
// Every benchmark checks its own result (lines cut, bytes counted, messages
// accepted, replies written) and fails with SkipWithError when it is wrong,
// so a broken fast path cannot report a good figure.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_sink.hpp"
#include "core/limits.hpp"
#include "net/sha256_digest.hpp"
#include "session/session.hpp"
#include "smtp/data_scanner.hpp"
#include "smtp/line_framer.hpp"
#include "smtp/replies.hpp"

namespace {

using spamsink::core::BodyDigest;
using spamsink::core::EventSink;
using spamsink::core::MessageRecord;
using spamsink::core::SessionRecord;
using spamsink::core::TimePoint;
using spamsink::smtp::DataScanner;
using spamsink::smtp::LineFramer;

constexpr std::size_t kReadBytes = 64 * 1024;  // the server's scratch buffer
const TimePoint kNow = TimePoint{} + std::chrono::seconds{1000};

// What a bot's pipelined command group looks like (smtp-source sends the
// same verbs; real bots add SIZE/BODY parameters and several recipients).
constexpr std::string_view kCommands =
    "EHLO mail.example.com\r\n"
    "MAIL FROM:<newsletter-bounces+abc123@example.org> SIZE=1024 BODY=8BITMIME\r\n"
    "RCPT TO:<alice@example.net>\r\n"
    "RCPT TO:<bob.smith@example.net>\r\n"
    "RCPT TO:<postmaster@example.net>\r\n"
    "DATA\r\n"
    "RSET\r\n"
    "NOOP\r\n"
    "QUIT\r\n";
constexpr int kCommandLines = 9;

// A dot-stuffed body of about `size` bytes: headers, 76-column text lines,
// a stuffed line every 50 lines, then the terminator.
std::string make_body(std::size_t size) {
  std::string b =
      "From: <sender@example.org>\r\nTo: <alice@example.net>\r\nSubject: benchmark\r\n"
      "Message-ID: <1234567890@example.org>\r\n\r\n";
  const std::string line(76, 'x');
  for (int n = 0; b.size() < size; ++n) {
    if (n % 50 == 49) b += "..stuffed line\r\n";
    b += line;
    b += "\r\n";
  }
  b += ".\r\n";
  return b;
}

// Unstuffed content bytes of a make_body() body: everything before the
// final ".\r\n", less one dot per stuffed line.
std::uint64_t content_bytes(const std::string& body) {
  std::uint64_t stuffed = 0;
  for (std::size_t p = 0; (p = body.find("\r\n..", p)) != std::string::npos; p += 4) ++stuffed;
  return body.size() - 3 - stuffed;
}

class CountingSink final : public EventSink {
 public:
  void message(const MessageRecord& m) noexcept override {
    ++messages;
    bytes += m.size_bytes;
  }
  void session_closed(const SessionRecord&) noexcept override { ++sessions; }
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t sessions = 0;
};

// Frames kCommands arriving as `reads`, checking the line count.
void frame_reads(benchmark::State& state, const std::vector<std::string_view>& reads) {
  LineFramer framer(2048);
  std::int64_t lines = 0;
  for (auto _ : state) {
    int n = 0;
    for (std::string_view in : reads) {
      while (auto line = framer.next(in)) {
        benchmark::DoNotOptimize(line->text.data());
        ++n;
      }
    }
    if (n != kCommandLines) {
      state.SkipWithError("LineFramer cut a wrong number of lines");
      break;
    }
    lines += n;
  }
  state.SetItemsProcessed(lines);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kCommands.size()));
}

void BM_LineFramer_WholeLines(benchmark::State& state) { frame_reads(state, {kCommands}); }
BENCHMARK(BM_LineFramer_WholeLines);

// Each read ends mid-line, as when a bot's segment boundary falls inside a
// command: every line then goes through the framer's buffer.
void BM_LineFramer_SplitLines(benchmark::State& state) {
  const auto piece = static_cast<std::size_t>(state.range(0));
  std::vector<std::string_view> reads;
  for (std::size_t p = 0; p < kCommands.size(); p += piece) reads.push_back(kCommands.substr(p, piece));
  frame_reads(state, reads);
}
BENCHMARK(BM_LineFramer_SplitLines)->Arg(7)->Arg(40)->ArgName("read_bytes");

void BM_DataScanner(benchmark::State& state) {
  const std::string body = make_body(static_cast<std::size_t>(state.range(0)));
  const std::uint64_t want = content_bytes(body);
  const bool hash = state.range(1) != 0;
  spamsink::net::Sha256Digest sha;
  BodyDigest* digest = hash ? &sha : nullptr;
  DataScanner scanner;
  std::array<std::uint8_t, 32> out{};
  for (auto _ : state) {
    scanner.start(digest);
    bool done = false;
    for (std::size_t p = 0; p < body.size() && !done; p += kReadBytes) {
      std::string_view in = std::string_view(body).substr(p, kReadBytes);
      done = scanner.scan(in);
      if (done && !in.empty()) break;  // bytes after the terminator: wrong
    }
    if (!done || scanner.bytes() != want) {
      state.SkipWithError("DataScanner missed the end or miscounted the body");
      break;
    }
    if (digest != nullptr) {
      digest->finish(out);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_DataScanner)
    ->ArgNames({"bytes", "sha256"})
    ->Args({1024, 0})
    ->Args({1024, 1})
    ->Args({1 << 20, 0})
    ->Args({1 << 20, 1});

struct SessionFixture {
  SessionFixture() : replies(spamsink::smtp::ReplyTable::postfix("mx.example.com", 10240000)) {
    config.replies = &replies;
    config.listener = "bench";
    peer.ip = spamsink::core::IpAddress::from_v4(0x7f000001);
    peer.port = 40000;
  }
  spamsink::smtp::ReplyTable replies;
  spamsink::session::SessionConfig config;
  spamsink::session::Peer peer;
  CountingSink sink;
  spamsink::net::Sha256Digest sha;
};

constexpr std::string_view kTxReplies = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n";

std::string transaction(std::size_t body_bytes) {
  return "MAIL FROM:<newsletter@example.org>\r\nRCPT TO:<alice@example.net>\r\nDATA\r\n" + make_body(body_bytes);
}

// The "msg" scenario: one long-lived session, each iteration one whole
// pipelined transaction in one read.
void BM_Session_PipelinedTransaction(benchmark::State& state) {
  SessionFixture f;
  BodyDigest* digest = state.range(0) != 0 ? &f.sha : nullptr;
  spamsink::session::Session session(f.config, f.peer, 1, kNow, &f.sink, digest);
  std::string out;
  out.reserve(4096);
  session.start(out);
  session.on_bytes("EHLO mail.example.com\r\n", kNow, out);
  const std::string tx = transaction(1024);
  for (auto _ : state) {
    out.clear();
    session.on_bytes(tx, kNow, out);
    // 250 MAIL, 250 RCPT, 354, 250 queued: four replies, one write.
    const bool answered = out.starts_with(kTxReplies) && out.find("250 2.0.0 Ok: queued as ") == kTxReplies.size();
    if (session.closing() || !answered) {
      state.SkipWithError("the transaction was not answered as expected");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  if (f.sink.messages != static_cast<std::uint64_t>(state.iterations()) && !state.error_occurred())
    state.SkipWithError("the session did not accept every message");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * tx.size()));
}
BENCHMARK(BM_Session_PipelinedTransaction)->ArgName("sha256")->Arg(0)->Arg(1);

// The "conn" scenario: a new session per iteration, greeting to QUIT, with
// its SessionRecord.
void BM_Session_WholeConnection(benchmark::State& state) {
  SessionFixture f;
  const std::string input = "EHLO mail.example.com\r\n" + transaction(1024) + "QUIT\r\n";
  std::string out;
  out.reserve(4096);
  std::uint64_t id = 0;
  for (auto _ : state) {
    spamsink::session::Session session(f.config, f.peer, ++id, kNow, &f.sink, &f.sha);
    out.clear();
    session.start(out);
    session.on_bytes(input, kNow, out);
    if (!session.closing() || session.messages() != 1) {
      state.SkipWithError("the connection did not end with one message and QUIT");
      break;
    }
    session.finish(kNow);
    benchmark::DoNotOptimize(out.data());
  }
  if (f.sink.sessions != static_cast<std::uint64_t>(state.iterations()) && !state.error_occurred())
    state.SkipWithError("a SessionRecord is missing");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * input.size()));
}
BENCHMARK(BM_Session_WholeConnection);

}  // namespace

BENCHMARK_MAIN();
