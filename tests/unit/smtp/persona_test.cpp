// Tests for smtp/persona: every embedded persona parses and renders; the
// postfix persona is the table the engine always had; a broken persona is
// refused with an error that names its origin and the key; aliases,
// placeholders, the EHLO builder, queue-id formats and the RFC 5322 date.
#include "smtp/persona.hpp"

#include <gtest/gtest.h>

#include <string>

#include "smtp/replies.hpp"

namespace spamsink::smtp {
namespace {

std::string postfix_text() { return std::string(*builtin_persona_text("postfix")); }

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// Parses `text`; expects a failure whose message holds `origin: key` and `what`.
void expect_refused(const std::string& text, const std::string& key, const std::string& what) {
  const PersonaResult r = parse_persona(text, "my.toml");
  EXPECT_FALSE(r.persona.has_value()) << key;
  EXPECT_NE(r.error.find("my.toml: " + key), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(what), std::string::npos) << r.error;
}

TEST(Persona, EveryEmbeddedPersonaParses) {
  const auto names = builtin_persona_names();
  EXPECT_EQ(names, (std::vector<std::string>{"exchange", "exim", "opensmtpd", "postfix", "sendmail"}));
  for (const auto& n : names) {
    const PersonaResult r = parse_persona(*builtin_persona_text(n), n);
    ASSERT_TRUE(r.persona.has_value()) << r.error;
    EXPECT_EQ(r.persona->name, n);
    EXPECT_FALSE(r.persona->source.empty()) << n;
    EXPECT_TRUE(r.persona->starttls) << n;
    // The TLS keyword list is the plain one plus STARTTLS (and, for
    // Exchange, its TLS-only extensions).
    for (const auto& k : r.persona->ehlo_keywords)
      EXPECT_NE(std::find(r.persona->ehlo_keywords_tls.begin(), r.persona->ehlo_keywords_tls.end(), k),
                r.persona->ehlo_keywords_tls.end())
          << n << " " << k;
    const ReplyTable t = ReplyTable::from_persona(*r.persona, "mx.example.test", 1000);
    for (std::size_t i = 0; i < static_cast<std::size_t>(ReplyId::kCount); ++i) {
      const auto text = t.get(static_cast<ReplyId>(i));
      ASSERT_GE(text.size(), 5u) << n << " " << reply_key(static_cast<ReplyId>(i));
      EXPECT_TRUE(text.ends_with("\r\n")) << n << " " << i;
      EXPECT_EQ(text.find("{host}"), std::string_view::npos);
    }
    EXPECT_EQ(t.get(ReplyId::kEhlo).find("STARTTLS"), std::string_view::npos) << n;  // never offered today
  }
  EXPECT_FALSE(builtin_persona_text("qmail").has_value());
}

TEST(Persona, PostfixIsTheEngineDefault) {
  const ReplyTable t = ReplyTable::postfix("mx.example.test", 10240000);
  EXPECT_EQ(t.persona_name(), "postfix");
  EXPECT_FALSE(t.dynamic(ReplyId::kGreeting));
  EXPECT_FALSE(t.dynamic(ReplyId::kEhlo));
  EXPECT_TRUE(t.dynamic(ReplyId::kQueued));
  EXPECT_EQ(t.queue_id_format(), "HHHHHHHHHHH");
  EXPECT_FALSE(t.behaviour().help);  // HELP is an unknown command
  EXPECT_TRUE(t.behaviour().vrfy);
  EXPECT_EQ(t.behaviour().overlong, OverlongLine::kTruncate);
  EXPECT_EQ(t.get(ReplyId::kHelp), t.get(ReplyId::kUnknown));
  const Persona& p = builtin_persona("postfix");
  EXPECT_EQ(p.line_length_limit, 2048u);
  EXPECT_EQ(p.error_limit, 20u);
}

TEST(Persona, DynamicTextsRenderPerSession) {
  const ReplyTable t = ReplyTable::from_persona(builtin_persona("exim"), "mx.example.test", 52428800, 0);
  ASSERT_TRUE(t.dynamic(ReplyId::kGreeting));
  ASSERT_TRUE(t.dynamic(ReplyId::kEhlo));
  ReplyVars v;
  v.helo = "bot\x01.example";
  v.ip = "192.0.2.7";
  v.unix_time = 1795579275;  // 2026-11-25 04:01:15 UTC
  std::string out;
  t.render(ReplyId::kGreeting, v, out);
  EXPECT_EQ(out, "220 mx.example.test ESMTP Exim 4.96 Wed, 25 Nov 2026 04:01:15 +0000\r\n");
  out.clear();
  t.render(ReplyId::kEhlo, v, out);
  EXPECT_TRUE(out.starts_with("250-mx.example.test Hello bot?.example [192.0.2.7]\r\n250-SIZE 52428800\r\n")) << out;
  EXPECT_TRUE(out.ends_with("250 HELP\r\n")) << out;
  // get() of a dynamic text: the construction time, no peer values.
  EXPECT_EQ(t.get(ReplyId::kGreeting), "220 mx.example.test ESMTP Exim 4.96 Thu, 1 Jan 1970 00:00:00 +0000\r\n");
  out.clear();
  const std::string long_arg(400, 'a');
  v.arg = long_arg;
  t.render(ReplyId::kBadRecipient, v, out);
  EXPECT_EQ(out, "501 " + std::string(ReplyTable::kMaxEcho, 'a') + ": missing or malformed local part\r\n");
}

TEST(Persona, EhloWithTlsListsStarttlsWhereTheMtaDoes) {
  const ReplyTable plain = ReplyTable::from_persona(builtin_persona("postfix"), "h.example", 1);
  const ReplyTable tls = ReplyTable::from_persona(builtin_persona("postfix"), "h.example", 1, 0, true);
  EXPECT_EQ(plain.get(ReplyId::kEhlo).find("STARTTLS"), std::string_view::npos);
  EXPECT_NE(tls.get(ReplyId::kEhlo).find("250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n"),
            std::string_view::npos)
      << tls.get(ReplyId::kEhlo);
  // A persona that does not offer STARTTLS keeps its plain list.
  Persona p = builtin_persona("exim");
  p.starttls = false;
  EXPECT_EQ(ReplyTable::from_persona(p, "h.example", 1, 0, true).get(ReplyId::kEhlo).find("STARTTLS"),
            std::string_view::npos);
}

TEST(Persona, Rfc5322Dates) {
  std::string out;
  append_rfc5322_date(951868799, out);  // 2000-02-29 23:59:59: a leap day
  EXPECT_EQ(out, "Tue, 29 Feb 2000 23:59:59 +0000");
  out.clear();
  append_rfc5322_date(-5, out);
  EXPECT_EQ(out, "Thu, 1 Jan 1970 00:00:00 +0000");
}

TEST(Persona, AliasesAndMultiLineReplies) {
  const Persona& o = builtin_persona("opensmtpd");
  EXPECT_FALSE(o.behaviour.vrfy);  // "=unknown"
  EXPECT_TRUE(o.behaviour.help);
  const ReplyTable t = ReplyTable::from_persona(o, "h.example", 1);
  EXPECT_EQ(t.get(ReplyId::kVrfy), t.get(ReplyId::kUnknown));
  EXPECT_TRUE(t.get(ReplyId::kHelp).starts_with("214-2.0.0 This is OpenSMTPD\r\n214-2.0.0 "));
  EXPECT_TRUE(t.get(ReplyId::kHelp).ends_with("\r\n214 2.0.0 End of HELP info\r\n"));
}

TEST(Persona, BrokenFilesNameTheKey) {
  const std::string p = postfix_text();
  expect_refused("name = [", "(syntax)", "line 1");
  expect_refused(replaced(p, "name = \"postfix\"\n", ""), "name", "missing");
  expect_refused(replaced(p, "[replies]", "[replies]\ngretting = \"220 x\""), "replies.gretting", "unknown reply key");
  expect_refused(replaced(p, "quit = \"221 2.0.0 Bye\"\n", ""), "replies.quit", "missing");
  expect_refused(replaced(p, "quit = \"221 2.0.0 Bye\"", "quit = \"Bye\""), "replies.quit", "reply code");
  expect_refused(replaced(p, "quit = \"221 2.0.0 Bye\"", "quit = \"221 2.0.0 Bye\\r\\n\""), "replies.quit",
                 "control character");
  expect_refused(replaced(p, "quit = \"221 2.0.0 Bye\"", "quit = \"221 2.0.0 Bye\\n221 again\""), "replies.quit",
                 "'-'");
  expect_refused(replaced(p, "quit = \"221 2.0.0 Bye\"", "quit = \"221-2.0.0 Bye\""), "replies.quit", "last line");
  expect_refused(replaced(p, "quit = \"221 2.0.0 Bye\"", "quit = \"221 {hostname} Bye\""), "replies.quit",
                 "unknown placeholder {hostname}");
  expect_refused(replaced(p, "quit = \"221 2.0.0 Bye\"", "quit = \"=nothing\""), "replies.quit", "names no reply key");
  expect_refused(replaced(p, "quit = \"221 2.0.0 Bye\"", "quit = \"=help\""), "replies.quit", "itself an alias");
  expect_refused(replaced(p, "quit = \"221 2.0.0 Bye\"", "quit = 221"), "replies.quit", "must be a string");
  expect_refused(replaced(p, "teaser = \"220-", "teaser = \"220 "), "replies.teaser", "one line with '-'");
  expect_refused(replaced(p, "error_limit_style = \"separate\"", "error_limit_style = \"merge\""),
                 "replies.too_many_errors", "{code}");
  expect_refused(replaced(p, "overlong_line = \"truncate\"", "overlong_line = \"chop\""), "behaviour.overlong_line",
                 "truncate, split, reply or reply_close");
  expect_refused(replaced(p, "line_length_limit = 2048", "line_length_limit = 100"), "behaviour.line_length_limit",
                 "from 512");
  expect_refused(replaced(p, "error_limit = 20", "error_limit = 0"), "behaviour.error_limit", "from 1");
  expect_refused(replaced(p, "starttls = true", "starttls = \"yes\""), "behaviour.starttls", "true or false");
  expect_refused(replaced(p, "[behaviour]", "[behaviour]\nspeed = 3"), "behaviour.speed", "unknown key");
  expect_refused(replaced(p, "\"STARTTLS\", ", ""), "ehlo.keywords_tls", "must list STARTTLS");
  expect_refused(replaced(p, "greeting = \"{host}\"", "greeting = \"\""), "ehlo.greeting", "non-empty");
  expect_refused(replaced(p, "keywords = [\"PIPELINING\"", "keywords = [\"\""), "ehlo.keywords", "non-empty");
  expect_refused(replaced(p, "\"VRFY\", \"ETRN\", \"ENHANCEDSTATUSCODES\"", "\"VRFY {helo}\", \"ETRN\", \"ENHANCEDSTATUSCODES\""),
                 "ehlo.keywords", "only {host} and {size}");
  expect_refused(replaced(p, "format = \"HHHHHHHHHHH\"", "format = \"HH HH\""), "queue_id.format", "without spaces");
  expect_refused(replaced(p, "[queue_id]", "[queue_id]\nlength = 3"), "queue_id.length", "unknown key");
  expect_refused(replaced(p, "name = \"postfix\"", "name = \"postfix\"\ncolour = \"blue\""), "colour", "unknown key");
  expect_refused(std::string(Persona::kMaxPersonaBytes + 1, '#'), "(file)", "larger than");
  // The unchanged text is fine (the mutations above are what broke it).
  EXPECT_TRUE(parse_persona(p, "my.toml").persona.has_value());
}

}  // namespace
}  // namespace spamsink::smtp
