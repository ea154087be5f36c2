// session/session: the sans-I/O SMTP state machine of one connection.
//
// Purpose: bytes and time in, replies and facts out. The driver (src/net)
// owns the socket; it calls start(), on_bytes(), on_deadline() and
// on_peer_gone(), writes whatever was appended to `out` in one write, and
// closes when closing() is true. Facts go to the EventSink as they happen
// (a MessageRecord per message) and once at the end (a SessionRecord).
// This is DESIGN.md's "actions out" in a cheap form: Send = text appended
// to `out`, Wait = deadline(), Close = closing(), Record = EventSink calls.
// The texts, and the few behaviours where MTAs differ (over-long lines,
// how the error limit ends a session, an unknown-command limit, whether
// HELP/VRFY/ETRN exist), come from the persona's ReplyTable.
// Invariants:
//  - replies to everything in one on_bytes() call are appended in order, so
//    a pipelined group is answered in one write;
//  - nothing is allocated per command or per message; the only per-session
//    storage that can grow is the framer's unfinished line (<= line limit);
//  - after closing() turns true, input is ignored;
//  - the SessionRecord is emitted exactly once, by finish().
// STARTTLS (config.tls and a persona that offers it): a 220, then the
// driver's handshake; plaintext pipelined behind STARTTLS is dropped, and
// after the handshake the session is back at the greeting (see
// tls_requested()).
// Relay mode (config.mode == kRelay) adds: the distinct recipient domains
// (session/relay.hpp), relay-test detection while the body streams by (an
// IpMatcher over the first kRelayTestBodyBytes, nothing kept), and, for a
// message the RelayHooks grant at its start, a copy of the body that never
// grows past hooks->forward_size_limit(), handed over whole at its end
// (the one body a session ever keeps). A spamtrap list in the config marks
// the session on the first trapped recipient (sink and relay).
// Limits: all from core::Limits; peer text kept: HELO 128 B, MAIL FROM
// 256 B, recipients 512 B per message (comma-joined, truncated); relay
// domains kDomainListBytes; trapped recipient 256 B.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.hpp"
#include "core/cidr.hpp"
#include "core/clock.hpp"
#include "core/event_sink.hpp"
#include "core/fixed_string.hpp"
#include "core/limits.hpp"
#include "smtp/data_scanner.hpp"
#include "smtp/line_framer.hpp"
#include "session/relay.hpp"
#include "session/spamtrap.hpp"
#include "smtp/replies.hpp"

namespace spamsink::session {

// Early talkers (postscreen's pregreet test, qpsmtpd's earlytalker): a
// client that sends before our greeting is whole, or sends its message
// before our 354. The driver waits greet_delay before start() (sending the
// teaser first if asked) and reports bytes that arrive meanwhile through
// on_early_talk(); the session itself spots a message sent before its 354.
struct EarlyTalkPolicy {
  enum class Action : std::uint8_t { kIgnore, kReject, kDefer };
  Action action = Action::kIgnore;  // ignore: recorded only
  bool permanent = true;            // reject 521 / defer 550, else 421 / 450
  core::Duration greet_delay{};     // 0: greet at once (sink and relay default)
  bool teaser = false;              // a "220-" line at once, the greeting after the delay
  std::vector<core::Cidr> allow;    // never treated as talkers
};

// What relay mode asks of its driver: the forwarding gate and the client
// that sends a granted message to the smarthost. Called on the session's
// thread; implementations never block.
class RelayHooks {
 public:
  virtual ~RelayHooks() = default;
  // A message from `ip` starts. True: keep its body (up to
  // forward_size_limit()) and then call forward() or cancel() with `token`.
  virtual bool begin_message(const core::IpAddress& ip, core::TimePoint& token) = 0;
  virtual std::uint64_t forward_size_limit() const = 0;
  // Takes the body (unstuffed content, CRLF line ends as received).
  virtual void forward(const core::IpAddress& ip, core::TimePoint token, std::string_view from,
                       std::string_view rcpt, std::vector<char>&& body) = 0;
  // A granted message was not forwarded after all.
  virtual void cancel(core::TimePoint token) = 0;
};

struct SessionConfig {
  const smtp::ReplyTable* replies = nullptr;
  core::Limits limits;
  core::Mode mode = core::Mode::kSink;
  std::string_view listener;  // name for logs; must outlive the session
  EarlyTalkPolicy early;
  const SpamtrapList* spamtraps = nullptr;  // null or empty: no traps
  RelayHooks* relay = nullptr;              // relay mode: null = never forward
  // The driver can run TLS on this listener: STARTTLS is offered where the
  // persona offers it (replies->offers_starttls()).
  bool tls = false;
};

struct Peer {
  core::IpAddress ip;
  std::uint16_t port = 0;
  core::IpAddress local;  // our end of the connection (relay tests look for it)
};

class Session {
 public:
  enum class Phase : std::uint8_t { kCommand, kData, kBdat, kClosed };

