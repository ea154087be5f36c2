#include "session/session.hpp"

#include <algorithm>
#include <cstring>

#include "smtp/command.hpp"

namespace spamsink::session {

using smtp::ReplyId;
using smtp::Verb;

namespace {

// What follows "FROM:" / "TO:", as Exim echoes it in an address error.
std::string_view after_colon(std::string_view args) {
  const std::size_t colon = args.find(':');
  if (colon == std::string_view::npos) return args;
  args.remove_prefix(colon + 1);
  while (!args.empty() && args.front() == ' ') args.remove_prefix(1);
  return args;
}

}  // namespace

Session::Session(const SessionConfig& config, const Peer& peer, std::uint64_t id, core::TimePoint now,
                 core::EventSink* sink, core::BodyDigest* digest)
    : config_(config),
      replies_(*config.replies),
      sink_(sink),
      digest_(digest),
      peer_(peer),
      id_(id),
      start_(now),
      line_deadline_(now + config.limits.command_time),
      end_of_life_(now + config.limits.session_lifetime),
      framer_(config.limits.line_length_bytes),
      scanner_(config.limits.body_line_bytes),
      relay_(config.mode == core::Mode::kRelay ? std::make_unique<RelayState>(*this) : nullptr),
      body_sink_(relay_ ? &relay_->tee : digest) {
  ip_len_ = static_cast<std::uint8_t>(peer_.ip.format(ip_text_));
  if (relay_) {
    char buf[64];
    relay_->own_ip.set_needle(std::string_view(buf, peer_.local.format(buf)));
  }
}

void Session::start(std::string& out, std::int64_t unix_time) {
  unix_start_ = unix_time;
  reply(ReplyId::kGreeting, out);
}

void Session::start_teaser(std::string& out) { reply(ReplyId::kTeaser, out); }

bool Session::note_early_talk(std::string_view first) {
  if (early_talker_ || core::any_contains(config_.early.allow, peer_.ip)) return false;
  early_talker_ = true;
  early_len_ = static_cast<std::uint8_t>(first.size() < sizeof early_ ? first.size() : sizeof early_);
  std::memcpy(early_, first.data(), early_len_);
  return true;
}

void Session::early_talk_action(std::string& out) {
  switch (config_.early.action) {
    case EarlyTalkPolicy::Action::kIgnore: return;
    case EarlyTalkPolicy::Action::kDefer: deferred_ = true; return;
    case EarlyTalkPolicy::Action::kReject:
      reply(config_.early.permanent ? ReplyId::kEarlyRejectPerm : ReplyId::kEarlyRejectTemp, out);
      close(core::EndReason::kEarlyTalker);
      return;
  }
}

void Session::on_early_talk(std::string_view first, std::string& out) {
  if (phase_ != Phase::kClosed && note_early_talk(first)) early_talk_action(out);
}

void Session::reply(ReplyId id, std::string& out, std::string_view arg) {
  if (!replies_.dynamic(id)) {
    out.append(replies_.get(id));
    return;
  }
  smtp::ReplyVars v;
  v.helo = helo_.view();
  v.ip = std::string_view(ip_text_, ip_len_);
  v.arg = arg;
  v.unix_time = unix_start_;
  replies_.render(id, v, out);
}

void Session::close(core::EndReason reason) {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  reason_ = reason;
}

void Session::count_error(std::string& out, std::size_t reply_at) {
  if (++errors_ < config_.limits.errors_per_session) return;
  if (replies_.behaviour().error_limit_merge && reply_at + 4 <= out.size()) {
    // Exim: the error's last line becomes a continuation, and the limit's
    // text, with the error's code, ends the reply.
    const std::size_t last = out.rfind("\r\n", out.size() - 3);
    const std::size_t line = (last == std::string::npos || last < reply_at) ? reply_at : last + 2;
    char code[3] = {out[line], out[line + 1], out[line + 2]};
    if (line + 3 < out.size()) out[line + 3] = '-';
    smtp::ReplyVars v;
    v.code = std::string_view(code, 3);
    replies_.render(ReplyId::kTooManyErrors, v, out);
  } else if (replies_.behaviour().error_limit_merge) {
    // Nothing to merge into (a junk command's reply was not an error):
    // the limit's text alone, with the closing code.
    smtp::ReplyVars v;
    v.code = "421";
    replies_.render(ReplyId::kTooManyErrors, v, out);
  } else {
    reply(ReplyId::kTooManyErrors, out);
  }
  close(core::EndReason::kTooManyErrors);
}

void Session::error(ReplyId id, std::string& out, std::string_view arg) {
  const std::size_t at = out.size();
  reply(id, out, arg);
  count_error(out, at);
}

void Session::unknown_command(std::string& out, std::string_view line) {
  const std::uint32_t limit = replies_.behaviour().unknown_command_limit;
  if (limit != 0 && ++unknown_ >= limit) {
    reply(ReplyId::kTooManyUnknown, out, line);
    return close(core::EndReason::kTooManyErrors);
  }
  error(ReplyId::kUnknown, out, line);
}

void Session::junk_command(std::string& out) {
  if (phase_ != Phase::kClosed && ++junk_ > config_.limits.junk_commands_per_session) count_error(out, out.size());
}

void Session::reset_transaction() {
  in_mail_ = false;
  bdat_error_ = false;
  bdat_used_ = false;
  too_big_ = false;
  bdat_bytes_ = 0;
  rcpt_count_ = 0;
  rcpt_overshoot_ = 0;
  rcpts_.clear();
  if (relay_) {
    relay_->first_rcpt.clear();
    relay_->foreign_rcpt = false;
  }
  drop_forward();
}

void Session::drop_forward() {
  if (!relay_) return;
  if (relay_->fwd_granted && config_.relay != nullptr) config_.relay->cancel(relay_->fwd_token);
  relay_->fwd_granted = relay_->fwd_keep = false;
  std::vector<char>().swap(relay_->fwd_body);
}

void Session::begin_body() {
  if (!relay_) return;
  drop_forward();
  relay_->own_ip.reset();
  relay_->body_bytes = 0;
  if (config_.relay != nullptr && config_.relay->begin_message(peer_.ip, relay_->fwd_token)) {
    relay_->fwd_granted = relay_->fwd_keep = true;
    // A small start; grown below in steps that never pass the limit.
    relay_->fwd_body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(4096, config_.relay->forward_size_limit())));
  }
}

