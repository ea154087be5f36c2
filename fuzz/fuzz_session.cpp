// fuzz/fuzz_session: the whole session::Session state machine.
//
// Input: 2 bytes pick the limits and the persona (the value '0' gives the
// defaults and postfix, so a seed file reads "0000" + a plain SMTP
// dialogue; "0" then "P" (0x50) picks opensmtpd, "0\x10" exim), 2 bytes seed the choice
// of read boundaries and clock moves, the rest is what the client sends.
// The stream is fed the way src/net does it: reads of chosen sizes, now
// and then the clock moves and on_deadline() runs when it is due, and at
// the end a peer close, a shutdown or nothing, then finish() (twice).
// Checked, for every call:
//  - what the call appended to `out` is whole CRLF-terminated reply lines
//    with a 3-digit code, multi-line replies complete and consistent;
//  - the framer holds at most line limit + 1 bytes;
//  - after on_deadline() at or past deadline(), the session is closing;
//  - once closing(), no call appends anything;
// and at the end:
//  - finish() emits exactly one SessionRecord, and it agrees with the
//    session's counters;
//  - every MessageRecord respects the limits; accepted ones had their
//    whole body hashed, one "queued as" reply each;
//  - the same stream fed in one read and in the chosen reads (no clock
//    moves) gives the same output and the same records: read boundaries
//    never change behaviour.
// Relay mode (bit 0x40 of byte 1; '0' leaves it off), with a spamtrap list
// in both modes: the body kept for a forward never passes the hooks' limit
// after any call; every grant ends in exactly one forward or one cancel;
// a forwarded body has exactly the accepted message's size;
// relay facts, forwards and trap hits do not depend on read boundaries.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/event_sink.hpp"
#include "core/limits.hpp"
#include "fuzz_check.hpp"
#include "session/session.hpp"
#include "smtp/persona.hpp"
#include "smtp/replies.hpp"

namespace {

using namespace spamsink;
using fuzz::XorShift;

class CountingDigest final : public core::BodyDigest {
 public:
  void reset() noexcept override {
    bytes = 0;
    hash = 1469598103934665603ull;
  }
  void update(const char* data, std::size_t n) noexcept override {
    bytes += n;
    for (std::size_t i = 0; i < n; ++i) hash = (hash ^ static_cast<unsigned char>(data[i])) * 1099511628211ull;
  }
  void finish(std::array<std::uint8_t, 32>& out) noexcept override {
    out.fill(0);
    for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(hash >> (8 * i));
    finished_bytes = bytes;
  }
  std::uint64_t bytes = 0;
  std::uint64_t finished_bytes = 0;
  std::uint64_t hash = 0;
};

struct Message {
  bool relay_attempt, relay_test, forwarded;
  std::uint32_t recipient_count;
  std::uint64_t size_bytes;
  bool accepted;
  bool has_digest;
  std::array<std::uint8_t, 32> sha256;
  std::uint64_t digest_bytes;
  std::string mail_from, recipients;
  friend bool operator==(const Message&, const Message&) = default;
};

class RecordingSink final : public core::EventSink {
 public:
  explicit RecordingSink(const CountingDigest& d) : digest_(d) {}
  void message(const core::MessageRecord& m) noexcept override {
    messages.push_back({m.relay_attempt, m.relay_test, m.forwarded, m.recipient_count, m.size_bytes, m.accepted, m.has_digest, m.sha256, digest_.finished_bytes,
                        std::string(m.mail_from), std::string(m.recipients)});
  }
  void session_closed(const core::SessionRecord& s) noexcept override {
    ++sessions;
    last = s;
  }
  std::vector<Message> messages;
  int sessions = 0;
  core::SessionRecord last;

