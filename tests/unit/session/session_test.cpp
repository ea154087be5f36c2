// Tests for session/session: the state machine driven with explicit
// TimePoints from a ManualClock (nothing sleeps). Expected replies are the
// texts Postfix 3.7.11 sent in the recorded dialogues (/tmp/pfrec; section
// numbers in the comments). Covers: greeting, whole transactions, several
// messages, pipelined groups answered in order in one `out`, every sequence
// and syntax error, the error and junk-command limits, the recipient and
// size limits, DATA past the size limit, BDAT (chunks, totals, refusals,
// 551, chunk too big, syntax), overlong lines, bad UTF-8, non-SMTP clients,
// QUIT, deadlines (command time, slow clients, lifetime), shutdown, the
// facts sent to the EventSink, and that 10,000 pipelined commands leave
// nothing buffered.
#include "session/session.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <memory>
#include <regex>
#include <string>
#include <vector>

namespace spamsink::session {
namespace {

using namespace std::chrono_literals;
using core::EndReason;

// ---- Recorded reply texts ------------------------------------------------

const std::string kGreeting = "220 mx.example.test ESMTP Postfix (Debian/GNU)\r\n";
const std::string kEhlo =
    "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n";
const std::string kHelo = "250 mx.example.test\r\n";
const std::string kOk = "250 2.0.0 Ok\r\n";
const std::string kMailOk = "250 2.1.0 Ok\r\n";
const std::string kRcptOk = "250 2.1.5 Ok\r\n";
const std::string kDataGo = "354 End data with <CR><LF>.<CR><LF>\r\n";
const std::string kQueued = "250 2.0.0 Ok: queued as QID\r\n";  // see normalize()
const std::string kBye = "221 2.0.0 Bye\r\n";
const std::string kUnknown = "500 5.5.2 Error: command not recognized\r\n";
const std::string kBadSyntax = "500 5.5.2 Error: bad syntax\r\n";
const std::string kBadUtf8 = "500 5.5.2 Error: bad UTF-8 syntax\r\n";
const std::string kNeedMail = "503 5.5.1 Error: need MAIL command\r\n";
const std::string kNeedRcpt = "503 5.5.1 Error: need RCPT command\r\n";
const std::string kNested = "503 5.5.1 Error: nested MAIL command\r\n";
const std::string kNoRcpts = "554 5.5.1 Error: no valid recipients\r\n";
const std::string kBadSender = "501 5.1.7 Bad sender address syntax\r\n";
const std::string kBadRcpt = "501 5.1.3 Bad recipient address syntax\r\n";
const std::string kTooManyErrors = "421 4.7.0 mx.example.test Error: too many errors\r\n";
const std::string kTimeout = "421 4.4.2 mx.example.test Error: timeout exceeded\r\n";
const std::string kForbidden = "221 2.7.0 Error: I can break rules, too. Goodbye.\r\n";
const std::string kFileTooBig = "552 5.3.4 Error: message file too big\r\n";
const std::string kChunkTooBig = "552 5.3.4 Chunk exceeds message size limit\r\n";
const std::string kBdatSyntax = "521 5.5.4 Syntax: BDAT count [LAST]\r\n";
const std::string kTooManyRcpts = "452 4.5.3 Error: too many recipients\r\n";
const std::string kDataAfterBdat = "503 5.5.1 Error: DATA after BDAT\r\n";

const std::string kMail = "MAIL FROM:<a@b.example>\r\n";
const std::string kRcpt = "RCPT TO:<x@mx.example.test>\r\n";

// Queue ids differ per message; they must be 11 upper-case hex digits,
// which normalize() checks by replacing exactly that shape with "QID".
std::string normalize(const std::string& out) {
  static const std::regex qid("queued as [0-9A-F]{11}\r\n");
  return std::regex_replace(out, qid, "queued as QID\r\n");
}

std::vector<std::string> queue_ids(const std::string& out) {
  static const std::regex qid("queued as ([0-9A-F]{11})\r\n");
  std::vector<std::string> ids;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), qid); it != std::sregex_iterator(); ++it)
    ids.push_back((*it)[1]);
  return ids;
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// ---- Fakes ---------------------------------------------------------------

// Not SHA-256: any function of every byte and of the order serves, since
// the session only feeds the digest and passes its result on.
std::array<std::uint8_t, 32> fake_hash(std::string_view s) {
  std::array<std::uint8_t, 32> h{};
  std::uint64_t x = 1469598103934665603ull;
  for (std::size_t i = 0; i < s.size(); ++i) {
    x = (x ^ static_cast<unsigned char>(s[i])) * 1099511628211ull;
    h[i % 24] ^= static_cast<std::uint8_t>(x >> 56);
  }
  for (int i = 0; i < 8; ++i) h[24 + i] = static_cast<std::uint8_t>(s.size() >> (8 * i));
  return h;
}

class FakeDigest final : public core::BodyDigest {
 public:
  void reset() noexcept override {
    data.clear();
    ++resets;
  }
  void update(const char* p, std::size_t n) noexcept override { data.append(p, n); }
  void finish(std::array<std::uint8_t, 32>& out) noexcept override {
    out = fake_hash(data);
    ++finishes;
  }
  std::string data;
  int resets = 0;
  int finishes = 0;
};

struct StoredMessage {
  std::uint64_t session_id;
  std::string mail_from;
  std::string recipients;
  std::uint32_t recipient_count;
  std::uint64_t size_bytes;
  bool accepted;
  bool has_digest;
  std::array<std::uint8_t, 32> sha256;
};

struct StoredSession {
  core::SessionRecord r;  // views cleared; copies below
  std::string listener, helo, mail_from, early_bytes;
};

class RecordingSink final : public core::EventSink {
 public:
  void message(const core::MessageRecord& m) noexcept override {
    messages.push_back({m.session_id, std::string(m.mail_from), std::string(m.recipients), m.recipient_count,
                        m.size_bytes, m.accepted, m.has_digest, m.sha256});
  }
  void session_closed(const core::SessionRecord& s) noexcept override {
    StoredSession st{s, std::string(s.listener), std::string(s.helo), std::string(s.mail_from),
                     std::string(s.early_bytes)};
    st.r.listener = st.r.helo = st.r.mail_from = st.r.early_bytes = {};
    sessions.push_back(st);
  }
  std::vector<StoredMessage> messages;
  std::vector<StoredSession> sessions;
};

// ---- Fixture -------------------------------------------------------------

class SessionTest : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kId = 42;

  void open(const core::Limits& limits = core::Limits{}) {
    config_.replies = &table_;
    config_.limits = limits;
    config_.mode = core::Mode::kSink;
    config_.listener = "sink-test";
    start_ = clock_.now();
    session_ = std::make_unique<Session>(config_, Peer{core::IpAddress::from_v4(0xc0000201), 40123}, kId, start_,
                                         &sink_, &digest_);
    std::string out;
    session_->start(out);
    greeting_ = out;
  }
  // Sends bytes at the clock's time; returns what the session appended.
  std::string send(std::string_view bytes) {
    std::string out;
    session_->on_bytes(bytes, clock_.now(), out);
    sent_ += bytes.size();
    return out;
  }
  // The recorded preludes.
  void ehlo() { ASSERT_EQ(send("EHLO client.example\r\n"), kEhlo); }
  void mail_rcpt() {
    ehlo();
    ASSERT_EQ(send(kMail), kMailOk);
    ASSERT_EQ(send(kRcpt), kRcptOk);
  }
  Session& s() { return *session_; }

  smtp::ReplyTable table_ = smtp::ReplyTable::postfix("mx.example.test", 10240000);
  SessionConfig config_;
  core::ManualClock clock_;
  core::TimePoint start_;
  RecordingSink sink_;
  FakeDigest digest_;
  std::unique_ptr<Session> session_;
  std::string greeting_;
  std::uint64_t sent_ = 0;
};

// ---- Greeting, transactions, pipelining ----------------------------------

TEST_F(SessionTest, Greeting) {
  open();
  EXPECT_EQ(greeting_, kGreeting);
  EXPECT_FALSE(s().closing());
  EXPECT_EQ(s().phase(), Session::Phase::kCommand);
}

TEST_F(SessionTest, FullSessionAsRecorded) {
  // Recordings 2a.
  open();
  ehlo();
  EXPECT_EQ(s().helo(), "client.example");
  EXPECT_EQ(send(kMail), kMailOk);
  EXPECT_EQ(send(kRcpt), kRcptOk);
  EXPECT_EQ(send("DATA\r\n"), kDataGo);
  EXPECT_EQ(s().phase(), Session::Phase::kData);
  EXPECT_EQ(send("Subject: test 1\r\n"), "");
  EXPECT_EQ(send("\r\n"), "");
  EXPECT_EQ(send("Hello world.\r\n"), "");
  std::string q1 = send(".\r\n");
  EXPECT_EQ(normalize(q1), kQueued);
  EXPECT_EQ(s().phase(), Session::Phase::kCommand);
  EXPECT_EQ(send(kMail), kMailOk);
  EXPECT_EQ(send(kRcpt), kRcptOk);
  EXPECT_EQ(send("DATA\r\n"), kDataGo);
  std::string q2 = send("Subject: test 2\r\n\r\nSecond message.\r\n.\r\n");
  EXPECT_EQ(normalize(q2), kQueued);
  EXPECT_NE(queue_ids(q1), queue_ids(q2));
  EXPECT_EQ(send("RSET\r\n"), kOk);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(send("VRFY x@mx.example.test\r\n"), "252 2.0.0 x@mx.example.test\r\n");
  EXPECT_EQ(send("VRFY\r\n"), "501 5.5.4 Syntax: VRFY address [SMTPUTF8]\r\n");
  EXPECT_EQ(send("HELP\r\n"), kUnknown);
  EXPECT_EQ(send("QUIT\r\n"), kBye);
  EXPECT_TRUE(s().closing());
  EXPECT_EQ(s().end_reason(), EndReason::kQuit);
  EXPECT_EQ(s().messages(), 2u);
  EXPECT_EQ(s().recipients(), 2u);
  EXPECT_EQ(s().errors(), 2u);  // VRFY without argument, HELP
  ASSERT_EQ(sink_.messages.size(), 2u);
  EXPECT_EQ(sink_.messages[0].sha256, fake_hash("Subject: test 1\r\n\r\nHello world.\r\n"));
  EXPECT_EQ(sink_.messages[1].sha256, fake_hash("Subject: test 2\r\n\r\nSecond message.\r\n"));
}

