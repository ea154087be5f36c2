#include "smtp/command.hpp"

#include <charconv>

namespace spamsink::smtp {

namespace {

constexpr std::size_t kMaxParams = 16;

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (upper(a[i]) != upper(b[i])) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Postfix's smtpd splits commands on all of these, CR included.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view skip_spaces(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

struct VerbEntry {
  std::string_view name;
  Verb verb;
};

// The command table. Order matters only for speed: commonest first.
constexpr VerbEntry kVerbs[] = {
    {"RCPT", Verb::kRcpt},         {"MAIL", Verb::kMail},         {"DATA", Verb::kData},
    {"EHLO", Verb::kEhlo},         {"HELO", Verb::kHelo},         {"QUIT", Verb::kQuit},
    {"RSET", Verb::kRset},         {"NOOP", Verb::kNoop},         {"BDAT", Verb::kBdat},
    {"VRFY", Verb::kVrfy},         {"ETRN", Verb::kEtrn},         {"STARTTLS", Verb::kStarttls},
    {"AUTH", Verb::kAuth},         {"XCLIENT", Verb::kXclient},   {"XFORWARD", Verb::kXforward},
    {"CONNECT", Verb::kForbidden}, {"GET", Verb::kForbidden},     {"POST", Verb::kForbidden},
    {"HELP", Verb::kHelp},
};

// An unknown word that Postfix 3.7 takes for a client not speaking SMTP
// (smtpd.c: is_header() or smtpd_forbidden_commands, whose default is
// "CONNECT GET POST regexp:{{/^[^A-Z]/ Bogus}}", case-insensitive): a mail
// header name ("Subject:"), or a word that does not start with a letter.
// The recordings show "Subject: hello", "123 abc", "-FOO" and "." each
// answered "221 2.7.0 ... I can break rules, too." and disconnected.
bool non_smtp_word(std::string_view w) {
  const char c = upper(w.front());
  if (c < 'A' || c > 'Z') return true;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const auto b = static_cast<unsigned char>(w[i]);
    if (b == ':') return true;  // i > 0: the first byte is a letter
    if (b < 0x21 || b > 0x7e) return false;
  }
  return false;
}

// Splits off the next space-separated token.
std::string_view next_token(std::string_view& s) {
  s = skip_spaces(s);
  std::size_t i = 0;
  while (i < s.size() && !is_space(s[i])) ++i;
  std::string_view tok = s.substr(0, i);
  s.remove_prefix(i);
  return tok;
}

// Reads "<...>" (quotes may hide '>' and spaces) or a bare token. Returns
// false when a '<' is never closed.
bool take_address(std::string_view& s, std::string_view& addr) {
  s = skip_spaces(s);
  if (s.empty()) return false;
  if (s.front() != '<') {
    addr = next_token(s);
    return true;
  }
  bool quoted = false;
  for (std::size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && quoted) {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == '>' && !quoted) {
      addr = s.substr(1, i - 1);
      s.remove_prefix(i + 1);
      // "<a@b>junk" is one malformed token, not an address and a parameter.
      return s.empty() || is_space(s.front());
    }
  }
  return false;
}

// NOTIFY=NEVER, or a list of SUCCESS, FAILURE and DELAY (RFC 3461).
bool valid_notify(std::string_view v) {
  if (iequals(v, "NEVER")) return true;
  if (v.empty()) return false;
  while (true) {
    const auto comma = v.find(',');
    const std::string_view item = v.substr(0, comma);
    if (!iequals(item, "SUCCESS") && !iequals(item, "FAILURE") && !iequals(item, "DELAY")) return false;
    if (comma == std::string_view::npos) return true;
    v.remove_prefix(comma + 1);
  }
}