void Session::relay_body(const char* p, std::size_t n) {
  if (relay_->body_bytes <= kRelayTestBodyBytes) relay_->own_ip.feed(p, n);
  relay_->body_bytes += n;
  if (!relay_->fwd_keep) return;
  const std::uint64_t limit = config_.relay->forward_size_limit();
  const std::size_t need = relay_->fwd_body.size() + n;
  if (need > limit) {
    // Too big to forward: stop keeping it at once (the grant is returned
    // when the message ends).
    relay_->fwd_keep = false;
    std::vector<char>().swap(relay_->fwd_body);
    return;
  }
  if (need > relay_->fwd_body.capacity()) {
    // Exact reserve: libstdc++ allocates what is asked, so the capacity
    // stays within the limit (insert alone would double past it).
    const std::uint64_t doubled = std::max<std::uint64_t>(need, 2 * std::uint64_t{relay_->fwd_body.capacity()});
    relay_->fwd_body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(doubled, limit)));
  }
  relay_->fwd_body.insert(relay_->fwd_body.end(), p, p + n);
}

void Session::on_bytes(std::string_view in, core::TimePoint now, std::string& out) {
  bytes_in_ += in.size();
  if (tls_start_) {
    // Between the 220 and the end of the handshake nothing is a command.
    discard(in.size());
    return;
  }
  while (!in.empty() && phase_ != Phase::kClosed) {
    switch (phase_) {
      case Phase::kCommand: {
        auto line = framer_.next(in);
        if (!line) return;  // the unfinished line is kept by the framer
        line_deadline_ = now + config_.limits.command_time;
        if (line->truncated && replies_.behaviour().overlong != smtp::OverlongLine::kTruncate) {
          if (replies_.behaviour().overlong == smtp::OverlongLine::kReplyClose) {
            reply(ReplyId::kLineTooLong, out);
            ++errors_;
            close(core::EndReason::kProtocolError);
            break;
          }
          if (replies_.behaviour().overlong == smtp::OverlongLine::kReply) {
            error(ReplyId::kLineTooLong, out);
            break;
          }
          // kSplit: the MTA reads the line in pieces of the limit; the first
          // is parsed, the others (the line's tail, taken as junk) are
          // unknown commands.
          handle_line(*line, out);
          const std::size_t text = line->wire_bytes - 1;  // without the LF (a CR counts: it is cut off too)
          const std::size_t limit = framer_.limit();
          for (std::size_t pieces = (text + limit - 1) / limit; pieces > 1 && phase_ == Phase::kCommand; --pieces)
            unknown_command(out, {});
          break;
        }
        const std::size_t mark = out.size();
        handle_line(*line, out);
        if (tls_start_) {
          // CVE-2011-0411: what followed STARTTLS in the same read was sent
          // in plaintext before TLS; it must not run as commands inside TLS.
          discard(in.size());
          framer_.reset();
          return;
        }
        // The message came in the same read as DATA, before our 354 could
        // have reached the client: an early talker (RFC 2920 makes DATA the
        // last command of a pipelined group; BDAT has no 354, no check).
        if (phase_ == Phase::kData && !in.empty() && note_early_talk(in) &&
            config_.early.action == EarlyTalkPolicy::Action::kReject) {
          out.resize(mark);  // no 354: the reject replaces it
          early_talk_action(out);
        }
        break;
      }
      case Phase::kData: {
        const bool done = scanner_.scan(in);
        if (scanner_.lines() != last_lines_) {
          last_lines_ = scanner_.lines();
          line_deadline_ = now + config_.limits.command_time;
        }
        if (!too_big_ && scanner_.bytes() > config_.limits.message_size_bytes) {
          too_big_ = true;
          scanner_.stop_digest();
        }
        if (done) {
          line_deadline_ = now + config_.limits.command_time;
          phase_ = Phase::kCommand;
          end_message(out);
        }
        break;
      }
      case Phase::kBdat: {
        const std::uint64_t n = bdat_left_ < in.size() ? bdat_left_ : in.size();
        if (!bdat_skip_ && n != 0) {
          if (bdat_bytes_ + n > config_.limits.message_size_bytes)
            too_big_ = true;
          else if (body_sink_ != nullptr)
            body_sink_->update(in.data(), n);
          bdat_bytes_ += n;
          bdat_ends_lf_ = in[n - 1] == '\n';
        }
        // As in DATA, the deadline moves when a line ends, not on every
        // read, so a chunk dripped a byte at a time cannot hold the session.
        if (n != 0 && std::memchr(in.data(), '\n', n) != nullptr) line_deadline_ = now + config_.limits.command_time;
        bdat_left_ -= n;
        in.remove_prefix(n);
        if (bdat_left_ == 0) finish_chunk(out);
        break;
      }
      case Phase::kClosed:
        return;
    }
  }
}