TEST_F(SessionTest, SeveralMessagesPerSession) {
  open();
  ehlo();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(send("MAIL FROM:<s" + std::to_string(i) + "@b.example>\r\n"), kMailOk);
    for (int r = 0; r <= i; ++r) ASSERT_EQ(send("RCPT TO:<r" + std::to_string(r) + "@x.test>\r\n"), kRcptOk);
    ASSERT_EQ(send("DATA\r\n"), kDataGo);
    const std::string out = send("Subject: " + std::to_string(i) + "\r\n\r\nbody\r\n.\r\n");
    ASSERT_EQ(normalize(out), kQueued);
    ids.push_back(queue_ids(out).at(0));
  }
  EXPECT_EQ(s().messages(), 5u);
  EXPECT_EQ(s().recipients(), 1u + 2 + 3 + 4 + 5);
  EXPECT_EQ(s().mail_from(), "s4@b.example");
  for (std::size_t i = 0; i < ids.size(); ++i)
    for (std::size_t j = i + 1; j < ids.size(); ++j) EXPECT_NE(ids[i], ids[j]);
  ASSERT_EQ(sink_.messages.size(), 5u);
  EXPECT_EQ(sink_.messages[2].mail_from, "s2@b.example");
  EXPECT_EQ(sink_.messages[2].recipients, "r0@x.test,r1@x.test,r2@x.test");
  EXPECT_EQ(sink_.messages[2].recipient_count, 3u);
  EXPECT_EQ(sink_.messages[2].sha256, fake_hash("Subject: 2\r\n\r\nbody\r\n"));
}

TEST_F(SessionTest, PipelinedGroupIsAnsweredInOrderInOneOut) {
  // Recordings 11a.
  open();
  EXPECT_EQ(send("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@mx.example.test>\r\nDATA\r\n"),
            kEhlo + kMailOk + kRcptOk + kDataGo);
  EXPECT_EQ(normalize(send("Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n")), kQueued + kBye);
  EXPECT_TRUE(s().closing());
  EXPECT_EQ(s().end_reason(), EndReason::kQuit);
}

TEST_F(SessionTest, WholeSessionInOneRead) {
  // Recordings 12b: an early talker's whole session in one write.
  open();
  EXPECT_EQ(normalize(send("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@mx.example.test>\r\nDATA\r\n"
                           "Subject: early\r\n\r\nbody\r\n.\r\nQUIT\r\n")),
            kEhlo + kMailOk + kRcptOk + kDataGo + kQueued + kBye);
  EXPECT_EQ(sink_.messages.size(), 1u);
}

TEST_F(SessionTest, PipelinedGroupWithFailures) {
  // Recordings 11c, less the RCPT that Postfix refused for an unknown user.
  open();
  EXPECT_EQ(send("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<bad\r\nDATA\r\nNOOP\r\n"),
            kEhlo + kMailOk + kBadRcpt + kNoRcpts + kOk);
  EXPECT_EQ(s().errors(), 2u);
}

TEST_F(SessionTest, BareLfCommandsWork) {
  // Recordings 15d: commands ended by a bare LF are commands.
  open();
  EXPECT_EQ(send("MAIL FROM:<a@b.example>\nRCPT TO:<x@mx.example.test>\nDATA\n"), kMailOk + kRcptOk + kDataGo);
  // The body ends only on CRLF.CRLF (no smuggling): ".\n" and "\r\n.\n"
  // do not end it, unlike Postfix 3.7 (recordings 15a/15c/15d).
  EXPECT_EQ(send("Subject: lf only\n\nbody\n.\nNOOP\r\n"), "");
  EXPECT_EQ(send("z\r\n.\nNOOP\r\n"), "");
  EXPECT_EQ(s().phase(), Session::Phase::kData);
  EXPECT_EQ(normalize(send("\r\n.\r\nNOOP\n")), kQueued + kOk);
  ASSERT_EQ(sink_.messages.size(), 1u);
  EXPECT_EQ(sink_.messages[0].sha256, fake_hash("Subject: lf only\n\nbody\n.\nNOOP\r\nz\r\n\nNOOP\r\n\r\n"));
}

TEST_F(SessionTest, DotUnstuffedContentIsHashed) {
  // Recordings 15a: "..foo" is stored as ".foo", ".bar" as "bar".
  open();
  mail_rcpt();
  ASSERT_EQ(send("DATA\r\n"), kDataGo);
  EXPECT_EQ(normalize(send("Subject: dots\r\n\r\nline1\r\n..foo\r\n.bar\r\n.\r\n")), kQueued);
  ASSERT_EQ(sink_.messages.size(), 1u);
  const std::string content = "Subject: dots\r\n\r\nline1\r\n.foo\r\nbar\r\n";
  EXPECT_EQ(sink_.messages[0].size_bytes, content.size());
  EXPECT_EQ(sink_.messages[0].sha256, fake_hash(content));
  EXPECT_EQ(s().message_bytes(), content.size());
}

TEST_F(SessionTest, MailBeforeEhloIsAccepted) {
  // Recordings 3a (smtpd_helo_required = no).
  open();
  EXPECT_EQ(send(kMail), kMailOk);
  EXPECT_EQ(send(kRcpt), kRcptOk);
  EXPECT_EQ(send("DATA\r\n"), kDataGo);
  EXPECT_EQ(normalize(send("Subject: no helo\r\n\r\nbody\r\n.\r\n")), kQueued);
  EXPECT_EQ(send("QUIT\r\n"), kBye);
}

// ---- Sequence errors -----------------------------------------------------

TEST_F(SessionTest, RcptBeforeMail) {
  open();
  ehlo();
  EXPECT_EQ(send(kRcpt), kNeedMail);  // 3b
  EXPECT_EQ(s().errors(), 1u);
}

TEST_F(SessionTest, DataBeforeMailAndBeforeRcpt) {
  open();
  EXPECT_EQ(send(kRcpt), kNeedMail);       // 3b'
  EXPECT_EQ(send("DATA\r\n"), kNeedRcpt);  // 3b', 3c
  EXPECT_EQ(send(kMail), kMailOk);
  EXPECT_EQ(send("DATA\r\n"), kNoRcpts);  // 3c
  EXPECT_EQ(s().errors(), 3u);
  EXPECT_EQ(s().phase(), Session::Phase::kCommand);
}

TEST_F(SessionTest, NestedMail) {
  open();
  ehlo();
  EXPECT_EQ(send(kMail), kMailOk);
  EXPECT_EQ(send(kMail), kNested);  // 3d
  EXPECT_EQ(send(kRcpt), kRcptOk);  // the first transaction goes on
  EXPECT_EQ(s().errors(), 1u);
}

TEST_F(SessionTest, DataWithArguments) {
  // Recordings 3f: "DATA foo" is refused, "DATA " is a DATA.
  open();
  mail_rcpt();
  EXPECT_EQ(send("DATA foo\r\n"), "501 5.5.4 Syntax: DATA\r\n");
  EXPECT_EQ(send("DATA \r\n"), kDataGo);
  EXPECT_EQ(normalize(send(".\r\n")), kQueued);
  ASSERT_EQ(sink_.messages.size(), 1u);
  EXPECT_EQ(sink_.messages[0].size_bytes, 0u);
  EXPECT_EQ(sink_.messages[0].sha256, fake_hash(""));
}

TEST_F(SessionTest, EhloAndHeloResetTheTransaction) {
  // Recordings 3g.
  open();
  mail_rcpt();
  EXPECT_EQ(send("EHLO again.example\r\n"), kEhlo);
  EXPECT_EQ(send(kRcpt), kNeedMail);
  EXPECT_EQ(send(kMail), kMailOk);
  EXPECT_EQ(send(kRcpt), kRcptOk);
  EXPECT_EQ(send("HELO again.example\r\n"), kHelo);
  EXPECT_EQ(send("DATA\r\n"), kNeedRcpt);
  EXPECT_EQ(s().helo(), "again.example");
}

TEST_F(SessionTest, DataAfterBdat) {
  // Recordings 8e.
  open();
  mail_rcpt();
  EXPECT_EQ(send("BDAT 10\r\n0123456789"), "250 2.0.0 Ok: 10 bytes\r\n");
  EXPECT_EQ(send("DATA\r\n"), kDataAfterBdat);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(normalize(send("BDAT 3 LAST\r\nabc")), "250 2.0.0 Ok: 15 bytes queued as QID\r\n");
  EXPECT_EQ(s().errors(), 1u);
}

// ---- The recorded replies to single commands -----------------------------

struct OneCommand {
  const char* prelude;  // sent after EHLO, each line answered with success
  const char* command;
  const char* reply;
};

void PrintTo(const OneCommand& c, std::ostream* os) { *os << '"' << c.command << '"'; }

class SessionRecorded : public SessionTest, public ::testing::WithParamInterface<OneCommand> {};

TEST_P(SessionRecorded, ReplyAsPostfix) {
  open();
  ehlo();
  std::string_view prelude = GetParam().prelude;
  while (!prelude.empty()) {
    const auto nl = prelude.find('\n');
    const std::string line(prelude.substr(0, nl + 1));
    prelude.remove_prefix(nl + 1);
    const std::string r = send(line);
    ASSERT_TRUE(r.rfind("250 ", 0) == 0) << line << " -> " << r;
  }
  EXPECT_EQ(send(std::string(GetParam().command) + "\r\n"), GetParam().reply);
  EXPECT_FALSE(s().closing() && std::string_view(GetParam().reply).substr(0, 3) != "221");
}

