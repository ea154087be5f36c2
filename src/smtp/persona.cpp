#include "smtp/persona.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <toml++/toml.h>

namespace spamsink::smtp {

namespace {

struct Embedded {
  const char* name;
  const char* text;
};

// personas/*.toml, generated at build time (personas/embed.cmake).
#include "embedded_personas.inc"

constexpr std::array<std::string_view, static_cast<std::size_t>(ReplyId::kCount)> kKeys = [] {
  std::array<std::string_view, static_cast<std::size_t>(ReplyId::kCount)> k{};
  auto set = [&](ReplyId id, std::string_view name) { k[static_cast<std::size_t>(id)] = name; };
  set(ReplyId::kGreeting, "greeting");
  set(ReplyId::kEhlo, "");  // built from [ehlo]
  set(ReplyId::kHelo, "helo");
  set(ReplyId::kEhloSyntax, "ehlo_syntax");
  set(ReplyId::kHeloSyntax, "helo_syntax");
  set(ReplyId::kOk, "ok");
  set(ReplyId::kMailOk, "mail_ok");
  set(ReplyId::kRcptOk, "rcpt_ok");
  set(ReplyId::kDataGo, "data_go");
  set(ReplyId::kQuit, "quit");
  set(ReplyId::kUnknown, "unknown");
  set(ReplyId::kBadSyntax, "bad_syntax");
  set(ReplyId::kBadUtf8, "bad_utf8");
  set(ReplyId::kNestedMail, "nested_mail");
  set(ReplyId::kNeedMail, "need_mail");
  set(ReplyId::kNeedRcpt, "need_rcpt");
  set(ReplyId::kNoRecipients, "no_recipients");
  set(ReplyId::kMailSyntax, "mail_syntax");
  set(ReplyId::kRcptSyntax, "rcpt_syntax");
  set(ReplyId::kBadSender, "bad_sender");
  set(ReplyId::kBadRecipient, "bad_recipient");
  set(ReplyId::kBadSizeSyntax, "bad_size_syntax");
  set(ReplyId::kBadRetSyntax, "bad_ret_syntax");
  set(ReplyId::kBadEnvidSyntax, "bad_envid_syntax");
  set(ReplyId::kBadNotifySyntax, "bad_notify_syntax");
  set(ReplyId::kBadOrcptSyntax, "bad_orcpt_syntax");
  set(ReplyId::kSizeTooBig, "size_too_big");
  set(ReplyId::kSizeOverflow, "size_overflow");
  set(ReplyId::kFileTooBig, "file_too_big");
  set(ReplyId::kChunkTooBig, "chunk_too_big");
  set(ReplyId::kTooManyRcpts, "too_many_rcpts");
  set(ReplyId::kTooManyErrors, "too_many_errors");
  set(ReplyId::kTimeout, "timeout");
  set(ReplyId::kLifetime, "lifetime");
  set(ReplyId::kShutdown, "shutdown");
  set(ReplyId::kForbidden, "forbidden");
  set(ReplyId::kVrfySyntax, "vrfy_syntax");
  set(ReplyId::kEtrnSyntax, "etrn_syntax");
  set(ReplyId::kEtrnInTransaction, "etrn_in_transaction");
  set(ReplyId::kStarttlsNotOffered, "starttls_not_offered");
  set(ReplyId::kAuthNotEnabled, "auth_not_enabled");
  set(ReplyId::kXclientSyntax, "xclient_syntax");
  set(ReplyId::kXforwardSyntax, "xforward_syntax");
  set(ReplyId::kNotAuthorized, "not_authorized");
  set(ReplyId::kDataArgs, "data_args");
  set(ReplyId::kBdatSyntax, "bdat_syntax");
  set(ReplyId::kDataAfterBdat, "data_after_bdat");
  set(ReplyId::kRsetArgs, "rset_args");
  set(ReplyId::kTempFailData, "temp_fail_data");
  set(ReplyId::kVrfyDisabled, "vrfy_disabled");
  set(ReplyId::kEarlyRejectPerm, "early_reject_perm");
  set(ReplyId::kEarlyRejectTemp, "early_reject_temp");
  set(ReplyId::kEarlyDeferPerm, "early_defer_perm");
  set(ReplyId::kEarlyDeferTemp, "early_defer_temp");
  set(ReplyId::kTeaser, "teaser");
  set(ReplyId::kShed, "shed");
  set(ReplyId::kReset, "reset");
  set(ReplyId::kQueued, "queued");
  set(ReplyId::kBdatOk, "bdat_ok");
  set(ReplyId::kBdatQueued, "bdat_queued");
  set(ReplyId::kBdatDiscarded, "bdat_discarded");
  set(ReplyId::kVrfy, "vrfy");
  set(ReplyId::kUnsupportedOption, "unsupported_option");
  set(ReplyId::kEtrnRefused, "etrn_refused");
  set(ReplyId::kTooManyConns, "too_many_conns");
  set(ReplyId::kHelp, "help");
  set(ReplyId::kLineTooLong, "line_too_long");
  set(ReplyId::kTooManyUnknown, "too_many_unknown");
  set(ReplyId::kStarttlsReady, "starttls_ready");
  set(ReplyId::kStarttlsSyntax, "starttls_syntax");
  set(ReplyId::kStarttlsActive, "starttls_active");
  set(ReplyId::kEhloStarttls, "");  // built from [ehlo]
  set(ReplyId::kEhloAfterTls, "");  // built from [ehlo]
  return k;
}();

constexpr std::string_view kPlaceholders[] = {"host", "size", "helo", "ip", "date", "arg", "id", "num", "bytes", "code"};

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// A reply line may hold tabs too (Sendmail's HELP).
bool printable_or_tab(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 0x20 && c < 0x7f) || c == '\t'; });
}

