// Tests for smtp/line_framer: whole lines come back as views into the input
// (no copy); CRLF and bare LF both end a line; a line split at every byte
// position, or fed one byte at a time, comes out the same; the limit keeps
// exactly `limit` bytes and flags longer lines as truncated, on both the
// in-place and the buffered path; the excess of an overlong line is skipped
// up to its LF without being stored (buffered() never passes limit + 1);
// wire_bytes counts every byte the line took on the wire.
#include "smtp/line_framer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace spamsink::smtp {
namespace {

struct Got {
  std::string text;
  bool truncated;
  std::size_t wire;
  friend bool operator==(const Got&, const Got&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Got& g) {
    return os << "{\"" << g.text << "\" trunc=" << g.truncated << " wire=" << g.wire << "}";
  }
};

// Feeds `parts` in order and collects every line; also checks after every
// call that the framer never holds more than limit + 1 bytes.
std::vector<Got> feed(LineFramer& f, const std::vector<std::string>& parts) {
  std::vector<Got> out;
  for (const auto& p : parts) {
    std::string_view in = p;
    while (auto line = f.next(in)) {
      out.push_back({std::string(line->text), line->truncated, line->wire_bytes});
      EXPECT_LE(f.buffered(), f.limit() + 1);
    }
    EXPECT_TRUE(in.empty()) << "next() returned nullopt with input left";
    EXPECT_LE(f.buffered(), f.limit() + 1);
  }
  return out;
}

std::vector<std::string> bytewise(const std::string& s) {
  std::vector<std::string> v;
  for (char c : s) v.emplace_back(1, c);
  return v;
}

TEST(LineFramer, WholeLineIsAViewIntoTheInput) {
  LineFramer f(512);
  const std::string buf = "NOOP\r\nQUIT\r\n";
  std::string_view in = buf;
  auto line = f.next(in);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->text, "NOOP");
  EXPECT_EQ(line->text.data(), buf.data());  // not copied
  EXPECT_FALSE(line->truncated);
  EXPECT_EQ(line->wire_bytes, 6u);
  EXPECT_EQ(f.buffered(), 0u);
  EXPECT_FALSE(f.in_line());
  EXPECT_EQ(in, "QUIT\r\n");
  line = f.next(in);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->text, "QUIT");
  EXPECT_EQ(line->text.data(), buf.data() + 6);
  EXPECT_TRUE(in.empty());
  EXPECT_FALSE(f.next(in));
  EXPECT_EQ(f.buffered(), 0u);
}

TEST(LineFramer, LineEndings) {
  LineFramer f(512);
  EXPECT_EQ(feed(f, {"CRLF\r\n"}), (std::vector<Got>{{"CRLF", false, 6}}));
  EXPECT_EQ(feed(f, {"bare\n"}), (std::vector<Got>{{"bare", false, 5}}));
  EXPECT_EQ(feed(f, {"\r\n"}), (std::vector<Got>{{"", false, 2}}));
  EXPECT_EQ(feed(f, {"\n"}), (std::vector<Got>{{"", false, 1}}));
  // Only the one CR right before the LF is part of the line end.
  EXPECT_EQ(feed(f, {"a\rb\r\r\n"}), (std::vector<Got>{{"a\rb\r", false, 6}}));
  EXPECT_EQ(feed(f, {"\r\r\n"}), (std::vector<Got>{{"\r", false, 3}}));
  // A line that is only a CR so far is not a line.
  EXPECT_EQ(feed(f, {"\r"}), std::vector<Got>{});
  EXPECT_TRUE(f.in_line());
  EXPECT_EQ(feed(f, {"\n"}), (std::vector<Got>{{"", false, 2}}));
  EXPECT_FALSE(f.in_line());
}