 private:
  const CountingDigest& digest_;
};

// Grants every other message; the limit is small enough that some bodies
// pass it.
class FuzzHooks final : public session::RelayHooks {
 public:
  explicit FuzzHooks(std::uint64_t limit) : limit_(limit) {}
  bool begin_message(const core::IpAddress&, core::TimePoint& token) override {
    token = core::TimePoint{} + core::Seconds{++begins};
    FUZZ_CHECK(outstanding == 0);  // one message at a time per session
    if (begins % 2 == 0) return false;
    ++outstanding;
    return true;
  }
  std::uint64_t forward_size_limit() const override { return limit_; }
  void forward(const core::IpAddress&, core::TimePoint, std::string_view from, std::string_view rcpt,
               std::vector<char>&& body) override {
    FUZZ_CHECK(outstanding == 1);
    --outstanding;
    FUZZ_CHECK(body.size() <= limit_);
    FUZZ_CHECK(rcpt.find(',') == std::string_view::npos && !rcpt.empty());
    sizes.push_back(body.size());
    forwards.push_back(std::string(from) + "|" + std::string(rcpt) + "|" + std::string(body.begin(), body.end()));
  }
  void cancel(core::TimePoint) override {
    FUZZ_CHECK(outstanding == 1);
    --outstanding;
    ++cancels;
  }
  int begins = 0;
  int outstanding = 0;
  int cancels = 0;
  std::vector<std::string> forwards;
  std::vector<std::uint64_t> sizes;