// Checks placeholders; "" or the problem.
std::string check_placeholders(std::string_view t) {
  for (std::size_t k = t.find('{'); k != std::string_view::npos; k = t.find('{', k + 1)) {
    const std::size_t close = t.find('}', k);
    if (close == std::string_view::npos) return "a '{' without '}'";
    const std::string_view name = t.substr(k + 1, close - k - 1);
    if (std::find(std::begin(kPlaceholders), std::end(kPlaceholders), name) == std::end(kPlaceholders))
      return "unknown placeholder {" + std::string(name) +
             "} (known: {host} {size} {helo} {ip} {date} {arg} {id} {num} {bytes} {code})";
  }
  return {};
}

// A reply: lines "NNN-..." and a last "NNN ..." (NNN may be {code}).
// `open`: the reply's first line only, ending in '-' (the tarpit's teaser).
std::string check_reply(std::string_view text, bool open) {
  if (text.empty()) return "empty";
  if (text.size() > Persona::kMaxText) return "longer than " + std::to_string(Persona::kMaxText) + " bytes";
  std::size_t pos = 0;
  for (;;) {
    const std::size_t nl = text.find('\n', pos);
    const bool last = nl == std::string_view::npos;
    std::string_view line = text.substr(pos, last ? std::string_view::npos : nl - pos);
    if (!printable_or_tab(line)) return "a line with a control character (CR, LF...): write lines separated by \\n";
    std::size_t code_len = 3;
    if (line.starts_with("{code}")) {
      code_len = 6;
    } else if (line.size() < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' ||
               line[2] > '9') {
      return "line '" + std::string(line.substr(0, 40)) + "' must start with a reply code 200..599";
    }
    const char sep = line.size() > code_len ? line[code_len] : ' ';
    if (open && (!last || sep != '-')) return "must be one line with '-' after its code (a reply's first line)";
    if (open) break;
    if (last && sep != ' ') return "the last line must have a space after its code";
    if (!last && sep != '-') return "every line but the last must have '-' after its code";
    if (last) break;
    pos = nl + 1;
  }
  return check_placeholders(text);
}