void Session::handle_line(const smtp::LineFramer::Line& line, std::string& out) {
  const smtp::Command cmd = smtp::parse_command(line.text);
  if (cmd.verb != Verb::kEmpty && !smtp::valid_utf8(line.text)) return error(ReplyId::kBadUtf8, out);
  switch (cmd.verb) {
    case Verb::kEhlo: return cmd_helo(cmd.args, true, out);
    case Verb::kHelo: return cmd_helo(cmd.args, false, out);
    case Verb::kMail: return cmd_mail(cmd.args, out);
    case Verb::kRcpt: return cmd_rcpt(cmd.args, out);
    case Verb::kData: return cmd_data(cmd.args, out);
    case Verb::kBdat: return cmd_bdat(cmd.args, out);
    // The junk commands: past junk_command_limit, each one is also an
    // error, counted after its reply (a live Postfix 3.7: 120 NOOPs get
    // 120 x 250 and then, unprompted, the 421).
    case Verb::kRset:
      if (!cmd.args.empty()) {
        error(ReplyId::kRsetArgs, out);
      } else {
        reset_transaction();
        reply(ReplyId::kReset, out);
      }
      return junk_command(out);
    case Verb::kNoop:
      reply(ReplyId::kOk, out);
      return junk_command(out);
    case Verb::kVrfy:
      if (!replies_.behaviour().vrfy) return unknown_command(out, line.text);
      cmd_vrfy(cmd.args, out);
      return junk_command(out);
    case Verb::kHelp:
      if (!replies_.behaviour().help) return unknown_command(out, line.text);
      return reply(ReplyId::kHelp, out);
    case Verb::kEtrn:
      if (!replies_.behaviour().etrn) return unknown_command(out, line.text);
      cmd_etrn(cmd.args, out);
      return junk_command(out);
    case Verb::kQuit:
      reply(ReplyId::kQuit, out);
      return close(core::EndReason::kQuit);
    case Verb::kStarttls: return cmd_starttls(cmd.args, out);
    case Verb::kAuth: return error(ReplyId::kAuthNotEnabled, out);
    case Verb::kXclient: return error(cmd.args.empty() ? ReplyId::kXclientSyntax : ReplyId::kNotAuthorized, out);
    case Verb::kXforward: return error(cmd.args.empty() ? ReplyId::kXforwardSyntax : ReplyId::kNotAuthorized, out);
    case Verb::kForbidden:
      reply(ReplyId::kForbidden, out);
      return close(core::EndReason::kForbidden);
    case Verb::kEmpty: return error(ReplyId::kBadSyntax, out);
    case Verb::kUnknown: return unknown_command(out, line.text);
  }
}