 private:
  std::uint64_t limit_;
};

bool digit(char c) { return c >= '0' && c <= '9'; }

// `s` is what one call appended to `out`.
void check_replies(std::string_view s) {
  std::string_view pending_code;  // code of an unfinished multi-line reply
  while (!s.empty()) {
    const std::size_t end = s.find("\r\n");
    FUZZ_CHECK(end != std::string_view::npos);
    const std::string_view line = s.substr(0, end);
    s.remove_prefix(end + 2);
    FUZZ_CHECK(line.find('\r') == std::string_view::npos && line.find('\n') == std::string_view::npos);
    FUZZ_CHECK(line.size() >= 4);
    FUZZ_CHECK(line[0] >= '2' && line[0] <= '5' && digit(line[1]) && digit(line[2]));
    FUZZ_CHECK(line[3] == ' ' || line[3] == '-');
    for (char c : line) FUZZ_CHECK(c >= 0x20 && c < 0x7f);  // peer text is escaped
    if (!pending_code.empty()) FUZZ_CHECK(line.substr(0, 3) == pending_code);
    pending_code = line[3] == '-' ? line.substr(0, 3) : std::string_view();
  }
  FUZZ_CHECK(pending_code.empty());
}

// Replies that accept a message: "250 2.0.0 Ok: queued as ID" after DATA,
// "250 2.0.0 Ok: N bytes queued as ID" after BDAT LAST. Echoed peer text
// (VRFY, ETRN) may contain the words but never starts a line like this.
std::size_t count_queued(std::string_view out) {
  std::size_t n = 0;
  while (!out.empty()) {
    const std::size_t end = out.find("\r\n");
    const std::string_view line = out.substr(0, end);
    out.remove_prefix(end == std::string_view::npos ? out.size() : end + 2);
    if (line.starts_with("250 2.0.0 Ok: ") && line.find(" queued as ") != std::string_view::npos) ++n;
  }
  return n;
}

struct Run {
  std::string out;
  std::vector<Message> messages;
  core::SessionRecord record;
  std::vector<std::string> forwards;
  std::string relay_domains;
};

enum class Feed { kWhole, kChunked, kChunkedWithTime };

Run run(const session::SessionConfig& cfg, std::string_view stream, unsigned seed, Feed feed) {
  const core::Limits& lim = cfg.limits;
  XorShift rng(seed);
  core::ManualClock clock;
  CountingDigest digest;
  RecordingSink sink(digest);
  session::Peer peer{core::IpAddress::from_v4(0x7F000002), 40000, core::IpAddress::from_v4(0x7F000001)};
  FuzzHooks hooks(seed % 3 == 0 ? 64 : 4096);
  session::SessionConfig c2 = cfg;
  c2.relay = &hooks;
  session::Session s(c2, peer, 7, clock.now(), &sink, &digest);
  Run r;
  s.start(r.out);
  check_replies(r.out);
  s.add_bytes_out(r.out.size());

  auto after_call = [&](std::size_t before, bool was_closing) {
    const std::string_view added = std::string_view(r.out).substr(before);
    if (was_closing) FUZZ_CHECK(added.empty());
    check_replies(added);
    s.add_bytes_out(added.size());
    FUZZ_CHECK(s.buffered() <= lim.line_length_bytes + 1);
    FUZZ_CHECK(s.held_body_bytes() <= hooks.forward_size_limit());
    FUZZ_CHECK(s.errors() <= lim.errors_per_session);
  };

  std::size_t pos = 0;
  while (pos < stream.size()) {
    std::size_t n = stream.size() - pos;
    if (feed != Feed::kWhole) {
      static constexpr std::size_t kSpans[] = {1, 3, 16, 200, 5000};
      const std::size_t span = kSpans[rng.next() % 5];
      const std::size_t want = 1 + rng.next() % span;
      if (n > want) n = want;
    }
    if (feed == Feed::kChunkedWithTime && rng.next() % 16 == 0) {
      // Mostly within the command timeout, sometimes past it or past the
      // session lifetime.
      const unsigned r3 = rng.next() % 8;
      clock.advance(core::Seconds{r3 == 0 ? 4000 : r3 < 3 ? 301 : static_cast<int>(rng.next() % 60)});
      if (clock.now() >= s.deadline()) {
        const bool was = s.closing();
        const std::size_t before = r.out.size();
        s.on_deadline(clock.now(), r.out);
        after_call(before, was);
        FUZZ_CHECK(s.closing());
      }
    }
    const bool was = s.closing();
    const std::size_t before = r.out.size();
    s.on_bytes(stream.substr(pos, n), clock.now(), r.out);
    after_call(before, was);
    pos += n;
  }

  if (!s.closing()) {
    // Ending: the peer leaves, the server stops, or the peer stays silent
    // past every deadline.
    const std::size_t before = r.out.size();
    switch (feed == Feed::kChunkedWithTime ? rng.next() % 3 : 0) {
      case 0: s.on_peer_gone(false); break;
      case 1: s.on_shutdown(r.out); break;
      case 2:
        clock.advance(core::Seconds{4000});
        FUZZ_CHECK(clock.now() >= s.deadline());
        s.on_deadline(clock.now(), r.out);
        break;
    }
    after_call(before, false);
    FUZZ_CHECK(s.closing());
  }
  // Closed: nothing more comes out, whatever happens.
  const std::size_t closed_at = r.out.size();
  s.on_bytes("NOOP\r\nQUIT\r\n", clock.now(), r.out);
  s.on_deadline(clock.now() + core::Seconds{100000}, r.out);
  s.on_shutdown(r.out);
  FUZZ_CHECK(r.out.size() == closed_at);

  FUZZ_CHECK(sink.sessions == 0);
  s.finish(clock.now());
  s.finish(clock.now());
  FUZZ_CHECK(sink.sessions == 1);
  const core::SessionRecord& rec = sink.last;
  FUZZ_CHECK(rec.reason == s.end_reason());
  FUZZ_CHECK(rec.messages == s.messages() && rec.errors == s.errors());
  FUZZ_CHECK(rec.recipients == s.recipients() && rec.message_bytes == s.message_bytes());
  FUZZ_CHECK(rec.bytes_out == r.out.size());
  FUZZ_CHECK(hooks.outstanding == 0);  // every grant was forwarded or returned
  FUZZ_CHECK(s.held_body_bytes() == 0);
  const bool relay = cfg.mode == core::Mode::kRelay;
  if (!relay) FUZZ_CHECK(hooks.begins == 0 && rec.relay_attempts == 0 && rec.relay_domains.empty());
  FUZZ_CHECK(rec.relay_attempts == (relay ? s.messages() : 0));
  FUZZ_CHECK(rec.forwarded == hooks.forwards.size());
  FUZZ_CHECK(rec.relay_tests <= rec.relay_attempts && rec.forwarded <= rec.relay_attempts);
  FUZZ_CHECK(rec.relay_domains.size() <= session::kDomainListBytes);
  FUZZ_CHECK(rec.trap_hit == !rec.trap_rcpt.empty());

  std::uint32_t accepted = 0;
  std::uint64_t accepted_bytes = 0, accepted_rcpts = 0;
  for (const Message& m : sink.messages) {
    FUZZ_CHECK(m.recipient_count >= 1 && m.recipient_count <= lim.recipients_per_message);
    FUZZ_CHECK(m.has_digest == m.accepted);
    FUZZ_CHECK(m.relay_attempt == (m.accepted && relay));
    if (m.forwarded) FUZZ_CHECK(m.size_bytes <= hooks.forward_size_limit());
    if (!m.accepted) continue;
    ++accepted;
    accepted_bytes += m.size_bytes;
    accepted_rcpts += m.recipient_count;
    FUZZ_CHECK(m.size_bytes <= lim.message_size_bytes);
    FUZZ_CHECK(m.digest_bytes == m.size_bytes);
  }
  FUZZ_CHECK(accepted == s.messages());
  std::size_t f = 0;
  for (const Message& m : sink.messages)
    if (m.forwarded) {
      FUZZ_CHECK(f < hooks.sizes.size() && hooks.sizes[f] == m.size_bytes);
      ++f;
    }
  FUZZ_CHECK(f == hooks.sizes.size());
  FUZZ_CHECK(accepted_bytes == s.message_bytes() && accepted_rcpts == s.recipients());
  // One "queued as" per accepted message; a DATA reply or a BDAT one
  // (the postfix persona's texts).
  if (cfg.replies->persona_name() == "postfix") FUZZ_CHECK(count_queued(r.out) == accepted);

  r.messages = std::move(sink.messages);
  r.record = rec;
  r.forwards = std::move(hooks.forwards);
  r.relay_domains = std::string(rec.relay_domains);
  r.record.relay_domains = r.record.trap_rcpt = {};  // views into the session
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4 || size > 64 * 1024) return 0;
  // Tables indexed so that the byte '0' (0x30) picks the defaults.
  static constexpr std::size_t kLine[] = {2048, 512, 700, 1024};
  static constexpr std::uint32_t kRcpts[] = {1000, 1, 2, 5};
  static constexpr std::uint64_t kSize[] = {64, 300, 4096, 10240000};
  static constexpr std::uint32_t kErrors[] = {20, 1, 2, 3, 5, 8, 13, 100};
  static constexpr std::uint32_t kJunk[] = {3, 10, 100, 1};

