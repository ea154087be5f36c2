// Tests for smtp/replies: the postfix() table against the texts recorded
// from Debian 12's Postfix 3.7.11 (/tmp/pfrec dialogues), the hostname and
// SIZE rendered into it, the EHLO keyword order, the shape of every reply
// (status code, '-' continuation, CRLF on every line), the replies that
// carry a value (echoed peer text made printable and capped), and
// valid_hostname / append_printable.
#include "smtp/replies.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

namespace spamsink::smtp {
namespace {

const ReplyTable& table() {
  static const ReplyTable t = ReplyTable::postfix("mx.example.test", 10240000);
  return t;
}

std::vector<std::string> lines_of(std::string_view reply) {
  std::vector<std::string> out;
  while (!reply.empty()) {
    const auto end = reply.find("\r\n");
    if (end == std::string_view::npos) {
      out.emplace_back(reply);  // an unterminated tail: the shape test fails on it
      break;
    }
    out.emplace_back(reply.substr(0, end));
    reply.remove_prefix(end + 2);
  }
  return out;
}

TEST(ReplyTable, GreetingAndHeloRenderTheHostname) {
  EXPECT_EQ(table().hostname(), "mx.example.test");
  EXPECT_EQ(table().get(ReplyId::kGreeting), "220 mx.example.test ESMTP Postfix (Debian/GNU)\r\n");
  EXPECT_EQ(table().get(ReplyId::kHelo), "250 mx.example.test\r\n");
  const ReplyTable other = ReplyTable::postfix("smtp.other-host.example", 1);
  EXPECT_EQ(other.hostname(), "smtp.other-host.example");
  EXPECT_EQ(other.get(ReplyId::kGreeting), "220 smtp.other-host.example ESMTP Postfix (Debian/GNU)\r\n");
  EXPECT_EQ(other.get(ReplyId::kTooManyErrors), "421 4.7.0 smtp.other-host.example Error: too many errors\r\n");
}

TEST(ReplyTable, EhloKeywordsInPostfixOrder) {
  EXPECT_EQ(table().get(ReplyId::kEhlo),
            "250-mx.example.test\r\n"
            "250-PIPELINING\r\n"
            "250-SIZE 10240000\r\n"
            "250-VRFY\r\n"
            "250-ETRN\r\n"
            "250-ENHANCEDSTATUSCODES\r\n"
            "250-8BITMIME\r\n"
            "250-DSN\r\n"
            "250-SMTPUTF8\r\n"
            "250 CHUNKING\r\n");
}

TEST(ReplyTable, EhloSizeIsTheConfiguredLimit) {
  const ReplyTable t = ReplyTable::postfix("h.example", 1234);
  const auto l = lines_of(t.get(ReplyId::kEhlo));
  ASSERT_EQ(l.size(), 10u);
  EXPECT_EQ(l[0], "250-h.example");
  EXPECT_EQ(l[2], "250-SIZE 1234");
  const ReplyTable big = ReplyTable::postfix("h.example", 18446744073709551615ull);
  EXPECT_EQ(lines_of(big.get(ReplyId::kEhlo))[2], "250-SIZE 18446744073709551615");
}

TEST(ReplyTable, RecordedTexts) {
  // Each text as Postfix 3.7.11 sent it in the recordings.
  const struct {
    ReplyId id;
    const char* text;
  } recorded[] = {
      {ReplyId::kEhloSyntax, "501 Syntax: EHLO hostname\r\n"},
      {ReplyId::kHeloSyntax, "501 Syntax: HELO hostname\r\n"},
      {ReplyId::kOk, "250 2.0.0 Ok\r\n"},
      {ReplyId::kMailOk, "250 2.1.0 Ok\r\n"},
      {ReplyId::kRcptOk, "250 2.1.5 Ok\r\n"},
      {ReplyId::kDataGo, "354 End data with <CR><LF>.<CR><LF>\r\n"},
      {ReplyId::kQuit, "221 2.0.0 Bye\r\n"},
      {ReplyId::kUnknown, "500 5.5.2 Error: command not recognized\r\n"},
      {ReplyId::kBadSyntax, "500 5.5.2 Error: bad syntax\r\n"},
      {ReplyId::kBadUtf8, "500 5.5.2 Error: bad UTF-8 syntax\r\n"},
      {ReplyId::kNestedMail, "503 5.5.1 Error: nested MAIL command\r\n"},
      {ReplyId::kNeedMail, "503 5.5.1 Error: need MAIL command\r\n"},
      {ReplyId::kNeedRcpt, "503 5.5.1 Error: need RCPT command\r\n"},
      {ReplyId::kNoRecipients, "554 5.5.1 Error: no valid recipients\r\n"},
      {ReplyId::kMailSyntax, "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"},
      {ReplyId::kRcptSyntax, "501 5.5.4 Syntax: RCPT TO:<address>\r\n"},
      {ReplyId::kBadSender, "501 5.1.7 Bad sender address syntax\r\n"},
      {ReplyId::kBadRecipient, "501 5.1.3 Bad recipient address syntax\r\n"},
      {ReplyId::kBadSizeSyntax, "501 5.5.4 Bad message size syntax\r\n"},
      {ReplyId::kBadRetSyntax, "501 5.5.4 Bad RET parameter syntax\r\n"},
      {ReplyId::kSizeTooBig, "552 5.3.4 Message size exceeds fixed limit\r\n"},
      {ReplyId::kSizeOverflow, "552 5.3.4 Message size exceeds file system imposed limit\r\n"},
      {ReplyId::kFileTooBig, "552 5.3.4 Error: message file too big\r\n"},
      {ReplyId::kChunkTooBig, "552 5.3.4 Chunk exceeds message size limit\r\n"},
      {ReplyId::kTooManyRcpts, "452 4.5.3 Error: too many recipients\r\n"},
      {ReplyId::kTooManyErrors, "421 4.7.0 mx.example.test Error: too many errors\r\n"},
      {ReplyId::kTimeout, "421 4.4.2 mx.example.test Error: timeout exceeded\r\n"},
      {ReplyId::kForbidden, "221 2.7.0 Error: I can break rules, too. Goodbye.\r\n"},
      {ReplyId::kVrfySyntax, "501 5.5.4 Syntax: VRFY address [SMTPUTF8]\r\n"},
      {ReplyId::kEtrnSyntax, "500 Syntax: ETRN domain\r\n"},
      {ReplyId::kEtrnInTransaction, "503 Error: MAIL transaction in progress\r\n"},
      {ReplyId::kStarttlsNotOffered, "502 5.5.1 Error: command not implemented\r\n"},
      {ReplyId::kAuthNotEnabled, "503 5.5.1 Error: authentication not enabled\r\n"},
      {ReplyId::kXclientSyntax, "501 5.5.4 Syntax: XCLIENT attribute=value...\r\n"},
      {ReplyId::kXforwardSyntax, "501 5.5.4 Syntax: XFORWARD attribute=value...\r\n"},
      {ReplyId::kNotAuthorized, "550 5.7.0 Error: insufficient authorization\r\n"},
      {ReplyId::kDataArgs, "501 5.5.4 Syntax: DATA\r\n"},
      {ReplyId::kBdatSyntax, "521 5.5.4 Syntax: BDAT count [LAST]\r\n"},
      {ReplyId::kDataAfterBdat, "503 5.5.1 Error: DATA after BDAT\r\n"},
      {ReplyId::kRsetArgs, "501 5.5.4 Syntax: RSET\r\n"},
  };
  for (const auto& r : recorded) EXPECT_EQ(table().get(r.id), r.text) << "id " << static_cast<int>(r.id);
}

TEST(ReplyTable, ClosingRepliesNameTheHost) {
  // The session-ending 421s carry the hostname, as Postfix's do.
  EXPECT_EQ(table().get(ReplyId::kLifetime), "421 4.4.2 mx.example.test Error: timeout exceeded\r\n");
  EXPECT_EQ(table().get(ReplyId::kShutdown),
            "421 4.3.2 mx.example.test Service shutting down, closing transmission channel\r\n");
}

TEST(ReplyTable, EveryReplyIsWellFormed) {
  for (int i = 0; i < static_cast<int>(ReplyId::kCount); ++i) {
    const std::string_view text = table().get(static_cast<ReplyId>(i));
    SCOPED_TRACE("id " + std::to_string(i) + ": " + std::string(text));
    ASSERT_FALSE(text.empty());
    ASSERT_GE(text.size(), 2u);
    EXPECT_EQ(text.substr(text.size() - 2), "\r\n");
    EXPECT_EQ(text.find("{host}"), std::string_view::npos);
    const auto lines = lines_of(text);
    // No stray CR or LF inside a line.
    std::size_t total = 0;
    for (const auto& l : lines) total += l.size() + 2;
    EXPECT_EQ(total, text.size());
    for (std::size_t n = 0; n < lines.size(); ++n) {
      const std::string& l = lines[n];
      EXPECT_EQ(l.find_first_of("\r\n"), std::string::npos);
      ASSERT_GE(l.size(), 4u);
      EXPECT_TRUE(l[0] >= '2' && l[0] <= '5' && isdigit(l[1]) && isdigit(l[2])) << l;
      EXPECT_EQ(l.substr(0, 3), lines[0].substr(0, 3)) << "one code per reply";
      // The teaser is by design the first line of a greeting still to come.
      const bool fragment = static_cast<ReplyId>(i) == ReplyId::kTeaser;
      EXPECT_EQ(l[3], n + 1 == lines.size() && !fragment ? ' ' : '-') << l;
      for (unsigned char c : l) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << l;
    }
  }
}

TEST(ReplyTable, SetReplacesAText) {
  ReplyTable t = ReplyTable::postfix("mx.example.test", 100);
  t.set(ReplyId::kGreeting, "220 other ESMTP\r\n");
  EXPECT_EQ(t.get(ReplyId::kGreeting), "220 other ESMTP\r\n");
  EXPECT_EQ(t.get(ReplyId::kHelo), "250 mx.example.test\r\n");
}

// ---- replies with a value -------------------------------------------------

TEST(ReplyValues, AsRecorded) {
  std::string out;
  table().queued("6A161A72001", out);
  EXPECT_EQ(out, "250 2.0.0 Ok: queued as 6A161A72001\r\n");
  out.clear();
  table().bdat_ok(10, out);
  EXPECT_EQ(out, "250 2.0.0 Ok: 10 bytes\r\n");
  out.clear();
  table().bdat_queued(17, "A69DEA72011", out);
  EXPECT_EQ(out, "250 2.0.0 Ok: 17 bytes queued as A69DEA72011\r\n");
  out.clear();
  table().bdat_queued(0, "91FDFA72031", out);
  EXPECT_EQ(out, "250 2.0.0 Ok: 0 bytes queued as 91FDFA72031\r\n");
  out.clear();
  table().bdat_discarded(5, out);
  EXPECT_EQ(out, "551 5.0.0 Discarded 5 bytes after earlier error\r\n");
  out.clear();
  table().vrfy("x@mx.example.test", out);
  EXPECT_EQ(out, "252 2.0.0 x@mx.example.test\r\n");
  out.clear();
  table().vrfy("<x@mx.example.test>", out);
  EXPECT_EQ(out, "252 2.0.0 <x@mx.example.test>\r\n");
  out.clear();
  table().unsupported_option("FOO=bar", out);
  EXPECT_EQ(out, "555 5.5.4 Unsupported option: FOO=bar\r\n");
  out.clear();
  table().etrn_refused("example.com", out);
  EXPECT_EQ(out, "459 <example.com>: service unavailable\r\n");
  out.clear();
  table().too_many_conns("127.0.0.1", out);
  EXPECT_EQ(out, "421 4.7.0 mx.example.test Error: too many connections from 127.0.0.1\r\n");
}

TEST(ReplyValues, AppendToWhatIsThere) {
  std::string out = "250 2.1.0 Ok\r\n";
  table().bdat_ok(18446744073709551615ull, out);
  table().queued("ABC", out);
  EXPECT_EQ(out, "250 2.1.0 Ok\r\n250 2.0.0 Ok: 18446744073709551615 bytes\r\n250 2.0.0 Ok: queued as ABC\r\n");
}

TEST(ReplyValues, EchoedPeerTextIsPrintableAndCapped) {
  std::string out;
  table().vrfy(std::string_view("a\r\nb\x00\x7f\x80\xff c", 10), out);
  EXPECT_EQ(out, "252 2.0.0 a??b???? c\r\n");
  out.clear();
  table().unsupported_option("X=\r\n250 fake", out);
  EXPECT_EQ(out, "555 5.5.4 Unsupported option: X=??250 fake\r\n");
  out.clear();
  table().etrn_refused("\x1b[31mred", out);
  EXPECT_EQ(out, "459 <?[31mred>: service unavailable\r\n");

  const std::string huge(5000, 'v');
  out.clear();
  table().vrfy(huge, out);
  EXPECT_EQ(out, "252 2.0.0 " + std::string(ReplyTable::kMaxEcho, 'v') + "\r\n");
  out.clear();
  table().unsupported_option(huge, out);
  EXPECT_EQ(out, "555 5.5.4 Unsupported option: " + std::string(ReplyTable::kMaxEcho, 'v') + "\r\n");
  out.clear();
  table().etrn_refused(huge, out);
  EXPECT_EQ(out, "459 <" + std::string(ReplyTable::kMaxEcho, 'v') + ">: service unavailable\r\n");
}

TEST(AppendPrintable, ReplacesAndCaps) {
  std::string out = ">";
  append_printable(std::string_view("ok \t\x01~\x7f", 7), 100, out);
  EXPECT_EQ(out, ">ok ??~?");
  out.clear();
  append_printable("abcdef", 3, out);
  EXPECT_EQ(out, "abc");
  out.clear();
  append_printable("abc", 0, out);
  EXPECT_EQ(out, "");
  out.clear();
  append_printable("\xc3\xa9", 10, out);  // UTF-8 is not echoed raw either
  EXPECT_EQ(out, "??");
}

TEST(ValidHostname, Cases) {
  for (const char* ok : {"mx.example.test", "localhost", "a", "MX-1.Example.COM", "0.0.0.0"}) {
    EXPECT_TRUE(valid_hostname(ok)) << ok;
  }
  EXPECT_TRUE(valid_hostname(std::string(ReplyTable::kMaxHostname, 'a')));
  EXPECT_FALSE(valid_hostname(std::string(ReplyTable::kMaxHostname + 1, 'a')));
  for (const char* bad : {"", "a b", "host_name", "{host}", "mx.example.test\r\n", "h\xc3\xa9", "h/x", "h:25"}) {
    EXPECT_FALSE(valid_hostname(bad)) << bad;
  }
}

}  // namespace
}  // namespace spamsink::smtp