// Section 4 of the recordings (each a fresh connection after EHLO). The
// replies where Postfix consulted its local recipient table (550 User
// unknown) have no counterpart in a sink and are left out.
INSTANTIATE_TEST_SUITE_P(
    Section4, SessionRecorded,
    ::testing::Values(
        OneCommand{"", "MAIL FROM:", "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"},
        OneCommand{"", "MAIL FROM:<bad", "501 5.1.7 Bad sender address syntax\r\n"},
        OneCommand{"", "MAIL FROM:<a@b> FOO=bar", "555 5.5.4 Unsupported option: FOO=bar\r\n"},
        OneCommand{"", "MAIL FROM:<a@b> SIZE=abc", "501 5.5.4 Bad message size syntax\r\n"},
        OneCommand{"", "MAIL FROM:<a@b> SIZE=99999999", "552 5.3.4 Message size exceeds fixed limit\r\n"},
        OneCommand{"", "MAIL FROM:<a@b> BODY=8BITMIME", "250 2.1.0 Ok\r\n"},
        OneCommand{"", "MAIL FROM:<a@b> BODY=BINARYMIME", "555 5.5.4 Unsupported option: BODY=BINARYMIME\r\n"},
        OneCommand{"", "MAIL FROM:<a@b> BODY=7BIT", "250 2.1.0 Ok\r\n"},
        OneCommand{"", "MAIL FROM:<a@b> BODY=foo", "555 5.5.4 Unsupported option: BODY=foo\r\n"},
        OneCommand{"", "MAIL FROM:<a@b> SMTPUTF8", "250 2.1.0 Ok\r\n"},
        OneCommand{"", "MAIL FROM:<>", "250 2.1.0 Ok\r\n"},
        OneCommand{"", "MAIL TO:<a@b>", "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"},
        OneCommand{"", "MAIL FROM: <a@b>", "250 2.1.0 Ok\r\n"},
        OneCommand{"", "mail from:<a@b>", "250 2.1.0 Ok\r\n"},
        OneCommand{"", "MAIL FROM:a@b", "250 2.1.0 Ok\r\n"},
        OneCommand{"", "MAIL", "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"},
        OneCommand{"", "MAIL FROM", "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"},
        OneCommand{"", "MAIL FROM:<a@b> RET=HDRS ENVID=abc", "250 2.1.0 Ok\r\n"},
        OneCommand{"", "MAIL FROM:<a@b> RET=FOO", "501 5.5.4 Bad RET parameter syntax\r\n"},
        OneCommand{"", "MAIL FROM:<a@b> AUTH=<>", "250 2.1.0 Ok\r\n"},
        OneCommand{"", "MAIL FROM:<a b@c>", "501 5.1.7 Bad sender address syntax\r\n"},
        OneCommand{"", "MAIL FROM:<a@b>x", "501 5.1.7 Bad sender address syntax\r\n"},
        OneCommand{"", "MAIL FROM:<@route:a@b>", "250 2.1.0 Ok\r\n"},
        OneCommand{"", "MAIL FROM:<a@[127.0.0.1]>", "250 2.1.0 Ok\r\n"},
        OneCommand{"", "MAIL FROM:<a@b.example> SIZE=1000", "250 2.1.0 Ok\r\n"},
        OneCommand{"", "MAIL FROM:<a@b.example> SIZE=10240001", "552 5.3.4 Message size exceeds fixed limit\r\n"},
        OneCommand{"", "MAIL FROM:<a@b.example> SIZE=10240000", "250 2.1.0 Ok\r\n"},
        OneCommand{"", "MAIL FROM:<a@b.example> SIZE=0", "250 2.1.0 Ok\r\n"},
        OneCommand{"", "MAIL FROM:<a@b.example> SIZE=99999999999999999999",
                   "552 5.3.4 Message size exceeds file system imposed limit\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO:", "501 5.5.4 Syntax: RCPT TO:<address>\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO:<bad", "501 5.1.3 Bad recipient address syntax\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO:<postmaster>", "250 2.1.5 Ok\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO:<Postmaster>", "250 2.1.5 Ok\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO:<x@other.example>", "250 2.1.5 Ok\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT FROM:<x>", "501 5.5.4 Syntax: RCPT TO:<address>\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO: <x@mx.example.test>", "250 2.1.5 Ok\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "rcpt to:<x@mx.example.test>", "250 2.1.5 Ok\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO:<>", "501 5.1.3 Bad recipient address syntax\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO:<x@localhost>", "250 2.1.5 Ok\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO:<x>", "250 2.1.5 Ok\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO:<x@mx.example.test> NOTIFY=NEVER", "250 2.1.5 Ok\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO:<x@mx.example.test> FOO=bar",
                   "555 5.5.4 Unsupported option: FOO=bar\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO:<x@mx.example.test> ORCPT=rfc822;x@mx.example.test",
                   "250 2.1.5 Ok\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO:<@route:x@mx.example.test>", "250 2.1.5 Ok\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO:<x@[127.0.0.1]>", "250 2.1.5 Ok\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "RCPT TO:<a b@mx.example.test>",
                   "501 5.1.3 Bad recipient address syntax\r\n"},
        OneCommand{"", "NOOP foo", "250 2.0.0 Ok\r\n"},
        OneCommand{"", "RSET foo", "501 5.5.4 Syntax: RSET\r\n"},
        OneCommand{"", "ETRN", "500 Syntax: ETRN domain\r\n"},
        OneCommand{"", "ETRN example.com", "459 <example.com>: service unavailable\r\n"},
        OneCommand{"", "ETRN mx.example.test", "459 <mx.example.test>: service unavailable\r\n"},
        OneCommand{"", "AUTH PLAIN xxx", "503 5.5.1 Error: authentication not enabled\r\n"},
        OneCommand{"", "AUTH", "503 5.5.1 Error: authentication not enabled\r\n"},
        OneCommand{"", "STARTTLS", "502 5.5.1 Error: command not implemented\r\n"},
        OneCommand{"", "XCLIENT", "501 5.5.4 Syntax: XCLIENT attribute=value...\r\n"},
        OneCommand{"", "XCLIENT ADDR=1.2.3.4", "550 5.7.0 Error: insufficient authorization\r\n"},
        OneCommand{"", "XFORWARD", "501 5.5.4 Syntax: XFORWARD attribute=value...\r\n"},
        OneCommand{"", "EXPN foo", "500 5.5.2 Error: command not recognized\r\n"},
        OneCommand{"", "TURN", "500 5.5.2 Error: command not recognized\r\n"},
        OneCommand{"", "VRFY x", "252 2.0.0 x\r\n"},
        OneCommand{"", "VRFY <x@mx.example.test>", "252 2.0.0 <x@mx.example.test>\r\n"},
        OneCommand{"", "VRFY postmaster", "252 2.0.0 postmaster\r\n"},
        OneCommand{"", "VRFY a b", "501 5.1.3 Bad recipient address syntax\r\n"},
        OneCommand{"", "HELP foo", "500 5.5.2 Error: command not recognized\r\n"},
        OneCommand{"", "noop", "250 2.0.0 Ok\r\n"},
        OneCommand{"", "NOOP", "250 2.0.0 Ok\r\n"},
        OneCommand{"", "QUIT foo", "221 2.0.0 Bye\r\n"},
        OneCommand{"MAIL FROM:<a@b.example>\n", "ETRN example.com", "503 Error: MAIL transaction in progress\r\n"},
        OneCommand{"", "EHLO", "501 Syntax: EHLO hostname\r\n"},
        OneCommand{"", "HELO", "501 Syntax: HELO hostname\r\n"},
        OneCommand{"", "EHLO ", "501 Syntax: EHLO hostname\r\n"},
        OneCommand{"", "HELO client.example", "250 mx.example.test\r\n"},
        OneCommand{"", "FOO", "500 5.5.2 Error: command not recognized\r\n"},
        OneCommand{"", "FOO bar baz", "500 5.5.2 Error: command not recognized\r\n"},
        OneCommand{"", "", "500 5.5.2 Error: bad syntax\r\n"},
        OneCommand{"", " ", "500 5.5.2 Error: bad syntax\r\n"}));

TEST_F(SessionTest, EhloVariantsAsRecorded) {
  // Recordings 1c.
  open();
  EXPECT_EQ(send("HELO client.example\r\n"), kHelo);
  EXPECT_EQ(send("EHLO client.example\r\n"), kEhlo);
  EXPECT_EQ(send("ehlo client.example\r\n"), kEhlo);
  EXPECT_EQ(send("EHLO a b c\r\n"), kEhlo);
  EXPECT_EQ(send("EHLO [127.0.0.1]\r\n"), kEhlo);
  EXPECT_EQ(s().helo(), "[127.0.0.1]");
  EXPECT_EQ(s().errors(), 0u);
}

TEST_F(SessionTest, CommandsBeforeEhlo) {
  // Recordings 4.67.
  open();
  EXPECT_EQ(send("ETRN example.com\r\nVRFY x\r\nNOOP\r\nRSET\r\nHELP\r\nSTARTTLS\r\nAUTH PLAIN xxx\r\n"),
            "459 <example.com>: service unavailable\r\n252 2.0.0 x\r\n" + kOk + kOk + kUnknown +
                "502 5.5.1 Error: command not implemented\r\n503 5.5.1 Error: authentication not enabled\r\n");
}

TEST_F(SessionTest, LinesWithNulBytes) {
  // Recordings 5d.
  open();
  ehlo();
  using namespace std::string_view_literals;
  EXPECT_EQ(send("NO\0OP\r\n"sv), kUnknown);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(send("\0\r\n"sv), kBadSyntax);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(send("MAIL FROM:<a\0b@c>\r\n"sv), kBadSender);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(send("QUIT\r\n"), kBye);
}

