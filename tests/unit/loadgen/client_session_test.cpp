// Tests for loadgen/client_session with scripted server replies and a fake
// ClientEvents that records claims, outcomes and error replies in order.
// Covers: the exact bytes of the non-pipelined dialogue at every step
// (EHLO, MAIL, RCPT per recipient, DATA, the body as a view of the
// template, QUIT); the same dialogue fed one byte at a time; -m (messages
// per connection) and the -n budget (QUIT when either runs out, no claim
// past the per-connection limit); 4xx/5xx at the greeting, EHLO (5xx falls
// back to HELO), HELO, MAIL, one of several RCPTs, all RCPTs, DATA and the
// end of data: each counted by code and stage, the message failed, RSET when
// the transaction is still open, then the next message; multi-line replies;
// PIPELINING (one write for MAIL + RCPTs + DATA, only when offered) and BDAT
// (only with CHUNKING, alone and pipelined); the server closing mid-message
// (message failed, kFailed); a malformed reply (protocol_error).
#include "loadgen/client_session.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace spamsink::loadgen {
namespace {

using State = ClientSession::State;

constexpr const char* kGreeting = "220 mx.example.test ESMTP Postfix (Debian/GNU)\r\n";
constexpr const char* kEhloPlain = "250-mx.example.test\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n";
constexpr const char* kEhloAll =
    "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
    "250-SMTPUTF8\r\n250 CHUNKING\r\n";
constexpr const char* kEhloPipeOnly = "250-mx.example.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n";
constexpr const char* kEhloChunkOnly = "250-mx.example.test\r\n250-SIZE 10240000\r\n250 CHUNKING\r\n";
constexpr const char* kMailOk = "250 2.1.0 Ok\r\n";
constexpr const char* kRcptOk = "250 2.1.5 Ok\r\n";
constexpr const char* kGoAhead = "354 End data with <CR><LF>.<CR><LF>\r\n";
constexpr const char* kQueued = "250 2.0.0 Ok: queued as 4F1C2D3E5A6\r\n";
constexpr const char* kRsetOk = "250 2.0.0 Ok\r\n";
constexpr const char* kBye = "221 2.0.0 Bye\r\n";

constexpr const char* kEhlo = "EHLO client.example\r\n";
constexpr const char* kHelo = "HELO client.example\r\n";
constexpr const char* kMail = "MAIL FROM:<from@client.example>\r\n";
constexpr const char* kData = "DATA\r\n";
constexpr const char* kRset = "RSET\r\n";
constexpr const char* kQuit = "QUIT\r\n";

std::string rcpt(int i) { return "RCPT TO:<r" + std::to_string(i) + "@sink.example>\r\n"; }

MessageTemplate make_tmpl(int rcpts) {
  MessageTemplate t;
  t.ehlo = kEhlo;
  t.helo = kHelo;
  t.mail = kMail;
  for (int i = 1; i <= rcpts; ++i) t.rcpts.push_back(rcpt(i));
  t.bdat_body = "Subject: t\r\n\r\nbody\r\n.dot\r\n";
  t.data_body = "Subject: t\r\n\r\nbody\r\n..dot\r\n.\r\n";
  t.bdat_cmd = "BDAT " + std::to_string(t.bdat_body.size()) + " LAST\r\n";
  return t;
}

struct FakeEvents final : ClientEvents {
  std::uint64_t budget = 1;
  int claims = 0;  // calls, granted or not
  std::vector<bool> done;
  std::vector<std::pair<int, Stage>> errors;
  std::vector<std::string> log;  // everything, in order

  bool claim_message() override {
    ++claims;
    const bool ok = budget > 0;
    if (ok) --budget;
    log.push_back(ok ? "claim" : "claim refused");
    return ok;
  }
  void message_done(bool accepted) override {
    done.push_back(accepted);
    log.push_back(accepted ? "done ok" : "done failed");
  }
  void reply_error(int code, Stage stage) override {
    errors.emplace_back(code, stage);
    log.push_back("error " + std::to_string(code) + " " + std::string(to_string(stage)));
  }
};

using Errors = std::vector<std::pair<int, Stage>>;

class ClientSessionTest : public ::testing::Test {
 protected:
  void start(int rcpts = 1, std::uint32_t per_conn = 1, std::uint64_t budget = 1, bool pipelining = false,
             bool bdat = false) {
    t_ = make_tmpl(rcpts);
    o_.messages_per_conn = per_conn;
    o_.pipelining = pipelining;
    o_.bdat = bdat;
    ev_.budget = budget;
    cs_ = std::make_unique<ClientSession>(t_, o_, ev_);
  }

