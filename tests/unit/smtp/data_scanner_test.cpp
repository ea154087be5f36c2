// Tests for smtp/data_scanner: the body ends only on CRLF "." CRLF, however
// the reads fall (every split point, every pair of split points, one byte at
// a time, and random cuts of random bodies checked against a plain reference
// implementation); "\n.\n" and "\r\n.\n" never end it; a leading dot is
// removed and the digest sees exactly the unstuffed content; what follows
// the terminator is left in `in`; bytes()/lines()/long_lines() counts;
// the empty message; stop_digest() and start() resets.
#include "smtp/data_scanner.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace spamsink::smtp {
namespace {

// Records what it is fed, so tests can see the exact hashed bytes.
class RecordingDigest final : public core::BodyDigest {
 public:
  void reset() noexcept override {
    data.clear();
    ++resets;
  }
  void update(const char* p, std::size_t n) noexcept override {
    data.append(p, n);
    ++updates;
  }
  void finish(std::array<std::uint8_t, 32>& out) noexcept override { out.fill(0); }
  std::string data;
  int resets = 0;
  int updates = 0;
};

struct Result {
  bool done = false;
  std::string rest;     // what was left after the terminator
  std::string content;  // what the digest saw
  std::uint64_t bytes = 0, lines = 0, long_lines = 0;
  friend bool operator==(const Result&, const Result&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Result& r) {
    return os << "{done=" << r.done << " rest=" << testing::PrintToString(r.rest)
              << " content=" << testing::PrintToString(r.content) << " bytes=" << r.bytes << " lines=" << r.lines
              << " long=" << r.long_lines << "}";
  }
};

// Feeds `parts` until the end marker; parts after it are left unfed and
// returned in `rest` with the remainder of the part that held the marker.
Result run(const std::vector<std::string>& parts, std::size_t long_line = 2048) {
  DataScanner sc(long_line);
  RecordingDigest d;
  sc.start(&d);
  Result r;
  std::size_t i = 0;
  for (; i < parts.size(); ++i) {
    std::string_view in = parts[i];
    const bool done = sc.scan(in);
    if (!done) {
      EXPECT_TRUE(in.empty()) << "scan() returned false with input left";
      continue;
    }
    r.done = true;
    r.rest = std::string(in);
    ++i;
    break;
  }
  for (; i < parts.size(); ++i) r.rest += parts[i];
  r.content = d.data;
  r.bytes = sc.bytes();
  r.lines = sc.lines();
  r.long_lines = sc.long_lines();
  EXPECT_EQ(r.bytes, r.content.size());
  return r;
}

// The plain reading of RFC 5321 4.1.1.4 / 4.5.2 that the scanner must
// match: the body ends at the first "." line ended by CRLF that follows
// a CRLF (or starts the body); a "." starting a line after CRLF is dropped.
Result reference(const std::string& wire, std::size_t long_line = 2048) {
  Result r;
  std::size_t line_start = 0;  // wire offset of the current line
  bool bol = true;             // at the start of a CRLF-terminated line
  std::size_t line_len = 0;
  for (std::size_t i = 0; i < wire.size();) {
    if (bol && wire.compare(i, 3, ".\r\n") == 0) {
      r.done = true;
      r.rest = wire.substr(i + 3);
      break;
    }
    // Input ends in what may yet be the terminator: its CR is held back.
    if (bol && i + 2 == wire.size() && wire.compare(i, 2, ".\r") == 0) break;
    if (bol && wire[i] == '.') {
      ++i;  // stuffing
      ++line_len;
      bol = false;
      continue;
    }
    bol = false;
    r.content.push_back(wire[i]);
    if (wire[i] == '\n' && i > line_start && wire[i - 1] == '\r') {
      ++r.lines;
      if (line_len - 1 > long_line) ++r.long_lines;  // line_len counted the CR
      line_len = 0;
      bol = true;
      line_start = i + 1;
    } else {
      ++line_len;
    }
    ++i;
  }
  r.bytes = r.content.size();
  if (!r.done) r.rest.clear();
  return r;
}

TEST(DataScanner, SimpleMessage) {
  const Result r = run({"Subject: test 1\r\n\r\nHello world.\r\n.\r\n"});
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.content, "Subject: test 1\r\n\r\nHello world.\r\n");
  EXPECT_EQ(r.bytes, 33u);
  EXPECT_EQ(r.lines, 3u);
  EXPECT_EQ(r.long_lines, 0u);
  EXPECT_EQ(r.rest, "");
}