TEST_F(SessionTest, BadUtf8) {
  // Recordings 5e.
  open();
  ehlo();
  std::string high = "FOO ";
  for (int c = 0x80; c <= 0xff; ++c) high.push_back(static_cast<char>(c));
  EXPECT_EQ(send(high + "\r\n"), kBadUtf8);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(send("MAIL FROM:<\xc3\xa9@b.example>\r\n"), kMailOk);
  EXPECT_EQ(send("RSET\r\n"), kOk);
  EXPECT_EQ(send("MAIL FROM:<\xc3\xa9@b.example> SMTPUTF8\r\n"), kMailOk);
  EXPECT_EQ(send("RSET\r\n"), kOk);
  EXPECT_EQ(send("MAIL FROM:<\xe9@b.example>\r\n"), kBadUtf8);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(send("\x80\x81\x82\r\n"), kBadUtf8);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(s().errors(), 3u);
  EXPECT_FALSE(s().closing());
}

// ---- Non-SMTP clients and QUIT --------------------------------------------

TEST_F(SessionTest, HttpGetIsForbidden) {
  // Recordings 5b.
  open();
  ehlo();
  EXPECT_EQ(send("GET / HTTP/1.1\r\n"), kForbidden);
  EXPECT_TRUE(s().closing());
  EXPECT_EQ(s().end_reason(), EndReason::kForbidden);
  EXPECT_EQ(send("NOOP\r\n"), "");  // input after closing is ignored
}

TEST_F(SessionTest, FullHttpRequestInOneWriteGetsOneReply) {
  // Recordings 5b'.
  open();
  EXPECT_EQ(send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), kForbidden);
  EXPECT_EQ(s().end_reason(), EndReason::kForbidden);
  EXPECT_EQ(s().errors(), 0u);
}

TEST_F(SessionTest, NonSmtpCommandsAreForbidden) {
  // Recordings 5c and the "." after 15a's body.
  for (const char* line : {"POST /x HTTP/1.0", "CONNECT 1.2.3.4:25 HTTP/1.0", "Subject: hello", "From: x@y",
                           "X-Foo: bar", "123 abc", "-FOO", "get / HTTP/1.1", "."}) {
    open();
    ehlo();
    EXPECT_EQ(send(std::string(line) + "\r\nNOOP\r\n"), kForbidden) << line;
    EXPECT_TRUE(s().closing()) << line;
    EXPECT_EQ(s().end_reason(), EndReason::kForbidden) << line;
  }
}

TEST_F(SessionTest, Quit) {
  open();
  ehlo();
  EXPECT_EQ(send("QUIT\r\nNOOP\r\n"), kBye);
  EXPECT_TRUE(s().closing());
  EXPECT_EQ(s().phase(), Session::Phase::kClosed);
  EXPECT_EQ(s().end_reason(), EndReason::kQuit);
  EXPECT_EQ(send("NOOP\r\n"), "");
}

// ---- Limits ---------------------------------------------------------------

TEST_F(SessionTest, ErrorLimitClosesWith421) {
  // Recordings 6a: 20 errors are answered; then 421 too many errors. The
  // session sends the 421 right after the 20th error reply (Postfix sends
  // it when the 21st command arrives: the bytes on the wire are the same).
  open();
  ehlo();
  for (int i = 1; i < 20; ++i) {
    ASSERT_EQ(send("FOO\r\n"), kUnknown) << i;
    ASSERT_FALSE(s().closing());
  }
  EXPECT_EQ(send("FOO\r\n"), kUnknown + kTooManyErrors);
  EXPECT_TRUE(s().closing());
  EXPECT_EQ(s().end_reason(), EndReason::kTooManyErrors);
  EXPECT_EQ(s().errors(), 20u);
  EXPECT_EQ(send("FOO\r\n"), "");
}

TEST_F(SessionTest, ErrorLimitInOnePipelinedGroup) {
  open();
  ehlo();
  EXPECT_EQ(send(repeat(kRcpt, 30)), repeat(kNeedMail, 20) + kTooManyErrors);  // 6b's replies
  EXPECT_EQ(s().end_reason(), EndReason::kTooManyErrors);
}

TEST_F(SessionTest, ErrorKindsShareOneCounter) {
  core::Limits l;
  l.errors_per_session = 4;
  open(l);
  EXPECT_EQ(send("FOO\r\n"), kUnknown);
  EXPECT_EQ(send(kRcpt), kNeedMail);
  EXPECT_EQ(send("MAIL FROM:<bad\r\n"), kBadSender);
  EXPECT_EQ(send("MAIL FROM:<a@b> FOO=1\r\n"), "555 5.5.4 Unsupported option: FOO=1\r\n" + kTooManyErrors);
  EXPECT_TRUE(s().closing());
}

TEST_F(SessionTest, JunkCommandLimit) {
  // smtpd_junk_command_limit = 100, checked against a live Postfix 3.7:
  // NOOP #1 to #100 are free; from #101 on each still gets its 250 and then
  // counts as an error; #120, the 20th error, is followed by the 421 at
  // once (119 NOOPs and silence get nothing more).
  open();
  ehlo();
  for (int i = 1; i <= 100; ++i) ASSERT_EQ(send("NOOP\r\n"), kOk) << i;
  EXPECT_EQ(s().errors(), 0u);
  for (int i = 101; i <= 119; ++i) ASSERT_EQ(send("NOOP\r\n"), kOk) << i;
  EXPECT_EQ(s().errors(), 19u);
  EXPECT_FALSE(s().closing());
  EXPECT_EQ(send("NOOP\r\n"), kOk + kTooManyErrors);
  EXPECT_TRUE(s().closing());
  EXPECT_EQ(s().end_reason(), EndReason::kTooManyErrors);
  EXPECT_EQ(send("NOOP\r\n"), "");
}

TEST_F(SessionTest, JunkCommandLimitPipelined) {
  open();
  EXPECT_EQ(send("EHLO client.example\r\n" + repeat("NOOP\r\n", 125)), kEhlo + repeat(kOk, 120) + kTooManyErrors);
}

TEST_F(SessionTest, JunkCommandsAreNoopRsetVrfyEtrn) {
  core::Limits l;
  l.junk_commands_per_session = 2;
  open(l);
  ehlo();
  // `limit` junk commands are free; each one after that is an error.
  EXPECT_EQ(send("NOOP\r\nRSET\r\n"), kOk + kOk);
  EXPECT_EQ(s().errors(), 0u);
  EXPECT_EQ(send("VRFY x\r\n"), "252 2.0.0 x\r\n");
  EXPECT_EQ(s().errors(), 1u);
  EXPECT_EQ(send("ETRN example.com\r\n"), "459 <example.com>: service unavailable\r\n");
  EXPECT_EQ(s().errors(), 2u);
  EXPECT_EQ(send("RSET\r\n"), kOk);
  EXPECT_EQ(s().errors(), 3u);
  // Mail commands and EHLO are not junk.
  EXPECT_EQ(send("EHLO x\r\n" + kMail + kRcpt), kEhlo + kMailOk + kRcptOk);
  EXPECT_EQ(s().errors(), 3u);
}

TEST_F(SessionTest, VrfyAndEtrnAsPostfixReadsThem) {
  // Checked against a live Postfix 3.7.
  open();
  EXPECT_EQ(send("VRFY <a@b> SMTPUTF8\r\n"), "252 2.0.0 <a@b>\r\n");
  EXPECT_EQ(send("VRFY <a@b\r\n"), "252 2.0.0 <a@b\r\n");
  EXPECT_EQ(send("VRFY <>\r\n"), "501 5.1.3 Bad recipient address syntax\r\n");
  EXPECT_EQ(send("VRFY a b\r\n"), "501 5.1.3 Bad recipient address syntax\r\n");
  EXPECT_EQ(send("ETRN @example.com\r\n"), "459 <example.com>: service unavailable\r\n");
  EXPECT_EQ(send("ETRN #example.com\r\n"), "459 <example.com>: service unavailable\r\n");
  EXPECT_EQ(send("ETRN a b\r\n"), "500 Syntax: ETRN domain\r\n");
}

TEST_F(SessionTest, DsnParameterErrors) {
  open();
  EXPECT_EQ(send("MAIL FROM:<a@b> ENVID=\r\n"), "501 5.5.4 Bad ENVID parameter syntax\r\n");
  EXPECT_EQ(send("MAIL FROM:<a@b> RET=FULL RET=FULL\r\n"), "501 5.5.4 Bad RET parameter syntax\r\n");
  ASSERT_EQ(send(kMail), kMailOk);
  EXPECT_EQ(send("RCPT TO:<a@b> NOTIFY=FOO\r\n"), "501 5.5.4 Error: Bad NOTIFY parameter syntax\r\n");
  EXPECT_EQ(send("RCPT TO:<a@b> ORCPT=bad\r\n"), "501 5.5.4 Error: Bad ORCPT parameter syntax\r\n");
  EXPECT_EQ(send("RCPT TO:<a@b> NOTIFY=SUCCESS ORCPT=rfc822;a@b\r\n"), kRcptOk);
  EXPECT_EQ(s().errors(), 4u);
}

TEST_F(SessionTest, RecipientLimit) {
  // Recordings 9a: smtpd_recipient_limit = 1000.
  open();
  ehlo();
  ASSERT_EQ(send(kMail), kMailOk);
  std::string rcpts;
  for (int k = 1; k <= 1003; ++k) rcpts += "RCPT TO:<x+" + std::to_string(k) + "@mx.example.test>\r\n";
  EXPECT_EQ(send(rcpts), repeat(kRcptOk, 1000) + repeat(kTooManyRcpts, 3));
  EXPECT_EQ(send("DATA\r\n"), kDataGo);
  EXPECT_EQ(normalize(send("Subject: many rcpts\r\n\r\nbody\r\n.\r\n")), kQueued);
  ASSERT_EQ(sink_.messages.size(), 1u);
  EXPECT_EQ(sink_.messages[0].recipient_count, 1000u);
  // The recipient list kept is capped (session.hpp: 512 bytes).
  EXPECT_LE(sink_.messages[0].recipients.size(), 512u);
  EXPECT_EQ(sink_.messages[0].recipients.rfind("x+1@mx.example.test,x+2@mx.example.test,", 0), 0u);
  EXPECT_EQ(s().recipients(), 1000u);
}