TEST(LineFramer, ManyLinesInOneRead) {
  LineFramer f(512);
  const std::string buf = "EHLO x\r\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\r\n\r\nDATA\r\nNOO";
  std::string_view in = buf;
  std::vector<Got> got;
  while (auto l = f.next(in)) {
    // Every whole line in the read comes back in place.
    EXPECT_GE(l->text.data(), buf.data());
    EXPECT_LE(l->text.data() + l->text.size(), buf.data() + buf.size());
    got.push_back({std::string(l->text), l->truncated, l->wire_bytes});
  }
  EXPECT_EQ(got, (std::vector<Got>{{"EHLO x", false, 8},
                                   {"MAIL FROM:<a@b>", false, 16},
                                   {"RCPT TO:<c@d>", false, 15},
                                   {"", false, 2},
                                   {"DATA", false, 6}}));
  EXPECT_TRUE(in.empty());
  EXPECT_TRUE(f.in_line());
  EXPECT_EQ(f.buffered(), 3u);  // "NOO"
  EXPECT_EQ(feed(f, {"P\r\n"}), (std::vector<Got>{{"NOOP", false, 6}}));
}

TEST(LineFramer, SplitAtEveryBytePosition) {
  const std::string stream = "MAIL FROM:<a@b.example> SIZE=100\r\nRCPT TO:<x@y>\nDATA\r\n";
  const std::vector<Got> want = {
      {"MAIL FROM:<a@b.example> SIZE=100", false, 34}, {"RCPT TO:<x@y>", false, 14}, {"DATA", false, 6}};
  for (std::size_t k = 0; k <= stream.size(); ++k) {
    LineFramer f(512);
    EXPECT_EQ(feed(f, {stream.substr(0, k), stream.substr(k)}), want) << "split at " << k;
    EXPECT_FALSE(f.in_line());
    EXPECT_EQ(f.buffered(), 0u);
  }
}

TEST(LineFramer, SplitAtEveryPairOfPositions) {
  const std::string stream = "HELO a\r\nNOOP\nQUIT\r\n";
  const std::vector<Got> want = {{"HELO a", false, 8}, {"NOOP", false, 5}, {"QUIT", false, 6}};
  for (std::size_t i = 0; i <= stream.size(); ++i)
    for (std::size_t j = i; j <= stream.size(); ++j) {
      LineFramer f(512);
      EXPECT_EQ(feed(f, {stream.substr(0, i), stream.substr(i, j - i), stream.substr(j)}), want)
          << "split at " << i << "," << j;
    }
}

TEST(LineFramer, OneByteAtATime) {
  LineFramer f(512);
  EXPECT_EQ(feed(f, bytewise("EHLO client.example\r\n\r\nX\nQUIT\r\n")),
            (std::vector<Got>{
                {"EHLO client.example", false, 21}, {"", false, 2}, {"X", false, 2}, {"QUIT", false, 6}}));
}

TEST(LineFramer, EmptyInputIsNoLine) {
  LineFramer f(512);
  std::string_view in;
  EXPECT_FALSE(f.next(in));
  EXPECT_FALSE(f.in_line());
}

// The limit, on every feeding path: one read, two reads split anywhere, and
// one byte at a time. `len` is the line's length without its line end.
struct LimitCase {
  std::size_t len;
  const char* ending;
};

class LineFramerLimit : public ::testing::TestWithParam<LimitCase> {
 protected:
  static constexpr std::size_t kLimit = 16;
  std::string line() const {
    std::string s;
    for (std::size_t i = 0; i < GetParam().len; ++i) s.push_back(static_cast<char>('a' + i % 26));
    return s;
  }
  std::vector<Got> want() const {
    const std::string l = line();
    const std::size_t wire = l.size() + std::string_view(GetParam().ending).size();
    return {{l.substr(0, kLimit), l.size() > kLimit, wire}, {"NEXT", false, 6}};
  }
  std::string stream() const { return line() + GetParam().ending + "NEXT\r\n"; }
};

TEST_P(LineFramerLimit, OneRead) {
  LineFramer f(kLimit);
  EXPECT_EQ(feed(f, {stream()}), want());
}

TEST_P(LineFramerLimit, TwoReadsSplitAnywhere) {
  const std::string s = stream();
  for (std::size_t k = 0; k <= s.size(); ++k) {
    LineFramer f(kLimit);
    EXPECT_EQ(feed(f, {s.substr(0, k), s.substr(k)}), want()) << "split at " << k;
    EXPECT_EQ(f.buffered(), 0u);
  }
}

