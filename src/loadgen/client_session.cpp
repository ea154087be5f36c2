#include "loadgen/client_session.hpp"

namespace spamsink::loadgen {

namespace {
constexpr std::string_view kData = "DATA\r\n";
constexpr std::string_view kRset = "RSET\r\n";
constexpr std::string_view kQuit = "QUIT\r\n";
constexpr std::string_view kStarttls = "STARTTLS\r\n";
}  // namespace

std::string_view to_string(Stage s) {
  switch (s) {
    case Stage::kGreeting: return "greeting";
    case Stage::kHelo: return "helo";
    case Stage::kMail: return "mail";
    case Stage::kRcpt: return "rcpt";
    case Stage::kData: return "data";
    case Stage::kBody: return "body";
    case Stage::kQuit: return "quit";
  }
  return "unknown";
}

void ClientSession::on_bytes(std::string_view in, Output& out) {
  while (!in.empty() && !finished()) {
    switch (parser_.next(in)) {
      case smtp::ReplyParser::Status::kNeedMore: return;
      case smtp::ReplyParser::Status::kReply: on_reply(parser_.code(), out); break;
      case smtp::ReplyParser::Status::kBad:
        protocol_error_ = true;
        if (message_open_) finish_message(false);
        state_ = State::kFailed;
        return;
    }
  }
}

void ClientSession::on_closed() {
  if (state_ == State::kQuit || state_ == State::kDone) {
    state_ = State::kDone;
    return;
  }
  if (message_open_) finish_message(false);
  state_ = State::kFailed;
}

void ClientSession::on_tls_started(Output& out) {
  if (!tls_requested_) return;
  tls_requested_ = false;
  tls_active_ = true;
  out.head.append(t_.ehlo);
  state_ = State::kEhlo;
}

void ClientSession::finish_message(bool accepted) {
  if (!message_open_) return;
  message_open_ = false;
  events_.message_done(accepted && !message_failed_);
}

void ClientSession::fail_message(int code, Stage stage) {
  if (code >= 400) events_.reply_error(code, stage);
  message_failed_ = true;
}

void ClientSession::quit(Output& out) {
  out.head.append(kQuit);
  state_ = State::kQuit;
}

void ClientSession::start_message(Output& out) {
  if ((o_.messages_per_conn != 0 && started_ >= o_.messages_per_conn) || !events_.claim_message()) return quit(out);
  ++started_;
  message_open_ = true;
  message_failed_ = false;
  mail_ok_ = false;
  rcpt_index_ = 0;
  rcpt_ok_ = 0;
  out.head.append(t_.mail);
  if (pipelined_) {
    for (const auto& r : t_.rcpts) out.head.append(r);
    if (use_bdat_) {
      out.head.append(t_.bdat_cmd);
      out.body = t_.bdat_body;
    } else {
      out.head.append(kData);
    }
  }
  state_ = State::kMail;
}

void ClientSession::send_body(Output& out) {
  if (use_bdat_) {
    out.head.append(t_.bdat_cmd);
    out.body = t_.bdat_body;
  } else {
    out.body = t_.data_body;
  }
  state_ = State::kBody;
}

void ClientSession::on_reply(int code, Output& out) {
  const bool ok2 = code >= 200 && code < 300;
  switch (state_) {
    case State::kGreeting:
      if (code == 220) {
        out.head.append(t_.ehlo);
        state_ = State::kEhlo;
      } else {
        events_.reply_error(code, Stage::kGreeting);
        quit(out);
      }
      return;
    case State::kEhlo:
      if (code == 250) {
        ext_ = parser_.extensions();
        if (o_.starttls && !tls_active_) {
          if ((ext_ & smtp::kExtStarttls) == 0) {  // asked for TLS, none offered
            protocol_error_ = true;
            state_ = State::kFailed;
            return;
          }
          out.head.append(kStarttls);
          state_ = State::kStarttls;
          return;
        }
        pipelined_ = o_.pipelining && (ext_ & smtp::kExtPipelining) != 0;
        use_bdat_ = o_.bdat && (ext_ & smtp::kExtChunking) != 0;
        return start_message(out);
      }
      events_.reply_error(code, Stage::kHelo);
      if (code >= 500) {  // an old server: say HELO instead
        out.head.append(t_.helo);
        state_ = State::kHelo;
        return;
      }
      return quit(out);
    case State::kStarttls:
      if (code == 220) {
        tls_requested_ = true;
        return;
      }
      events_.reply_error(code, Stage::kHelo);
      return quit(out);
    case State::kHelo:
      if (o_.starttls) {  // HELO has no STARTTLS
        protocol_error_ = true;
        state_ = State::kFailed;
        return;
      }
      if (code == 250) {
        ext_ = 0;
        pipelined_ = use_bdat_ = false;
        return start_message(out);
      }
      events_.reply_error(code, Stage::kHelo);
      return quit(out);
    case State::kMail:
      mail_ok_ = code == 250;
      if (!mail_ok_) fail_message(code, Stage::kMail);
      if (pipelined_) {
        state_ = State::kRcpt;
        return;
      }
      if (!mail_ok_) {
        finish_message(false);
        out.head.append(kRset);
        state_ = State::kRset;
        return;
      }
      out.head.append(t_.rcpts[0]);
      state_ = State::kRcpt;
      return;
    case State::kRcpt:
      if (ok2) ++rcpt_ok_;
      else fail_message(code, Stage::kRcpt);  // the message goes on to the others, but failed
      ++rcpt_index_;
      if (pipelined_) {
        if (rcpt_index_ == t_.rcpts.size()) state_ = use_bdat_ ? State::kBody : State::kData;
        return;
      }
      if (rcpt_index_ < t_.rcpts.size()) {
        out.head.append(t_.rcpts[rcpt_index_]);
        return;
      }
      if (rcpt_ok_ == 0) {
        message_failed_ = true;
        finish_message(false);
        out.head.append(kRset);
        state_ = State::kRset;
        return;
      }
      if (use_bdat_) return send_body(out);
      out.head.append(kData);
      state_ = State::kData;
      return;
    case State::kData:
      if (code == 354) return send_body(out);
      fail_message(code, Stage::kData);
      finish_message(false);
      out.head.append(kRset);
      state_ = State::kRset;
      return;
    case State::kBody:
      if (code == 250) {
        finish_message(true);
      } else {
        fail_message(code, Stage::kBody);
        finish_message(false);
      }
      return start_message(out);
    case State::kRset:
      return start_message(out);
    case State::kQuit:
      state_ = State::kDone;
      return;
    case State::kDone:
    case State::kFailed:
      return;
  }
}

}  // namespace spamsink::loadgen
