// session/tarpit: the tarpit's side of a conversation, a few bytes big.
//
// Purpose: a held connection is a record, not a session (DESIGN.md §4):
// this class recognises command verbs and line ends a byte at a time,
// queues the reply each command gets, and hands the reply out a few bytes
// at a time for the drip scheduler. It keeps no line and no peer text.
// What the bot gets: a real-looking greeting and replies (the persona's
// texts), but never a 250 for a message: the end of DATA is answered
// "451 4.3.0 Error: queue file write error", so a genuine MTA keeps its
// mail queued and retries elsewhere.
// Invariants:
//  - sizeof(TarpitConversation) <= 24 bytes;
//  - replies go out in command order; at most kQueue are queued: a bot
//    that pipelines more commands than that loses the extra replies;
//  - the DATA body ends only on CRLF.CRLF, as in the sink.
// Limits: a command's verb is its first 4 bytes; the rest of a line is
// skipped, whatever its length.
#pragma once

#include <cstdint>
#include <string_view>

#include "smtp/replies.hpp"

namespace spamsink::session {

class TarpitConversation {
 public:
  static constexpr int kQueue = 6;

  // Phases, for the facts recorded when the session ends.
  enum class Phase : std::uint8_t { kGreeting, kHelo, kMail, kRcpt, kData, kDataEnd, kQuit };

  // The greeting is the first reply queued.
  TarpitConversation();

  // Consumes all of `in`.
  void on_bytes(std::string_view in);

  // Early talk (postscreen's pregreet test, qpsmtpd's earlytalker): bytes
  // that arrived while the greeting, or a 354, was still being sent.
  bool early_talker() const { return (flags_ & kEarly) != 0; }
  // From now on every MAIL and RCPT is refused (early_talker = defer):
  // "450 4.5.1"/"550 5.5.1 Protocol error".
  void defer_transactions(bool permanent) { flags2_ |= permanent ? kDeferPerm : kDeferTemp; }

  // Up to `max` bytes of the reply being sent; empty when nothing is due.
  std::string_view peek_output(const smtp::ReplyTable& t, std::size_t max) const;
  // `n` bytes of peek_output() went out.
  void consumed(const smtp::ReplyTable& t, std::size_t n);
  bool has_output() const { return qlen_ != 0; }
  // The reply being sent, and whether none of it went out yet.
  smtp::ReplyId front_reply() const { return static_cast<smtp::ReplyId>(queue_[qhead_]); }
  bool at_reply_start() const { return cursor_ == 0; }
  // The QUIT reply went out entirely: close.
  bool done() const { return (flags_ & kQuitSent) != 0; }
  Phase phase() const { return phase_; }
  std::uint8_t commands() const { return commands_; }  // saturates at 255

 private:
  enum Flags : std::uint8_t {
    kInLine = 1, kInData = 2, kQuitSent = 4, kQuitQueued = 8, kVerbDone = 16, kEarly = 32, kGreeted = 64,
    kWait354 = 128,  // a 354 is queued and not yet wholly sent
  };
  enum Flags2 : std::uint8_t { kDeferTemp = 1, kDeferPerm = 2 };
  enum class DataState : std::uint8_t { kMid, kCr, kBol, kDot, kDotCr };
  void end_of_line();
  void push(smtp::ReplyId id);
  bool data_byte(char c);  // true at the end of the body

  char verb_[4] = {0, 0, 0, 0};
  std::uint8_t verb_len_ = 0;
  std::uint8_t flags_ = 0;
  DataState data_ = DataState::kBol;
  Phase phase_ = Phase::kGreeting;
  std::uint8_t queue_[kQueue] = {};
  std::uint8_t qhead_ = 0;
  std::uint8_t qlen_ = 0;
  std::uint16_t cursor_ = 0;  // bytes of the front reply already sent
  std::uint8_t commands_ = 0;
  std::uint8_t flags2_ = 0;
};

}  // namespace spamsink::session
