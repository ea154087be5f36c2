// Tests for relay mode and spamtraps inside session/session: the facts a
// relay session reports (attempts, tests, distinct domains, forwarded),
// relay tests by foreign recipient and by our own address in a small body,
// the forward grant (asked at DATA/BDAT start, body kept only then, never
// past the limit, handed over whole to the first recipient only, returned
// when the message is too big, refused or cut off), and trap hits on sink
// and relay sessions.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "session/session.hpp"

namespace spamsink::session {
namespace {

struct Msg {
  bool accepted, relay_attempt, relay_test, forwarded;
  std::uint64_t size;
};

class Sink final : public core::EventSink {
 public:
  void message(const core::MessageRecord& m) noexcept override {
    messages.push_back({m.accepted, m.relay_attempt, m.relay_test, m.forwarded, m.size_bytes});
  }
  void session_closed(const core::SessionRecord& s) noexcept override {
    closed = s;
    domains = std::string(s.relay_domains);
    trap_rcpt = std::string(s.trap_rcpt);
    closed.relay_domains = closed.trap_rcpt = closed.listener = closed.helo = closed.mail_from = {};
    ++sessions;
  }
  std::vector<Msg> messages;
  core::SessionRecord closed;
  std::string domains, trap_rcpt;
  int sessions = 0;
};

class Hooks final : public RelayHooks {
 public:
  bool begin_message(const core::IpAddress& ip, core::TimePoint& token) override {
    ++begins;
    last_ip = ip;
    token = core::TimePoint{} + core::Seconds{begins};
    return grants-- > 0;
  }
  std::uint64_t forward_size_limit() const override { return limit; }
  void forward(const core::IpAddress&, core::TimePoint, std::string_view from, std::string_view rcpt,
               std::vector<char>&& body) override {
    forwards.push_back({std::string(from), std::string(rcpt), std::string(body.begin(), body.end())});
  }
  void cancel(core::TimePoint) override { ++cancels; }

  struct Fwd {
    std::string from, rcpt, body;
  };
  int grants = 0;
  int begins = 0;
  int cancels = 0;
  std::uint64_t limit = 1024;
  core::IpAddress last_ip;
  std::vector<Fwd> forwards;
};

class RelaySessionTest : public ::testing::Test {
 protected:
  void open(core::Mode mode = core::Mode::kRelay) {
    config_.replies = &table_;
    config_.mode = mode;
    config_.listener = "relay-test";
    config_.relay = &hooks_;
    config_.spamtraps = &traps_;
    Peer peer{core::IpAddress::from_v4(0xc6336401), 40000, core::IpAddress::from_v4(0xc0000201)};  // us: 192.0.2.1
    session_ = std::make_unique<Session>(config_, peer, 7, clock_.now(), &sink_, nullptr);
    std::string out;
    session_->start(out);
    send("EHLO bot.example\r\n");
  }
  std::string send(std::string_view in) {
    std::string out;
    session_->on_bytes(in, clock_.now(), out);
    return out;
  }
  void message(std::string_view from, std::vector<std::string> rcpts, std::string_view body) {
    send("MAIL FROM:<" + std::string(from) + ">\r\n");
    for (const auto& r : rcpts) send("RCPT TO:<" + r + ">\r\n");
    ASSERT_EQ(send("DATA\r\n").substr(0, 3), "354");
    const std::string reply = send(std::string(body) + ".\r\n");
    ASSERT_EQ(reply.substr(0, 4), "250 ") << reply;
  }
  void close() { session_->finish(clock_.now()); }