void Session::cmd_helo(std::string_view args, bool esmtp, std::string& out) {
  if (args.empty()) return error(esmtp ? ReplyId::kEhloSyntax : ReplyId::kHeloSyntax, out);
  helo_.assign(args);
  reset_transaction();
  if (!esmtp) return reply(ReplyId::kHelo, out);
  if (tls_active_) return reply(ReplyId::kEhloAfterTls, out);
  reply(config_.tls && replies_.offers_starttls() ? ReplyId::kEhloStarttls : ReplyId::kEhlo, out);
}

// As Postfix's starttls_cmd: arguments are a syntax error, a second
// STARTTLS inside TLS is refused, and it is accepted before EHLO too.
void Session::cmd_starttls(std::string_view args, std::string& out) {
  if (!config_.tls || !replies_.offers_starttls()) return error(ReplyId::kStarttlsNotOffered, out);
  if (tls_active_) return error(ReplyId::kStarttlsActive, out);
  if (!args.empty()) return error(ReplyId::kStarttlsSyntax, out);
  reply(ReplyId::kStarttlsReady, out);
  tls_start_ = true;
}

void Session::on_tls_started(core::TimePoint now) {
  if (!tls_start_ || phase_ == Phase::kClosed) return;
  tls_start_ = false;
  tls_active_ = true;
  helo_.clear();
  reset_transaction();
  framer_.reset();
  line_deadline_ = now + config_.limits.command_time;
}

void Session::on_tls_failed() {
  tls_start_ = false;
  close(core::EndReason::kTlsFailed);
}

ReplyId Session::defer_reply() const {
  return config_.early.permanent ? ReplyId::kEarlyDeferPerm : ReplyId::kEarlyDeferTemp;
}

void Session::cmd_mail(std::string_view args, std::string& out) {
  // A deferred early talker gets 450/550 to every MAIL and RCPT; they count
  // as errors, so a bot that keeps trying meets the error limit.
  if (deferred_) return error(defer_reply(), out);
  if (in_mail_) return error(ReplyId::kNestedMail, out);
  const smtp::PathArgs p = smtp::parse_mail_args(args);
  switch (p.status) {
    case smtp::PathStatus::kOk: break;
    case smtp::PathStatus::kSyntax: return error(ReplyId::kMailSyntax, out);
    case smtp::PathStatus::kBadAddress: return error(ReplyId::kBadSender, out, after_colon(args));
    case smtp::PathStatus::kBadSize: return error(ReplyId::kBadSizeSyntax, out);
    case smtp::PathStatus::kSizeOverflow: return error(ReplyId::kSizeOverflow, out);
    case smtp::PathStatus::kBadRet: return error(ReplyId::kBadRetSyntax, out);
    case smtp::PathStatus::kBadEnvid: return error(ReplyId::kBadEnvidSyntax, out);
    case smtp::PathStatus::kBadNotify:
    case smtp::PathStatus::kBadOrcpt:
    case smtp::PathStatus::kUnsupported:
      return error(ReplyId::kUnsupportedOption, out, p.bad_param);
  }
  if (p.has_size && p.size > config_.limits.message_size_bytes) return error(ReplyId::kSizeTooBig, out);
  reset_transaction();
  in_mail_ = true;
  mail_from_.assign(p.address);
  reply(ReplyId::kMailOk, out, p.address);
}

