// loadgen/client_session: the sans-I/O SMTP client of one connection.
//
// Purpose: smtpsend's protocol logic, testable with scripted replies: reply
// bytes in, command bytes out, message outcomes reported to ClientEvents.
// Invariants:
//  - every reply is parsed by smtp::ReplyParser; a malformed reply ends the
//    session as a protocol failure;
//  - a 4xx/5xx at any step fails the current message (counted by code),
//    the session resets the transaction (RSET) and goes on with the next;
//  - with `pipelining` and a server that offers PIPELINING, MAIL, every
//    RCPT and DATA (or BDAT + body) go out in one write;
//  - with `bdat` and a server that offers CHUNKING, the message goes as one
//    BDAT ... LAST chunk, unstuffed;
//  - bodies are never copied: Output carries a view of the shared message;
//  - with `starttls`, the first EHLO is followed by STARTTLS; after its 220
//    tls_requested() is true and nothing is sent until the driver has run
//    the handshake and called on_tls_started() (which sends EHLO again); a
//    server that offers no STARTTLS is a protocol failure.
// Limits: reply lines per smtp::ReplyParser.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/reply_parser.hpp"

namespace spamsink::loadgen {

// What every connection sends, rendered once.
struct MessageTemplate {
  std::string ehlo;                 // "EHLO name\r\n"
  std::string helo;                 // "HELO name\r\n" (fallback)
  std::string mail;                 // "MAIL FROM:<...>\r\n"
  std::vector<std::string> rcpts;   // "RCPT TO:<...>\r\n" each
  std::string data_body;            // headers + body, dot-stuffed, ending "\r\n.\r\n"
  std::string bdat_cmd;             // "BDAT n LAST\r\n"
  std::string bdat_body;            // the same message, unstuffed, n bytes
};

struct ClientOptions {
  bool pipelining = false;
  bool bdat = false;
  bool starttls = false;
  std::uint32_t messages_per_conn = 1;  // 0 = no per-connection limit
};

enum class Stage : std::uint8_t { kGreeting, kHelo, kMail, kRcpt, kData, kBody, kQuit };
std::string_view to_string(Stage s);

class ClientEvents {
 public:
  virtual ~ClientEvents() = default;
  // May this connection start another message? (claims it from the budget)
  virtual bool claim_message() = 0;
  // The message claimed last is finished: accepted (250 at the end) or not.
  virtual void message_done(bool accepted) = 0;
  // A 4xx/5xx reply at `stage`.
  virtual void reply_error(int code, Stage stage) = 0;
};

// Bytes to send: `head` (small, in the caller's buffer), then `body`
// (a view of the template, sent after head).
struct Output {
  std::string head;
  std::string_view body;
  void clear() {
    head.clear();
    body = {};
  }
  bool empty() const { return head.empty() && body.empty(); }
};

class ClientSession {
 public:
  enum class State : std::uint8_t {
    kGreeting, kEhlo, kHelo, kMail, kRcpt, kData, kBody, kRset, kQuit, kDone, kFailed, kStarttls
  };

  ClientSession(const MessageTemplate& t, const ClientOptions& o, ClientEvents& events)
      : t_(t), o_(o), events_(events) {}

  // Reply bytes from the server; appends what to send next to `out`.
  void on_bytes(std::string_view in, Output& out);
  // The server closed the connection.
  void on_closed();
  // The 220 to STARTTLS came: the driver runs the handshake now.
  bool tls_requested() const { return tls_requested_; }
  // The handshake is done: appends the second EHLO.
  void on_tls_started(Output& out);
  bool tls_active() const { return tls_active_; }

  State state() const { return state_; }
  bool finished() const { return state_ == State::kDone || state_ == State::kFailed; }
  bool protocol_error() const { return protocol_error_; }
  bool message_open() const { return message_open_; }
  std::uint32_t extensions() const { return ext_; }
  std::uint32_t messages_started() const { return started_; }
  int last_code() const { return parser_.code(); }
  std::string_view last_text() const { return parser_.text(); }

 private:
  void on_reply(int code, Output& out);
  void start_message(Output& out);
  void send_body(Output& out);
  void fail_message(int code, Stage stage);
  void finish_message(bool accepted);
  void quit(Output& out);

  const MessageTemplate& t_;
  const ClientOptions& o_;
  ClientEvents& events_;
  smtp::ReplyParser parser_;
  State state_ = State::kGreeting;
  std::uint32_t ext_ = 0;
  std::uint32_t started_ = 0;
  std::uint32_t rcpt_index_ = 0;  // next RCPT reply expected
  std::uint32_t rcpt_ok_ = 0;
  std::uint32_t pending_ = 0;     // pipelined replies still due
  bool pipelined_ = false;        // the current message went pipelined
  bool use_bdat_ = false;
  bool mail_ok_ = false;
  bool message_open_ = false;
  bool message_failed_ = false;
  bool protocol_error_ = false;
  bool tls_requested_ = false;
  bool tls_active_ = false;
};

}  // namespace spamsink::loadgen