TEST_F(SessionTest, SmallRecipientLimit) {
  core::Limits l;
  l.recipients_per_message = 2;
  open(l);
  EXPECT_EQ(send(kMail + kRcpt + kRcpt + kRcpt), kMailOk + kRcptOk + kRcptOk + kTooManyRcpts);
  // A new transaction starts counting again.
  EXPECT_EQ(send("RSET\r\n" + kMail + kRcpt + kRcpt), kOk + kMailOk + kRcptOk + kRcptOk);
}

TEST_F(SessionTest, RecipientOvershootThenErrors) {
  // Postfix smtpd_recipient_overshoot_limit: the first N refusals past the
  // recipient limit are free, then each counts as an error.
  core::Limits l;
  l.recipients_per_message = 2;
  l.recipient_overshoot = 3;
  l.errors_per_session = 2;
  open(l);
  EXPECT_EQ(send(kMail + kRcpt + kRcpt), kMailOk + kRcptOk + kRcptOk);
  EXPECT_EQ(send(kRcpt + kRcpt + kRcpt), repeat(kTooManyRcpts, 3));  // free
  EXPECT_EQ(s().errors(), 0u);
  EXPECT_EQ(send(kRcpt), kTooManyRcpts);  // error 1
  EXPECT_EQ(s().errors(), 1u);
  EXPECT_FALSE(s().closing());
  EXPECT_EQ(send(kRcpt), kTooManyRcpts + kTooManyErrors);  // error 2: the limit
  EXPECT_EQ(s().end_reason(), EndReason::kTooManyErrors);
}

TEST_F(SessionTest, RecipientOvershootIsPerTransaction) {
  core::Limits l;
  l.recipients_per_message = 1;
  l.recipient_overshoot = 1;
  open(l);
  EXPECT_EQ(send(kMail + kRcpt + kRcpt), kMailOk + kRcptOk + kTooManyRcpts);
  EXPECT_EQ(send("RSET\r\n" + kMail + kRcpt + kRcpt), kOk + kMailOk + kRcptOk + kTooManyRcpts);
  EXPECT_EQ(s().errors(), 0u);
}

TEST_F(SessionTest, DeclaredSizeIsCheckedAtMail) {
  core::Limits l;
  l.message_size_bytes = 1000;
  open(l);
  EXPECT_EQ(send("MAIL FROM:<a@b> SIZE=1001\r\n"), "552 5.3.4 Message size exceeds fixed limit\r\n");
  EXPECT_EQ(send(kRcpt), kNeedMail);  // no transaction was opened
  EXPECT_EQ(send("MAIL FROM:<a@b> SIZE=1000\r\n"), kMailOk);
}

TEST_F(SessionTest, DataPastTheSizeLimitIsReadToItsEndThenRefused) {
  // Recordings 10a, scaled down: the body is read to its end, then 552,
  // and the session goes on.
  core::Limits l;
  l.message_size_bytes = 1000;
  open(l);
  mail_rcpt();
  ASSERT_EQ(send("DATA\r\n"), kDataGo);
  const std::string line = std::string(98, 'y') + "\r\n";
  for (int i = 0; i < 20; ++i) ASSERT_EQ(send(line), "") << i;  // 2000 bytes, no reply yet
  EXPECT_EQ(s().phase(), Session::Phase::kData);
  EXPECT_EQ(send(".\r\nNOOP\r\n"), kFileTooBig + kOk);
  EXPECT_FALSE(s().closing());
  EXPECT_EQ(s().messages(), 0u);
  EXPECT_EQ(s().message_bytes(), 0u);
  ASSERT_EQ(sink_.messages.size(), 1u);
  EXPECT_FALSE(sink_.messages[0].accepted);
  EXPECT_FALSE(sink_.messages[0].has_digest);
  EXPECT_EQ(sink_.messages[0].size_bytes, 2000u);
  // The transaction is over: a new one works and fits.
  EXPECT_EQ(send(kRcpt), kNeedMail);
  EXPECT_EQ(send(kMail + kRcpt + "DATA\r\n"), kMailOk + kRcptOk + kDataGo);
  const std::string exact = std::string(998, 'z') + "\r\n";  // exactly the limit
  EXPECT_EQ(normalize(send(exact + ".\r\n")), kQueued);
  ASSERT_EQ(sink_.messages.size(), 2u);
  EXPECT_TRUE(sink_.messages[1].accepted);
  EXPECT_EQ(sink_.messages[1].size_bytes, 1000u);
  EXPECT_EQ(sink_.messages[1].sha256, fake_hash(exact));
  EXPECT_EQ(s().message_bytes(), 1000u);
}

TEST_F(SessionTest, RecordedTenMegabyteBody) {
  // Recordings 10a with the default message_size_limit = 10240000.
  open();
  mail_rcpt();
  ASSERT_EQ(send("DATA\r\n"), kDataGo);
  std::string body = "Subject: big\r\n\r\n";
  const std::string line = std::string(998, 'y') + "\r\n";
  for (int i = 0; i < 10500; ++i) body += line;
  body += ".\r\n";
  std::string out;
  for (std::size_t pos = 0; pos < body.size(); pos += 65536) out += send(std::string_view(body).substr(pos, 65536));
  EXPECT_EQ(out, kFileTooBig);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
}

// ---- BDAT -------------------------------------------------------------------

TEST_F(SessionTest, BdatChunksAndTotal) {
  // Recordings 8a: Postfix counts a missing final CRLF (+2).
  open();
  mail_rcpt();
  EXPECT_EQ(send("BDAT 10\r\n0123456789"), "250 2.0.0 Ok: 10 bytes\r\n");
  EXPECT_EQ(s().phase(), Session::Phase::kCommand);
  EXPECT_EQ(normalize(send("BDAT 5 LAST\r\nabcde")), "250 2.0.0 Ok: 17 bytes queued as QID\r\n");
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  ASSERT_EQ(sink_.messages.size(), 1u);
  EXPECT_TRUE(sink_.messages[0].accepted);
  EXPECT_EQ(sink_.messages[0].size_bytes, 15u);
  EXPECT_TRUE(sink_.messages[0].has_digest);
  EXPECT_EQ(sink_.messages[0].sha256, fake_hash("0123456789abcde"));
  EXPECT_EQ(s().messages(), 1u);
}

TEST_F(SessionTest, BdatEndingInCrlfThenZeroLast) {
  // Recordings 8b.
  open();
  mail_rcpt();
  EXPECT_EQ(send("BDAT 24\r\nSubject: bdat\r\n\r\nhello\r\n"), "250 2.0.0 Ok: 24 bytes\r\n");
  EXPECT_EQ(normalize(send("BDAT 0 LAST\r\n")), "250 2.0.0 Ok: 24 bytes queued as QID\r\n");
  ASSERT_EQ(sink_.messages.size(), 1u);
  EXPECT_EQ(sink_.messages[0].sha256, fake_hash("Subject: bdat\r\n\r\nhello\r\n"));
}

TEST_F(SessionTest, BdatZeroLastAlone) {
  // Recordings 8c: the empty message.
  open();
  mail_rcpt();
  EXPECT_EQ(normalize(send("BDAT 0 LAST\r\n")), "250 2.0.0 Ok: 0 bytes queued as QID\r\n");
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  ASSERT_EQ(sink_.messages.size(), 1u);
  EXPECT_EQ(sink_.messages[0].size_bytes, 0u);
}

TEST_F(SessionTest, BdatLowerCaseAndAfterHelo) {
  // Recordings 8d' (bdat 3 last) and 8i (BDAT after HELO).
  open();
  mail_rcpt();
  EXPECT_EQ(normalize(send("bdat 3 last\r\nxyz")), "250 2.0.0 Ok: 5 bytes queued as QID\r\n");
  EXPECT_EQ(send("HELO client.example\r\n" + kMail + kRcpt), kHelo + kMailOk + kRcptOk);
  EXPECT_EQ(normalize(send("BDAT 5 LAST\r\nhello")), "250 2.0.0 Ok: 7 bytes queued as QID\r\n");
}

TEST_F(SessionTest, PipelinedBdatChunks) {
  // Recordings 8k.
  open();
  mail_rcpt();
  EXPECT_EQ(normalize(send("BDAT 5\r\nhelloBDAT 5\r\nworldBDAT 0 LAST\r\n")),
            "250 2.0.0 Ok: 5 bytes\r\n250 2.0.0 Ok: 5 bytes\r\n250 2.0.0 Ok: 12 bytes queued as QID\r\n");
  ASSERT_EQ(sink_.messages.size(), 1u);
  EXPECT_EQ(sink_.messages[0].sha256, fake_hash("helloworld"));
}

TEST_F(SessionTest, BdatDataIsNotParsed) {
  // Command words, a DATA terminator and bare lines inside a chunk are data.
  open();
  mail_rcpt();
  const std::string data = "QUIT\r\n.\r\nRSET\r\nxxxxx";  // 20 bytes
  EXPECT_EQ(normalize(send("BDAT 20 LAST\r\n" + data + "NOOP\r\n")),
            "250 2.0.0 Ok: 22 bytes queued as QID\r\n" + kOk);
  EXPECT_FALSE(s().closing());
  ASSERT_EQ(sink_.messages.size(), 1u);
  EXPECT_EQ(sink_.messages[0].sha256, fake_hash(data));
}

TEST_F(SessionTest, BdatDataSplitAcrossManyCalls) {
  open();
  mail_rcpt();
  std::string data;
  for (int i = 0; i < 998; ++i) data.push_back(static_cast<char>('a' + i % 26));
  data += "\r\n";
  EXPECT_EQ(send("BDAT 1000 LAST\r\n"), "");
  EXPECT_EQ(s().phase(), Session::Phase::kBdat);
  for (std::size_t i = 0; i + 1 < data.size(); ++i) ASSERT_EQ(send(data.substr(i, 1)), "") << i;
  EXPECT_EQ(normalize(send(data.substr(data.size() - 1) + "NOOP\r\n")),
            "250 2.0.0 Ok: 1000 bytes queued as QID\r\n" + kOk);
  ASSERT_EQ(sink_.messages.size(), 1u);
  EXPECT_EQ(sink_.messages[0].sha256, fake_hash(data));
}