  session::SessionConfig cfg;
  cfg.limits.line_length_bytes = kLine[data[0] & 3];
  cfg.limits.recipients_per_message = kRcpts[(data[0] >> 2) & 3];
  cfg.limits.message_size_bytes = kSize[(data[0] >> 4) & 3];
  cfg.limits.body_line_bytes = (data[0] & 0x40) ? 10 : 2048;
  cfg.limits.errors_per_session = kErrors[data[1] & 7];
  cfg.limits.junk_commands_per_session = kJunk[(data[1] >> 3) & 3];
  FUZZ_CHECK(cfg.limits.validate().empty());
  // The persona: bits 5-7 of the second byte ('0' = 0x30 picks postfix).
  static constexpr const char* kPersonas[] = {"exim", "postfix", "opensmtpd", "sendmail", "exchange", "postfix",
                                              "postfix", "postfix"};
  const smtp::ReplyTable replies = smtp::ReplyTable::from_persona(
      smtp::builtin_persona(kPersonas[(data[1] >> 5) & 7]), "mx.example.test", cfg.limits.message_size_bytes, 1795579275);
  cfg.replies = &replies;
  cfg.listener = "fuzz";
  cfg.mode = (data[1] & 0x40) ? core::Mode::kRelay : core::Mode::kSink;
  static const session::SpamtrapList traps = [] {
    session::SpamtrapList l;
    std::string err;
    FUZZ_CHECK(session::SpamtrapList::parse("trap@example.test\n*@trap.example\n*@*.sub.example\n", l, err));
    return l;
  }();
  cfg.spamtraps = &traps;

  const unsigned seed = data[2] | (data[3] << 8);
  const std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);

  run(cfg, stream, seed, Feed::kChunkedWithTime);

  const Run whole = run(cfg, stream, seed, Feed::kWhole);
  const Run chunked = run(cfg, stream, seed, Feed::kChunked);
  FUZZ_CHECK(whole.out == chunked.out);
  FUZZ_CHECK(whole.messages == chunked.messages);
  FUZZ_CHECK(whole.record.reason == chunked.record.reason);
  FUZZ_CHECK(whole.record.errors == chunked.record.errors);
  FUZZ_CHECK(whole.record.bytes_in == chunked.record.bytes_in);
  FUZZ_CHECK(whole.forwards == chunked.forwards);
  FUZZ_CHECK(whole.relay_domains == chunked.relay_domains);
  FUZZ_CHECK(whole.record.relay_tests == chunked.record.relay_tests);
  FUZZ_CHECK(whole.record.trap_hit == chunked.record.trap_hit);
  return 0;
}
