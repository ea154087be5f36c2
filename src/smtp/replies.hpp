// smtp/replies: the reply texts, as data.
//
// Purpose: every reply the engine sends comes from a ReplyTable, so that a
// persona is a table, not a code path. The default table is a stock Debian
// Postfix 3.7 smtpd (recorded from the real one, see tests/transcripts).
// Invariants: each text is complete, CRLF-terminated, rendered once at
// construction ("{host}" replaced by the hostname); nothing is formatted on
// the hot path except the few replies that carry a value.
// Limits: the hostname is at most kMaxHostname bytes of [A-Za-z0-9.-].
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace spamsink::smtp {

enum class ReplyId : std::uint8_t {
  kGreeting,
  kEhlo,  // multi-line keyword list
  kHelo,
  kEhloSyntax,
  kHeloSyntax,
  kOk,  // RSET, NOOP
  kMailOk,
  kRcptOk,
  kDataGo,  // 354
  kQuit,
  kUnknown,     // 500 command not recognized (HELP included)
  kBadSyntax,   // 500 empty line, NUL
  kBadUtf8,     // 500 bytes that are not UTF-8
  kNestedMail,
  kNeedMail,
  kNeedRcpt,
  kNoRecipients,  // DATA/BDAT in a transaction without recipients
  kMailSyntax,
  kRcptSyntax,
  kBadSender,
  kBadRecipient,
  kBadSizeSyntax,
  kBadRetSyntax,
  kBadEnvidSyntax,
  kBadNotifySyntax,
  kBadOrcptSyntax,
  kSizeTooBig,    // 552 at MAIL (declared SIZE)
  kSizeOverflow,  // 552 at MAIL: SIZE beyond any file
  kFileTooBig,    // 552 at the end of a DATA that grew too big
  kChunkTooBig,   // 552 for a BDAT chunk past the limit
  kTooManyRcpts,
  kTooManyErrors,
  kTimeout,
  kLifetime,
  kShutdown,
  kForbidden,  // GET/POST/CONNECT
  kVrfySyntax,
  kEtrnSyntax,
  kEtrnInTransaction,
  kStarttlsNotOffered,
  kAuthNotEnabled,
  kXclientSyntax,
  kXforwardSyntax,
  kNotAuthorized,  // XCLIENT/XFORWARD with arguments
  kDataArgs,
  kBdatSyntax,
  kDataAfterBdat,
  kRsetArgs,
  kTempFailData,  // the tarpit's end of DATA: a temporary failure
  kVrfyDisabled,
  kEarlyRejectPerm,  // early talker, reject: postscreen's drop
  kEarlyRejectTemp,
  kEarlyDeferPerm,   // early talker, defer: every MAIL and RCPT
  kEarlyDeferTemp,
  kTeaser,           // "220-" first line sent before a greet delay
  kShed,             // tarpit above its high-water mark
  kCount
};

class ReplyTable {
 public:
  static constexpr std::size_t kMaxHostname = 253;

  // The stock Postfix 3.7 texts, with `hostname`, `size_limit` in EHLO.
  static ReplyTable postfix(std::string_view hostname, std::uint64_t size_limit);

  std::string_view get(ReplyId id) const { return texts_[static_cast<std::size_t>(id)]; }
  std::string_view hostname() const { return hostname_; }

  // Replies that carry a value.
  static constexpr std::size_t kMaxEcho = 256;  // peer text echoed in a reply
  void queued(std::string_view queue_id, std::string& out) const;                // 250 queued as
  void bdat_ok(std::uint64_t bytes, std::string& out) const;                       // 250 N bytes
  void bdat_queued(std::uint64_t bytes, std::string_view queue_id, std::string& out) const;
  void bdat_discarded(std::uint64_t bytes, std::string& out) const;                // 551
  void vrfy(std::string_view address, std::string& out) const;                     // 252
  void unsupported_option(std::string_view param, std::string& out) const;         // 555
  void etrn_refused(std::string_view domain, std::string& out) const;              // 459
  void too_many_conns(std::string_view ip, std::string& out) const;                // 421

  void set(ReplyId id, std::string text) { texts_[static_cast<std::size_t>(id)] = std::move(text); }

 private:
  std::array<std::string, static_cast<std::size_t>(ReplyId::kCount)> texts_;
  std::string hostname_;
};

// True when `h` is a usable hostname for the banner.
bool valid_hostname(std::string_view h);

// Appends peer text as Postfix echoes it in a reply: printable ASCII kept,
// other bytes replaced by '?', at most `max` bytes.
void append_printable(std::string_view in, std::size_t max, std::string& out);

}  // namespace spamsink::smtp
