// smtp/reply_parser: the client side: SMTP replies from a byte stream.
//
// Purpose: smtpsend reads servers' replies with this; it shares the
// bounded framer with the server side.
// Invariants: a reply is complete at its first "DDD " (or bare "DDD")
// line; "DDD-" lines continue it and must carry the same code; anything
// else is a protocol error. Only the last line's text is kept (capped),
// plus, for EHLO replies, a bitmask of the extensions that matter to a
// client.
// Limits: lines up to kLineLimit bytes (longer ones are truncated);
// kTextMax bytes of text kept.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/line_framer.hpp"

namespace spamsink::smtp {

enum Extension : std::uint32_t {
  kExtPipelining = 1u << 0,
  kExtChunking = 1u << 1,
  kExtSize = 1u << 2,
  kExtStarttls = 1u << 3,
  kExt8BitMime = 1u << 4,
  kExtSmtpUtf8 = 1u << 5,
  kExtEnhancedStatus = 1u << 6,
};

class ReplyParser {
 public:
  static constexpr std::size_t kLineLimit = 4096;
  static constexpr std::size_t kTextMax = 256;

  enum class Status : std::uint8_t { kNeedMore, kReply, kBad };

  ReplyParser() : framer_(kLineLimit) {}

  // Consumes bytes up to the end of the next complete reply.
  Status next(std::string_view& in);

  int code() const { return code_; }
  std::string_view text() const { return text_; }  // last line, after "DDD "
  std::uint32_t extensions() const { return ext_; }  // keywords of the last reply
  std::uint32_t lines() const { return lines_; }     // lines of the last reply
  bool in_reply() const { return started_ || framer_.in_line(); }
  void reset();

 private:
  LineFramer framer_;
  std::string text_;
  int code_ = 0;
  std::uint32_t ext_ = 0;
  std::uint32_t lines_ = 0;
  bool started_ = false;
};

}  // namespace spamsink::smtp