void Session::cmd_rcpt(std::string_view args, std::string& out) {
  if (deferred_) return error(defer_reply(), out);
  if (!in_mail_) return error(ReplyId::kNeedMail, out);
  const smtp::PathArgs p = smtp::parse_rcpt_args(args);
  switch (p.status) {
    case smtp::PathStatus::kOk: break;
    case smtp::PathStatus::kSyntax: return error(ReplyId::kRcptSyntax, out);
    case smtp::PathStatus::kBadAddress: return error(ReplyId::kBadRecipient, out, after_colon(args));
    case smtp::PathStatus::kBadNotify: return error(ReplyId::kBadNotifySyntax, out);
    case smtp::PathStatus::kBadOrcpt: return error(ReplyId::kBadOrcptSyntax, out);
    case smtp::PathStatus::kBadSize:
    case smtp::PathStatus::kSizeOverflow:
    case smtp::PathStatus::kBadRet:
    case smtp::PathStatus::kBadEnvid:
    case smtp::PathStatus::kUnsupported:
      return error(ReplyId::kUnsupportedOption, out, p.bad_param);
  }
  if (p.address.empty()) return error(ReplyId::kBadRecipient, out, after_colon(args));
  if (rcpt_count_ >= config_.limits.recipients_per_message) {
    // Postfix: the first recipient_overshoot refusals are free; after that
    // each one counts toward the error limit.
    if (rcpt_overshoot_++ < config_.limits.recipient_overshoot) return reply(ReplyId::kTooManyRcpts, out);
    return error(ReplyId::kTooManyRcpts, out);
  }
  ++rcpt_count_;
  rcpts_.append_item(p.address, ',');
  if (config_.spamtraps != nullptr && !trap_hit_ && config_.spamtraps->match(p.address)) {
    trap_hit_ = true;
    trap_rcpt_.assign(p.address.substr(0, kTrapRcptBytes));  // once per session at most
  }
  if (relay_) {
    const std::string_view domain = domain_of(p.address);
    relay_->domains.add(domain);
    const std::string_view sender = domain_of(mail_from_.view());
    if (!sender.empty() && !mail_from_.truncated() && !iequal(domain, sender)) relay_->foreign_rcpt = true;
    if (rcpt_count_ == 1) relay_->first_rcpt.assign(p.address);
  }
  reply(ReplyId::kRcptOk, out, p.address);
}

void Session::cmd_vrfy(std::string_view args, std::string& out) {
  // As Postfix: a trailing SMTPUTF8 is dropped; one word is echoed as
  // given; several words, or an empty <>, are a bad address.
  std::string_view a = smtp::strip_trailing_word(args, "SMTPUTF8");
  if (a.empty()) return error(ReplyId::kVrfySyntax, out);
  if (smtp::count_words(a) != 1) return error(ReplyId::kBadRecipient, out, a);
  if (a == "<>") return error(ReplyId::kBadRecipient, out, a);
  reply(ReplyId::kVrfy, out, a);
}

void Session::cmd_data(std::string_view args, std::string& out) {
  if (!args.empty()) return error(ReplyId::kDataArgs, out);
  if (!in_mail_) return error(ReplyId::kNeedRcpt, out);
  if (bdat_used_) return error(ReplyId::kDataAfterBdat, out);
  if (rcpt_count_ == 0) return error(ReplyId::kNoRecipients, out);
  reply(ReplyId::kDataGo, out);
  begin_body();
  scanner_.start(body_sink_);
  last_lines_ = 0;
  too_big_ = false;
  phase_ = Phase::kData;
}

// BDAT as Postfix 3.7 does it: a refused chunk is still read (its length is
// known) and answered after its bytes; after a failed chunk, later chunks
// are discarded with 551 up to the LAST one. A BDAT line that cannot be
// parsed leaves the stream unframeable: 521 and close.
void Session::cmd_bdat(std::string_view args, std::string& out) {
  const smtp::BdatArgs b = smtp::parse_bdat_args(args);
  if (!b.ok) {
    reply(ReplyId::kBdatSyntax, out);
    ++errors_;
    return close(core::EndReason::kProtocolError);
  }
  bdat_left_ = b.size;
  bdat_chunk_ = b.size;
  bdat_last_ = b.last;
  bdat_skip_ = true;
  if (bdat_error_) {
    bdat_refusal_ = ReplyId::kCount;  // 551 Discarded N bytes
  } else if (!in_mail_) {
    bdat_refusal_ = ReplyId::kNeedRcpt;
  } else if (rcpt_count_ == 0) {
    bdat_refusal_ = ReplyId::kNoRecipients;
  } else {
    bdat_skip_ = false;
    if (!bdat_used_) {
      bdat_used_ = true;
      bdat_bytes_ = 0;
      bdat_ends_lf_ = false;
      too_big_ = false;
      begin_body();
      if (body_sink_ != nullptr) body_sink_->reset();
    }
  }
  phase_ = Phase::kBdat;
  if (bdat_left_ == 0) finish_chunk(out);
}

