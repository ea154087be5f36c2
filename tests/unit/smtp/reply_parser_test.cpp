// Tests for smtp/reply_parser (the client side): a single-line reply, a
// multi-line reply with one code, a continuation with another code or a
// malformed line is kBad, a bare "DDD" is a complete reply with empty text;
// a reply split across reads at every byte (and fed one byte at a time)
// parses the same; next() stops at the end of one reply and leaves the rest
// of the input for the next call; the EHLO extension bitmask (keywords on
// continuation lines only, case-insensitive, whole words, reset per reply);
// the kept text is capped at kTextMax.
#include "smtp/reply_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spamsink::smtp {
namespace {

using Status = ReplyParser::Status;

struct Parsed {
  Status status;
  int code;
  std::string text;
  std::uint32_t ext;
  std::uint32_t lines;
};

// Feeds `parts` in order until the parser reports a reply or kBad.
Parsed feed(ReplyParser& p, const std::vector<std::string>& parts) {
  for (const auto& part : parts) {
    std::string_view in = part;
    Status s = p.next(in);
    if (s != Status::kNeedMore) return {s, p.code(), std::string(p.text()), p.extensions(), p.lines()};
    EXPECT_TRUE(in.empty()) << "kNeedMore with input left";
  }
  return {Status::kNeedMore, p.code(), std::string(p.text()), p.extensions(), p.lines()};
}

Parsed parse(const std::string& s) {
  ReplyParser p;
  return feed(p, {s});
}

TEST(ReplyParser, SingleLine) {
  ReplyParser p;
  std::string_view in = "250 2.1.0 Ok\r\n";
  EXPECT_FALSE(p.in_reply());
  ASSERT_EQ(p.next(in), Status::kReply);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(p.code(), 250);
  EXPECT_EQ(p.text(), "2.1.0 Ok");
  EXPECT_EQ(p.lines(), 1u);
  EXPECT_EQ(p.extensions(), 0u);
  EXPECT_FALSE(p.in_reply());
}

TEST(ReplyParser, EveryCodeClassTwoToFive) {
  for (const char* r : {"220 hi\r\n", "354 go\r\n", "421 bye\r\n", "550 no\r\n", "599 x\r\n", "200 y\r\n"}) {
    Parsed got = parse(r);
    EXPECT_EQ(got.status, Status::kReply) << r;
    EXPECT_EQ(got.code, std::stoi(std::string(r, 3))) << r;
  }
}

TEST(ReplyParser, MultiLineSameCode) {
  Parsed got = parse("250-mx.example.test\r\n250-SIZE 10240000\r\n250 DSN\r\n");
  EXPECT_EQ(got.status, Status::kReply);
  EXPECT_EQ(got.code, 250);
  EXPECT_EQ(got.text, "DSN");  // only the last line's text is kept
  EXPECT_EQ(got.lines, 3u);
}

TEST(ReplyParser, MultiLineCodeMismatchIsBad) {
  EXPECT_EQ(parse("250-first\r\n251 second\r\n").status, Status::kBad);
  EXPECT_EQ(parse("550-first\r\n450 second\r\n").status, Status::kBad);
  EXPECT_EQ(parse("250-first\r\n250-second\r\n220-third\r\n").status, Status::kBad);
}

TEST(ReplyParser, GarbageIsBad) {
  for (const char* g : {"hello\r\n", "\r\n", "25\r\n", "2500 x\r\n", "250x\r\n", "2x0 ok\r\n", "25a ok\r\n",
                        "150 ok\r\n", "650 ok\r\n", "099 ok\r\n", " 250 ok\r\n", "250\tok\r\n", "ABC ok\r\n"}) {
    EXPECT_EQ(parse(g).status, Status::kBad) << '"' << g << '"';
  }
  // A good first line does not excuse a bad continuation.
  EXPECT_EQ(parse("250-mx\r\nPIPELINING\r\n").status, Status::kBad);
}

TEST(ReplyParser, BareCodeIsCompleteReply) {
  Parsed got = parse("250\r\n");
  EXPECT_EQ(got.status, Status::kReply);
  EXPECT_EQ(got.code, 250);
  EXPECT_EQ(got.text, "");
  EXPECT_EQ(got.lines, 1u);
  // "DDD " with nothing after it (smtp-sink ends its EHLO reply like this).
  got = parse("250-smtp-sink\r\n250-PIPELINING\r\n250 \r\n");
  EXPECT_EQ(got.status, Status::kReply);
  EXPECT_EQ(got.text, "");
  EXPECT_EQ(got.lines, 3u);
  EXPECT_EQ(got.ext, kExtPipelining);
}

TEST(ReplyParser, BareLfEndsALine) {
  Parsed got = parse("250-a\n250 b\n");
  EXPECT_EQ(got.status, Status::kReply);
  EXPECT_EQ(got.text, "b");
  EXPECT_EQ(got.lines, 2u);
}

TEST(ReplyParser, NeedMoreUntilLastLine) {
  ReplyParser p;
  std::string_view in = "250-mx\r\n250-PIPELINING\r\n";
  EXPECT_EQ(p.next(in), Status::kNeedMore);
  EXPECT_TRUE(in.empty());
  EXPECT_TRUE(p.in_reply());
  in = "250 CHUNKING";  // no CRLF yet
  EXPECT_EQ(p.next(in), Status::kNeedMore);
  EXPECT_TRUE(p.in_reply());
  in = "\r\n";
  ASSERT_EQ(p.next(in), Status::kReply);
  EXPECT_EQ(p.extensions(), kExtPipelining | kExtChunking);
  EXPECT_FALSE(p.in_reply());
}

TEST(ReplyParser, SplitAtEveryByte) {
  const std::string whole =
      "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 CHUNKING\r\n";
  const Parsed ref = parse(whole);
  ASSERT_EQ(ref.status, Status::kReply);
  ASSERT_EQ(ref.lines, 5u);
  for (std::size_t cut = 0; cut <= whole.size(); ++cut) {
    ReplyParser p;
    Parsed got = feed(p, {whole.substr(0, cut), whole.substr(cut)});
    EXPECT_EQ(got.status, Status::kReply) << "cut " << cut;
    EXPECT_EQ(got.code, ref.code) << "cut " << cut;
    EXPECT_EQ(got.text, ref.text) << "cut " << cut;
    EXPECT_EQ(got.ext, ref.ext) << "cut " << cut;
    EXPECT_EQ(got.lines, ref.lines) << "cut " << cut;
  }
  std::vector<std::string> bytes;
  for (char c : whole) bytes.emplace_back(1, c);
  ReplyParser p;
  Parsed got = feed(p, bytes);
  EXPECT_EQ(got.status, Status::kReply);
  EXPECT_EQ(got.ext, ref.ext);
  EXPECT_EQ(got.text, ref.text);
}

TEST(ReplyParser, StopsAtEndOfOneReply) {
  ReplyParser p;
  std::string_view in = "250 2.1.0 Ok\r\n250-2.1.5\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n";
  ASSERT_EQ(p.next(in), Status::kReply);
  EXPECT_EQ(p.text(), "2.1.0 Ok");
  ASSERT_EQ(p.next(in), Status::kReply);
  EXPECT_EQ(p.code(), 250);
  EXPECT_EQ(p.lines(), 2u);
  EXPECT_EQ(p.text(), "2.1.5 Ok");
  ASSERT_EQ(p.next(in), Status::kReply);
  EXPECT_EQ(p.code(), 354);
  EXPECT_EQ(p.lines(), 1u);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(p.next(in), Status::kNeedMore);
}

TEST(ReplyParser, ExtensionBitmask) {
  Parsed got = parse(
      "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n"
      "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n");
  ASSERT_EQ(got.status, Status::kReply);
  EXPECT_EQ(got.ext, kExtPipelining | kExtSize | kExtStarttls | kExtEnhancedStatus | kExt8BitMime | kExtSmtpUtf8 |
                         kExtChunking);
  // Case-insensitive keywords.
  EXPECT_EQ(parse("250-mx\r\n250-pipelining\r\n250 Chunking\r\n").ext, kExtPipelining | kExtChunking);
  // The first line is the server's name, not a keyword.
  EXPECT_EQ(parse("250-PIPELINING\r\n250 DSN\r\n").ext, 0u);
  EXPECT_EQ(parse("250 PIPELINING\r\n").ext, 0u);
  // Whole words only.
  EXPECT_EQ(parse("250-mx\r\n250-PIPELININGX\r\n250-XCHUNKING\r\n250 SIZE2\r\n").ext, 0u);
  EXPECT_EQ(parse("250-mx\r\n250-PIPELIN\r\n250 CHUNK\r\n").ext, 0u);
}

TEST(ReplyParser, ExtensionsBelongToTheLastReply) {
  ReplyParser p;
  std::string_view in = "250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n250 2.1.0 Ok\r\n";
  ASSERT_EQ(p.next(in), Status::kReply);
  EXPECT_EQ(p.extensions(), kExtPipelining | kExtChunking);
  ASSERT_EQ(p.next(in), Status::kReply);
  EXPECT_EQ(p.extensions(), 0u);
}

TEST(ReplyParser, TextIsCapped) {
  const std::string long_text(1000, 'x');
  Parsed got = parse("550 " + long_text + "\r\n");
  EXPECT_EQ(got.status, Status::kReply);
  EXPECT_EQ(got.code, 550);
  EXPECT_EQ(got.text, long_text.substr(0, ReplyParser::kTextMax));
  // Exactly at the cap: kept whole.
  const std::string at_cap(ReplyParser::kTextMax, 'y');
  EXPECT_EQ(parse("550 " + at_cap + "\r\n").text, at_cap);
}

TEST(ReplyParser, OverlongLineStillParses) {
  // Longer than kLineLimit: the framer truncates, the code is still read.
  const std::string huge(ReplyParser::kLineLimit * 3, 'z');
  ReplyParser p;
  Parsed got = feed(p, {"250-" + huge + "\r\n", "250 done\r\n"});
  EXPECT_EQ(got.status, Status::kReply);
  EXPECT_EQ(got.code, 250);
  EXPECT_EQ(got.text, "done");
  EXPECT_EQ(got.lines, 2u);
}

TEST(ReplyParser, ResetDropsPartialReply) {
  ReplyParser p;
  std::string_view in = "250-mx\r\n250-PIPELI";
  EXPECT_EQ(p.next(in), Status::kNeedMore);
  EXPECT_TRUE(p.in_reply());
  p.reset();
  EXPECT_FALSE(p.in_reply());
  EXPECT_EQ(p.code(), 0);
  // A different code now starts a fresh reply rather than a mismatch.
  in = "221 2.0.0 Bye\r\n";
  ASSERT_EQ(p.next(in), Status::kReply);
  EXPECT_EQ(p.code(), 221);
  EXPECT_EQ(p.lines(), 1u);
}

}  // namespace
}  // namespace spamsink::smtp
