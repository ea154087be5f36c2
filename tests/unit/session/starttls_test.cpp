// Tests for the STARTTLS part of session/session (RFC 3207): offered only
// where the listener has TLS and the persona offers it; 220 then the
// handshake (tls_requested()); bytes pipelined after STARTTLS are dropped,
// never run (CVE-2011-0411); after the handshake the session is back at the
// greeting (HELO forgotten, no transaction) and EHLO no longer lists
// STARTTLS; a second STARTTLS and STARTTLS with arguments are errors; a
// failed handshake ends the session with tls_failed; the SessionRecord
// says tls. Texts: Postfix 3.7 smtpd.c (starttls_cmd).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "session/session.hpp"
#include "smtp/persona.hpp"

namespace spamsink::session {
namespace {

using core::EndReason;

const std::string kReady = "220 2.0.0 Ready to start TLS\r\n";
const std::string kEhloPlain =
    "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n";
const std::string kEhloTls =
    "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n";

class Sink final : public core::EventSink {
 public:
  void message(const core::MessageRecord& m) noexcept override { accepted += m.accepted ? 1 : 0; }
  void session_closed(const core::SessionRecord& s) noexcept override {
    ++closed;
    tls = s.tls;
    reason = s.reason;
    helo = std::string(s.helo);
  }
  int accepted = 0;
  int closed = 0;
  bool tls = false;
  EndReason reason = EndReason::kQuit;
  std::string helo;
};

class StarttlsTest : public ::testing::Test {
 protected:
  void open(bool tls = true) {
    config_.replies = &table_;
    config_.mode = core::Mode::kSink;
    config_.listener = "sink-test";
    config_.tls = tls;
    session_ = std::make_unique<Session>(config_, Peer{core::IpAddress::from_v4(0x7f000001), 40000}, 7, clock_.now(),
                                         &sink_, nullptr);
    std::string out;
    session_->start(out);
  }
  std::string send(std::string_view bytes) {
    std::string out;
    session_->on_bytes(bytes, clock_.now(), out);
    return out;
  }
  Session& s() { return *session_; }

