// smtp/replies: the reply texts, as data.
//
// Purpose: every reply the engine sends comes from a ReplyTable, so that a
// persona is a table, not a code path. A table is rendered from a Persona
// (smtp/persona.hpp, personas/*.toml) for one hostname and size limit; the
// default, postfix(), is the embedded `postfix` persona, a stock Debian
// Postfix 3.7 smtpd (recorded from the real one, see tests/personas).
// Invariants: each text is complete and CRLF-terminated; "{host}" and
// "{size}" are rendered once at construction; a text with a per-session
// placeholder ({helo} {ip} {date} {arg} {id} {num} {bytes} {code}) is
// dynamic() and rendered by render() straight into the output (nothing
// allocated but the output's growth); get() of a dynamic text returns it
// rendered with the construction time and empty peer values (what the
// tarpit, which only sends whole static texts, uses).
// Limits: the hostname is at most kMaxHostname bytes of [A-Za-z0-9.-];
// echoed peer text at most kMaxEcho bytes, made printable.
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
  kReset,            // RSET
  kQueued,           // 250 after DATA: {id}
  kBdatOk,           // 250 for a BDAT chunk: {bytes}
  kBdatQueued,       // 250 for BDAT LAST: {bytes} {id}
  kBdatDiscarded,    // 551 for chunks after a failed one: {bytes}
  kVrfy,             // 252: {arg}
  kUnsupportedOption,  // 555: {arg}
  kEtrnRefused,      // 459: {arg}
  kTooManyConns,     // 421 at accept: {ip}
  kHelp,             // HELP, when the persona answers it
  kLineTooLong,      // an over-long line, when the persona replies to it
  kTooManyUnknown,   // the unknown command past unknown_command_limit
  kStarttlsReady,    // 220 after STARTTLS: the handshake follows
  kStarttlsSyntax,   // STARTTLS with arguments
  kStarttlsActive,   // STARTTLS again, inside TLS
  kEhloStarttls,     // EHLO with STARTTLS offered (the persona's keywords_tls)
  kEhloAfterTls,     // EHLO inside TLS: keywords_tls without STARTTLS
  kCount
};

// An over-long command line, as each MTA treats it.
enum class OverlongLine : std::uint8_t {
  kTruncate,    // Postfix: keep line_length_limit bytes, parse them, drop the rest
  kSplit,       // Exim: every line_length_limit bytes are read as a command of their own
  kReplyClose,  // OpenSMTPD: reply line_too_long and close
  kReply,       // reply line_too_long (an error) and go on
};

// Where MTAs differ in more than a text. Data too: the session reads it.
struct PersonaBehaviour {
  OverlongLine overlong = OverlongLine::kTruncate;
  // false: too_many_errors is a reply of its own after the error's reply
  // (Postfix). true: the error's reply gets a '-' on its last line and
  // too_many_errors ({code} = the error's code) ends it (Exim).
  bool error_limit_merge = false;
  // The Nth unknown command gets too_many_unknown and the session closes
  // (Exim's smtp_max_unknown_commands + 1); 0 = no such limit.
  std::uint32_t unknown_command_limit = 0;
  bool help = false;  // HELP answered with kHelp; false: an unknown command
  bool vrfy = true;   // VRFY known; false: an unknown command
  bool etrn = true;   // ETRN known; false: an unknown command
};

// The per-session values a dynamic text may carry.
struct ReplyVars {
  std::string_view helo;
  std::string_view ip;
  std::string_view arg;   // peer text: made printable, capped at kMaxEcho
  std::string_view id;    // queue id
  std::string_view code;  // a reply code ({code}, for merged error limits)
  std::uint64_t bytes = 0;
  std::uint64_t num = 0;  // a decimal number derived from the queue id
  std::int64_t unix_time = 0;  // for {date}
};

struct Persona;

class ReplyTable {
 public:
  static constexpr std::size_t kMaxHostname = 253;

  // `persona` rendered for `hostname`, with `size_limit` in EHLO;
  // `unix_time` is the date in get() of a dynamic text. `tls_available`:
  // kEhlo lists the persona's keywords_tls (STARTTLS among them) when the
  // persona offers STARTTLS. Whatever it is, kEhloStarttls and
  // kEhloAfterTls are always rendered (for a persona without STARTTLS
  // both equal the plain list), and the session picks one of the three.
  static ReplyTable from_persona(const Persona& persona, std::string_view hostname, std::uint64_t size_limit,
                                 std::int64_t unix_time = 0, bool tls_available = false);
  // The embedded `postfix` persona (stock Postfix 3.7).
  static ReplyTable postfix(std::string_view hostname, std::uint64_t size_limit);

  std::string_view get(ReplyId id) const { return texts_[static_cast<std::size_t>(id)]; }
  bool dynamic(ReplyId id) const { return dynamic_[static_cast<std::size_t>(id)]; }
  // Appends the text of `id` with `vars`.
  void render(ReplyId id, const ReplyVars& vars, std::string& out) const;
  std::string_view hostname() const { return hostname_; }
  std::string_view persona_name() const { return name_; }
  const PersonaBehaviour& behaviour() const { return behaviour_; }
  // The persona offers STARTTLS (when the server has TLS configured).
  bool offers_starttls() const { return starttls_; }
  // H: upper-case hex, h: lower-case hex, D: digit, b: base 62; else literal.
  std::string_view queue_id_format() const { return queue_id_format_; }

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

  // Replaces a text (a template; {host} and {size} already rendered).
  void set(ReplyId id, std::string text);

 private:
  std::array<std::string, static_cast<std::size_t>(ReplyId::kCount)> texts_;      // static form
  std::array<std::string, static_cast<std::size_t>(ReplyId::kCount)> templates_;  // dynamic ones
  std::array<bool, static_cast<std::size_t>(ReplyId::kCount)> dynamic_{};
  std::string hostname_;
  std::string name_;
  std::string queue_id_format_ = "HHHHHHHHHHH";
  PersonaBehaviour behaviour_;
  bool starttls_ = false;
  std::int64_t unix_time_ = 0;
};

// Appends `unix_time` as an RFC 5322 date in UTC: "Wed, 25 Nov 2026 04:01:15 +0000".
void append_rfc5322_date(std::int64_t unix_time, std::string& out);

// True when `h` is a usable hostname for the banner.
bool valid_hostname(std::string_view h);

// Appends peer text as Postfix echoes it in a reply: printable ASCII kept,
// other bytes replaced by '?', at most `max` bytes.
void append_printable(std::string_view in, std::size_t max, std::string& out);

}  // namespace spamsink::smtp
