// Tests for loadgen/engine's make_template (the message every connection
// sends): the commands (EHLO/HELO name, MAIL, one RCPT per recipient with
// local+N@domain for -r > 1); the body after the header block is exactly -b
// bytes for every size that a CRLF-terminated body can have; lines stay
// within SMTP's 1000-byte limit; the DATA form is the BDAT form dot-stuffed
// (lines starting with '.' get another) plus "." CRLF; the BDAT size is the
// unstuffed length.
#include "loadgen/engine.hpp"

#include <gtest/gtest.h>

#include <string>

namespace spamsink::loadgen {
namespace {

// The body: what follows the blank line that ends the headers.
std::string body_of(const std::string& msg) {
  const auto p = msg.find("\r\n\r\n");
  EXPECT_NE(p, std::string::npos);
  return p == std::string::npos ? std::string() : msg.substr(p + 4);
}

std::string reference_stuff(const std::string& m) {
  std::string out;
  bool bol = true;
  for (char c : m) {
    if (bol && c == '.') out += '.';
    out += c;
    bol = c == '\n';
  }
  return out;
}

std::string unstuff(std::string d) {
  // Drop the terminating ".\r\n", then one leading dot per line.
  EXPECT_GE(d.size(), 3u);
  EXPECT_EQ(d.substr(d.size() - 3), ".\r\n");
  d.resize(d.size() - 3);
  std::string out;
  bool bol = true;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (bol && d[i] == '.') {
      EXPECT_TRUE(i + 1 < d.size() && d[i + 1] == '.') << "unstuffed dot at " << i;
      ++i;
    }
    out += d[i];
    bol = d[i] == '\n';
  }
  return out;
}

std::size_t longest_line(const std::string& m) {
  std::size_t best = 0, cur = 0;
  for (char c : m) {
    if (c == '\n') {
      best = std::max(best, cur + 1);
      cur = 0;
    } else {
      ++cur;
    }
  }
  return std::max(best, cur);
}

TEST(MakeTemplate, Commands) {
  Options o;
  o.helo = "client.example";
  o.from = "me@client.example";
  o.to = "you@sink.example";
  MessageTemplate t = make_template(o);
  EXPECT_EQ(t.ehlo, "EHLO client.example\r\n");
  EXPECT_EQ(t.helo, "HELO client.example\r\n");
  EXPECT_EQ(t.mail, "MAIL FROM:<me@client.example>\r\n");
  ASSERT_EQ(t.rcpts.size(), 1u);
  EXPECT_EQ(t.rcpts[0], "RCPT TO:<you@sink.example>\r\n");

  o.recipients = 3;
  t = make_template(o);
  ASSERT_EQ(t.rcpts.size(), 3u);
  EXPECT_EQ(t.rcpts[0], "RCPT TO:<you+1@sink.example>\r\n");
  EXPECT_EQ(t.rcpts[1], "RCPT TO:<you+2@sink.example>\r\n");
  EXPECT_EQ(t.rcpts[2], "RCPT TO:<you+3@sink.example>\r\n");
}

TEST(MakeTemplate, HeadersAndSubject) {
  Options o;
  o.subject = "load test";
  MessageTemplate t = make_template(o);
  EXPECT_EQ(t.bdat_body.rfind("From: <" + o.from + ">\r\nTo: <" + o.to + ">\r\nSubject: load test\r\n", 0), 0u);
}

TEST(MakeTemplate, BodyIsExactlyTheAskedSize) {
  // A body in DATA ends with CRLF, so a 1-byte body cannot exist; every
  // other size can (79 = 74 'X' + CRLF + 'X' + CRLF, say). The sizes just
  // past a full 78-byte line are the ones a naive cut gets wrong.
  std::string wrong;
  for (std::uint64_t n : {0ull, 2ull, 3ull, 4ull, 76ull, 77ull, 78ull, 79ull, 80ull, 81ull, 155ull, 156ull, 157ull,
                          158ull, 1000ull, 1024ull, 4096ull, 65536ull, 1000000ull}) {
    Options o;
    o.body_bytes = n;
    MessageTemplate t = make_template(o);
    const std::string body = body_of(t.bdat_body);
    if (body.size() != n) wrong += " -b " + std::to_string(n) + " gave " + std::to_string(body.size()) + ";";
    if (n > 0) {
      EXPECT_EQ(body.substr(body.size() - 2), "\r\n") << n;
    }
    EXPECT_LE(longest_line(t.bdat_body), 1000u) << n;
  }
  EXPECT_EQ(wrong, "");
}

TEST(MakeTemplate, BdatSizeIsTheUnstuffedLength) {
  for (std::uint64_t n : {0ull, 100ull, 1024ull, 70000ull}) {
    Options o;
    o.body_bytes = n;
    MessageTemplate t = make_template(o);
    EXPECT_EQ(t.bdat_cmd, "BDAT " + std::to_string(t.bdat_body.size()) + " LAST\r\n") << n;
    EXPECT_EQ(t.data_body, reference_stuff(t.bdat_body) + ".\r\n") << n;
    EXPECT_EQ(unstuff(t.data_body), t.bdat_body) << n;
  }
}

TEST(MakeTemplate, DotStuffing) {
  // A subject with line breaks is the one way to put a '.' at the start of
  // a line of the generated message.
  Options o;
  o.subject = "s\r\n.one\r\n..two\r\nthree.\r\n.";
  o.body_bytes = 200;
  MessageTemplate t = make_template(o);
  EXPECT_NE(t.bdat_body.find("\r\n.one\r\n..two\r\nthree.\r\n.\r\n"), std::string::npos);
  EXPECT_NE(t.data_body.find("\r\n..one\r\n...two\r\nthree.\r\n..\r\n"), std::string::npos);
  EXPECT_EQ(t.data_body.size(), t.bdat_body.size() + 3 + 3);  // three stuffed dots and ".\r\n"
  EXPECT_EQ(t.data_body, reference_stuff(t.bdat_body) + ".\r\n");
  EXPECT_EQ(unstuff(t.data_body), t.bdat_body);
  EXPECT_EQ(t.bdat_cmd, "BDAT " + std::to_string(t.bdat_body.size()) + " LAST\r\n");
}

}  // namespace
}  // namespace spamsink::loadgen