TEST(DataScanner, BytesAfterTheTerminatorStayInInput) {
  DataScanner sc;
  sc.start(nullptr);
  const std::string buf = "body\r\n.\r\nQUIT\r\nMAIL FROM:<a@b>\r\n";
  std::string_view in = buf;
  EXPECT_TRUE(sc.scan(in));
  EXPECT_EQ(in, "QUIT\r\nMAIL FROM:<a@b>\r\n");
  EXPECT_EQ(in.data(), buf.data() + 9);
  EXPECT_EQ(sc.bytes(), 6u);
}

TEST(DataScanner, EmptyMessage) {
  Result r = run({".\r\nNOOP\r\n"});
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.content, "");
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_EQ(r.lines, 0u);
  EXPECT_EQ(r.rest, "NOOP\r\n");
  // A body that is one empty line.
  r = run({"\r\n.\r\n"});
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.content, "\r\n");
  EXPECT_EQ(r.lines, 1u);
}

TEST(DataScanner, EmptyInputIsNotTheEnd) {
  DataScanner sc;
  sc.start(nullptr);
  std::string_view in;
  EXPECT_FALSE(sc.scan(in));
  EXPECT_EQ(sc.bytes(), 0u);
}

TEST(DataScanner, DotUnstuffing) {
  // Recordings 15a/15e: "..foo" is stored as ".foo" and ".bar" as "bar".
  const Result r = run({"line1\r\n..foo\r\n.bar\r\n...\r\n..\r\nmid.dot.\r\n.\r\n"});
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.content, "line1\r\n.foo\r\nbar\r\n..\r\n.\r\nmid.dot.\r\n");
  EXPECT_EQ(r.lines, 6u);
}

TEST(DataScanner, LeadingDotOfTheFirstLineIsStuffing) {
  const Result r = run({"..x\r\n.\r\n"});
  EXPECT_EQ(r.content, ".x\r\n");
}

TEST(DataScanner, BareLfDotLfDoesNotEndTheBody) {
  // No SMTP smuggling: "\n.\n" is content, and so is a dot after a bare LF.
  DataScanner sc;
  RecordingDigest d;
  sc.start(&d);
  std::string_view in = "bare\n.\nafter-bare-dot\r\n";
  EXPECT_FALSE(sc.scan(in));
  EXPECT_TRUE(in.empty());
  in = ".\r\n";
  EXPECT_TRUE(sc.scan(in));
  EXPECT_EQ(d.data, "bare\n.\nafter-bare-dot\r\n");
  EXPECT_EQ(sc.lines(), 1u);
}

TEST(DataScanner, CrlfDotLfDoesNotEndTheBody) {
  DataScanner sc;
  RecordingDigest d;
  sc.start(&d);
  std::string_view in = "z\r\n.\nNOOP\r\n";
  EXPECT_FALSE(sc.scan(in));
  EXPECT_TRUE(in.empty());
  in = "QUIT\r\n";
  EXPECT_FALSE(sc.scan(in));
  in = ".\r\n";
  EXPECT_TRUE(sc.scan(in));
  // The dot opened a line after CRLF, so it was stuffing; the LF is content.
  EXPECT_EQ(d.data, "z\r\n\nNOOP\r\nQUIT\r\n");
}

TEST(DataScanner, OtherNearMissesDoNotEndTheBody) {
  for (const char* near : {"x\r.\r\n", "x\n.\r\n", "x\r\n.\r", "x\r\n. \r\n", "x\r\n.\r\r\n", "x\r\n..\r\n",
                           "x\r\n.x\r\n", "\n.\n", ".\n", ".\r.\r\n", "x\r\r\n .\r\n"}) {
    DataScanner sc;
    sc.start(nullptr);
    std::string_view in = near;
    EXPECT_FALSE(sc.scan(in)) << testing::PrintToString(std::string(near));
    EXPECT_TRUE(in.empty());
  }
}