  core::ManualClock clock_;
  smtp::ReplyTable table_ = smtp::ReplyTable::postfix("mx.example.test", 10240000);
  SessionConfig config_;
  SpamtrapList traps_;
  Sink sink_;
  Hooks hooks_;
  std::unique_ptr<Session> session_;
};

TEST_F(RelaySessionTest, ForeignRecipientIsARelayTestAndDomainsAreDistinct) {
  open();
  message("a@bot.example", {"x@victim.example", "y@VICTIM.example", "z@other.example"}, "hi\r\n");
  message("a@bot.example", {"u@bot.example"}, "same domain\r\n");
  message("", {"u@far.example"}, "null sender, no address in it\r\n");
  close();
  ASSERT_EQ(sink_.messages.size(), 3u);
  EXPECT_TRUE(sink_.messages[0].relay_attempt);
  EXPECT_TRUE(sink_.messages[0].relay_test);
  EXPECT_TRUE(sink_.messages[1].relay_attempt);
  EXPECT_FALSE(sink_.messages[1].relay_test);
  EXPECT_FALSE(sink_.messages[2].relay_test);
  EXPECT_EQ(sink_.closed.relay_attempts, 3u);
  EXPECT_EQ(sink_.closed.relay_tests, 1u);
  EXPECT_EQ(sink_.domains, "victim.example,other.example,bot.example,far.example");
  EXPECT_FALSE(sink_.closed.relay_domains_truncated);
  EXPECT_EQ(hooks_.begins, 3);  // asked at every DATA
  EXPECT_EQ(hooks_.forwards.size(), 0u);
}

TEST_F(RelaySessionTest, OwnAddressInASmallBodyIsARelayTest) {
  open();
  message("a@bot.example", {"u@bot.example"}, "Subject: test\r\n\r\nrelay check via 192.0.2.1\r\n");
  message("a@bot.example", {"u@bot.example"}, "via 192.0.2.10\r\n");
  // Our address past kRelayTestBodyBytes: not small, not a test.
  message("a@bot.example", {"u@bot.example"}, std::string(kRelayTestBodyBytes, 'x') + "\r\n192.0.2.1\r\n");
  close();
  ASSERT_EQ(sink_.messages.size(), 3u);
  EXPECT_TRUE(sink_.messages[0].relay_test);
  EXPECT_FALSE(sink_.messages[1].relay_test);
  EXPECT_FALSE(sink_.messages[2].relay_test);
}

TEST_F(RelaySessionTest, GrantedMessageIsForwardedWholeToTheFirstRecipient) {
  hooks_.grants = 1;
  open();
  const std::string body = "Subject: hi\r\n\r\nline\r\n..dotted\r\nend\r\n";
  message("a@bot.example", {"first@victim.example", "second@victim.example"}, body);
  message("a@bot.example", {"again@victim.example"}, "not granted\r\n");
  close();
  ASSERT_EQ(hooks_.forwards.size(), 1u);
  EXPECT_EQ(hooks_.forwards[0].from, "a@bot.example");
  EXPECT_EQ(hooks_.forwards[0].rcpt, "first@victim.example");
  EXPECT_EQ(hooks_.forwards[0].body, "Subject: hi\r\n\r\nline\r\n.dotted\r\nend\r\n");  // unstuffed
  EXPECT_EQ(hooks_.last_ip, core::IpAddress::from_v4(0xc6336401));
  EXPECT_TRUE(sink_.messages[0].forwarded);
  EXPECT_FALSE(sink_.messages[1].forwarded);
  EXPECT_EQ(sink_.closed.forwarded, 1u);
  EXPECT_EQ(hooks_.cancels, 0);
  EXPECT_EQ(session_->held_body_bytes(), 0u);
}

TEST_F(RelaySessionTest, BodyKeptNeverPassesTheLimitAndABigOneIsNotForwarded) {
  hooks_.grants = 1;
  hooks_.limit = 1000;
  open();
  send("MAIL FROM:<a@bot.example>\r\nRCPT TO:<v@victim.example>\r\nDATA\r\n");
  std::size_t peak = 0;
  for (int i = 0; i < 40; ++i) {
    send("0123456789012345678901234567890123456789\r\n");  // 42 bytes a line
    peak = std::max(peak, session_->held_body_bytes());
    EXPECT_LE(session_->held_body_bytes(), hooks_.limit);
  }
  EXPECT_EQ(session_->held_body_bytes(), 0u);  // dropped once it passed the limit
  EXPECT_GT(peak, 900u);
  ASSERT_EQ(send(".\r\n").substr(0, 4), "250 ");
  EXPECT_TRUE(hooks_.forwards.empty());
  EXPECT_EQ(hooks_.cancels, 1);  // the grant came back
  close();
  EXPECT_FALSE(sink_.messages[0].forwarded);
}

TEST_F(RelaySessionTest, GrantReturnedWhenTheSessionEndsInsideData) {
  hooks_.grants = 1;
  open();
  send("MAIL FROM:<a@bot.example>\r\nRCPT TO:<v@victim.example>\r\nDATA\r\npart of a body\r\n");
  EXPECT_GT(session_->held_body_bytes(), 0u);
  session_->on_peer_gone(false);
  close();
  EXPECT_EQ(hooks_.cancels, 1);
  EXPECT_TRUE(hooks_.forwards.empty());
  EXPECT_EQ(session_->held_body_bytes(), 0u);
}

TEST_F(RelaySessionTest, BdatMessagesAreForwardedToo) {
  hooks_.grants = 1;
  open();
  send("MAIL FROM:<a@bot.example>\r\nRCPT TO:<v@victim.example>\r\n");
  EXPECT_EQ(send("BDAT 6\r\nhello\n").substr(0, 3), "250");
  EXPECT_EQ(send("BDAT 7 LAST\r\n.world\n").substr(0, 3), "250");
  close();
  ASSERT_EQ(hooks_.forwards.size(), 1u);
  EXPECT_EQ(hooks_.forwards[0].body, "hello\n.world\n");  // BDAT is not dot-stuffed
  EXPECT_EQ(sink_.closed.relay_attempts, 1u);
}

TEST_F(RelaySessionTest, SinkModeNeverAsksTheHooks) {
  hooks_.grants = 5;
  open(core::Mode::kSink);
  message("a@bot.example", {"x@victim.example"}, "192.0.2.1\r\n");
  close();
  EXPECT_EQ(hooks_.begins, 0);
  EXPECT_FALSE(sink_.messages[0].relay_attempt);
  EXPECT_FALSE(sink_.messages[0].relay_test);
  EXPECT_EQ(sink_.closed.relay_attempts, 0u);
  EXPECT_TRUE(sink_.domains.empty());
}

TEST_F(RelaySessionTest, TrapHitOnSinkAndRelay) {
  std::string err;
  ASSERT_TRUE(SpamtrapList::parse("*@trap.example\n", traps_, err)) << err;
  for (core::Mode mode : {core::Mode::kSink, core::Mode::kRelay}) {
    sink_ = Sink{};
    open(mode);
    message("a@bot.example", {"ok@victim.example", "Someone@TRAP.example", "two@trap.example"}, "x\r\n");
    close();
    EXPECT_TRUE(sink_.closed.trap_hit);
    EXPECT_EQ(sink_.trap_rcpt, "Someone@TRAP.example");  // the first, as given
  }
  sink_ = Sink{};
  open(core::Mode::kSink);
  message("a@bot.example", {"ok@victim.example"}, "x\r\n");
  close();
  EXPECT_FALSE(sink_.closed.trap_hit);
  EXPECT_TRUE(sink_.trap_rcpt.empty());
}

}  // namespace
}  // namespace spamsink::session