TEST_F(SessionTest, BdatChunkSplitThenCommand) {
  // Recordings 8j (as record.py sends it) and RSET after a non-LAST chunk.
  open();
  mail_rcpt();
  EXPECT_EQ(send("BDAT 5\r\nhel"), "");
  EXPECT_EQ(send("loNOOP\r\n"), "250 2.0.0 Ok: 5 bytes\r\n" + kOk);
  EXPECT_EQ(send("RSET\r\n"), kOk);
  // RSET ended the BDAT transaction: DATA is allowed in the next one.
  EXPECT_EQ(send(kMail + kRcpt + "DATA\r\n"), kMailOk + kRcptOk + kDataGo);
  EXPECT_EQ(normalize(send("x\r\n.\r\n")), kQueued);
  ASSERT_EQ(sink_.messages.size(), 1u);
  EXPECT_EQ(sink_.messages[0].sha256, fake_hash("x\r\n"));
}

TEST_F(SessionTest, RefusedChunkIsSkippedAndAnsweredAfterItsBytes) {
  // Recordings 8f: BDAT without MAIL; then 551 up to the LAST chunk.
  open();
  ehlo();
  EXPECT_EQ(send("BDAT 5\r\nhel"), "");
  EXPECT_EQ(send("lo"), kNeedRcpt);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(send("BDAT 5 LAST\r\nhello"), "551 5.0.0 Discarded 5 bytes after earlier error\r\n");
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  // After LAST the error state is gone: a real transaction works.
  EXPECT_EQ(send(kMail + kRcpt), kMailOk + kRcptOk);
  EXPECT_EQ(normalize(send("BDAT 2 LAST\r\nok")), "250 2.0.0 Ok: 4 bytes queued as QID\r\n");
  EXPECT_EQ(sink_.messages.size(), 1u);
  EXPECT_EQ(s().errors(), 2u);
}

TEST_F(SessionTest, BdatWithoutRecipients) {
  // Recordings 8g and 8h.
  open();
  ehlo();
  EXPECT_EQ(send(kMail), kMailOk);
  EXPECT_EQ(send("BDAT 5\r\nhello"), kNoRcpts);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(send("BDAT 5 LAST\r\nhello"), "551 5.0.0 Discarded 5 bytes after earlier error\r\n");
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  // 8h: a refused LAST chunk ends the transaction.
  EXPECT_EQ(send(kMail), kMailOk);
  EXPECT_EQ(send("BDAT 5 LAST\r\nhello"), kNoRcpts);
  EXPECT_EQ(send("DATA\r\n"), kNeedRcpt);
  EXPECT_TRUE(sink_.messages.empty());
}

TEST_F(SessionTest, BdatZeroLastBeforeMail) {
  // Recordings 3e and 3e'.
  open();
  ehlo();
  EXPECT_EQ(send("BDAT 0 LAST\r\n"), kNeedRcpt);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(send("BDAT 4\r\nabcd"), kNeedRcpt);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
}

TEST_F(SessionTest, BdatChunkTooBig) {
  core::Limits l;
  l.message_size_bytes = 100;
  open(l);
  mail_rcpt();
  EXPECT_EQ(send("BDAT 150 LAST\r\n" + std::string(150, 'b')), kChunkTooBig);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(send(kRcpt), kNeedMail);  // the transaction is gone
  // The refused message is still a fact, as for DATA: recorded, not accepted.
  ASSERT_EQ(sink_.messages.size(), 1u);
  EXPECT_FALSE(sink_.messages[0].accepted);
  EXPECT_FALSE(sink_.messages[0].has_digest);
  EXPECT_EQ(sink_.messages[0].size_bytes, 150u);
  EXPECT_EQ(s().messages(), 0u);
  // Too big over several chunks, then a non-LAST refusal leads to 551.
  EXPECT_EQ(send(kMail + kRcpt), kMailOk + kRcptOk);
  EXPECT_EQ(send("BDAT 60\r\n" + std::string(60, 'c')), "250 2.0.0 Ok: 60 bytes\r\n");
  EXPECT_EQ(send("BDAT 60\r\n" + std::string(60, 'c')), kChunkTooBig);
  EXPECT_EQ(send("BDAT 5 LAST\r\nhello"), "551 5.0.0 Discarded 5 bytes after earlier error\r\n");
  // Exactly the limit fits.
  EXPECT_EQ(send(kMail + kRcpt), kMailOk + kRcptOk);
  EXPECT_EQ(normalize(send("BDAT 100 LAST\r\n" + std::string(98, 'd') + "\r\n")),
            "250 2.0.0 Ok: 100 bytes queued as QID\r\n");
}

TEST_F(SessionTest, RecordedTenMegabyteChunk) {
  // Recordings 10c.
  open();
  mail_rcpt();
  EXPECT_EQ(send("BDAT 10500000 LAST\r\n"), "");
  std::string out;
  const std::string block(65536, 'q');
  std::size_t left = 10500000;
  while (left > 0) {
    const std::size_t n = std::min(left, block.size());
    out += send(std::string_view(block).substr(0, n));
    left -= n;
  }
  EXPECT_EQ(out, kChunkTooBig);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
}

TEST_F(SessionTest, BdatSyntaxErrorCloses) {
  // Recordings 8d/8d': the stream cannot be framed any more.
  for (const char* args : {"abc", "", "-1", "5 FOO", "5 LAST extra", "99999999999999999999"}) {
    open();
    mail_rcpt();
    const std::string cmd = std::string("BDAT") + (*args ? " " : "") + args + "\r\nNOOP\r\n";
    EXPECT_EQ(send(cmd), kBdatSyntax) << args;
    EXPECT_TRUE(s().closing()) << args;
    EXPECT_EQ(s().end_reason(), EndReason::kProtocolError) << args;
    EXPECT_EQ(send("NOOP\r\n"), "");
  }
}

// ---- Overlong lines ----------------------------------------------------------

TEST_F(SessionTest, OverlongLinesAreAnsweredAsTruncated) {
  // Recordings 7a-7d (line_length_limit = 2048).
  open();
  ehlo();
  EXPECT_EQ(send("MAIL FROM:<" + std::string(3000, 'a') + "@b.example>\r\n"), kBadSender);  // 7a
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(send(kRcpt), kNeedMail);
  EXPECT_EQ(send("FOO" + std::string(3000, 'x') + "\r\n"), kUnknown);  // 7b
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(send(kMail + kRcpt), kMailOk + kRcptOk);  // 7c
  EXPECT_EQ(send("RCPT TO:<" + std::string(3000, 'a') + "@mx.example.test>\r\n"), kBadRcpt);
  EXPECT_EQ(send("NOOP\r\nDATA\r\n"), kOk + kDataGo);
  EXPECT_EQ(normalize(send("Subject: t\r\n\r\nbody\r\n.\r\n")), kQueued);
  // A longer NOOP line is cut and still a NOOP.
  EXPECT_EQ(send("NOOP " + std::string(5000, 'y') + "\r\n"), kOk);
  EXPECT_FALSE(s().closing());
}

TEST_F(SessionTest, LineLengthBoundary) {
  // Recordings 7d: MAIL FROM lines of 2045..2049 bytes without CRLF; the
  // 2049-byte one loses its '>' to the 2048-byte limit.
  for (int n = 2023; n <= 2027; ++n) {
    open();
    ehlo();
    const std::string line = "MAIL FROM:<" + std::string(n, 'a') + "@b.example>";
    EXPECT_EQ(send(line + "\r\n"), n <= 2026 ? kMailOk : kBadSender) << line.size();
    EXPECT_EQ(send("NOOP\r\n"), kOk);
  }
}

TEST_F(SessionTest, OverlongLineArrivingInPiecesIsNotBuffered) {
  open();
  ehlo();
  EXPECT_EQ(send("FOO"), "");
  const std::string chunk(4096, 'x');
  for (int i = 0; i < 256; ++i) {  // 1 MiB without a line end
    ASSERT_EQ(send(chunk), "");
    ASSERT_LE(s().buffered(), config_.limits.line_length_bytes + 1);
  }
  EXPECT_EQ(send("\r\nNOOP\r\n"), kUnknown + kOk);
  EXPECT_EQ(s().buffered(), 0u);
}

// ---- Deadlines ----------------------------------------------------------------

TEST_F(SessionTest, DeadlineIsCommandTimeFromTheLastCompleteLine) {
  open();
  EXPECT_EQ(s().deadline(), start_ + 300s);
  clock_.advance(10s);
  ehlo();
  EXPECT_EQ(s().deadline(), start_ + 310s);
  clock_.advance(20s);
  EXPECT_EQ(send("NOOP\r\nNOOP\r\n"), kOk + kOk);
  EXPECT_EQ(s().deadline(), start_ + 330s);
}

TEST_F(SessionTest, SlowClientDoesNotExtendTheDeadline) {
  open();
  ehlo();
  const core::TimePoint due = s().deadline();
  EXPECT_EQ(due, start_ + 300s);
  // One byte every 60 s: each arrives before the deadline, none completes
  // a line, so the deadline stays where the last complete line put it.
  for (char c : std::string("NOO")) {
    clock_.advance(60s);
    EXPECT_EQ(send(std::string(1, c)), "");
    EXPECT_EQ(s().deadline(), due);
  }
  std::string out;
  s().on_deadline(due - 1ms, out);
  EXPECT_EQ(out, "");
  EXPECT_FALSE(s().closing());
  s().on_deadline(due, out);  // recordings 13d
  EXPECT_EQ(out, kTimeout);
  EXPECT_TRUE(s().closing());
  EXPECT_EQ(s().end_reason(), EndReason::kTimeout);
  out.clear();
  s().on_deadline(due + 1s, out);  // once closed, nothing more
  EXPECT_EQ(out, "");
}

TEST_F(SessionTest, IdleAfterGreetingTimesOut) {
  // Recordings 13a.
  open();
  std::string out;
  s().on_deadline(start_ + 300s, out);
  EXPECT_EQ(out, kTimeout);
  EXPECT_EQ(s().end_reason(), EndReason::kTimeout);
}