TEST(DataScanner, BareCrBeforeDotIsContent) {
  // Recordings 15b: "x\r.\r\n" is one line "x\r." (Postfix shows "x .").
  const Result r = run({"x\r.\r\ny\r\n.\r\n"});
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.content, "x\r.\r\ny\r\n");
  EXPECT_EQ(r.lines, 2u);
}

TEST(DataScanner, DotCrThenOtherIsStuffingFollowedByCr) {
  const Result r = run({"a\r\n.\rX\r\n.\r\r\n.\r\n"});
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.content, "a\r\n\rX\r\n\r\r\n");
  EXPECT_EQ(r.lines, 3u);
}

const std::string kMessage =
    "Subject: split\r\n\r\n..dot\r\n.\rcr\r\nbare\n.\nlf\r\n\r\nend\r\n.\r\nQUIT\r\n";

TEST(DataScanner, MessageInTwoPartsAtEverySplitPoint) {
  const Result want = run({kMessage});
  ASSERT_TRUE(want.done);
  EXPECT_EQ(want.content, "Subject: split\r\n\r\n.dot\r\n\rcr\r\nbare\n.\nlf\r\n\r\nend\r\n");
  EXPECT_EQ(want.rest, "QUIT\r\n");
  EXPECT_EQ(want, reference(kMessage));
  for (std::size_t k = 0; k <= kMessage.size(); ++k) {
    EXPECT_EQ(run({kMessage.substr(0, k), kMessage.substr(k)}), want) << "split at " << k;
  }
}

TEST(DataScanner, MessageInThreePartsAtEveryPairOfSplitPoints) {
  const Result want = run({kMessage});
  for (std::size_t i = 0; i <= kMessage.size(); ++i)
    for (std::size_t j = i; j <= kMessage.size(); ++j)
      ASSERT_EQ(run({kMessage.substr(0, i), kMessage.substr(i, j - i), kMessage.substr(j)}), want)
          << "split at " << i << "," << j;
}

TEST(DataScanner, MessageOneByteAtATime) {
  std::vector<std::string> parts;
  for (char c : kMessage) parts.emplace_back(1, c);
  EXPECT_EQ(run(parts), run({kMessage}));
}

TEST(DataScanner, TerminatorSplitEverywhere) {
  // Just the terminator and what follows, cut at each of its bytes.
  const std::string m = "a\r\n.\r\nX";
  for (std::size_t k = 0; k <= m.size(); ++k) {
    const Result r = run({m.substr(0, k), m.substr(k)});
    EXPECT_TRUE(r.done) << k;
    EXPECT_EQ(r.content, "a\r\n") << k;
    EXPECT_EQ(r.rest, "X") << k;
  }
}

TEST(DataScanner, RandomBodiesAndCutsMatchTheReference) {
  // Bodies drawn from the bytes that matter (CR, LF, dot) plus filler, cut
  // into random reads; fixed seed, so a failure reproduces.
  std::mt19937 rng(5321);
  const char alphabet[] = {'\r', '\n', '.', 'a', '\r', '\n', '.'};
  for (int iter = 0; iter < 3000; ++iter) {
    std::string wire;
    const int len = static_cast<int>(rng() % 60);
    for (int i = 0; i < len; ++i) wire.push_back(alphabet[rng() % sizeof alphabet]);
    if (rng() % 2) wire += "\r\n.\r\nTAIL";
    const Result want = reference(wire, 3);
    std::vector<std::string> parts;
    for (std::size_t pos = 0; pos < wire.size();) {
      const std::size_t n = 1 + rng() % 8;
      parts.push_back(wire.substr(pos, n));
      pos += n;
    }
    const Result got = run(parts, 3);
    ASSERT_EQ(got, want) << "wire " << testing::PrintToString(wire);
  }
}

