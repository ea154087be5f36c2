#include "session/tarpit.hpp"

namespace spamsink::session {

using smtp::ReplyId;

TarpitConversation::TarpitConversation() { push(ReplyId::kGreeting); }

void TarpitConversation::push(ReplyId id) {
  if (qlen_ == kQueue) return;  // see the header: extra replies are dropped
  queue_[(qhead_ + qlen_) % kQueue] = static_cast<std::uint8_t>(id);
  ++qlen_;
}

bool TarpitConversation::data_byte(char c) {
  switch (data_) {
    case DataState::kBol: data_ = c == '.' ? DataState::kDot : c == '\r' ? DataState::kCr : DataState::kMid; break;
    case DataState::kDot: data_ = c == '\r' ? DataState::kDotCr : DataState::kMid; break;
    case DataState::kDotCr:
      if (c == '\n') {
        data_ = DataState::kBol;
        return true;
      }
      data_ = c == '\r' ? DataState::kCr : DataState::kMid;
      break;
    case DataState::kCr: data_ = c == '\n' ? DataState::kBol : c == '\r' ? DataState::kCr : DataState::kMid; break;
    case DataState::kMid: data_ = c == '\r' ? DataState::kCr : DataState::kMid; break;
  }
  return false;
}

void TarpitConversation::end_of_line() {
  if (commands_ != 255) ++commands_;
  auto is = [&](const char* v) {
    return verb_len_ == 4 && verb_[0] == v[0] && verb_[1] == v[1] && verb_[2] == v[2] && verb_[3] == v[3];
  };
  if (is("EHLO")) {
    phase_ = Phase::kHelo;
    push(ReplyId::kEhlo);
  } else if (is("HELO")) {
    phase_ = Phase::kHelo;
    push(ReplyId::kHelo);
  } else if (is("MAIL")) {
    phase_ = Phase::kMail;
    push(flags2_ & kDeferPerm ? ReplyId::kEarlyDeferPerm : flags2_ & kDeferTemp ? ReplyId::kEarlyDeferTemp : ReplyId::kMailOk);
  } else if (is("RCPT")) {
    phase_ = Phase::kRcpt;
    push(flags2_ & kDeferPerm ? ReplyId::kEarlyDeferPerm : flags2_ & kDeferTemp ? ReplyId::kEarlyDeferTemp : ReplyId::kRcptOk);
  } else if (is("DATA")) {
    phase_ = Phase::kData;
    push(ReplyId::kDataGo);
    flags_ |= kInData | kWait354;
    data_ = DataState::kBol;
  } else if (is("RSET")) {
    push(ReplyId::kReset);
  } else if (is("NOOP")) {
    push(ReplyId::kOk);
  } else if (is("VRFY")) {
    push(ReplyId::kVrfyDisabled);
  } else if (is("QUIT")) {
    phase_ = Phase::kQuit;
    push(ReplyId::kQuit);
    flags_ |= kQuitQueued;
  } else {
    push(ReplyId::kUnknown);
  }
  verb_len_ = 0;
}

void TarpitConversation::on_bytes(std::string_view in) {
  std::size_t i = 0;
  // Anything the client says before our greeting (or its 354) is whole.
  if (!in.empty() && (!(flags_ & kGreeted) || (flags_ & kWait354))) flags_ |= kEarly;
  while (i < in.size() && !(flags_ & kQuitQueued)) {
    const char c = in[i++];
    if (flags_ & kInData) {
      if (data_byte(c)) {
        flags_ &= static_cast<std::uint8_t>(~kInData);
        phase_ = Phase::kDataEnd;
        push(ReplyId::kTempFailData);
      }
      continue;
    }
    if (c == '\n') {
      flags_ &= static_cast<std::uint8_t>(~(kInLine | kVerbDone));
      end_of_line();
      continue;
    }
    const bool space = c == ' ' || c == '\t' || c == '\r';
    if (!(flags_ & kInLine) && space) continue;  // leading white space
    flags_ |= kInLine;
    if (flags_ & kVerbDone) continue;
    if (space) {
      flags_ |= kVerbDone;
    } else if (verb_len_ < 4) {
      verb_[verb_len_++] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
    } else {
      verb_len_ = 5;  // longer than any verb we answer
      flags_ |= kVerbDone;
    }
  }
  // After QUIT what follows is dropped.
}

std::string_view TarpitConversation::peek_output(const smtp::ReplyTable& t, std::size_t max) const {
  if (qlen_ == 0) return {};
  std::string_view text = t.get(static_cast<ReplyId>(queue_[qhead_]));
  text.remove_prefix(cursor_ < text.size() ? cursor_ : text.size());
  return text.substr(0, max);
}

void TarpitConversation::consumed(const smtp::ReplyTable& t, std::size_t n) {
  if (qlen_ == 0) return;
  const auto id = static_cast<ReplyId>(queue_[qhead_]);
  cursor_ = static_cast<std::uint16_t>(cursor_ + n);
  if (cursor_ >= t.get(id).size()) {
    cursor_ = 0;
    qhead_ = static_cast<std::uint8_t>((qhead_ + 1) % kQueue);
    --qlen_;
    if (id == ReplyId::kQuit) flags_ |= kQuitSent;
    if (id == ReplyId::kGreeting) flags_ |= kGreeted;
    if (id == ReplyId::kDataGo) flags_ &= static_cast<std::uint8_t>(~kWait354);
  }
}

}  // namespace spamsink::session