  // Feeds `reply` (whole) and returns the head; the body is left in body_.
  std::string say(std::string_view reply) {
    Output out;
    cs_->on_bytes(reply, out);
    body_ = out.body;
    return out.head;
  }
  // Feeds `reply` and returns head + body as sent on the wire.
  std::string wire(std::string_view reply) {
    std::string h = say(reply);
    return h + std::string(body_);
  }
  // Greeting and EHLO, checking the bytes; returns what followed the EHLO reply.
  std::string greet(const char* ehlo_reply) {
    EXPECT_EQ(say(kGreeting), kEhlo);
    EXPECT_EQ(cs_->state(), State::kEhlo);
    return wire(ehlo_reply);
  }
  // One accepted non-pipelined DATA transaction after the MAIL went out;
  // returns what the client sent after the final reply.
  std::string plain_transaction(int rcpts) {
    EXPECT_EQ(say(kMailOk), rcpt(1));
    for (int i = 1; i < rcpts; ++i) EXPECT_EQ(say(kRcptOk), rcpt(i + 1));
    EXPECT_EQ(say(kRcptOk), kData);
    EXPECT_EQ(say(kGoAhead), "");
    EXPECT_EQ(body_, t_.data_body);
    return wire(kQueued);
  }

  MessageTemplate t_;
  ClientOptions o_;
  FakeEvents ev_;
  std::unique_ptr<ClientSession> cs_;
  std::string_view body_;
};

TEST_F(ClientSessionTest, FullDialogueExactBytes) {
  start(/*rcpts=*/3);
  EXPECT_EQ(cs_->state(), State::kGreeting);
  EXPECT_FALSE(cs_->finished());

  EXPECT_EQ(say(kGreeting), kEhlo);
  EXPECT_EQ(body_.size(), 0u);
  EXPECT_EQ(cs_->state(), State::kEhlo);
  EXPECT_EQ(ev_.claims, 0);  // nothing claimed before the server is ready

  // PIPELINING is offered but not asked for: one command at a time.
  EXPECT_EQ(say(kEhloAll), kMail);
  EXPECT_TRUE(body_.empty());
  EXPECT_EQ(cs_->state(), State::kMail);
  EXPECT_TRUE(cs_->message_open());
  EXPECT_EQ(cs_->messages_started(), 1u);
  EXPECT_EQ(ev_.claims, 1);

  EXPECT_EQ(say(kMailOk), rcpt(1));
  EXPECT_EQ(cs_->state(), State::kRcpt);
  EXPECT_EQ(say(kRcptOk), rcpt(2));
  EXPECT_EQ(say(kRcptOk), rcpt(3));
  EXPECT_EQ(say(kRcptOk), kData);
  EXPECT_EQ(cs_->state(), State::kData);

  EXPECT_EQ(say(kGoAhead), "");
  EXPECT_EQ(cs_->state(), State::kBody);
  // The body is the template itself, not a copy.
  EXPECT_EQ(body_.data(), t_.data_body.data());
  EXPECT_EQ(body_.size(), t_.data_body.size());

  EXPECT_EQ(say(kQueued), kQuit);
  EXPECT_TRUE(body_.empty());
  EXPECT_EQ(cs_->state(), State::kQuit);
  EXPECT_FALSE(cs_->message_open());

  EXPECT_EQ(wire(kBye), "");
  EXPECT_EQ(cs_->state(), State::kDone);
  EXPECT_TRUE(cs_->finished());
  cs_->on_closed();
  EXPECT_EQ(cs_->state(), State::kDone);

  EXPECT_EQ(ev_.log, (std::vector<std::string>{"claim", "done ok"}));
  EXPECT_TRUE(ev_.errors.empty());
  EXPECT_FALSE(cs_->protocol_error());
  EXPECT_EQ(cs_->last_code(), 221);
  EXPECT_EQ(cs_->last_text(), "2.0.0 Bye");
}

TEST_F(ClientSessionTest, ExtensionsFromEhlo) {
  start();
  greet(kEhloAll);
  EXPECT_EQ(cs_->extensions(), smtp::kExtPipelining | smtp::kExtSize | smtp::kExtEnhancedStatus | smtp::kExt8BitMime |
                                   smtp::kExtSmtpUtf8 | smtp::kExtChunking);
}

TEST_F(ClientSessionTest, DialogueFedOneByteAtATime) {
  start(/*rcpts=*/2, /*per_conn=*/2, /*budget=*/2);
  std::string server = std::string(kGreeting) + kEhloPlain;
  for (int m = 0; m < 2; ++m) server += std::string(kMailOk) + kRcptOk + kRcptOk + kGoAhead + kQueued;
  server += kBye;
  std::string client;
  for (char c : server) {
    Output out;
    cs_->on_bytes(std::string_view(&c, 1), out);
    client += out.head;
    client.append(out.body);
  }
  std::string one = std::string(kMail) + rcpt(1) + rcpt(2) + kData + t_.data_body;
  EXPECT_EQ(client, kEhlo + one + one + kQuit);
  EXPECT_EQ(cs_->state(), State::kDone);
  EXPECT_EQ(ev_.done, (std::vector<bool>{true, true}));
}

TEST_F(ClientSessionTest, MessagesPerConnection) {
  start(/*rcpts=*/1, /*per_conn=*/3, /*budget=*/10);
  EXPECT_EQ(greet(kEhloPlain), kMail);
  EXPECT_EQ(plain_transaction(1), kMail);
  EXPECT_EQ(plain_transaction(1), kMail);
  EXPECT_EQ(plain_transaction(1), kQuit);
  EXPECT_EQ(cs_->messages_started(), 3u);
  EXPECT_EQ(ev_.done, (std::vector<bool>{true, true, true}));
  // The per-connection limit is checked before the budget: no message is
  // taken from the budget that this connection will not send.
  EXPECT_EQ(ev_.claims, 3);
  EXPECT_EQ(ev_.budget, 7u);
  EXPECT_EQ(say(kBye), "");
  EXPECT_EQ(cs_->state(), State::kDone);
}

TEST_F(ClientSessionTest, UnlimitedPerConnectionStopsWhenBudgetIsExhausted) {
  start(/*rcpts=*/1, /*per_conn=*/0, /*budget=*/2);
  EXPECT_EQ(greet(kEhloPlain), kMail);
  EXPECT_EQ(plain_transaction(1), kMail);
  EXPECT_EQ(plain_transaction(1), kQuit);
  EXPECT_EQ(ev_.log, (std::vector<std::string>{"claim", "done ok", "claim", "done ok", "claim refused"}));
  EXPECT_EQ(cs_->messages_started(), 2u);
  EXPECT_FALSE(cs_->message_open());
}

TEST_F(ClientSessionTest, NoBudgetAtAllQuitsAfterEhlo) {
  start(/*rcpts=*/1, /*per_conn=*/5, /*budget=*/0);
  EXPECT_EQ(greet(kEhloPlain), kQuit);
  EXPECT_EQ(cs_->state(), State::kQuit);
  EXPECT_EQ(cs_->messages_started(), 0u);
  EXPECT_TRUE(ev_.done.empty());
  say(kBye);
  EXPECT_EQ(cs_->state(), State::kDone);
}

TEST_F(ClientSessionTest, GreetingRefused) {
  for (const char* g : {"554 5.7.1 mx.example.test go away\r\n", "421 4.3.2 Service shutting down\r\n"}) {
    ev_ = FakeEvents{};
    start();
    EXPECT_EQ(say(g), kQuit) << g;
    EXPECT_EQ(cs_->state(), State::kQuit);
    EXPECT_EQ(ev_.errors, (Errors{{std::stoi(std::string(g, 3)), Stage::kGreeting}}));
    EXPECT_EQ(ev_.claims, 0);
    EXPECT_TRUE(ev_.done.empty());
    cs_->on_closed();  // a server that refused service hangs up: not a failure
    EXPECT_EQ(cs_->state(), State::kDone);
  }
}

TEST_F(ClientSessionTest, Ehlo5xxFallsBackToHelo) {
  start(/*rcpts=*/2, /*per_conn=*/1, /*budget=*/1, /*pipelining=*/true, /*bdat=*/true);
  EXPECT_EQ(greet("502 5.5.2 Error: command not recognized\r\n"), kHelo);
  EXPECT_EQ(cs_->state(), State::kHelo);
  EXPECT_EQ(ev_.errors, (Errors{{502, Stage::kHelo}}));
  // After HELO there are no extensions: no pipelining, no BDAT.
  EXPECT_EQ(wire("250 mx.example.test\r\n"), kMail);
  EXPECT_EQ(cs_->extensions(), 0u);
  EXPECT_EQ(plain_transaction(2), kQuit);
  EXPECT_EQ(ev_.done, (std::vector<bool>{true}));
}

TEST_F(ClientSessionTest, Ehlo4xxQuits) {
  start();
  EXPECT_EQ(greet("421 4.7.0 mx.example.test Error: too many errors\r\n"), kQuit);
  EXPECT_EQ(ev_.errors, (Errors{{421, Stage::kHelo}}));
  EXPECT_EQ(ev_.claims, 0);
}

TEST_F(ClientSessionTest, HeloRefusedToo) {
  start();
  EXPECT_EQ(greet("500 5.5.2 Error: bad syntax\r\n"), kHelo);
  EXPECT_EQ(wire("501 5.5.2 Syntax: HELO hostname\r\n"), kQuit);
  EXPECT_EQ(ev_.errors, (Errors{{500, Stage::kHelo}, {501, Stage::kHelo}}));
  EXPECT_EQ(ev_.claims, 0);
}

TEST_F(ClientSessionTest, MailRefusedThenRsetAndNextMessage) {
  start(/*rcpts=*/1, /*per_conn=*/2, /*budget=*/2);
  EXPECT_EQ(greet(kEhloPlain), kMail);
  EXPECT_EQ(wire("451 4.3.0 Error: queue file write error\r\n"), kRset);
  EXPECT_EQ(cs_->state(), State::kRset);
  EXPECT_FALSE(cs_->message_open());
  EXPECT_EQ(ev_.errors, (Errors{{451, Stage::kMail}}));
  EXPECT_EQ(ev_.done, (std::vector<bool>{false}));
  EXPECT_EQ(wire(kRsetOk), kMail);
  EXPECT_EQ(plain_transaction(1), kQuit);
  EXPECT_EQ(ev_.done, (std::vector<bool>{false, true}));
  EXPECT_EQ(ev_.errors.size(), 1u);
}

TEST_F(ClientSessionTest, OneOfSeveralRcptsRefused) {
  start(/*rcpts=*/3, /*per_conn=*/2, /*budget=*/2);
  EXPECT_EQ(greet(kEhloPlain), kMail);
  EXPECT_EQ(say(kMailOk), rcpt(1));
  EXPECT_EQ(say(kRcptOk), rcpt(2));
  // The others still get the message: RCPT 3, DATA and the body go out.
  EXPECT_EQ(say("550 5.1.1 <r2@sink.example>: Recipient address rejected: User unknown\r\n"), rcpt(3));
  EXPECT_EQ(ev_.errors, (Errors{{550, Stage::kRcpt}}));
  EXPECT_EQ(say(kRcptOk), kData);
  EXPECT_EQ(wire(kGoAhead), t_.data_body);
  EXPECT_EQ(wire(kQueued), kMail);
  // A 4xx/5xx at any step fails the message (client_session.hpp): one of
  // its recipients did not get it.
  EXPECT_EQ(ev_.done, (std::vector<bool>{false}));
  EXPECT_EQ(plain_transaction(3), kQuit);
  EXPECT_EQ(ev_.done, (std::vector<bool>{false, true}));
}

TEST_F(ClientSessionTest, AllRcptsRefused) {
  start(/*rcpts=*/2, /*per_conn=*/2, /*budget=*/2);
  EXPECT_EQ(greet(kEhloPlain), kMail);
  EXPECT_EQ(say(kMailOk), rcpt(1));
  EXPECT_EQ(say("550 5.1.1 <r1@sink.example>: Recipient address rejected\r\n"), rcpt(2));
  EXPECT_EQ(wire("450 4.2.0 <r2@sink.example>: Recipient address rejected: Greylisted\r\n"), kRset);
  EXPECT_EQ(ev_.errors, (Errors{{550, Stage::kRcpt}, {450, Stage::kRcpt}}));
  EXPECT_EQ(ev_.done, (std::vector<bool>{false}));
  EXPECT_EQ(cs_->state(), State::kRset);
  EXPECT_EQ(wire(kRsetOk), kMail);
  EXPECT_EQ(plain_transaction(2), kQuit);
  EXPECT_EQ(ev_.done, (std::vector<bool>{false, true}));
}

TEST_F(ClientSessionTest, DataRefused) {
  start(/*rcpts=*/1, /*per_conn=*/2, /*budget=*/2);
  EXPECT_EQ(greet(kEhloPlain), kMail);
  EXPECT_EQ(say(kMailOk), rcpt(1));
  EXPECT_EQ(say(kRcptOk), kData);
  EXPECT_EQ(wire("451 4.3.0 Error: queue file write error\r\n"), kRset);
  EXPECT_EQ(ev_.errors, (Errors{{451, Stage::kData}}));
  EXPECT_EQ(ev_.done, (std::vector<bool>{false}));
  EXPECT_EQ(wire(kRsetOk), kMail);
  EXPECT_EQ(plain_transaction(1), kQuit);
  EXPECT_EQ(ev_.done, (std::vector<bool>{false, true}));
}

TEST_F(ClientSessionTest, EndOfDataRefused) {
  start(/*rcpts=*/1, /*per_conn=*/2, /*budget=*/2);
  EXPECT_EQ(greet(kEhloPlain), kMail);
  EXPECT_EQ(say(kMailOk), rcpt(1));
  EXPECT_EQ(say(kRcptOk), kData);
  EXPECT_EQ(wire(kGoAhead), t_.data_body);
  // The final reply ends the transaction: no RSET needed, next MAIL at once.
  EXPECT_EQ(wire("554 5.7.1 Error: message content rejected\r\n"), kMail);
  EXPECT_EQ(ev_.errors, (Errors{{554, Stage::kBody}}));
  EXPECT_EQ(ev_.done, (std::vector<bool>{false}));
  EXPECT_EQ(plain_transaction(1), kQuit);
  EXPECT_EQ(ev_.done, (std::vector<bool>{false, true}));
}

TEST_F(ClientSessionTest, MultiLineReplies) {
  start(/*rcpts=*/2);
  EXPECT_EQ(say("220-mx.example.test ESMTP\r\n220-welcome\r\n220 really\r\n"), kEhlo);
  EXPECT_EQ(say(kEhloPlain), kMail);
  EXPECT_EQ(say("250-2.1.0 first\r\n250 2.1.0 Ok\r\n"), rcpt(1));
  EXPECT_EQ(say("550-5.1.1 no such user\r\n550-5.1.1 really\r\n550 5.1.1 none\r\n"), rcpt(2));
  EXPECT_EQ(ev_.errors, (Errors{{550, Stage::kRcpt}}));  // one reply, counted once
  EXPECT_EQ(say("250-2.1.5 a\r\n250 2.1.5 Ok\r\n"), kData);
  EXPECT_EQ(say("354-go\r\n354 End data\r\n"), "");
  EXPECT_EQ(body_, t_.data_body);
  EXPECT_EQ(say("250-2.0.0 Ok\r\n250 2.0.0 queued\r\n"), kQuit);
  EXPECT_EQ(cs_->last_text(), "2.0.0 queued");
}

TEST_F(ClientSessionTest, PipeliningOneWritePerMessage) {
  start(/*rcpts=*/2, /*per_conn=*/2, /*budget=*/2, /*pipelining=*/true);
  const std::string group = std::string(kMail) + rcpt(1) + rcpt(2) + kData;
  EXPECT_EQ(say(kGreeting), kEhlo);
  EXPECT_EQ(say(kEhloPipeOnly), group);
  EXPECT_TRUE(body_.empty());
  // Replies one at a time: nothing to send until the 354.
  EXPECT_EQ(wire(kMailOk), "");
  EXPECT_EQ(wire(kRcptOk), "");
  EXPECT_EQ(wire(kRcptOk), "");
  EXPECT_EQ(cs_->state(), State::kData);
  EXPECT_EQ(say(kGoAhead), "");
  EXPECT_EQ(body_.data(), t_.data_body.data());
  EXPECT_EQ(say(kQueued), group);
  // Replies all in one read: the body follows in the same Output.
  EXPECT_EQ(say(std::string(kMailOk) + kRcptOk + kRcptOk + kGoAhead), "");
  EXPECT_EQ(body_, t_.data_body);
  EXPECT_EQ(wire(kQueued), kQuit);
  EXPECT_EQ(ev_.done, (std::vector<bool>{true, true}));
  EXPECT_TRUE(ev_.errors.empty());
}

TEST_F(ClientSessionTest, PipeliningOnlyWhenOffered) {
  start(/*rcpts=*/2, /*per_conn=*/1, /*budget=*/1, /*pipelining=*/true);
  EXPECT_EQ(greet(kEhloPlain), kMail);
  EXPECT_EQ(plain_transaction(2), kQuit);
}

TEST_F(ClientSessionTest, PipelinedRcptsAllRefused) {
  start(/*rcpts=*/2, /*per_conn=*/2, /*budget=*/2, /*pipelining=*/true);
  const std::string group = std::string(kMail) + rcpt(1) + rcpt(2) + kData;
  EXPECT_EQ(greet(kEhloPipeOnly), group);
  EXPECT_EQ(wire(std::string(kMailOk) + "550 5.1.1 no\r\n550 5.1.1 no\r\n554 5.5.1 Error: no valid recipients\r\n"),
            kRset);
  EXPECT_EQ(ev_.errors, (Errors{{550, Stage::kRcpt}, {550, Stage::kRcpt}, {554, Stage::kData}}));
  EXPECT_EQ(ev_.done, (std::vector<bool>{false}));
  EXPECT_EQ(wire(kRsetOk), group);
}

TEST_F(ClientSessionTest, PipelinedMailRefused) {
  start(/*rcpts=*/1, /*per_conn=*/2, /*budget=*/2, /*pipelining=*/true);
  const std::string group = std::string(kMail) + rcpt(1) + kData;
  EXPECT_EQ(greet(kEhloPipeOnly), group);
  EXPECT_EQ(wire("451 4.3.0 busy\r\n503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need RCPT command\r\n"),
            kRset);
  EXPECT_EQ(ev_.errors, (Errors{{451, Stage::kMail}, {503, Stage::kRcpt}, {503, Stage::kData}}));
  EXPECT_EQ(ev_.done, (std::vector<bool>{false}));
  EXPECT_EQ(wire(kRsetOk), group);
  EXPECT_EQ(wire(std::string(kMailOk) + kRcptOk + kGoAhead), t_.data_body);
  EXPECT_EQ(wire(kQueued), kQuit);
  EXPECT_EQ(ev_.done, (std::vector<bool>{false, true}));
}

TEST_F(ClientSessionTest, BdatWithChunking) {
  start(/*rcpts=*/2, /*per_conn=*/2, /*budget=*/2, /*pipelining=*/false, /*bdat=*/true);
  EXPECT_EQ(greet(kEhloChunkOnly), kMail);
  EXPECT_EQ(say(kMailOk), rcpt(1));
  EXPECT_EQ(say(kRcptOk), rcpt(2));
  EXPECT_EQ(say(kRcptOk), t_.bdat_cmd);  // no DATA: the chunk goes straight out
  EXPECT_EQ(body_.data(), t_.bdat_body.data());
  EXPECT_EQ(body_.size(), t_.bdat_body.size());
  EXPECT_EQ(cs_->state(), State::kBody);
  EXPECT_EQ(wire("250 2.0.0 Ok: 27 bytes queued as 4F1C2D3E5A6\r\n"), kMail);
  EXPECT_EQ(say(kMailOk), rcpt(1));
  EXPECT_EQ(say(kRcptOk), rcpt(2));
  EXPECT_EQ(say(kRcptOk), t_.bdat_cmd);
  EXPECT_EQ(wire("554 5.7.1 rejected\r\n"), kQuit);
  EXPECT_EQ(ev_.errors, (Errors{{554, Stage::kBody}}));
  EXPECT_EQ(ev_.done, (std::vector<bool>{true, false}));
}

TEST_F(ClientSessionTest, BdatOnlyWhenOffered) {
  start(/*rcpts=*/1, /*per_conn=*/1, /*budget=*/1, /*pipelining=*/false, /*bdat=*/true);
  EXPECT_EQ(greet(kEhloPipeOnly), kMail);
  EXPECT_EQ(plain_transaction(1), kQuit);
}

TEST_F(ClientSessionTest, PipelinedBdat) {
  start(/*rcpts=*/2, /*per_conn=*/2, /*budget=*/2, /*pipelining=*/true, /*bdat=*/true);
  const std::string head = std::string(kMail) + rcpt(1) + rcpt(2) + t_.bdat_cmd;
  EXPECT_EQ(say(kGreeting), kEhlo);
  EXPECT_EQ(say(kEhloAll), head);
  EXPECT_EQ(body_.data(), t_.bdat_body.data());
  EXPECT_EQ(body_.size(), t_.bdat_body.size());
  EXPECT_EQ(wire(std::string(kMailOk) + kRcptOk + kRcptOk), "");
  EXPECT_EQ(cs_->state(), State::kBody);
  EXPECT_EQ(say(kQueued), head);
  EXPECT_EQ(body_, t_.bdat_body);
  EXPECT_EQ(wire(std::string(kMailOk) + kRcptOk + kRcptOk + kQueued), kQuit);
  EXPECT_EQ(ev_.done, (std::vector<bool>{true, true}));
}

TEST_F(ClientSessionTest, ServerClosesMidMessage) {
  start(/*rcpts=*/2);
  greet(kEhloPlain);
  say(kMailOk);
  EXPECT_TRUE(cs_->message_open());
  cs_->on_closed();
  EXPECT_EQ(cs_->state(), State::kFailed);
  EXPECT_TRUE(cs_->finished());
  EXPECT_EQ(ev_.done, (std::vector<bool>{false}));
  EXPECT_FALSE(cs_->protocol_error());
  // Nothing more happens after the end.
  EXPECT_EQ(wire(kRcptOk), "");
  EXPECT_EQ(ev_.done.size(), 1u);
}

TEST_F(ClientSessionTest, ServerClosesDuringBody) {
  start();
  greet(kEhloPlain);
  say(kMailOk);
  say(kRcptOk);
  say(kGoAhead);
  EXPECT_EQ(cs_->state(), State::kBody);
  cs_->on_closed();
  EXPECT_EQ(cs_->state(), State::kFailed);
  EXPECT_EQ(ev_.done, (std::vector<bool>{false}));
}

TEST_F(ClientSessionTest, ServerClosesOutsideAMessage) {
  start();
  cs_->on_closed();  // before the greeting
  EXPECT_EQ(cs_->state(), State::kFailed);
  EXPECT_TRUE(ev_.done.empty());

  ev_ = FakeEvents{};
  start(/*rcpts=*/1, /*per_conn=*/2, /*budget=*/2);
  greet(kEhloPlain);
  EXPECT_EQ(wire("451 4.3.0 later\r\n"), kRset);
  cs_->on_closed();  // while RSET is outstanding: the message was already counted
  EXPECT_EQ(cs_->state(), State::kFailed);
  EXPECT_EQ(ev_.done, (std::vector<bool>{false}));
}

TEST_F(ClientSessionTest, MalformedReplyIsProtocolError) {
  start();
  greet(kEhloPlain);
  EXPECT_EQ(wire("hello there\r\n"), "");
  EXPECT_TRUE(cs_->protocol_error());
  EXPECT_EQ(cs_->state(), State::kFailed);
  EXPECT_EQ(ev_.done, (std::vector<bool>{false}));
  EXPECT_EQ(wire(kMailOk), "");  // ignored after the failure
  EXPECT_EQ(ev_.done.size(), 1u);
}

TEST_F(ClientSessionTest, MalformedGreetingAndCodeMismatch) {
  start();
  EXPECT_EQ(wire("SSH-2.0-OpenSSH_9.2\r\n"), "");
  EXPECT_TRUE(cs_->protocol_error());
  EXPECT_EQ(cs_->state(), State::kFailed);
  EXPECT_TRUE(ev_.done.empty());

  ev_ = FakeEvents{};
  start();
  EXPECT_EQ(say(kGreeting), kEhlo);
  EXPECT_EQ(wire("250-mx.example.test\r\n220 PIPELINING\r\n"), "");
  EXPECT_TRUE(cs_->protocol_error());
  EXPECT_EQ(ev_.claims, 0);
}

TEST(Stage, Names) {
  EXPECT_EQ(to_string(Stage::kGreeting), "greeting");
  EXPECT_EQ(to_string(Stage::kHelo), "helo");
  EXPECT_EQ(to_string(Stage::kMail), "mail");
  EXPECT_EQ(to_string(Stage::kRcpt), "rcpt");
  EXPECT_EQ(to_string(Stage::kData), "data");
  EXPECT_EQ(to_string(Stage::kBody), "body");
  EXPECT_EQ(to_string(Stage::kQuit), "quit");
}

}  // namespace
}  // namespace spamsink::loadgen

