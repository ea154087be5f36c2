// smtp/command: the command table and the argument parsers.
//
// Purpose: turn one command line into a verb and arguments, and MAIL/RCPT/
// BDAT arguments into typed values, the way Postfix 3.7 smtpd reads them.
// Invariants: pure functions over string_views; nothing is allocated; every
// view returned points into the input line.
// Limits: at most kMaxParams ESMTP parameters are looked at per command;
// the rest make the command a syntax error.
#pragma once

#include <cstdint>
#include <string_view>

namespace spamsink::smtp {

enum class Verb : std::uint8_t {
  kUnknown,
  kEmpty,
  kHelo,
  kEhlo,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kEtrn,
  kStarttls,
  kAuth,
  kXclient,
  kXforward,
  kHelp,
  kForbidden,  // CONNECT, GET, POST, a header name, a non-letter: not SMTP
};

struct Command {
  Verb verb = Verb::kUnknown;
  std::string_view word;  // the verb as sent
  std::string_view args;  // after the verb, leading spaces skipped
};

// A NUL ends the line, as in Postfix's C strings.
Command parse_command(std::string_view line);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool valid_utf8(std::string_view s);

// MAIL FROM / RCPT TO. "Bad*" statuses are the reply kinds of Postfix.
enum class PathStatus : std::uint8_t {
  kOk,
  kSyntax,          // no "FROM:" / "TO:" or no address: 501 5.5.4 Syntax
  kBadAddress,      // 501 5.1.7 / 5.1.3 Bad ... address syntax
  kBadSize,         // SIZE= not a number
  kSizeOverflow,    // SIZE= too large to represent
  kBadRet,          // RET= not FULL/HDRS, or given twice
  kBadEnvid,        // ENVID= empty or given twice
  kBadNotify,       // NOTIFY= not NEVER or a list of SUCCESS,FAILURE,DELAY
  kBadOrcpt,        // ORCPT= not type;address
  kUnsupported,     // unknown parameter or value: 555 5.5.4 Unsupported option
};

enum class BodyType : std::uint8_t { kNone, k7Bit, k8BitMime };

struct PathArgs {
  PathStatus status = PathStatus::kSyntax;
  std::string_view address;    // without the angle brackets
  std::string_view bad_param;  // the offending parameter, for the reply
  std::uint64_t size = 0;      // SIZE=, 0 when absent
  bool has_size = false;
  BodyType body = BodyType::kNone;
  bool smtputf8 = false;
};

// `args` is Command::args of a MAIL command.
PathArgs parse_mail_args(std::string_view args);
// `args` is Command::args of a RCPT command.
PathArgs parse_rcpt_args(std::string_view args);

struct BdatArgs {
  bool ok = false;
  std::uint64_t size = 0;
  bool last = false;
};
BdatArgs parse_bdat_args(std::string_view args);

// Word helpers, with Postfix's idea of white space (SP, HT, CR, VT, FF).
std::size_t count_words(std::string_view s);
std::string_view trim_trailing_space(std::string_view s);
// `s` without a last word equal to `word` (case-insensitive), trimmed.
std::string_view strip_trailing_word(std::string_view s, std::string_view word);

// True when `s` (an address without brackets) is a plausible mailbox, domain
// literal or route; used to reject obvious garbage as Postfix does.
bool plausible_address(std::string_view s);

}  // namespace spamsink::smtp