TEST(DataScanner, LongLines) {
  // long_line_bytes = 10: a line of 10 bytes is fine, 11 is long; the line
  // end is not counted; a stuffed dot counts (it was on the wire).
  Result r = run({"0123456789\r\n"
                  "0123456789A\r\n"
                  "..23456789\r\n"
                  "..23456789A\r\n"
                  "short\r\n"
                  "0123456789\n0\r\n"
                  ".\r\n"},
                 10);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.lines, 6u);
  EXPECT_EQ(r.long_lines, 3u);
  // The same with the CRLF of the 10-byte line split across reads.
  r = run({"0123456789\r", "\n.\r\n"}, 10);
  EXPECT_EQ(r.long_lines, 0u);
  EXPECT_EQ(r.lines, 1u);
  r = run({"0123456789A\r", "\n.\r\n"}, 10);
  EXPECT_EQ(r.long_lines, 1u);
}

TEST(DataScanner, LongLinesFromTheRecording) {
  // Recordings 7f: a 5000-byte body line is accepted; here it is counted.
  const std::string body = "Subject: long line\r\n\r\n" + std::string(5000, 'z') + "\r\n.\r\n";
  const Result r = run({body}, 2048);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.lines, 3u);
  EXPECT_EQ(r.long_lines, 1u);
  EXPECT_EQ(r.bytes, body.size() - 3);
}

TEST(DataScanner, StopDigestStopsHashingButNotCounting) {
  DataScanner sc;
  RecordingDigest d;
  sc.start(&d);
  std::string_view in = "first\r\n";
  EXPECT_FALSE(sc.scan(in));
  sc.stop_digest();
  const int updates = d.updates;
  in = "second\r\n..third\r\n.\r\n";
  EXPECT_TRUE(sc.scan(in));
  EXPECT_EQ(d.data, "first\r\n");
  EXPECT_EQ(d.updates, updates);
  EXPECT_EQ(sc.bytes(), 23u);  // "first\r\nsecond\r\n.third\r\n"
  EXPECT_EQ(sc.lines(), 3u);
}

TEST(DataScanner, StartResetsStateCountersAndDigest) {
  DataScanner sc(4);
  RecordingDigest d;
  sc.start(&d);
  EXPECT_EQ(d.resets, 1);
  std::string_view in = "long line one\r\npartial";
  EXPECT_FALSE(sc.scan(in));
  EXPECT_GT(sc.bytes(), 0u);
  // A new message mid-way (the session was reset): nothing carries over.
  sc.start(&d);
  EXPECT_EQ(d.resets, 2);
  EXPECT_EQ(sc.bytes(), 0u);
  EXPECT_EQ(sc.lines(), 0u);
  EXPECT_EQ(sc.long_lines(), 0u);
  in = ".\r\n";  // at the start of the body again: this is the end
  EXPECT_TRUE(sc.scan(in));
  EXPECT_EQ(d.data, "");
  // After a completed message, start() again begins at a line start.
  sc.start(&d);
  in = "..x\r\n.\r\n";
  EXPECT_TRUE(sc.scan(in));
  EXPECT_EQ(d.data, ".x\r\n");
}

TEST(DataScanner, NullDigestStillCounts) {
  DataScanner sc;
  sc.start(nullptr);
  std::string_view in = "abc\r\n..d\r\n.\r\n";
  EXPECT_TRUE(sc.scan(in));
  EXPECT_EQ(sc.bytes(), 9u);
  EXPECT_EQ(sc.lines(), 2u);
}

TEST(DataScanner, LargeBodyInBigReads) {
  // 10.5 MB in 64 KiB reads (recordings 10a's shape): the counts are exact.
  std::string line = std::string(998, 'y') + "\r\n";
  std::string body = "Subject: big\r\n\r\n";
  for (int i = 0; i < 10500; ++i) body += line;
  const std::uint64_t content = body.size();
  body += ".\r\n";
  DataScanner sc;
  sc.start(nullptr);
  bool done = false;
  for (std::size_t pos = 0; pos < body.size() && !done; pos += 65536) {
    std::string_view in = std::string_view(body).substr(pos, 65536);
    done = sc.scan(in);
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(sc.bytes(), content);
  EXPECT_EQ(sc.lines(), 10502u);
  EXPECT_EQ(sc.long_lines(), 0u);
}

}  // namespace
}  // namespace spamsink::smtp