  Session(const SessionConfig& config, const Peer& peer, std::uint64_t id, core::TimePoint now,
          core::EventSink* sink, core::BodyDigest* digest);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Appends the greeting; `unix_time` is the wall clock (seconds since
  // the epoch, UTC) for a persona whose banner carries a date.
  void start(std::string& out, std::int64_t unix_time = 0);
  // Appends the "220-" teaser a greet delay starts with.
  void start_teaser(std::string& out);
  // The peer sent `first` before the greeting was whole (the driver peeks,
  // so the bytes stay queued and are read as commands after the greeting).
  // Records the talker and applies the policy: reject appends 521/421 and
  // closes; defer answers every later MAIL and RCPT with 550/450.
  void on_early_talk(std::string_view first, std::string& out);
  // Consumes all of `in`; appends the replies.
  void on_bytes(std::string_view in, core::TimePoint now, std::string& out);
  // The driver calls this once `now >= deadline()`; appends a 421.
  void on_deadline(core::TimePoint now, std::string& out);
  // The server is stopping: appends a 421 and closes.
  void on_shutdown(std::string& out);
  // The peer closed (EOF) or the socket failed.
  void on_peer_gone(bool reset);
  // STARTTLS (RFC 3207). After a 220 to STARTTLS, tls_requested() is true:
  // the driver writes `out`, then runs the handshake and calls
  // on_tls_started() or on_tls_failed(). Bytes that came after STARTTLS in
  // the same read were dropped unread (plaintext injection,
  // CVE-2011-0411), and on_bytes() ignores input until the handshake ends.
  bool tls_requested() const { return tls_start_; }
  // The handshake is done: back to the state after the greeting (HELO
  // forgotten, no transaction), EHLO no longer offers STARTTLS.
  void on_tls_started(core::TimePoint now);
  // The handshake failed or timed out: the session ends (tls_failed).
  void on_tls_failed();
  bool tls_active() const { return tls_active_; }
  // Bytes dropped after a STARTTLS line (0 for a well-behaved client;
  // saturates at 2^32 - 1).
  std::uint32_t tls_discarded() const { return tls_discarded_; }
  // Bytes actually written to the peer.
  void add_bytes_out(std::uint64_t n) { bytes_out_ += n; }

  // Emits the SessionRecord (once) with the end time.
  void finish(core::TimePoint now);

  bool closing() const { return phase_ == Phase::kClosed; }
  Phase phase() const { return phase_; }
  core::TimePoint deadline() const { return line_deadline_ < end_of_life_ ? line_deadline_ : end_of_life_; }
  core::EndReason end_reason() const { return reason_; }
  std::uint32_t messages() const { return messages_; }
  std::uint32_t recipients() const { return recipients_total_; }
  std::uint32_t errors() const { return errors_; }
  std::uint64_t message_bytes() const { return message_bytes_; }
  std::uint64_t bytes_in() const { return bytes_in_; }
  bool early_talker() const { return early_talker_; }
  const SessionConfig& config() const { return config_; }
  std::string_view helo() const { return helo_.view(); }
  std::string_view mail_from() const { return mail_from_.view(); }
  bool trap_hit() const { return trap_hit_; }
  std::uint32_t relay_attempts() const { return relay_ ? relay_->attempts : 0; }
  std::string_view relay_domains() const { return relay_ ? relay_->domains.view() : std::string_view{}; }
  // Body bytes held for forwarding right now (0 unless a granted message is
  // being received; never above the hooks' forward_size_limit()).
  std::size_t held_body_bytes() const { return relay_ ? relay_->fwd_body.capacity() : 0; }
  // Bytes of an unfinished command line held (<= line_length_bytes + 1).
  std::size_t buffered() const { return framer_.buffered(); }

 private:
  void handle_line(const smtp::LineFramer::Line& line, std::string& out);
  void cmd_helo(std::string_view args, bool esmtp, std::string& out);
  void cmd_mail(std::string_view args, std::string& out);
  void cmd_rcpt(std::string_view args, std::string& out);
  void cmd_data(std::string_view args, std::string& out);
  void cmd_bdat(std::string_view args, std::string& out);
  void cmd_etrn(std::string_view args, std::string& out);
  void cmd_starttls(std::string_view args, std::string& out);
  void finish_chunk(std::string& out);
  void cmd_vrfy(std::string_view args, std::string& out);
  void end_message(std::string& out);
  void record_message(bool accepted, std::uint64_t size);
  void reset_transaction();
  // After the reply of NOOP/RSET/VRFY/ETRN: the junk command limit.
  void junk_command(std::string& out);
  void reply(smtp::ReplyId id, std::string& out, std::string_view arg = {});
  // An error reply: counts it and, at the limit, adds the persona's
  // too_many_errors and closes.
  void error(smtp::ReplyId id, std::string& out, std::string_view arg = {});
  // `reply_at`: where the error's reply starts in `out` (a merged limit
  // reply rewrites its last line).
  void count_error(std::string& out, std::size_t reply_at);
  // An unknown command (HELP and VRFY too, for a persona without them);
  // `line` is what the peer sent ({arg} in the reply).
  void unknown_command(std::string& out, std::string_view line);
  void close(core::EndReason reason);
  // Records an early talker; false when it is allowlisted.
  bool note_early_talk(std::string_view first);
  // Applies the early-talk action; `out` gets the reject reply.
  void early_talk_action(std::string& out);
  smtp::ReplyId defer_reply() const;
  // The persona's queue-id format, at most kMaxQueueId bytes; returns the length.
  static constexpr std::size_t kMaxQueueId = 64;
  std::size_t next_queue_id(char (&buf)[kMaxQueueId], std::uint64_t& num);
  // Relay mode: a message body starts / a piece of it / the forward is off.
  void begin_body();
  void relay_body(const char* p, std::size_t n);
  void drop_forward();
  void end_relay_message(std::uint64_t size);

  // Sits between the scanner (or BDAT) and the real digest in relay mode,
  // so the body is seen once, in place.
  class BodyTee final : public core::BodyDigest {
   public:
    explicit BodyTee(Session& s) : s_(s) {}
    void reset() noexcept override {
      if (s_.digest_ != nullptr) s_.digest_->reset();
    }
    void update(const char* data, std::size_t n) noexcept override {
      if (s_.digest_ != nullptr) s_.digest_->update(data, n);
      s_.relay_body(data, n);
    }
    void finish(std::array<std::uint8_t, 32>& out) noexcept override {
      if (s_.digest_ != nullptr) s_.digest_->finish(out);
    }

   private:
    Session& s_;
  };

  const SessionConfig& config_;
  const smtp::ReplyTable& replies_;
  core::EventSink* sink_;
  core::BodyDigest* digest_;
  Peer peer_;
  std::uint64_t id_;
  core::TimePoint start_;
  core::TimePoint line_deadline_;
  core::TimePoint end_of_life_;

  smtp::LineFramer framer_;
  smtp::DataScanner scanner_;

  Phase phase_ = Phase::kCommand;
  core::EndReason reason_ = core::EndReason::kPeerClosed;
  bool finished_ = false;
  bool in_mail_ = false;
  bool bdat_used_ = false;      // this transaction has seen BDAT
  bool bdat_last_ = false;      // the current chunk is the last
  bool bdat_skip_ = false;      // the current chunk was refused: skip it
  bool bdat_error_ = false;     // a chunk failed: discard chunks up to LAST
  bool bdat_ends_lf_ = false;   // the message's last byte so far is LF
  smtp::ReplyId bdat_refusal_ = smtp::ReplyId::kOk;  // reply for a skipped chunk
  bool too_big_ = false;        // this message passed the size limit
  bool early_talker_ = false;   // talked before our greeting or our 354
  bool deferred_ = false;       // early talker with the defer action
  std::uint8_t early_len_ = 0;
  char early_[16] = {};         // the first bytes it sent early
  std::uint64_t bdat_left_ = 0;  // bytes of the current chunk still due
  std::uint64_t bdat_chunk_ = 0;
  std::uint64_t bdat_bytes_ = 0;  // message bytes so far, over all chunks
  std::uint64_t last_lines_ = 0;

  std::uint32_t rcpt_count_ = 0;
  std::uint32_t rcpt_overshoot_ = 0;  // refused past the recipient limit
  std::uint32_t recipients_total_ = 0;
  std::uint32_t messages_ = 0;
  std::uint32_t errors_ = 0;
  std::uint32_t junk_ = 0;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  std::uint64_t message_bytes_ = 0;
  std::uint32_t queue_seq_ = 0;
  std::uint32_t unknown_ = 0;  // unknown commands, for the persona's unknown_command_limit
  std::int64_t unix_start_ = 0;
  char ip_text_[48] = {};
  std::uint8_t ip_len_ = 0;

  core::FixedString<128> helo_;
  core::FixedString<256> mail_from_;
  core::FixedString<512> rcpts_;

  // Relay mode only, allocated once per relay session, so that a sink
  // session stays as small as it was (about 1 KiB of state here).
  struct RelayState {
    explicit RelayState(Session& s) : tee(s) {}
    BodyTee tee;
    IpMatcher own_ip;
    DomainList domains;
    core::FixedString<256> first_rcpt;  // forwarded messages go to this one only
    bool foreign_rcpt = false;          // this message: a recipient outside the sender's domain
    bool msg_relay_test = false;
    bool msg_forwarded = false;
    bool fwd_granted = false;  // the hooks granted this message a forward
    bool fwd_keep = false;     // ... and its body still fits
    core::TimePoint fwd_token{};
    std::uint64_t body_bytes = 0;
    std::uint32_t attempts = 0;
    std::uint32_t tests = 0;
    std::uint32_t forwarded = 0;
    std::vector<char> fwd_body;
  };
  static constexpr std::size_t kTrapRcptBytes = 256;
  std::unique_ptr<RelayState> relay_;
  core::BodyDigest* body_sink_;  // digest_, or the relay tee
  std::string trap_rcpt_;        // the first trapped recipient (allocated on a hit only)
  bool trap_hit_ = false;
  bool tls_start_ = false;   // 220 to STARTTLS sent: the handshake is due
  bool tls_active_ = false;  // the handshake completed
  // 32 bits: with the two flags it fits the padding after trap_hit_, so a
  // plain session is no larger than before TLS.
  std::uint32_t tls_discarded_ = 0;
  void discard(std::size_t n) {
    tls_discarded_ = n >= 0xFFFFFFFFu - tls_discarded_ ? 0xFFFFFFFFu : tls_discarded_ + static_cast<std::uint32_t>(n);
  }
};

}  // namespace spamsink::session
