#include "smtp/reply_parser.hpp"

namespace spamsink::smtp {

namespace {

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

bool keyword_is(std::string_view text, std::string_view kw) {
  if (text.size() < kw.size()) return false;
  for (std::size_t i = 0; i < kw.size(); ++i)
    if (upper(text[i]) != kw[i]) return false;
  return text.size() == kw.size() || text[kw.size()] == ' ';
}

std::uint32_t extension_of(std::string_view text) {
  if (keyword_is(text, "PIPELINING")) return kExtPipelining;
  if (keyword_is(text, "CHUNKING")) return kExtChunking;
  if (keyword_is(text, "SIZE")) return kExtSize;
  if (keyword_is(text, "STARTTLS")) return kExtStarttls;
  if (keyword_is(text, "8BITMIME")) return kExt8BitMime;
  if (keyword_is(text, "SMTPUTF8")) return kExtSmtpUtf8;
  if (keyword_is(text, "ENHANCEDSTATUSCODES")) return kExtEnhancedStatus;
  return 0;
}

}  // namespace

void ReplyParser::reset() {
  framer_.reset();
  text_.clear();
  code_ = 0;
  ext_ = 0;
  lines_ = 0;
  started_ = false;
}

ReplyParser::Status ReplyParser::next(std::string_view& in) {
  while (auto line = framer_.next(in)) {
    std::string_view t = line->text;
    if (t.size() < 3 || t[0] < '2' || t[0] > '5' || t[1] < '0' || t[1] > '9' || t[2] < '0' || t[2] > '9' ||
        (t.size() > 3 && t[3] != ' ' && t[3] != '-'))
      return Status::kBad;
    const int code = (t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0');
    if (!started_) {
      started_ = true;
      code_ = code;
      ext_ = 0;
      lines_ = 0;
    } else if (code != code_) {
      return Status::kBad;
    }
    ++lines_;
    std::string_view rest = t.size() > 4 ? t.substr(4) : std::string_view{};
    if (lines_ > 1) ext_ |= extension_of(rest);
    if (t.size() == 3 || t[3] == ' ') {
      text_.assign(rest.substr(0, rest.size() < kTextMax ? rest.size() : kTextMax));
      started_ = false;
      return Status::kReply;
    }
  }
  return Status::kNeedMore;
}

}  // namespace spamsink::smtp