std::string fail_text(std::string_view origin, std::string_view key, std::string_view what) {
  return std::string(origin) + ": " + std::string(key) + ": " + std::string(what);
}

}  // namespace

std::string_view reply_key(ReplyId id) { return kKeys[static_cast<std::size_t>(id)]; }

PersonaResult parse_persona(std::string_view text, std::string_view origin) {
  PersonaResult r;
  auto fail = [&](std::string_view key, std::string_view what) {
    r.error = fail_text(origin, key, what);
    return r;
  };
  if (text.size() > Persona::kMaxPersonaBytes)
    return fail("(file)", "larger than " + std::to_string(Persona::kMaxPersonaBytes) + " bytes");
  toml::table root;
  try {
    root = toml::parse(text, std::string(origin));
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << e.description() << " (line " << e.source().begin.line << ", column " << e.source().begin.column << ")";
    return fail("(syntax)", os.str());
  }
  Persona p;
  auto str = [&](const toml::node& n, std::string_view key, std::string& out) -> bool {
    auto s = n.as_string();
    if (!s) {
      r.error = fail_text(origin, key, "must be a string");
      return false;
    }
    out = s->get();
    return true;
  };
  auto integer = [&](const toml::node& n, std::string_view key, std::int64_t min, std::int64_t max,
                     std::int64_t& out) -> bool {
    auto i = n.as_integer();
    if (!i || i->get() < min || i->get() > max) {
      r.error = fail_text(origin, key, "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
      return false;
    }
    out = i->get();
    return true;
  };
  auto string_list = [&](const toml::node& n, std::string_view key, std::vector<std::string>& out) -> bool {
    auto a = n.as_array();
    if (!a) {
      r.error = fail_text(origin, key, "must be an array of strings");
      return false;
    }
    if (a->size() > Persona::kMaxKeywords) {
      r.error = fail_text(origin, key, "more than " + std::to_string(Persona::kMaxKeywords) + " keywords");
      return false;
    }
    for (const auto& item : *a) {
      auto s = item.as_string();
      if (!s || s->get().empty() || !printable(s->get()) || s->get().size() > 200) {
        r.error = fail_text(origin, key, "every keyword must be a non-empty printable string of at most 200 bytes");
        return false;
      }
      if (auto e = check_placeholders(s->get()); !e.empty()) {
        r.error = fail_text(origin, key, e);
        return false;
      }
      // A keyword is the same for every session: only {host} and {size}.
      for (std::size_t b = s->get().find('{'); b != std::string::npos; b = s->get().find('{', b + 1)) {
        const std::string_view rest = std::string_view(s->get()).substr(b);
        if (!rest.starts_with("{host}") && !rest.starts_with("{size}")) {
          r.error = fail_text(origin, key, "a keyword may hold only {host} and {size}");
          return false;
        }
      }
      out.push_back(s->get());
    }
    return true;
  };

  std::map<std::string, std::string, std::less<>> replies;
  bool have_name = false, have_ehlo = false, have_qid = false, have_behaviour = false;
  for (const auto& [k, node] : root) {
    const std::string key(k.str());
    if (key == "name") {
      if (!str(node, "name", p.name)) return r;
      if (p.name.empty() || p.name.size() > 64 || !printable(p.name)) return fail("name", "1 to 64 printable bytes");
      have_name = true;
    } else if (key == "description") {
      if (!str(node, "description", p.description)) return r;
    } else if (key == "source") {
      if (!str(node, "source", p.source)) return r;
    } else if (key == "behaviour") {
      const auto* t = node.as_table();
      if (!t) return fail("behaviour", "must be a table ([behaviour])");
      have_behaviour = true;
      for (const auto& [bk, bn] : *t) {
        const std::string b(bk.str());
        const std::string full = "behaviour." + b;
        std::int64_t v = 0;
        std::string s;
        if (b == "line_length_limit") {
          if (!integer(bn, full, 512, 1 << 20, v)) return r;
          p.line_length_limit = static_cast<std::size_t>(v);
        } else if (b == "error_limit") {
          if (!integer(bn, full, 1, 100'000'000, v)) return r;
          p.error_limit = static_cast<std::uint32_t>(v);
        } else if (b == "unknown_command_limit") {
          if (!integer(bn, full, 0, 100'000'000, v)) return r;
          p.behaviour.unknown_command_limit = static_cast<std::uint32_t>(v);
        } else if (b == "overlong_line") {
          if (!str(bn, full, s)) return r;
          if (s == "truncate") p.behaviour.overlong = OverlongLine::kTruncate;
          else if (s == "split") p.behaviour.overlong = OverlongLine::kSplit;
          else if (s == "reply_close") p.behaviour.overlong = OverlongLine::kReplyClose;
          else if (s == "reply") p.behaviour.overlong = OverlongLine::kReply;
          else return fail(full, "bad value '" + s + "': truncate, split, reply or reply_close");
        } else if (b == "error_limit_style") {
          if (!str(bn, full, s)) return r;
          if (s == "separate") p.behaviour.error_limit_merge = false;
          else if (s == "merge") p.behaviour.error_limit_merge = true;
          else return fail(full, "bad value '" + s + "': separate or merge");
        } else if (b == "starttls") {
          auto bv = bn.as_boolean();
          if (!bv) return fail(full, "must be true or false");
          p.starttls = bv->get();
        } else {
          return fail(full,
                      "unknown key (allowed: line_length_limit, overlong_line, error_limit, error_limit_style, "
                      "unknown_command_limit, starttls)");
        }
      }
    } else if (key == "ehlo") {
      const auto* t = node.as_table();
      if (!t) return fail("ehlo", "must be a table ([ehlo])");
      have_ehlo = true;
      for (const auto& [ek, en] : *t) {
        const std::string e(ek.str());
        if (e == "greeting") {
          if (!str(en, "ehlo.greeting", p.ehlo_greeting)) return r;
          if (p.ehlo_greeting.empty() || !printable(p.ehlo_greeting) || p.ehlo_greeting.size() > Persona::kMaxText)
            return fail("ehlo.greeting", "a non-empty printable line");
          if (auto err = check_placeholders(p.ehlo_greeting); !err.empty()) return fail("ehlo.greeting", err);
        } else if (e == "keywords") {
          if (!string_list(en, "ehlo.keywords", p.ehlo_keywords)) return r;
        } else if (e == "keywords_tls") {
          if (!string_list(en, "ehlo.keywords_tls", p.ehlo_keywords_tls)) return r;
        } else {
          return fail("ehlo." + e, "unknown key (allowed: greeting, keywords, keywords_tls)");
        }
      }
    } else if (key == "queue_id") {
      const auto* t = node.as_table();
      if (!t) return fail("queue_id", "must be a table ([queue_id])");
      for (const auto& [qk, qn] : *t) {
        const std::string q(qk.str());
        if (q != "format") return fail("queue_id." + q, "unknown key (allowed: format)");
        if (!str(qn, "queue_id.format", p.queue_id_format)) return r;
        if (p.queue_id_format.empty() || p.queue_id_format.size() > Persona::kMaxQueueIdFormat ||
            !printable(p.queue_id_format) || p.queue_id_format.find(' ') != std::string::npos)
          return fail("queue_id.format", "1 to 64 printable characters without spaces (H h D b, others literal)");
        have_qid = true;
      }
    } else if (key == "replies") {
      const auto* t = node.as_table();
      if (!t) return fail("replies", "must be a table ([replies])");
      for (const auto& [rk, rn] : *t) {
        const std::string name(rk.str());
        const std::string full = "replies." + name;
        if (name.empty() || std::find(kKeys.begin(), kKeys.end(), name) == kKeys.end())
          return fail(full, "unknown reply key (see docs/personas.md for the list)");
        std::string v;
        if (!str(rn, full, v)) return r;
        replies[name] = std::move(v);
      }
    } else {
      return fail(key, "unknown key (allowed: name, description, source, behaviour, ehlo, queue_id, replies)");
    }
  }
  if (!have_name) return fail("name", "missing");
  if (!have_behaviour) return fail("behaviour", "missing ([behaviour] table)");
  if (!have_ehlo || p.ehlo_greeting.empty()) return fail("ehlo.greeting", "missing");
  if (!have_qid) return fail("queue_id.format", "missing");
  if (p.starttls && std::find(p.ehlo_keywords_tls.begin(), p.ehlo_keywords_tls.end(), "STARTTLS") ==
                        p.ehlo_keywords_tls.end())
    return fail("ehlo.keywords_tls", "behaviour.starttls is true, so it must list STARTTLS");
  // Every reply, "=key" aliases resolved (one level: an alias of an alias
  // is refused, so there are no cycles).
  for (std::size_t i = 0; i < kKeys.size(); ++i) {
    const std::string_view key = kKeys[i];
    if (key.empty()) continue;
    const std::string full = "replies." + std::string(key);
    auto it = replies.find(key);
    if (it == replies.end()) return fail(full, "missing");
    std::string v = it->second;
    if (v.starts_with("=")) {
      const std::string target = v.substr(1);
      if (key == "help" && target == "unknown") p.behaviour.help = false;
      else if (key == "help") p.behaviour.help = true;
      if (key == "vrfy" && target == "unknown") p.behaviour.vrfy = false;
      if (key == "etrn_refused" && target == "unknown") p.behaviour.etrn = false;
      auto to = replies.find(target);
      if (to == replies.end()) return fail(full, "'=" + target + "' names no reply key");
      if (to->second.starts_with("=")) return fail(full, "'=" + target + "' is itself an alias");
      v = to->second;
    } else if (key == "help") {
      p.behaviour.help = true;
    }
    if (auto e = check_reply(v, key == "teaser"); !e.empty()) return fail(full, e);
    if (v.starts_with("{code}") && key != "too_many_errors")
      return fail(full, "only too_many_errors may start with {code}");
    p.texts[i] = std::move(v);
  }
  const std::string& tme = p.texts[static_cast<std::size_t>(ReplyId::kTooManyErrors)];
  if (p.behaviour.error_limit_merge != tme.starts_with("{code}"))
    return fail("replies.too_many_errors", p.behaviour.error_limit_merge
                                               ? "with error_limit_style = \"merge\" it must start with {code}"
                                               : "{code} needs error_limit_style = \"merge\"");
  r.persona = std::move(p);
  return r;
}

std::optional<std::string_view> builtin_persona_text(std::string_view name) {
  for (const Embedded& e : kEmbedded)
    if (name == e.name) return std::string_view(e.text);
  return std::nullopt;
}

std::vector<std::string> builtin_persona_names() {
  std::vector<std::string> v;
  for (const Embedded& e : kEmbedded) v.emplace_back(e.name);
  std::sort(v.begin(), v.end());
  return v;
}

const Persona& builtin_persona(std::string_view name) {
  static const std::map<std::string, Persona, std::less<>> all = [] {
    std::map<std::string, Persona, std::less<>> m;
    for (const Embedded& e : kEmbedded) {
      PersonaResult r = parse_persona(e.text, std::string("builtin persona ") + e.name);
      if (!r.persona) {
        std::fprintf(stderr, "spamsink: %s\n", r.error.c_str());
        std::abort();
      }
      m.emplace(e.name, std::move(*r.persona));
    }
    return m;
  }();
  auto it = all.find(name);
  if (it == all.end()) {
    std::fprintf(stderr, "spamsink: no builtin persona '%.*s'\n", static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return it->second;
}

}  // namespace spamsink::smtp