TEST_P(LineFramerLimit, OneByteAtATime) {
  LineFramer f(kLimit);
  EXPECT_EQ(feed(f, bytewise(stream())), want());
}

INSTANTIATE_TEST_SUITE_P(Boundaries, LineFramerLimit,
                         ::testing::Values(LimitCase{0, "\r\n"}, LimitCase{15, "\r\n"}, LimitCase{16, "\r\n"},
                                           LimitCase{17, "\r\n"}, LimitCase{18, "\r\n"}, LimitCase{100, "\r\n"},
                                           LimitCase{15, "\n"}, LimitCase{16, "\n"}, LimitCase{17, "\n"},
                                           LimitCase{18, "\n"}, LimitCase{100, "\n"}));

TEST(LineFramer, CrAtTheLimitBoundary) {
  constexpr std::size_t kLimit = 8;
  const std::string full(kLimit, 'x');
  // limit bytes, then CR arriving alone at the boundary, then LF: intact.
  {
    LineFramer f(kLimit);
    EXPECT_EQ(feed(f, {full, "\r", "\n"}), (std::vector<Got>{{full, false, kLimit + 2}}));
  }
  {
    LineFramer f(kLimit);
    EXPECT_EQ(feed(f, {full + "\r", "\nNOOP\r\n"}), (std::vector<Got>{{full, false, kLimit + 2}, {"NOOP", false, 6}}));
  }
  // A CR just past the limit that is content (more text follows): truncated.
  for (const char* tail : {"\ry\r\n", "\r\r\n", "\ry\n"}) {
    const std::string s = full + tail;
    for (std::size_t k = 0; k <= s.size(); ++k) {
      LineFramer f(kLimit);
      EXPECT_EQ(feed(f, {s.substr(0, k), s.substr(k)}), (std::vector<Got>{{full, true, s.size()}}))
          << "tail " << tail << " split at " << k;
    }
  }
  // limit - 1 bytes and a CR as the limit-th byte, content: kept whole.
  {
    const std::string s = std::string(kLimit - 1, 'x') + "\r\r\n";
    LineFramer f(kLimit);
    EXPECT_EQ(feed(f, bytewise(s)), (std::vector<Got>{{std::string(kLimit - 1, 'x') + "\r", false, s.size()}}));
  }
}

TEST(LineFramer, Postfix2048Boundary) {
  // Postfix's line_length_limit = 2048 kept "NOOP " + 2043 x as a NOOP
  // (recordings, 7d); one more byte is cut.
  LineFramer f(2048);
  const std::string exact = "NOOP " + std::string(2043, 'y');
  EXPECT_EQ(feed(f, {exact + "\r\n"}), (std::vector<Got>{{exact, false, 2050}}));
  EXPECT_EQ(feed(f, {exact + "z\r\n"}), (std::vector<Got>{{exact, true, 2051}}));
}

TEST(LineFramer, OneMegabyteLineWithoutLfIsNeverBuffered) {
  constexpr std::size_t kLimit = 512;
  LineFramer f(kLimit);
  const std::string chunk(4096, 'A');
  std::size_t sent = 0;
  for (int i = 0; i < 256; ++i) {  // 1 MiB
    std::string_view in = chunk;
    EXPECT_FALSE(f.next(in));
    EXPECT_TRUE(in.empty());
    sent += chunk.size();
    ASSERT_LE(f.buffered(), kLimit + 1) << "after " << sent << " bytes";
    EXPECT_TRUE(f.in_line());
  }
  EXPECT_EQ(f.buffered(), kLimit + 1);
  // The end of the line arrives with the next command in the same read.
  const std::string tail = "AAA\r\nNOOP\r\n";
  std::string_view in = tail;
  auto line = f.next(in);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->text, std::string(kLimit, 'A'));
  EXPECT_TRUE(line->truncated);
  EXPECT_EQ(line->wire_bytes, sent + 5);
  line = f.next(in);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->text, "NOOP");
  EXPECT_FALSE(line->truncated);
  EXPECT_EQ(line->wire_bytes, 6u);
  EXPECT_EQ(f.buffered(), 0u);
  EXPECT_FALSE(f.in_line());
}