PathArgs parse_path(std::string_view args, std::string_view keyword, bool is_mail) {
  PathArgs out;
  std::string_view s = trim_right(args);
  if (!istarts_with(s, keyword)) return out;  // kSyntax
  s.remove_prefix(keyword.size());
  s = skip_spaces(s);
  if (s.empty()) return out;  // kSyntax
  std::string_view addr;
  if (!take_address(s, addr) || !plausible_address(addr)) {
    out.status = PathStatus::kBadAddress;
    return out;
  }
  out.address = addr;
  std::size_t nparams = 0;
  bool seen_ret = false, seen_envid = false, seen_notify = false, seen_orcpt = false;
  for (std::string_view tok = next_token(s); !tok.empty(); tok = next_token(s)) {
    if (++nparams > kMaxParams) {
      out.status = PathStatus::kUnsupported;
      out.bad_param = tok;
      return out;
    }
    std::string_view key = tok, value;
    if (auto eq = tok.find('='); eq != std::string_view::npos) {
      key = tok.substr(0, eq);
      value = tok.substr(eq + 1);
    }
    if (is_mail && iequals(key, "SIZE")) {
      std::uint64_t v = 0;
      auto r = std::from_chars(value.data(), value.data() + value.size(), v);
      if (!value.empty() && r.ec == std::errc::result_out_of_range) {
        out.status = PathStatus::kSizeOverflow;
        out.bad_param = tok;
        return out;
      }
      if (value.empty() || r.ec != std::errc{} || r.ptr != value.data() + value.size()) {
        out.status = PathStatus::kBadSize;
        out.bad_param = tok;
        return out;
      }
      out.size = v;
      out.has_size = true;
    } else if (is_mail && iequals(key, "BODY")) {
      if (iequals(value, "8BITMIME")) {
        out.body = BodyType::k8BitMime;
      } else if (iequals(value, "7BIT")) {
        out.body = BodyType::k7Bit;
      } else {
        out.status = PathStatus::kUnsupported;
        out.bad_param = tok;
        return out;
      }
    } else if (is_mail && iequals(tok, "SMTPUTF8")) {
      out.smtputf8 = true;
    } else if (is_mail && iequals(key, "RET")) {
      if (seen_ret || (!iequals(value, "FULL") && !iequals(value, "HDRS"))) {
        out.status = PathStatus::kBadRet;
        out.bad_param = tok;
        return out;
      }
      seen_ret = true;
    } else if (is_mail && iequals(key, "ENVID")) {
      if (seen_envid || value.empty()) {
        out.status = PathStatus::kBadEnvid;
        out.bad_param = tok;
        return out;
      }
      seen_envid = true;
    } else if (is_mail && iequals(key, "AUTH")) {
      // DSN and AUTH parameters: accepted and ignored, as a relay would.
    } else if (!is_mail && iequals(key, "NOTIFY")) {
      if (seen_notify || !valid_notify(value)) {
        out.status = PathStatus::kBadNotify;
        out.bad_param = tok;
        return out;
      }
      seen_notify = true;
    } else if (!is_mail && iequals(key, "ORCPT")) {
      // "addr-type;xtext", e.g. rfc822;user@example.com
      const auto semi = value.find(';');
      if (seen_orcpt || semi == std::string_view::npos || semi == 0 || semi + 1 == value.size()) {
        out.status = PathStatus::kBadOrcpt;
        out.bad_param = tok;
        return out;
      }
      seen_orcpt = true;
    } else {
      out.status = PathStatus::kUnsupported;
      out.bad_param = tok;
      return out;
    }
  }
  out.status = PathStatus::kOk;
  return out;
}

}  // namespace

Command parse_command(std::string_view line) {
  Command cmd;
  if (auto nul = line.find('\0'); nul != std::string_view::npos) line = line.substr(0, nul);
  std::string_view s = skip_spaces(line);
  if (trim_right(s).empty()) {
    cmd.verb = Verb::kEmpty;
    return cmd;
  }
  std::size_t i = 0;
  while (i < s.size() && !is_space(s[i])) ++i;
  cmd.word = s.substr(0, i);
  cmd.args = skip_spaces(s.substr(i));
  for (const auto& e : kVerbs) {
    if (iequals(cmd.word, e.name)) {
      cmd.verb = e.verb;
      return cmd;
    }
  }
  cmd.verb = non_smtp_word(cmd.word) ? Verb::kForbidden : Verb::kUnknown;
  return cmd;
}

PathArgs parse_mail_args(std::string_view args) { return parse_path(args, "FROM:", true); }

PathArgs parse_rcpt_args(std::string_view args) { return parse_path(args, "TO:", false); }

BdatArgs parse_bdat_args(std::string_view args) {
  BdatArgs out;
  std::string_view s = args;
  std::string_view size = next_token(s);
  std::string_view last = next_token(s);
  std::string_view extra = next_token(s);
  if (size.empty() || !extra.empty()) return out;
  auto r = std::from_chars(size.data(), size.data() + size.size(), out.size);
  if (r.ec != std::errc{} || r.ptr != size.data() + size.size()) return out;
  if (!last.empty()) {
    if (!iequals(last, "LAST")) return out;
    out.last = true;
  }
  out.ok = true;
  return out;
}

std::size_t count_words(std::string_view s) {
  std::size_t n = 0;
  for (std::string_view t = next_token(s); !t.empty(); t = next_token(s)) ++n;
  return n;
}

std::string_view trim_trailing_space(std::string_view s) { return trim_right(s); }

std::string_view strip_trailing_word(std::string_view s, std::string_view word) {
  s = trim_right(s);
  if (s.size() >= word.size() && iequals(s.substr(s.size() - word.size()), word) &&
      (s.size() == word.size() || is_space(s[s.size() - word.size() - 1])))
    s = trim_right(s.substr(0, s.size() - word.size()));
  return s;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += n + 1;
  }
  return true;
}

bool plausible_address(std::string_view s) {
  bool quoted = false;
  // A source route ("@r1,@r2:local@domain") may hold commas before its ':'.
  std::size_t route_end = 0;
  if (!s.empty() && s.front() == '@') {
    route_end = s.find(':');
    if (route_end == std::string_view::npos) route_end = 0;
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i < route_end && s[i] == ',') continue;
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return false;
    if (c == '"') {
      quoted = !quoted;
    } else if (c == '\\' && quoted) {
      ++i;
    } else if (!quoted && (c == ' ' || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' ||
                           c == ';' || c == '\\')) {
      return false;
    }
  }
  return !quoted;
}

}  // namespace spamsink::smtp
