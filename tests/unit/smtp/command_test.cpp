// Tests for smtp/command: the verb table (case-insensitive, NUL ends the
// line, blank lines are kEmpty, non-SMTP words are kForbidden as Postfix
// 3.7 treats them), MAIL/RCPT argument parsing as Postfix reads it (the
// cases recorded from Postfix 3.7.11 in section 4 of the dialogues), the
// ESMTP parameters and their error kinds, BDAT arguments, valid_utf8
// against the RFC 3629 table, and plausible_address.
#include "smtp/command.hpp"

#include <gtest/gtest.h>

#include <string>

namespace spamsink::smtp {
namespace {

using namespace std::string_view_literals;

// ---- parse_command -------------------------------------------------------

TEST(ParseCommand, EveryVerbCaseInsensitive) {
  const struct {
    const char* word;
    Verb verb;
  } table[] = {
      {"HELO", Verb::kHelo},         {"EHLO", Verb::kEhlo},         {"MAIL", Verb::kMail},
      {"RCPT", Verb::kRcpt},         {"DATA", Verb::kData},         {"BDAT", Verb::kBdat},
      {"RSET", Verb::kRset},         {"NOOP", Verb::kNoop},         {"QUIT", Verb::kQuit},
      {"VRFY", Verb::kVrfy},         {"ETRN", Verb::kEtrn},         {"STARTTLS", Verb::kStarttls},
      {"AUTH", Verb::kAuth},         {"XCLIENT", Verb::kXclient},   {"XFORWARD", Verb::kXforward},
      {"CONNECT", Verb::kForbidden}, {"GET", Verb::kForbidden},     {"POST", Verb::kForbidden},
  };
  for (const auto& e : table) {
    std::string upper = e.word, lower, mixed;
    for (std::size_t i = 0; i < upper.size(); ++i) {
      lower.push_back(static_cast<char>(upper[i] - 'A' + 'a'));
      mixed.push_back(i % 2 ? lower.back() : upper[i]);
    }
    for (const std::string& w : {upper, lower, mixed}) {
      const Command c = parse_command(w);
      EXPECT_EQ(c.verb, e.verb) << w;
      EXPECT_EQ(c.word, w);  // the verb as sent
      EXPECT_EQ(c.args, "");
    }
  }
}

TEST(ParseCommand, ArgsSkipLeadingSpacesAndTabs) {
  Command c = parse_command("MAIL FROM:<a@b>");
  EXPECT_EQ(c.verb, Verb::kMail);
  EXPECT_EQ(c.word, "MAIL");
  EXPECT_EQ(c.args, "FROM:<a@b>");
  c = parse_command("  ehlo \t  client.example");
  EXPECT_EQ(c.verb, Verb::kEhlo);
  EXPECT_EQ(c.word, "ehlo");
  EXPECT_EQ(c.args, "client.example");
  c = parse_command("EHLO\tx");
  EXPECT_EQ(c.verb, Verb::kEhlo);
  EXPECT_EQ(c.args, "x");
  c = parse_command("DATA ");  // Postfix: "DATA " is a DATA without arguments
  EXPECT_EQ(c.verb, Verb::kData);
  EXPECT_TRUE(c.args.empty());
}

TEST(ParseCommand, ViewsPointIntoTheLine) {
  const std::string line = "RCPT TO:<x@y>";
  const Command c = parse_command(line);
  EXPECT_EQ(c.word.data(), line.data());
  EXPECT_EQ(c.args.data(), line.data() + 5);
}

TEST(ParseCommand, EmptyAndBlankLines) {
  for (std::string_view s : {""sv, " "sv, "   "sv, "\t"sv, " \t "sv, "\0"sv, "\0NOOP"sv, "  \0QUIT"sv}) {
    EXPECT_EQ(parse_command(s).verb, Verb::kEmpty) << "len " << s.size();
  }
}

TEST(ParseCommand, NulEndsTheLine) {
  Command c = parse_command("NO\0OP"sv);  // recordings 5d: 500 not recognized
  EXPECT_EQ(c.verb, Verb::kUnknown);
  EXPECT_EQ(c.word, "NO");
  c = parse_command("NOOP\0 junk"sv);
  EXPECT_EQ(c.verb, Verb::kNoop);
  EXPECT_EQ(c.args, "");
  c = parse_command("MAIL FROM:<a\0b@c>"sv);
  EXPECT_EQ(c.verb, Verb::kMail);
  EXPECT_EQ(c.args, "FROM:<a");
}

// HELP is a verb so that a persona can answer it (Exim, OpenSMTPD); the
// postfix persona still treats it as an unknown command (the transcripts).
TEST(ParseCommand, Help) {
  EXPECT_EQ(parse_command("HELP").verb, Verb::kHelp);
  EXPECT_EQ(parse_command("help foo").verb, Verb::kHelp);
  EXPECT_EQ(parse_command("help foo").args, "foo");
}

TEST(ParseCommand, UnknownWords) {
  for (const char* s : {"FOO", "FOO bar baz", "EXPN foo", "TURN", "NOOPX", "MAI", "QUITE", "HELPX", "X"}) {
    EXPECT_EQ(parse_command(s).verb, Verb::kUnknown) << s;
  }
}

TEST(ParseCommand, NonSmtpWordsAreForbidden) {
  // Recordings 5b/5c/15a: Postfix 3.7 ends the session with "221 2.7.0 ... I
  // can break rules" for CONNECT/GET/POST, for a word that looks like a
  // mail header and for one that does not start with a letter (its default
  // smtpd_forbidden_commands = CONNECT GET POST regexp:{{/^[^A-Z]/ Bogus}}).
  for (const char* s : {"GET / HTTP/1.1", "get / HTTP/1.1", "POST /x HTTP/1.0", "CONNECT 1.2.3.4:25 HTTP/1.0",
                        "Subject: hello", "From: x@y", "X-Foo: bar", "Received:from", "123 abc", "-FOO", ".",
                        "<a@b>", "\xc3\xa9t\xc3\xa9"}) {
    EXPECT_EQ(parse_command(s).verb, Verb::kForbidden) << s;
  }
  // A known verb is never forbidden, whatever follows it.
  EXPECT_EQ(parse_command("MAIL FROM: <a@b>").verb, Verb::kMail);
  EXPECT_EQ(parse_command("RCPT TO:<x>").verb, Verb::kRcpt);
  // A colon that is not right after header-name characters is no header.
  EXPECT_EQ(parse_command("FOO bar:baz").verb, Verb::kUnknown);
  EXPECT_EQ(parse_command("FOO\x01:").verb, Verb::kUnknown);
}

// ---- MAIL / RCPT ---------------------------------------------------------

struct PathCase {
  const char* args;
  PathStatus status;
  const char* address;  // checked when status is kOk
};

void PrintTo(const PathCase& c, std::ostream* os) { *os << '"' << c.args << '"'; }

class MailArgs : public ::testing::TestWithParam<PathCase> {};

TEST_P(MailArgs, AsPostfixReadsThem) {
  const std::string args = GetParam().args;
  const PathArgs p = parse_mail_args(args);
  EXPECT_EQ(p.status, GetParam().status);
  if (GetParam().status == PathStatus::kOk) {
    EXPECT_EQ(p.address, GetParam().address);
    // The address is a view into the command line.
    if (!p.address.empty()) {
      EXPECT_GE(p.address.data(), args.data());
      EXPECT_LE(p.address.data() + p.address.size(), args.data() + args.size());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Postfix, MailArgs,
    ::testing::Values(
        PathCase{"FROM:<a@b>", PathStatus::kOk, "a@b"},
        PathCase{"FROM: <a@b>", PathStatus::kOk, "a@b"},           // 4.13
        PathCase{"from:<a@b>", PathStatus::kOk, "a@b"},            // 4.14
        PathCase{"From:<a@b>", PathStatus::kOk, "a@b"},
        PathCase{"FROM:a@b", PathStatus::kOk, "a@b"},              // 4.15 bare address
        PathCase{"FROM:<>", PathStatus::kOk, ""},                  // 4.11 null sender
        PathCase{"FROM:<@route:a@b>", PathStatus::kOk, "@route:a@b"},  // 4.23 source route
        PathCase{"FROM:<@r1,@r2:a@b>", PathStatus::kOk, "@r1,@r2:a@b"},  // multi-hop route (RFC 5321 4.1.2)
        PathCase{"FROM:<a,b@c>", PathStatus::kBadAddress, ""},  // a comma outside a route
        PathCase{"FROM:<a@[127.0.0.1]>", PathStatus::kOk, "a@[127.0.0.1]"},  // 4.24
        PathCase{"FROM:<a@[IPv6:::1]>", PathStatus::kOk, "a@[IPv6:::1]"},
        PathCase{"FROM:<\"a b\"@c>", PathStatus::kOk, "\"a b\"@c"},  // quoted local part
        PathCase{"FROM:<\"a>b\"@c>", PathStatus::kOk, "\"a>b\"@c"},  // quotes hide '>'
        PathCase{"FROM:<\xc3\xa9@b.example>", PathStatus::kOk, "\xc3\xa9@b.example"},
        PathCase{"FROM:<a@b>   ", PathStatus::kOk, "a@b"},          // trailing spaces
        PathCase{"FROM:<a b@c>", PathStatus::kBadAddress, ""},     // 4.21
        PathCase{"FROM:<a@b>x", PathStatus::kBadAddress, ""},      // 4.22
        PathCase{"FROM:<bad", PathStatus::kBadAddress, ""},        // 4.2 unclosed
        PathCase{"FROM:<\"a@b>", PathStatus::kBadAddress, ""},     // unclosed quote
        PathCase{"FROM:<a\x01@b>", PathStatus::kBadAddress, ""},   // control byte
        PathCase{"FROM:<a<b@c>", PathStatus::kBadAddress, ""},
        PathCase{"FROM:<a(b)@c>", PathStatus::kBadAddress, ""},
        PathCase{"FROM:a;b@c", PathStatus::kBadAddress, ""},
        PathCase{"FROM:", PathStatus::kSyntax, ""},                // 4.1
        PathCase{"FROM:   ", PathStatus::kSyntax, ""},
        PathCase{"", PathStatus::kSyntax, ""},                     // 4.16 MAIL
        PathCase{"FROM", PathStatus::kSyntax, ""},                 // 4.17 MAIL FROM
        PathCase{"FROM <a@b>", PathStatus::kSyntax, ""},
        PathCase{"TO:<a@b>", PathStatus::kSyntax, ""},             // 4.12
        PathCase{"<a@b>", PathStatus::kSyntax, ""}));

TEST(MailArgs, EsmtpParameters) {
  PathArgs p = parse_mail_args("FROM:<a@b.example> SIZE=1000");  // 4.25
  EXPECT_EQ(p.status, PathStatus::kOk);
  EXPECT_TRUE(p.has_size);
  EXPECT_EQ(p.size, 1000u);
  EXPECT_EQ(p.body, BodyType::kNone);
  EXPECT_FALSE(p.smtputf8);

  p = parse_mail_args("FROM:<a@b>");
  EXPECT_FALSE(p.has_size);
  EXPECT_EQ(p.size, 0u);

  p = parse_mail_args("FROM:<a@b> SIZE=0");
  EXPECT_EQ(p.status, PathStatus::kOk);
  EXPECT_TRUE(p.has_size);
  EXPECT_EQ(p.size, 0u);

  p = parse_mail_args("FROM:<a@b> size=18446744073709551615");
  EXPECT_EQ(p.status, PathStatus::kOk);
  EXPECT_EQ(p.size, 18446744073709551615ull);

  EXPECT_EQ(parse_mail_args("FROM:<a@b> BODY=8BITMIME").body, BodyType::k8BitMime);  // 4.6
  EXPECT_EQ(parse_mail_args("FROM:<a@b> body=8bitmime").body, BodyType::k8BitMime);
  EXPECT_EQ(parse_mail_args("FROM:<a@b> BODY=7BIT").body, BodyType::k7Bit);  // 4.8
  EXPECT_TRUE(parse_mail_args("FROM:<a@b> SMTPUTF8").smtputf8);              // 4.10
  EXPECT_TRUE(parse_mail_args("FROM:<a@b> smtputf8").smtputf8);
  EXPECT_EQ(parse_mail_args("FROM:<a@b> RET=HDRS ENVID=abc").status, PathStatus::kOk);  // 4.18
  EXPECT_EQ(parse_mail_args("FROM:<a@b> RET=FULL").status, PathStatus::kOk);
  EXPECT_EQ(parse_mail_args("FROM:<a@b> ret=hdrs").status, PathStatus::kOk);
  EXPECT_EQ(parse_mail_args("FROM:<a@b> AUTH=<>").status, PathStatus::kOk);  // 4.20

  p = parse_mail_args("FROM:<a@b>  SIZE=100   BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=x AUTH=<a@b>  ");
  EXPECT_EQ(p.status, PathStatus::kOk);
  EXPECT_EQ(p.address, "a@b");
  EXPECT_EQ(p.size, 100u);
  EXPECT_EQ(p.body, BodyType::k8BitMime);
  EXPECT_TRUE(p.smtputf8);

  // A bare address takes parameters too.
  p = parse_mail_args("FROM:a@b SIZE=5");
  EXPECT_EQ(p.status, PathStatus::kOk);
  EXPECT_EQ(p.address, "a@b");
  EXPECT_EQ(p.size, 5u);
}

struct ParamErrorCase {
  const char* args;
  PathStatus status;
  const char* bad_param;
};

void PrintTo(const ParamErrorCase& c, std::ostream* os) { *os << '"' << c.args << '"'; }

class MailParamErrors : public ::testing::TestWithParam<ParamErrorCase> {};

TEST_P(MailParamErrors, StatusAndOffendingParameter) {
  const PathArgs p = parse_mail_args(GetParam().args);
  EXPECT_EQ(p.status, GetParam().status);
  EXPECT_EQ(p.bad_param, GetParam().bad_param);
}

INSTANTIATE_TEST_SUITE_P(
    Postfix, MailParamErrors,
    ::testing::Values(
        ParamErrorCase{"FROM:<a@b> FOO=bar", PathStatus::kUnsupported, "FOO=bar"},             // 4.3
        ParamErrorCase{"FROM:<a@b> SIZE=1 FOO", PathStatus::kUnsupported, "FOO"},
        ParamErrorCase{"FROM:<a@b> BODY=BINARYMIME", PathStatus::kUnsupported, "BODY=BINARYMIME"},  // 4.7
        ParamErrorCase{"FROM:<a@b> BODY=foo", PathStatus::kUnsupported, "BODY=foo"},           // 4.9
        ParamErrorCase{"FROM:<a@b> BODY", PathStatus::kUnsupported, "BODY"},
        ParamErrorCase{"FROM:<a@b> NOTIFY=NEVER", PathStatus::kUnsupported, "NOTIFY=NEVER"},   // RCPT only
        ParamErrorCase{"FROM:<a@b> ORCPT=rfc822;x@y", PathStatus::kUnsupported, "ORCPT=rfc822;x@y"},
        ParamErrorCase{"FROM:<a@b> SIZE=abc", PathStatus::kBadSize, "SIZE=abc"},               // 4.4
        ParamErrorCase{"FROM:<a@b> SIZE=", PathStatus::kBadSize, "SIZE="},
        ParamErrorCase{"FROM:<a@b> SIZE", PathStatus::kBadSize, "SIZE"},
        ParamErrorCase{"FROM:<a@b> SIZE=12x", PathStatus::kBadSize, "SIZE=12x"},
        ParamErrorCase{"FROM:<a@b> SIZE=-1", PathStatus::kBadSize, "SIZE=-1"},
        ParamErrorCase{"FROM:<a@b> SIZE=+1", PathStatus::kBadSize, "SIZE=+1"},
        ParamErrorCase{"FROM:<a@b> SIZE=99999999999999999999", PathStatus::kSizeOverflow,
                       "SIZE=99999999999999999999"},                                           // 10b
        ParamErrorCase{"FROM:<a@b> SIZE=18446744073709551616", PathStatus::kSizeOverflow,
                       "SIZE=18446744073709551616"},
        ParamErrorCase{"FROM:<a@b> RET=FOO", PathStatus::kBadRet, "RET=FOO"},                  // 4.19
        ParamErrorCase{"FROM:<a@b> RET=", PathStatus::kBadRet, "RET="},
        // Checked against a live Postfix 3.7: repeated or empty DSN fields.
        ParamErrorCase{"FROM:<a@b> RET=FULL RET=HDRS", PathStatus::kBadRet, "RET=HDRS"},
        ParamErrorCase{"FROM:<a@b> ENVID=", PathStatus::kBadEnvid, "ENVID="},
        ParamErrorCase{"FROM:<a@b> ENVID=a ENVID=b", PathStatus::kBadEnvid, "ENVID=b"}));

TEST(RcptArgsDsn, NotifyAndOrcptAreChecked) {
  EXPECT_EQ(parse_rcpt_args("TO:<a@b> NOTIFY=NEVER").status, PathStatus::kOk);
  EXPECT_EQ(parse_rcpt_args("TO:<a@b> NOTIFY=success,failure,DELAY").status, PathStatus::kOk);
  EXPECT_EQ(parse_rcpt_args("TO:<a@b> ORCPT=rfc822;a@b").status, PathStatus::kOk);
  for (const char* bad : {"TO:<a@b> NOTIFY=FOO", "TO:<a@b> NOTIFY=", "TO:<a@b> NOTIFY=NEVER,SUCCESS",
                          "TO:<a@b> NOTIFY=SUCCESS,", "TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER"})
    EXPECT_EQ(parse_rcpt_args(bad).status, PathStatus::kBadNotify) << bad;
  for (const char* bad : {"TO:<a@b> ORCPT=bad", "TO:<a@b> ORCPT=", "TO:<a@b> ORCPT=;a@b", "TO:<a@b> ORCPT=rfc822;"})
    EXPECT_EQ(parse_rcpt_args(bad).status, PathStatus::kBadOrcpt) << bad;
}

TEST(Words, PostfixWhiteSpaceAndTrailingWord) {
  EXPECT_EQ(count_words(" a\tb\r c\v\fd "), 4u);
  EXPECT_EQ(count_words(""), 0u);
  EXPECT_EQ(strip_trailing_word("<a@b> SMTPUTF8", "SMTPUTF8"), "<a@b>");
  EXPECT_EQ(strip_trailing_word("<a@b> smtputf8 ", "SMTPUTF8"), "<a@b>");
  EXPECT_EQ(strip_trailing_word("xSMTPUTF8", "SMTPUTF8"), "xSMTPUTF8");
  EXPECT_EQ(strip_trailing_word("SMTPUTF8", "SMTPUTF8"), "");
  EXPECT_EQ(parse_command("NOOP\r").verb, Verb::kNoop);
  EXPECT_EQ(parse_command("\rNOOP").verb, Verb::kNoop);
  EXPECT_EQ(parse_command("\r").verb, Verb::kEmpty);
  EXPECT_EQ(parse_mail_args("FROM:<a@b>\r").status, PathStatus::kOk);
}

TEST(MailArgs, ParameterCountIsBounded) {
  std::string args = "FROM:<a@b>";
  for (int i = 0; i < 16; ++i) args += " AUTH=<>";
  EXPECT_EQ(parse_mail_args(args).status, PathStatus::kOk);
  args += " AUTH=<>";  // the 17th
  const PathArgs p = parse_mail_args(args);
  EXPECT_NE(p.status, PathStatus::kOk);
  EXPECT_EQ(p.bad_param, "AUTH=<>");
}

class RcptArgs : public ::testing::TestWithParam<PathCase> {};

TEST_P(RcptArgs, AsPostfixReadsThem) {
  const PathArgs p = parse_rcpt_args(GetParam().args);
  EXPECT_EQ(p.status, GetParam().status);
  if (GetParam().status == PathStatus::kOk) {
    EXPECT_EQ(p.address, GetParam().address);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Postfix, RcptArgs,
    ::testing::Values(
        PathCase{"TO:<x@mx.example.test>", PathStatus::kOk, "x@mx.example.test"},
        PathCase{"TO: <x@mx.example.test>", PathStatus::kOk, "x@mx.example.test"},  // 4.32
        PathCase{"to:<x@mx.example.test>", PathStatus::kOk, "x@mx.example.test"},    // 4.33
        PathCase{"TO:<postmaster>", PathStatus::kOk, "postmaster"},                  // 4.28
        PathCase{"TO:<x>", PathStatus::kOk, "x"},                                    // 4.37
        PathCase{"TO:<@route:x@mx.example.test>", PathStatus::kOk, "@route:x@mx.example.test"},  // 4.41
        PathCase{"TO:<x@[127.0.0.1]>", PathStatus::kOk, "x@[127.0.0.1]"},            // 4.42
        PathCase{"TO:<x@y> NOTIFY=NEVER", PathStatus::kOk, "x@y"},                   // 4.38
        PathCase{"TO:<x@y> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@y", PathStatus::kOk, "x@y"},  // 4.40
        PathCase{"TO:<>", PathStatus::kOk, ""},  // parses; the session refuses it (4.34)
        PathCase{"TO:", PathStatus::kSyntax, ""},                     // 4.26
        PathCase{"FROM:<x>", PathStatus::kSyntax, ""},                // 4.31
        PathCase{"", PathStatus::kSyntax, ""},
        PathCase{"TO:<bad", PathStatus::kBadAddress, ""},             // 4.27
        PathCase{"TO:<a b@mx.example.test>", PathStatus::kBadAddress, ""},  // 4.43
        PathCase{"TO:<x@y>z", PathStatus::kBadAddress, ""},
        PathCase{"TO:<x@y> FOO=bar", PathStatus::kUnsupported, ""},   // 4.39
        PathCase{"TO:<x@y> SIZE=10", PathStatus::kUnsupported, ""},   // MAIL only
        PathCase{"TO:<x@y> BODY=8BITMIME", PathStatus::kUnsupported, ""},
        PathCase{"TO:<x@y> SMTPUTF8", PathStatus::kUnsupported, ""},
        PathCase{"TO:<x@y> RET=FULL", PathStatus::kUnsupported, ""}));

TEST(RcptArgs, UnsupportedNamesTheParameter) {
  EXPECT_EQ(parse_rcpt_args("TO:<x@y> FOO=bar").bad_param, "FOO=bar");
  EXPECT_EQ(parse_rcpt_args("TO:<x@y> NOTIFY=NEVER SIZE=1").bad_param, "SIZE=1");
}

// ---- BDAT ----------------------------------------------------------------

TEST(BdatArgs, Valid) {
  BdatArgs b = parse_bdat_args("10");
  EXPECT_TRUE(b.ok);
  EXPECT_EQ(b.size, 10u);
  EXPECT_FALSE(b.last);
  b = parse_bdat_args("5 LAST");
  EXPECT_TRUE(b.ok);
  EXPECT_EQ(b.size, 5u);
  EXPECT_TRUE(b.last);
  for (const char* s : {"3 last", "3 Last", "3 lAsT", "  3   LAST  "}) {
    b = parse_bdat_args(s);
    EXPECT_TRUE(b.ok) << s;
    EXPECT_EQ(b.size, 3u) << s;
    EXPECT_TRUE(b.last) << s;
  }
  b = parse_bdat_args("0 LAST");
  EXPECT_TRUE(b.ok);
  EXPECT_EQ(b.size, 0u);
  EXPECT_TRUE(b.last);
  b = parse_bdat_args("0");
  EXPECT_TRUE(b.ok);
  EXPECT_FALSE(b.last);
  b = parse_bdat_args("18446744073709551615");
  EXPECT_TRUE(b.ok);
  EXPECT_EQ(b.size, 18446744073709551615ull);
}

TEST(BdatArgs, InvalidAsRecorded) {
  // Recordings 8d: each of these is "521 Syntax: BDAT count [LAST]".
  for (const char* s : {"", "abc", "-1", "+1", "5 FOO", "5 LAST extra", "99999999999999999999", "18446744073709551616",
                        "10x", "x10", "LAST", "LAST 5", "5 LASTX", "1.5"}) {
    EXPECT_FALSE(parse_bdat_args(s).ok) << '"' << s << '"';
  }
}

// ---- valid_utf8 ----------------------------------------------------------

std::string bytes(std::initializer_list<unsigned> b) {
  std::string s;
  for (unsigned c : b) s.push_back(static_cast<char>(c));
  return s;
}

TEST(ValidUtf8, Basics) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ASCII, with punctuation ~!@#$%^&*()"));
  EXPECT_TRUE(valid_utf8(std::string_view("\0\x7f", 2)));
  EXPECT_TRUE(valid_utf8("\xc3\xa9"));                  // U+00E9, 2 bytes
  EXPECT_TRUE(valid_utf8("\xe2\x82\xac"));              // U+20AC, 3 bytes
  EXPECT_TRUE(valid_utf8("\xf0\x9f\x98\x80"));          // U+1F600, 4 bytes
  EXPECT_TRUE(valid_utf8("MAIL FROM:<\xc3\xa9@b.example>"));
  EXPECT_TRUE(valid_utf8(bytes({0xc2, 0x80})));          // U+0080
  EXPECT_TRUE(valid_utf8(bytes({0xdf, 0xbf})));          // U+07FF
  EXPECT_TRUE(valid_utf8(bytes({0xe0, 0xa0, 0x80})));    // U+0800
  EXPECT_TRUE(valid_utf8(bytes({0xef, 0xbf, 0xbf})));    // U+FFFF
  EXPECT_TRUE(valid_utf8(bytes({0xed, 0x9f, 0xbf})));    // U+D7FF
  EXPECT_TRUE(valid_utf8(bytes({0xee, 0x80, 0x80})));    // U+E000
  EXPECT_TRUE(valid_utf8(bytes({0xf0, 0x90, 0x80, 0x80})));  // U+10000
  EXPECT_TRUE(valid_utf8(bytes({0xf4, 0x8f, 0xbf, 0xbf})));  // U+10FFFF
}

TEST(ValidUtf8, Invalid) {
  EXPECT_FALSE(valid_utf8("\xe9@b.example"));  // Latin-1, recordings 5e
  EXPECT_FALSE(valid_utf8(bytes({0x80})));      // lone continuation
  EXPECT_FALSE(valid_utf8(bytes({0xbf})));
  EXPECT_FALSE(valid_utf8(bytes({0x80, 0x81, 0x82})));
  // Overlongs.
  EXPECT_FALSE(valid_utf8(bytes({0xc0, 0x80})));
  EXPECT_FALSE(valid_utf8(bytes({0xc1, 0xbf})));
  EXPECT_FALSE(valid_utf8(bytes({0xe0, 0x80, 0x80})));
  EXPECT_FALSE(valid_utf8(bytes({0xe0, 0x9f, 0xbf})));
  EXPECT_FALSE(valid_utf8(bytes({0xf0, 0x80, 0x80, 0x80})));
  EXPECT_FALSE(valid_utf8(bytes({0xf0, 0x8f, 0xbf, 0xbf})));
  // Surrogates.
  EXPECT_FALSE(valid_utf8(bytes({0xed, 0xa0, 0x80})));  // U+D800
  EXPECT_FALSE(valid_utf8(bytes({0xed, 0xbf, 0xbf})));  // U+DFFF
  EXPECT_FALSE(valid_utf8(bytes({0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80})));  // a CESU-8 pair
  // Beyond U+10FFFF and bytes that never occur.
  EXPECT_FALSE(valid_utf8(bytes({0xf4, 0x90, 0x80, 0x80})));
  EXPECT_FALSE(valid_utf8(bytes({0xf5, 0x80, 0x80, 0x80})));
  EXPECT_FALSE(valid_utf8(bytes({0xf7, 0xbf, 0xbf, 0xbf})));
  EXPECT_FALSE(valid_utf8(bytes({0xf8, 0x88, 0x80, 0x80, 0x80})));
  EXPECT_FALSE(valid_utf8(bytes({0xfe})));
  EXPECT_FALSE(valid_utf8(bytes({0xff})));
  // Truncated sequences, at the end and followed by ASCII.
  EXPECT_FALSE(valid_utf8(bytes({0xc3})));
  EXPECT_FALSE(valid_utf8(bytes({0xe2, 0x82})));
  EXPECT_FALSE(valid_utf8(bytes({0xf0, 0x9f, 0x98})));
  EXPECT_FALSE(valid_utf8("abc\xc3"));
  EXPECT_FALSE(valid_utf8("\xc3" "A"));
  EXPECT_FALSE(valid_utf8("\xe2\x82" "A"));
  EXPECT_FALSE(valid_utf8("\xf0\x9f\x98" "A"));
  EXPECT_FALSE(valid_utf8("\xc3\xa9\xc3"));
}

// RFC 3629 section 4: the well-formed byte sequences, as ranges per byte.
bool rfc3629_second_ok(unsigned lead, unsigned b) {
  if (lead == 0xe0) return b >= 0xa0 && b <= 0xbf;
  if (lead == 0xed) return b >= 0x80 && b <= 0x9f;
  if (lead == 0xf0) return b >= 0x90 && b <= 0xbf;
  if (lead == 0xf4) return b >= 0x80 && b <= 0x8f;
  return b >= 0x80 && b <= 0xbf;
}

TEST(ValidUtf8, MatchesRfc3629ForEveryLeadAndSecondByte) {
  for (unsigned lead = 0; lead < 256; ++lead) {
    for (unsigned second = 0; second < 256; ++second) {
      // Complete the sequence with well-formed continuation bytes.
      std::string s = bytes({lead, second});
      std::size_t need;
      if (lead < 0x80) need = 1;
      else if (lead >= 0xc2 && lead <= 0xdf) need = 2;
      else if (lead >= 0xe0 && lead <= 0xef) need = 3;
      else if (lead >= 0xf0 && lead <= 0xf4) need = 4;
      else need = 0;  // never a lead byte
      while (s.size() < need) s.push_back('\x80');
      bool want;
      if (need == 0) want = false;
      else if (need == 1) want = second < 0x80;  // two ASCII bytes
      else want = rfc3629_second_ok(lead, second);
      ASSERT_EQ(valid_utf8(s), want) << std::hex << "lead " << lead << " second " << second;
    }
  }
}

TEST(ValidUtf8, EveryScalarValueEncodedIsValidAndEverySurrogateIsNot) {
  auto encode = [](std::uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      s.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      s.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
    return s;
  };
  for (std::uint32_t cp = 0; cp <= 0x10ffff; ++cp) {
    const bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
    const std::string s = encode(cp);
    ASSERT_EQ(valid_utf8(s), !surrogate) << std::hex << cp;
    // A truncated encoding is never valid.
    if (s.size() > 1) {
      ASSERT_FALSE(valid_utf8(std::string_view(s).substr(0, s.size() - 1))) << std::hex << cp;
    }
  }
}

// ---- plausible_address ---------------------------------------------------

TEST(PlausibleAddress, Cases) {
  for (const char* ok : {"", "a@b", "postmaster", "@route:a@b", "a@[127.0.0.1]", "\"a b\"@c", "\"a\\\"b\"@c",
                         "\"a,b;<>()\"@c", "x+tag@mx.example.test", "\xc3\xa9@b"}) {
    EXPECT_TRUE(plausible_address(ok)) << ok;
  }
  for (const char* bad : {"a b@c", "a<b@c", "a>b", "a(b)", "a,b", "a;b", "a\\b", "\"unclosed@c", "a\x01@b",
                          "a\x7f@b", "a\t@b"}) {
    EXPECT_FALSE(plausible_address(bad)) << bad;
  }
}

}  // namespace
}  // namespace spamsink::smtp