void Session::finish_chunk(std::string& out) {
  phase_ = Phase::kCommand;
  if (bdat_skip_) {
    if (bdat_refusal_ == ReplyId::kCount) {
      const std::size_t at = out.size();
      replies_.bdat_discarded(bdat_chunk_, out);
      count_error(out, at);
    } else {
      error(bdat_refusal_, out);
    }
    bdat_error_ = !bdat_last_;
    if (bdat_last_) reset_transaction();
    return;
  }
  if (too_big_) {
    // The transaction is over; what the client still sends is discarded.
    record_message(false, bdat_bytes_);
    reset_transaction();
    bdat_error_ = !bdat_last_;
    // Postfix counts it towards the error limit, like the 552 after DATA.
    return error(ReplyId::kChunkTooBig, out);
  }
  if (bdat_last_) return end_message(out);
  replies_.bdat_ok(bdat_chunk_, out);
}

void Session::cmd_etrn(std::string_view args, std::string& out) {
  if (args.empty() || smtp::count_words(args) != 1) return error(ReplyId::kEtrnSyntax, out);
  if (in_mail_) return error(ReplyId::kEtrnInTransaction, out);
  // Postfix names the queue without its "@" or "#" prefix.
  std::string_view domain = smtp::trim_trailing_space(args);
  if (domain.front() == '@' || domain.front() == '#') domain.remove_prefix(1);
  reply(ReplyId::kEtrnRefused, out, domain);
}

std::size_t Session::next_queue_id(char (&buf)[kMaxQueueId], std::uint64_t& num) {
  // An id in the persona's format (Postfix: upper-case hex), unique enough
  // to look real: derived from the session id, the time and a counter.
  static constexpr char kHex[] = "0123456789ABCDEF";
  static constexpr char kLowerHex[] = "0123456789abcdef";
  static constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::uint64_t x = (id_ * 0x9E3779B97F4A7C15ull) ^ (static_cast<std::uint64_t>(++queue_seq_) << 40) ^
                    static_cast<std::uint64_t>(start_.time_since_epoch().count());
  auto mix = [&x] {
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
  };
  mix();
  num = x % 10'000'000'000'000ull;
  const std::string_view f = replies_.queue_id_format();
  std::size_t n = 0;
  int bits = 64;
  for (std::size_t i = 0; i < f.size() && n < kMaxQueueId; ++i) {
    if (bits < 8) {  // draw more bits
      x += 0x9E3779B97F4A7C15ull;
      mix();
      bits = 64;
    }
    switch (f[i]) {
      case 'H': buf[n++] = kHex[x & 15]; x >>= 4; bits -= 4; break;
      case 'h': buf[n++] = kLowerHex[x & 15]; x >>= 4; bits -= 4; break;
      case 'D': buf[n++] = static_cast<char>('0' + (x & 0xFF) % 10); x >>= 8; bits -= 8; break;
      case 'b': buf[n++] = kBase62[(x & 0xFF) % 62]; x >>= 8; bits -= 8; break;
      default: buf[n++] = f[i];
    }
  }
  return n;
}

void Session::record_message(bool accepted, std::uint64_t size) {
  if (sink_ == nullptr) return;
  core::MessageRecord m;
  m.session_id = id_;
  m.mail_from = mail_from_.view();
  m.recipients = rcpts_.view();
  m.mail_from_truncated = mail_from_.truncated();
  m.recipients_truncated = rcpts_.truncated();
  m.recipient_count = rcpt_count_;
  m.size_bytes = size;
  m.accepted = accepted;
  m.relay_attempt = accepted && relay_ != nullptr;
  m.relay_test = m.relay_attempt && relay_->msg_relay_test;
  m.forwarded = m.relay_attempt && relay_->msg_forwarded;
  if (accepted && digest_ != nullptr) {
    digest_->finish(m.sha256);
    m.has_digest = true;
  }
  sink_->message(m);
}