TEST_F(SessionTest, DataDeadlineMovesPerBodyLineNotPerRead) {
  // Recordings 13b: idle in the middle of DATA.
  open();
  mail_rcpt();
  ASSERT_EQ(send("DATA\r\n"), kDataGo);
  clock_.advance(100s);
  EXPECT_EQ(send("Subject: t\r\n\r\npartial body"), "");
  const core::TimePoint due = start_ + 100s + 300s;
  EXPECT_EQ(s().deadline(), due);
  clock_.advance(100s);
  EXPECT_EQ(send(" more of the same line"), "");
  EXPECT_EQ(s().deadline(), due);
  std::string out;
  s().on_deadline(due, out);
  EXPECT_EQ(out, kTimeout);
  EXPECT_EQ(s().end_reason(), EndReason::kTimeout);
  EXPECT_TRUE(sink_.messages.empty());
}

TEST_F(SessionTest, IdleInBdatChunkTimesOut) {
  // Recordings 13c.
  open();
  mail_rcpt();
  EXPECT_EQ(send("BDAT 100\r\nonly-a-few"), "");
  std::string out;
  s().on_deadline(s().deadline(), out);
  EXPECT_EQ(out, kTimeout);
  EXPECT_EQ(s().end_reason(), EndReason::kTimeout);
}

TEST_F(SessionTest, BdatChunkDrippedByteByByteDoesNotMoveTheDeadline) {
  // As in DATA: a chunk's bytes move the deadline only when a line ends.
  open();
  mail_rcpt();
  clock_.advance(10s);
  EXPECT_EQ(send("BDAT 100\r\n"), "");
  const core::TimePoint due = start_ + 10s + 300s;
  for (int i = 0; i < 20; ++i) {
    clock_.advance(10s);
    EXPECT_EQ(send("x"), "");
    EXPECT_EQ(s().deadline(), due) << i;
  }
  clock_.advance(10s);
  EXPECT_EQ(send("line\r\n"), "");
  EXPECT_EQ(s().deadline(), start_ + 220s + 300s);
}

TEST_F(SessionTest, SessionLifetime) {
  core::Limits l;
  l.session_lifetime = 10s;
  open(l);
  EXPECT_EQ(s().deadline(), start_ + 10s);  // earlier than command_time
  clock_.advance(5s);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(s().deadline(), start_ + 10s);
  std::string out;
  s().on_deadline(start_ + 9s, out);
  EXPECT_EQ(out, "");
  s().on_deadline(start_ + 10s, out);
  EXPECT_EQ(out, "421 4.4.2 mx.example.test Error: timeout exceeded\r\n");
  EXPECT_TRUE(s().closing());
  EXPECT_EQ(s().end_reason(), EndReason::kLifetime);
}

TEST_F(SessionTest, CommandTimeShorterThanLifetime) {
  core::Limits l;
  l.command_time = 5s;
  l.session_lifetime = 60s;
  open(l);
  EXPECT_EQ(s().deadline(), start_ + 5s);
  for (int i = 0; i < 20; ++i) {  // a busy client is not timed out...
    clock_.advance(4s);
    ASSERT_EQ(send("EHLO x\r\n"), kEhlo);
    ASSERT_EQ(s().deadline(), std::min(clock_.now() + 5s, start_ + 60s));
  }
  // ...until its lifetime ends (the clock is at +80 s now).
  std::string out;
  s().on_deadline(clock_.now(), out);
  EXPECT_EQ(s().end_reason(), EndReason::kLifetime);
}

// ---- Shutdown, peer gone, records ---------------------------------------------

TEST_F(SessionTest, Shutdown) {
  open();
  ehlo();
  std::string out;
  s().on_shutdown(out);
  EXPECT_EQ(out, "421 4.3.2 mx.example.test Service shutting down, closing transmission channel\r\n");
  EXPECT_TRUE(s().closing());
  EXPECT_EQ(s().end_reason(), EndReason::kShutdown);
  out.clear();
  s().on_shutdown(out);
  EXPECT_EQ(out, "");
  EXPECT_EQ(send("NOOP\r\n"), "");
}

TEST_F(SessionTest, PeerGone) {
  open();
  s().on_peer_gone(false);
  EXPECT_TRUE(s().closing());
  EXPECT_EQ(s().end_reason(), EndReason::kPeerClosed);
  open();
  s().on_peer_gone(true);
  EXPECT_EQ(s().end_reason(), EndReason::kReset);
}

TEST_F(SessionTest, EventSinkGetsOneMessageRecordPerMessageAndOneSessionRecord) {
  open();
  ehlo();
  ASSERT_EQ(send("MAIL FROM:<first@b.example>\r\nRCPT TO:<r1@x.test>\r\nRCPT TO:<r2@x.test>\r\nDATA\r\n"),
            kMailOk + kRcptOk + kRcptOk + kDataGo);
  ASSERT_EQ(normalize(send("Subject: a\r\n\r\n..dot\r\n.\r\n")), kQueued);
  ASSERT_EQ(send("FOO\r\n"), kUnknown);
  ASSERT_EQ(send("MAIL FROM:<second@b.example>\r\nRCPT TO:<r3@x.test>\r\n"), kMailOk + kRcptOk);
  ASSERT_EQ(normalize(send("BDAT 4 LAST\r\nabcd")), "250 2.0.0 Ok: 6 bytes queued as QID\r\n");
  s().add_bytes_out(1000);
  s().add_bytes_out(234);
  clock_.advance(7s);
  ASSERT_EQ(send("QUIT\r\n"), kBye);

  ASSERT_EQ(sink_.messages.size(), 2u);
  const StoredMessage& m1 = sink_.messages[0];
  EXPECT_EQ(m1.session_id, kId);
  EXPECT_EQ(m1.mail_from, "first@b.example");
  EXPECT_EQ(m1.recipients, "r1@x.test,r2@x.test");
  EXPECT_EQ(m1.recipient_count, 2u);
  EXPECT_EQ(m1.size_bytes, std::string("Subject: a\r\n\r\n.dot\r\n").size());
  EXPECT_TRUE(m1.accepted);
  EXPECT_TRUE(m1.has_digest);
  EXPECT_EQ(m1.sha256, fake_hash("Subject: a\r\n\r\n.dot\r\n"));
  const StoredMessage& m2 = sink_.messages[1];
  EXPECT_EQ(m2.mail_from, "second@b.example");
  EXPECT_EQ(m2.recipients, "r3@x.test");
  EXPECT_EQ(m2.recipient_count, 1u);
  EXPECT_EQ(m2.size_bytes, 4u);
  EXPECT_EQ(m2.sha256, fake_hash("abcd"));

  EXPECT_TRUE(sink_.sessions.empty());  // only finish() reports the session
  const core::TimePoint end = clock_.now() + 1s;
  s().finish(end);
  s().finish(end + 1s);  // once only
  ASSERT_EQ(sink_.sessions.size(), 1u);
  const StoredSession& r = sink_.sessions[0];
  EXPECT_EQ(r.r.session_id, kId);
  EXPECT_EQ(r.r.mode, core::Mode::kSink);
  EXPECT_EQ(r.listener, "sink-test");
  EXPECT_EQ(r.r.ip, core::IpAddress::from_v4(0xc0000201));
  EXPECT_EQ(r.r.port, 40123);
  EXPECT_EQ(r.r.start, start_);
  EXPECT_EQ(r.r.end, end);
  EXPECT_EQ(r.helo, "client.example");
  EXPECT_EQ(r.mail_from, "second@b.example");
  EXPECT_EQ(r.r.recipients, 3u);
  EXPECT_EQ(r.r.messages, 2u);
  EXPECT_EQ(r.r.errors, 1u);
  EXPECT_EQ(r.r.bytes_in, sent_);
  EXPECT_EQ(r.r.bytes_out, 1234u);
  EXPECT_EQ(r.r.message_bytes, m1.size_bytes + 4u);
  EXPECT_EQ(r.r.reason, EndReason::kQuit);
  EXPECT_EQ(digest_.finishes, 2);
}

TEST_F(SessionTest, FinishWithoutCloseIsPeerClosed) {
  open();
  ehlo();
  s().finish(clock_.now());
  EXPECT_TRUE(s().closing());
  ASSERT_EQ(sink_.sessions.size(), 1u);
  EXPECT_EQ(sink_.sessions[0].r.reason, EndReason::kPeerClosed);
  EXPECT_EQ(sink_.sessions[0].r.messages, 0u);
}

TEST_F(SessionTest, FinishCarriesTheEndReason) {
  open();
  s().on_peer_gone(true);
  s().finish(clock_.now());
  ASSERT_EQ(sink_.sessions.size(), 1u);
  EXPECT_EQ(sink_.sessions[0].r.reason, EndReason::kReset);
  core::Limits l;
  l.errors_per_session = 1;
  open(l);
  ASSERT_EQ(send("FOO\r\n"), kUnknown + kTooManyErrors);
  s().finish(clock_.now());
  ASSERT_EQ(sink_.sessions.size(), 2u);
  EXPECT_EQ(sink_.sessions[1].r.reason, EndReason::kTooManyErrors);
  EXPECT_EQ(sink_.sessions[1].r.errors, 1u);
}

TEST_F(SessionTest, PeerTextIsCapped) {
  open();
  ASSERT_EQ(send("EHLO " + std::string(500, 'h') + "\r\n"), kEhlo);
  EXPECT_EQ(s().helo(), std::string(128, 'h'));
  ASSERT_EQ(send("MAIL FROM:<" + std::string(400, 'f') + "@b>\r\n"), kMailOk);
  EXPECT_EQ(s().mail_from(), std::string(256, 'f'));
}