TEST(LineFramer, OverlongLineInOneReadIsCutInPlace) {
  // The whole long line is in the input: returned truncated, nothing stored.
  LineFramer f(512);
  const std::string buf = std::string(1 << 20, 'B') + "\r\nQUIT\r\n";
  std::string_view in = buf;
  auto line = f.next(in);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->text.size(), 512u);
  EXPECT_EQ(line->text.data(), buf.data());
  EXPECT_TRUE(line->truncated);
  EXPECT_EQ(line->wire_bytes, (1u << 20) + 2);
  EXPECT_EQ(f.buffered(), 0u);
  line = f.next(in);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->text, "QUIT");
}

TEST(LineFramer, RestOfAnOverlongLineIsDiscardedAndTheNextLineParsed) {
  LineFramer f(8);
  auto got = feed(f, {"MAIL FROM:<very-long", "-address@example.com>", " SIZE=1\r", "\nRCPT TO:<x@y>\r\n"});
  EXPECT_EQ(got, (std::vector<Got>{{"MAIL FRO", true, 50}, {"RCPT TO:", true, 15}}));
  got = feed(f, {"QUIT\r\n"});
  EXPECT_EQ(got, (std::vector<Got>{{"QUIT", false, 6}}));
}

TEST(LineFramer, BufferedLineIsGivenBackAfterItIsReturned) {
  LineFramer f(64);
  std::string part1 = "HELO slow";
  std::string_view in = part1;
  EXPECT_FALSE(f.next(in));
  EXPECT_EQ(f.buffered(), 9u);
  std::string part2 = ".example\r\n";
  in = part2;
  auto line = f.next(in);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->text, "HELO slow.example");
  EXPECT_EQ(line->wire_bytes, 19u);
  EXPECT_EQ(f.buffered(), 0u);
  EXPECT_FALSE(f.in_line());
}

TEST(LineFramer, ResetDropsTheUnfinishedLine) {
  LineFramer f(64);
  EXPECT_TRUE(feed(f, {"GARBAGE-NO-LF"}).empty());
  EXPECT_TRUE(f.in_line());
  f.reset();
  EXPECT_FALSE(f.in_line());
  EXPECT_EQ(f.buffered(), 0u);
  EXPECT_EQ(feed(f, {"NOOP\r\n"}), (std::vector<Got>{{"NOOP", false, 6}}));
  // Also mid-overflow: the discard state goes too.
  LineFramer g(4);
  EXPECT_TRUE(feed(g, {"TOOLONGLINE"}).empty());
  g.reset();
  EXPECT_EQ(feed(g, {"ab\r\n"}), (std::vector<Got>{{"ab", false, 4}}));
}

TEST(LineFramer, SetLimitAppliesToLaterLines) {
  LineFramer f(4);
  EXPECT_EQ(feed(f, {"abcdef\r\n"}), (std::vector<Got>{{"abcd", true, 8}}));
  f.set_limit(6);
  EXPECT_EQ(f.limit(), 6u);
  EXPECT_EQ(feed(f, {"abcdef\r\n"}), (std::vector<Got>{{"abcdef", false, 8}}));
}

TEST(LineFramer, ManyShortLinesDoNotGrowTheBuffer) {
  // 10,000 pipelined commands cut into reads at awkward places.
  std::string stream;
  for (int i = 0; i < 10000; ++i) stream += (i % 2) ? "NOOP\r\n" : "RCPT TO:<x@mx.example.test>\r\n";
  LineFramer f(2048);
  std::size_t lines = 0, max_buffered = 0;
  for (std::size_t pos = 0; pos < stream.size(); pos += 997) {
    std::string_view in = std::string_view(stream).substr(pos, 997);
    while (auto l = f.next(in)) {
      ++lines;
      ASSERT_TRUE(l->text == "NOOP" || l->text == "RCPT TO:<x@mx.example.test>") << l->text;
    }
    max_buffered = std::max(max_buffered, f.buffered());
  }
  EXPECT_EQ(lines, 10000u);
  EXPECT_LT(max_buffered, 30u);  // at most the unfinished part of one command
  EXPECT_EQ(f.buffered(), 0u);
}

}  // namespace
}  // namespace spamsink::smtp
