// fuzz/fuzz_command: the command-line parsers of smtp/command.
//
// Input: one command line (without its line end), used as it is and as
// the arguments of MAIL, RCPT and BDAT.
// Checked: every view returned points inside the input (command.hpp's
// promise: nothing allocated, views into the line); the verb and word
// agree with the command table, and an unknown word is "not SMTP" exactly
// when Postfix 3.7 would hang up on it; a NUL ends the line; accepted paths are
// plausible addresses; rejected parameters are named; BDAT sizes re-parse
// to the same number; valid_utf8 agrees with an independent table-driven
// validator (RFC 3629 section 4).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "smtp/command.hpp"

namespace {

using namespace spamsink::smtp;

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;  // an empty view may point anywhere
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

// RFC 3629 section 4, written as byte ranges rather than decoded values so
// that it shares nothing with the code under test.
bool reference_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    std::size_t len;
    unsigned lo = 0x80, hi = 0xBF;  // range of the second byte
    if (c <= 0x7F) {
      ++i;
      continue;
    } else if (in(c, 0xC2, 0xDF)) {
      len = 2;
    } else if (c == 0xE0) {
      len = 3, lo = 0xA0;
    } else if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) {
      len = 3;
    } else if (c == 0xED) {
      len = 3, hi = 0x9F;
    } else if (c == 0xF0) {
      len = 4, lo = 0x90;
    } else if (in(c, 0xF1, 0xF3)) {
      len = 4;
    } else if (c == 0xF4) {
      len = 4, hi = 0x8F;
    } else {
      return false;
    }
    if (n - i < len) return false;
    if (!in(p[i + 1], lo, hi)) return false;
    for (std::size_t k = 2; k < len; ++k)
      if (!in(p[i + k], 0x80, 0xBF)) return false;
    i += len;
  }
  return true;
}

void check_path(const PathArgs& p, std::string_view args) {
  FUZZ_CHECK(inside(p.address, args));
  FUZZ_CHECK(inside(p.bad_param, args));
  switch (p.status) {
    case PathStatus::kOk:
      FUZZ_CHECK(plausible_address(p.address));
      FUZZ_CHECK(p.bad_param.empty());
      break;
    case PathStatus::kBadSize:
    case PathStatus::kSizeOverflow:
    case PathStatus::kBadRet:
    case PathStatus::kBadEnvid:
    case PathStatus::kBadNotify:
    case PathStatus::kBadOrcpt:
    case PathStatus::kUnsupported:
      FUZZ_CHECK(!p.bad_param.empty());
      break;
    case PathStatus::kSyntax:
    case PathStatus::kBadAddress:
      break;
  }
}

void check_bdat(std::string_view args) {
  const BdatArgs b = parse_bdat_args(args);
  if (!b.ok) return;
  // The count is the first token, all decimal digits, and means b.size.
  std::string_view s = args;
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  std::size_t i = 0;
  std::uint64_t v = 0;
  for (; i < s.size() && !is_space(s[i]); ++i) {
    FUZZ_CHECK(s[i] >= '0' && s[i] <= '9');
    FUZZ_CHECK(v <= (UINT64_MAX - static_cast<unsigned>(s[i] - '0')) / 10);
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  FUZZ_CHECK(i != 0 && v == b.size);
  s.remove_prefix(i);
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  std::size_t j = 0;
  while (j < s.size() && !is_space(s[j])) ++j;
  FUZZ_CHECK(b.last == (j != 0));
  if (b.last) FUZZ_CHECK(iequals(s.substr(0, j), "LAST"));
}

// Postfix smtpd's test for a word that is not a command: a header label
// (is_header(): printable non-space ASCII up to a ':') or, by the default
// smtpd_forbidden_commands regexp /^[^A-Z]/ (case-insensitive), a first
// byte that is not a letter.
bool postfix_forbidden(std::string_view w) {
  const char c = w.front();
  if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return true;
  const std::size_t colon = w.find(':');
  if (colon == std::string_view::npos) return false;
  for (std::size_t i = 0; i < colon; ++i)
    if (static_cast<unsigned char>(w[i]) <= 0x20 || static_cast<unsigned char>(w[i]) >= 0x7f) return false;
  return true;
}

struct Known {
  std::string_view name;
  Verb verb;
};
constexpr Known kKnown[] = {
    {"HELO", Verb::kHelo},         {"EHLO", Verb::kEhlo},         {"MAIL", Verb::kMail},
    {"RCPT", Verb::kRcpt},         {"DATA", Verb::kData},         {"BDAT", Verb::kBdat},
    {"RSET", Verb::kRset},         {"NOOP", Verb::kNoop},         {"QUIT", Verb::kQuit},
    {"VRFY", Verb::kVrfy},         {"ETRN", Verb::kEtrn},         {"STARTTLS", Verb::kStarttls},
    {"AUTH", Verb::kAuth},         {"XCLIENT", Verb::kXclient},   {"XFORWARD", Verb::kXforward},
    {"CONNECT", Verb::kForbidden}, {"GET", Verb::kForbidden},     {"POST", Verb::kForbidden},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string_view line = in.substr(0, in.find('\0'));

  const Command c = parse_command(in);
  FUZZ_CHECK(inside(c.word, line));
  FUZZ_CHECK(inside(c.args, line));
  if (c.verb == Verb::kEmpty) {
    for (char ch : line) FUZZ_CHECK(is_space(ch));
    FUZZ_CHECK(c.word.empty() && c.args.empty());
  } else {
    // The word is the first token of the line, the args the rest of it.
    std::size_t lead = 0;
    while (lead < line.size() && is_space(line[lead])) ++lead;
    FUZZ_CHECK(!c.word.empty() && c.word.data() == line.data() + lead);
    for (char ch : c.word) FUZZ_CHECK(!is_space(ch));
    if (!c.args.empty()) {
      FUZZ_CHECK(!is_space(c.args.front()));
      FUZZ_CHECK(c.args.data() + c.args.size() == line.data() + line.size());
    }
    bool listed = false;
    for (const auto& k : kKnown) {
      if (iequals(c.word, k.name)) {
        FUZZ_CHECK(c.verb == k.verb);
        listed = true;
      }
    }
    if (!listed) FUZZ_CHECK(c.verb == (postfix_forbidden(c.word) ? Verb::kForbidden : Verb::kUnknown));
  }

  FUZZ_CHECK(valid_utf8(in) == reference_utf8(in));

  // The argument parsers, on what the command parser split off and on the
  // raw input (which reaches them with any first byte).
  for (std::string_view args : {c.args, in}) {
    check_path(parse_mail_args(args), args);
    check_path(parse_rcpt_args(args), args);
    check_bdat(args);
  }
  plausible_address(in);
  return 0;
}