  smtp::ReplyTable table_ = smtp::ReplyTable::postfix("mx.example.test", 10240000);
  SessionConfig config_;
  core::ManualClock clock_;
  Sink sink_;
  std::unique_ptr<Session> session_;
};

TEST_F(StarttlsTest, OfferedInEhloOnlyWithTls) {
  open(false);
  EXPECT_EQ(send("EHLO c.example\r\n"), kEhloPlain);
  EXPECT_EQ(send("STARTTLS\r\n"), "502 5.5.1 Error: command not implemented\r\n");
  EXPECT_FALSE(s().tls_requested());
  open(true);
  EXPECT_EQ(send("EHLO c.example\r\n"), kEhloTls);
  EXPECT_EQ(send("HELO c.example\r\n"), "250 mx.example.test\r\n");  // HELO lists nothing
}

TEST_F(StarttlsTest, NotOfferedWhenThePersonaDoesNot) {
  smtp::Persona p = smtp::builtin_persona("postfix");
  p.starttls = false;
  table_ = smtp::ReplyTable::from_persona(p, "mx.example.test", 10240000);
  open(true);
  EXPECT_EQ(send("EHLO c.example\r\n"), kEhloPlain);
  EXPECT_EQ(send("STARTTLS\r\n"), "502 5.5.1 Error: command not implemented\r\n");
  EXPECT_FALSE(s().tls_requested());
}

TEST_F(StarttlsTest, HandshakeResetsToTheGreetingState) {
  open();
  EXPECT_EQ(send("EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n"), kEhloTls + "250 2.1.0 Ok\r\n");
  EXPECT_EQ(send("STARTTLS\r\n"), kReady);
  EXPECT_TRUE(s().tls_requested());
  EXPECT_FALSE(s().closing());
  s().on_tls_started(clock_.now());
  EXPECT_FALSE(s().tls_requested());
  EXPECT_TRUE(s().tls_active());
  EXPECT_EQ(s().helo(), "");
  // The transaction before TLS is gone: RCPT needs a new MAIL.
  EXPECT_EQ(send("RCPT TO:<x@y.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  // EHLO inside TLS: no STARTTLS, the rest as before.
  EXPECT_EQ(send("EHLO c2.example\r\n"), kEhloPlain);
  EXPECT_EQ(send("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\n"),
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_NE(send("hi\r\n.\r\n").find("250 2.0.0 Ok: queued as "), std::string::npos);
  EXPECT_EQ(send("QUIT\r\n"), "221 2.0.0 Bye\r\n");
  s().finish(clock_.now());
  EXPECT_EQ(sink_.accepted, 1);
  EXPECT_TRUE(sink_.tls);
  EXPECT_EQ(sink_.helo, "c2.example");
}

TEST_F(StarttlsTest, PipelinedPlaintextAfterStarttlsIsDropped) {
  // CVE-2011-0411: "STARTTLS\r\nRSET\r\n" in one packet: only the 220; the
  // RSET (and a MAIL that would survive into TLS) never runs.
  open();
  send("EHLO c.example\r\n");
  EXPECT_EQ(send("STARTTLS\r\nRSET\r\nMAIL FROM:<evil@x.example>\r\n"), kReady);
  EXPECT_EQ(s().tls_discarded(), std::string("RSET\r\nMAIL FROM:<evil@x.example>\r\n").size());
  // Input before the handshake ends is not a command either.
  EXPECT_EQ(send("NOOP\r\n"), "");
  s().on_tls_started(clock_.now());
  // Had the MAIL run, this would be "nested MAIL"; had half a line been kept
  // it would merge with this one.
  EXPECT_EQ(send("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(s().mail_from(), "a@b.example");
}

TEST_F(StarttlsTest, PartialLineAfterStarttlsIsDropped) {
  open();
  EXPECT_EQ(send("STARTTLS\r\nMAIL FROM:<ev"), kReady);  // accepted before EHLO, as Postfix does
  s().on_tls_started(clock_.now());
  EXPECT_EQ(send("NOOP\r\n"), "250 2.0.0 Ok\r\n");
}

TEST_F(StarttlsTest, TwiceIsAnError) {
  open();
  send("EHLO c.example\r\n");
  EXPECT_EQ(send("STARTTLS\r\n"), kReady);
  s().on_tls_started(clock_.now());
  EXPECT_EQ(send("STARTTLS\r\n"), "554 5.5.1 Error: TLS already active\r\n");
  EXPECT_FALSE(s().tls_requested());
  EXPECT_EQ(s().errors(), 1u);
  EXPECT_FALSE(s().closing());
}

TEST_F(StarttlsTest, ArgumentsAreASyntaxError) {
  open();
  EXPECT_EQ(send("STARTTLS now\r\n"), "501 5.5.4 Syntax: STARTTLS\r\n");
  EXPECT_FALSE(s().tls_requested());
  EXPECT_EQ(s().errors(), 1u);
}

TEST_F(StarttlsTest, FailedHandshakeEndsTheSession) {
  open();
  EXPECT_EQ(send("STARTTLS\r\n"), kReady);
  s().on_tls_failed();
  EXPECT_TRUE(s().closing());
  EXPECT_EQ(s().end_reason(), EndReason::kTlsFailed);
  s().finish(clock_.now());
  EXPECT_EQ(sink_.closed, 1);
  EXPECT_FALSE(sink_.tls);
  EXPECT_EQ(sink_.reason, EndReason::kTlsFailed);
  EXPECT_EQ(core::to_string(EndReason::kTlsFailed), "tls_failed");
}

TEST_F(StarttlsTest, EveryPersonaHasItsStarttlsTexts) {
  for (const auto& name : smtp::builtin_persona_names()) {
    table_ = smtp::ReplyTable::from_persona(smtp::builtin_persona(name), "mx.example.test", 1000);
    open();
    const std::string ehlo = send("EHLO c.example\r\n");
    EXPECT_NE(ehlo.find("STARTTLS\r\n"), std::string::npos) << name;
    const std::string ready = send("STARTTLS\r\n");
    EXPECT_EQ(ready.substr(0, 4), "220 ") << name;
    s().on_tls_started(clock_.now());
    const std::string after = send("EHLO c.example\r\n");
    EXPECT_EQ(after.find("STARTTLS"), std::string::npos) << name << after;
    EXPECT_EQ(after.substr(0, 3), "250") << name;
    const std::string again = send("STARTTLS\r\n");
    EXPECT_TRUE(again[0] == '5') << name << again;
  }
}

}  // namespace
}  // namespace spamsink::session