TEST_F(SessionTest, WorksWithoutSinkOrDigest) {
  config_.replies = &table_;
  config_.limits = core::Limits{};
  Session bare(config_, Peer{}, 1, clock_.now(), nullptr, nullptr);
  std::string out;
  bare.start(out);
  bare.on_bytes("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nhi\r\n.\r\nBDAT", clock_.now(), out);
  bare.on_bytes(" 2 LAST\r\nzzQUIT\r\n", clock_.now(), out);
  EXPECT_EQ(bare.messages(), 1u);
  EXPECT_TRUE(bare.closing());
  EXPECT_EQ(normalize(out), kGreeting + kEhlo + kMailOk + kRcptOk + kDataGo + kQueued + kNeedRcpt + kBye);
  bare.finish(clock_.now());
}

// ---- No growth ----------------------------------------------------------------

TEST_F(SessionTest, TenThousandPipelinedCommandsLeaveNothingBuffered) {
  open();
  ehlo();
  // 3 commands per message (MAIL, RCPT, DATA) and the body: 3334 messages
  // = 10,002 commands, fed in reads that cut lines at arbitrary places.
  const std::string one = kMail + kRcpt + "DATA\r\nSubject: n\r\n\r\nbody\r\n.\r\n";
  const int kMessages = 3334;
  const std::string stream = repeat(one, kMessages);
  std::size_t replies = 0, max_buffered = 0, max_out = 0;
  std::string out;
  for (std::size_t pos = 0; pos < stream.size(); pos += 997) {
    out.clear();
    s().on_bytes(std::string_view(stream).substr(pos, 997), clock_.now(), out);
    for (std::size_t i = 0; (i = out.find("\r\n", i)) != std::string::npos; i += 2) ++replies;
    max_buffered = std::max(max_buffered, s().buffered());
    max_out = std::max(max_out, out.size());
  }
  EXPECT_EQ(replies, 4u * kMessages);
  EXPECT_EQ(s().messages(), static_cast<std::uint32_t>(kMessages));
  EXPECT_EQ(sink_.messages.size(), static_cast<std::size_t>(kMessages));
  EXPECT_EQ(s().errors(), 0u);
  EXPECT_FALSE(s().closing());
  EXPECT_LT(max_buffered, kRcpt.size());  // at most part of one command line
  EXPECT_EQ(s().buffered(), 0u);
  EXPECT_LT(max_out, 4096u);  // replies are per read, not accumulated
}


// ---- Early talkers (greet delay on sink listeners, body before 354) ------

const std::string kTeaser = "220-mx.example.test ESMTP Postfix (Debian/GNU)\r\n";
const std::string kEarlyReject = "521 5.5.1 Protocol error\r\n";
const std::string kEarlyRejectTemp = "421 4.7.0 mx.example.test Error: Protocol error\r\n";
const std::string kEarlyDefer = "550 5.5.1 Protocol error\r\n";
const std::string kEarlyDeferTemp = "450 4.5.1 Protocol error\r\n";

class EarlyTalkTest : public SessionTest {
 protected:
  // Opens without greeting, as the driver does during a greet delay.
  void open_delayed(EarlyTalkPolicy::Action action, bool permanent = true, std::vector<core::Cidr> allow = {}) {
    config_.replies = &table_;
    config_.mode = core::Mode::kSink;
    config_.listener = "sink-test";
    config_.early.action = action;
    config_.early.permanent = permanent;
    config_.early.greet_delay = 5s;
    config_.early.allow = std::move(allow);
    start_ = clock_.now();
    session_ = std::make_unique<Session>(config_, Peer{core::IpAddress::from_v4(0xc0000201), 40123}, kId, start_,
                                         &sink_, &digest_);
  }
  std::string talk(std::string_view first) {
    std::string out;
    session_->on_early_talk(first, out);
    return out;
  }
  std::string greet() {
    std::string out;
    session_->start(out);
    return out;
  }
  const StoredSession& finish() {
    session_->finish(clock_.now());
    EXPECT_EQ(sink_.sessions.size(), 1u);
    return sink_.sessions.back();
  }
};

TEST_F(EarlyTalkTest, TeaserIsTheGreetingsFirstLine) {
  open_delayed(EarlyTalkPolicy::Action::kIgnore);
  std::string out;
  s().start_teaser(out);
  EXPECT_EQ(out, kTeaser);
  EXPECT_EQ(greet(), kGreeting);
}

TEST_F(EarlyTalkTest, RejectPermanentAnswers521AndCloses) {
  open_delayed(EarlyTalkPolicy::Action::kReject);
  EXPECT_EQ(talk("EHLO bot.example\r\n"), kEarlyReject);
  EXPECT_TRUE(s().closing());
  const auto& st = finish();
  EXPECT_EQ(st.r.reason, EndReason::kEarlyTalker);
  EXPECT_TRUE(st.r.early_talker);
  EXPECT_EQ(st.early_bytes, "EHLO bot.example");  // the first 16 bytes
}

TEST_F(EarlyTalkTest, RejectTemporaryAnswers421) {
  open_delayed(EarlyTalkPolicy::Action::kReject, false);
  EXPECT_EQ(talk("HELO x\r\n"), kEarlyRejectTemp);
  EXPECT_TRUE(s().closing());
}

TEST_F(EarlyTalkTest, IgnoreRecordsAndTheCommandsAreAnsweredAfterTheGreeting) {
  open_delayed(EarlyTalkPolicy::Action::kIgnore);
  EXPECT_EQ(talk("EHLO bot"), "");
  EXPECT_FALSE(s().closing());
  EXPECT_EQ(greet(), kGreeting);
  // The driver only peeked: the same bytes arrive again as input.
  EXPECT_EQ(send("EHLO client.example\r\n"), kEhlo);
  EXPECT_EQ(send(kMail), kMailOk);
  const auto& st = finish();
  EXPECT_TRUE(st.r.early_talker);
  EXPECT_EQ(st.early_bytes, "EHLO bot");
}

TEST_F(EarlyTalkTest, DeferRefusesEveryMailAndRcptAndCountsThemAsErrors) {
  open_delayed(EarlyTalkPolicy::Action::kDefer);
  EXPECT_EQ(talk("EHLO bot\r\n"), "");
  EXPECT_EQ(greet(), kGreeting);
  EXPECT_EQ(send("EHLO client.example\r\n"), kEhlo);
  EXPECT_EQ(send(kMail), kEarlyDefer);
  EXPECT_EQ(send(kRcpt), kEarlyDefer);
  EXPECT_EQ(send("NOOP\r\n"), kOk);
  EXPECT_EQ(s().errors(), 2u);
  // A bot that keeps trying meets the error limit.
  std::string out;
  for (int i = 0; i < 30 && !s().closing(); ++i) out += send(kMail);
  EXPECT_TRUE(s().closing());
  EXPECT_NE(out.find(kTooManyErrors), std::string::npos);
  EXPECT_EQ(s().messages(), 0u);
}

TEST_F(EarlyTalkTest, DeferTemporaryAnswers450) {
  open_delayed(EarlyTalkPolicy::Action::kDefer, false);
  talk("x");
  greet();
  EXPECT_EQ(send(kRcpt), kEarlyDeferTemp);
}

TEST_F(EarlyTalkTest, AllowlistedClientsAreNeverTalkers) {
  // The peer is 192.0.2.1; 192.0.2.0/24 is /120 in the IPv4-mapped space.
  open_delayed(EarlyTalkPolicy::Action::kReject, true, {core::Cidr::make(core::IpAddress::from_v4(0xc0000200), 120)});
  EXPECT_EQ(talk("EHLO friend\r\n"), "");
  EXPECT_FALSE(s().closing());
  EXPECT_FALSE(s().early_talker());
  EXPECT_EQ(greet(), kGreeting);
  EXPECT_FALSE(finish().r.early_talker);
}

TEST_F(EarlyTalkTest, OnlyTheFirstTalkIsRecorded) {
  open_delayed(EarlyTalkPolicy::Action::kIgnore);
  talk("first");
  talk("second");
  EXPECT_EQ(finish().early_bytes, "first");
}

// The body in the same read as DATA was sent before our 354 could arrive.
TEST_F(EarlyTalkTest, BodyBeforeThe354IsAnEarlyTalkAndRejectReplacesThe354) {
  open_delayed(EarlyTalkPolicy::Action::kReject);
  greet();
  ASSERT_EQ(send("EHLO client.example\r\n"), kEhlo);
  EXPECT_EQ(send(kMail + kRcpt + "DATA\r\nSubject: spam\r\n\r\nbuy\r\n.\r\n"), kMailOk + kRcptOk + kEarlyReject);
  EXPECT_TRUE(s().closing());
  EXPECT_TRUE(sink_.messages.empty());
  const auto& st = finish();
  EXPECT_EQ(st.r.reason, EndReason::kEarlyTalker);
  EXPECT_EQ(st.early_bytes, "Subject: spam\r\n\r");  // the first 16 bytes
}

TEST_F(EarlyTalkTest, BodyBeforeThe354IgnoredIsAcceptedAndRecorded) {
  open_delayed(EarlyTalkPolicy::Action::kIgnore);
  greet();
  ASSERT_EQ(send("EHLO client.example\r\n"), kEhlo);
  EXPECT_EQ(normalize(send(kMail + kRcpt + "DATA\r\nhello\r\n.\r\n")), kMailOk + kRcptOk + kDataGo + kQueued);
  EXPECT_TRUE(finish().r.early_talker);
}

TEST_F(EarlyTalkTest, WaitingFor354IsNotEarlyTalkNorIsBdat) {
  open_delayed(EarlyTalkPolicy::Action::kReject);
  greet();
  ASSERT_EQ(send("EHLO client.example\r\n"), kEhlo);
  EXPECT_EQ(send(kMail + kRcpt + "DATA\r\n"), kMailOk + kRcptOk + kDataGo);
  EXPECT_EQ(normalize(send("hello\r\n.\r\n")), kQueued);
  EXPECT_EQ(normalize(send(kMail + kRcpt + "BDAT 5 LAST\r\nhello")),
            kMailOk + kRcptOk + "250 2.0.0 Ok: 7 bytes queued as QID\r\n");
  EXPECT_FALSE(finish().r.early_talker);
}

}  // namespace
}  // namespace spamsink::session