void Session::end_message(std::string& out) {
  const bool bdat = bdat_used_;
  const std::uint64_t size = bdat ? bdat_bytes_ : scanner_.bytes();
  if (too_big_) {
    error(ReplyId::kFileTooBig, out);  // an error for the limit, as in Postfix
  } else {
    char qid[kMaxQueueId];
    smtp::ReplyVars v;
    const std::size_t qlen = next_queue_id(qid, v.num);
    v.id = std::string_view(qid, qlen);
    v.helo = helo_.view();
    v.ip = std::string_view(ip_text_, ip_len_);
    v.unix_time = unix_start_;
    if (bdat) {
      // Postfix counts a BDAT message as stored: a missing final line end
      // is added (CRLF, 2 bytes).
      v.bytes = size + ((size != 0 && !bdat_ends_lf_) ? 2 : 0);
      replies_.render(ReplyId::kBdatQueued, v, out);
    } else {
      replies_.render(ReplyId::kQueued, v, out);
    }
    ++messages_;
    recipients_total_ += rcpt_count_;
    message_bytes_ += size;
    if (relay_) end_relay_message(size);
  }
  record_message(!too_big_, size);
  if (relay_) relay_->msg_relay_test = relay_->msg_forwarded = false;
  reset_transaction();
}

void Session::end_relay_message(std::uint64_t size) {
  relay_->own_ip.finish();
  ++relay_->attempts;
  relay_->msg_relay_test = is_relay_test(relay_->foreign_rcpt, size, relay_->own_ip.found());
  if (relay_->msg_relay_test) ++relay_->tests;
  relay_->msg_forwarded = false;
  if (!relay_->fwd_granted) return;
  // One recipient, whole addresses only: a cut address would go astray.
  if (relay_->fwd_keep && relay_->fwd_body.size() == size && !relay_->first_rcpt.empty() && !relay_->first_rcpt.truncated() &&
      !mail_from_.truncated()) {
    relay_->fwd_granted = relay_->fwd_keep = false;
    config_.relay->forward(peer_.ip, relay_->fwd_token, mail_from_.view(), relay_->first_rcpt.view(), std::move(relay_->fwd_body));
    relay_->fwd_body = std::vector<char>();
    relay_->msg_forwarded = true;
    ++relay_->forwarded;
  }
  // Otherwise reset_transaction() returns the grant.
}

void Session::on_deadline(core::TimePoint now, std::string& out) {
  if (phase_ == Phase::kClosed) return;
  if (now >= end_of_life_) {
    reply(ReplyId::kLifetime, out);
    close(core::EndReason::kLifetime);
  } else if (now >= line_deadline_) {
    reply(ReplyId::kTimeout, out);
    close(core::EndReason::kTimeout);
  }
}

void Session::on_shutdown(std::string& out) {
  if (phase_ == Phase::kClosed) return;
  reply(ReplyId::kShutdown, out);
  close(core::EndReason::kShutdown);
}

void Session::on_peer_gone(bool reset) { close(reset ? core::EndReason::kReset : core::EndReason::kPeerClosed); }

void Session::finish(core::TimePoint now) {
  if (finished_) return;
  finished_ = true;
  if (phase_ != Phase::kClosed) close(core::EndReason::kPeerClosed);
  drop_forward();  // a body cut short by the end of the session
  if (sink_ == nullptr) return;
  core::SessionRecord r;
  r.session_id = id_;
  r.mode = config_.mode;
  r.listener = config_.listener;
  r.ip = peer_.ip;
  r.port = peer_.port;
  r.start = start_;
  r.end = now;
  r.helo = helo_.view();
  r.mail_from = mail_from_.view();
  r.helo_truncated = helo_.truncated();
  r.mail_from_truncated = mail_from_.truncated();
  r.recipients = recipients_total_;
  r.messages = messages_;
  r.errors = errors_;
  r.bytes_in = bytes_in_;
  r.bytes_out = bytes_out_;
  r.message_bytes = message_bytes_;
  r.reason = reason_;
  r.early_talker = early_talker_;
  r.early_bytes = std::string_view(early_, early_len_);
  r.trap_hit = trap_hit_;
  r.trap_rcpt = trap_rcpt_;
  r.tls = tls_active_;
  if (relay_) {
    r.relay_attempts = relay_->attempts;
    r.relay_tests = relay_->tests;
    r.forwarded = relay_->forwarded;
    r.relay_domains = relay_->domains.view();
    r.relay_domains_truncated = relay_->domains.truncated();
  }
  sink_->session_closed(r);
}

}  // namespace spamsink::session