namespace spamsink::loadgen {
namespace {

// --starttls: EHLO, STARTTLS, the driver's handshake, EHLO again, then the
// message; a server without STARTTLS is a protocol failure.
TEST_F(ClientSessionTest, StarttlsThenEhloAgainThenTheMessage) {
  o_.starttls = true;
  start();
  const char* with_tls = "250-mx.example.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n";
  EXPECT_EQ(greet(with_tls), "STARTTLS\r\n");
  EXPECT_EQ(cs_->state(), State::kStarttls);
  EXPECT_FALSE(cs_->tls_requested());
  EXPECT_EQ(say("220 2.0.0 Ready to start TLS\r\n"), "");
  EXPECT_TRUE(cs_->tls_requested());
  Output out;
  cs_->on_tls_started(out);
  EXPECT_EQ(out.head, kEhlo);
  EXPECT_FALSE(cs_->tls_requested());
  EXPECT_TRUE(cs_->tls_active());
  EXPECT_EQ(say(kEhloPlain), kMail);  // inside TLS: no second STARTTLS
  EXPECT_EQ(plain_transaction(1), kQuit);
  EXPECT_EQ(say(kBye), "");
  EXPECT_EQ(cs_->state(), State::kDone);
  EXPECT_EQ(ev_.done, std::vector<bool>{true});
}

TEST_F(ClientSessionTest, StarttlsNotOfferedIsAProtocolFailure) {
  o_.starttls = true;
  start();
  EXPECT_EQ(greet(kEhloAll), "");
  EXPECT_TRUE(cs_->protocol_error());
  EXPECT_EQ(cs_->state(), State::kFailed);
}

TEST_F(ClientSessionTest, StarttlsRefusedQuits) {
  o_.starttls = true;
  start();
  EXPECT_EQ(greet("250-mx.example.test\r\n250 STARTTLS\r\n"), "STARTTLS\r\n");
  EXPECT_EQ(say("454 4.7.0 TLS not available due to local problem\r\n"), kQuit);
  EXPECT_FALSE(cs_->tls_requested());
  ASSERT_EQ(ev_.errors.size(), 1u);
  EXPECT_EQ(ev_.errors[0].first, 454);
}

}  // namespace
}  // namespace spamsink::loadgen
