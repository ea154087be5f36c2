// Tests of session/tarpit: the few-byte conversation of a held connection:
// verbs recognised a byte at a time, replies in order and dripped, never a
// 250 for a message, and its size.
#include "session/tarpit.hpp"

#include <gtest/gtest.h>

#include <string>

namespace spamsink::session {
namespace {

using Phase = TarpitConversation::Phase;

class TarpitTest : public ::testing::Test {
 protected:
  // Everything the conversation has to say, drained `drip` bytes at a time.
  std::string drain(std::size_t drip = 1) {
    std::string out;
    for (int guard = 0; guard < 100000 && c_.has_output(); ++guard) {
      std::string_view v = c_.peek_output(t_, drip);
      EXPECT_LE(v.size(), drip);
      out.append(v);
      c_.consumed(t_, v.size());
    }
    return out;
  }
  // Feeds one byte at a time, draining after each line as the drip would.
  std::string feed_bytewise(std::string_view in) {
    std::string out;
    for (char ch : in) {
      c_.on_bytes(std::string_view(&ch, 1));
      if (ch == '\n') out += drain(7);
    }
    return out + drain(7);
  }
  smtp::ReplyTable t_ = smtp::ReplyTable::postfix("mx.example.test", 10240000);
  TarpitConversation c_;
};

TEST_F(TarpitTest, IsARecordNotASession) { EXPECT_LE(sizeof(TarpitConversation), 24u); }

TEST_F(TarpitTest, GreetingFirstThenNothing) {
  EXPECT_TRUE(c_.has_output());
  EXPECT_EQ(drain(1), "220 mx.example.test ESMTP Postfix (Debian/GNU)\r\n");
  EXPECT_FALSE(c_.has_output());
  EXPECT_EQ(c_.peek_output(t_, 10), "");
  EXPECT_EQ(c_.phase(), Phase::kGreeting);
}

TEST_F(TarpitTest, AWholeTransactionNeverGets250ForTheMessage) {
  drain();
  c_.on_bytes("EHLO bot.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
  std::string out = drain(3);
  EXPECT_EQ(out, std::string(t_.get(smtp::ReplyId::kEhlo)) + "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n" +
                     "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(c_.phase(), Phase::kData);
  c_.on_bytes("Subject: spam\r\n\r\nMAIL FROM:<not a command>\r\n..stuffed\r\n.\r\n");
  EXPECT_EQ(drain(), "451 4.3.0 Error: queue file write error\r\n");
  EXPECT_EQ(c_.phase(), Phase::kDataEnd);
  c_.on_bytes("QUIT\r\n");
  EXPECT_FALSE(c_.done());
  EXPECT_EQ(drain(), "221 2.0.0 Bye\r\n");
  EXPECT_TRUE(c_.done());
  EXPECT_EQ(c_.phase(), Phase::kQuit);
}

TEST_F(TarpitTest, ByteAtATimeInputGivesTheSameReplies) {
  drain();
  EXPECT_EQ(feed_bytewise("helo x\r\nmail from:<a@b>\r\nnoop\r\nrset\r\nvrfy x\r\nFOO\r\nEHLOX\r\n\r\n"),
            "250 mx.example.test\r\n250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"
            "502 5.5.1 VRFY command is disabled\r\n500 5.5.2 Error: command not recognized\r\n"
            "500 5.5.2 Error: command not recognized\r\n500 5.5.2 Error: command not recognized\r\n");
}

TEST_F(TarpitTest, BodyEndsOnlyOnCrLfDotCrLfSplitAnywhere) {
  drain();
  c_.on_bytes("DATA\r\n");
  drain();
  // A bare LF dot does not end it; the terminator split byte by byte does.
  EXPECT_EQ(feed_bytewise("line\n.\nmore\r\n.x\r\n"), "");
  EXPECT_EQ(feed_bytewise("\r\n.\r\n"), "451 4.3.0 Error: queue file write error\r\n");
  // Back in command mode.
  c_.on_bytes("NOOP\r\n");
  EXPECT_EQ(drain(), "250 2.0.0 Ok\r\n");
}

TEST_F(TarpitTest, LongLinesKeepNothing) {
  drain();
  c_.on_bytes("MAIL " + std::string(100000, 'x') + "\r\n");
  EXPECT_EQ(drain(), "250 2.1.0 Ok\r\n");
  EXPECT_LE(sizeof(c_), 24u);
}

TEST_F(TarpitTest, RepliesBeyondTheQueueAreDropped) {
  drain();
  std::string many;
  for (int i = 0; i < 20; ++i) many += "NOOP\r\n";
  c_.on_bytes(many);
  std::string out = drain();
  EXPECT_EQ(out, [] {
    std::string s;
    for (int i = 0; i < TarpitConversation::kQueue; ++i) s += "250 2.0.0 Ok\r\n";
    return s;
  }());
}

TEST_F(TarpitTest, AfterQuitNothingIsRead) {
  drain();
  c_.on_bytes("QUIT\r\nNOOP\r\n");
  EXPECT_EQ(drain(), "221 2.0.0 Bye\r\n");
  EXPECT_TRUE(c_.done());
  EXPECT_EQ(c_.commands(), 1u);
}

}  // namespace
}  // namespace spamsink::session

namespace spamsink::session {
namespace {

TEST(TarpitEarlyTalk, TalkingBeforeTheGreetingIsWhole) {
  smtp::ReplyTable t = smtp::ReplyTable::postfix("mx.example.test", 10240000);
  TarpitConversation c;
  std::string_view g = c.peek_output(t, 3);
  c.consumed(t, g.size());  // "220" out, the rest not yet
  EXPECT_FALSE(c.early_talker());
  c.on_bytes("E");
  EXPECT_TRUE(c.early_talker());
}

TEST(TarpitEarlyTalk, WaitingForTheWholeGreetingIsFineAndSoIsWaitingFor354) {
  smtp::ReplyTable t = smtp::ReplyTable::postfix("mx.example.test", 10240000);
  TarpitConversation c;
  auto drain = [&] {
    while (c.has_output()) c.consumed(t, c.peek_output(t, 5).size());
  };
  drain();
  c.on_bytes("EHLO x\r\nDATA\r\n");
  EXPECT_FALSE(c.early_talker());
  // The body before the 354 is whole: early talk (postscreen: after DATA).
  c.consumed(t, c.peek_output(t, 1 << 10).size());  // the EHLO reply
  c.on_bytes("Subject: x\r\n");
  EXPECT_TRUE(c.early_talker());
}

TEST(TarpitEarlyTalk, DeferRefusesMailAndRcpt) {
  smtp::ReplyTable t = smtp::ReplyTable::postfix("mx.example.test", 10240000);
  for (bool perm : {false, true}) {
    TarpitConversation c;
    while (c.has_output()) c.consumed(t, c.peek_output(t, 64).size());
    c.defer_transactions(perm);
    c.on_bytes("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nNOOP\r\n");
    std::string out;
    while (c.has_output()) {
      auto v = c.peek_output(t, 64);
      out.append(v);
      c.consumed(t, v.size());
    }
    const std::string no = perm ? "550 5.5.1 Protocol error\r\n" : "450 4.5.1 Protocol error\r\n";
    EXPECT_EQ(out, no + no + "250 2.0.0 Ok\r\n");
  }
}

}  // namespace
}  // namespace spamsink::session
