#include "smtp/line_framer.hpp"

#include <cstring>

namespace spamsink::smtp {

namespace {

std::string_view strip_cr(std::string_view s) {
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

}  // namespace

void LineFramer::reset() {
  std::string().swap(buf_);
  clear_pending_ = false;
  wire_ = 0;
  overflow_ = false;
  started_ = false;
}

std::optional<LineFramer::Line> LineFramer::next(std::string_view& in) {
  if (clear_pending_) {
    clear_pending_ = false;
    // A long line's storage is given back; a short one's is kept for reuse.
    if (buf_.capacity() > kKeepCapacity)
      std::string().swap(buf_);
    else
      buf_.clear();
  }
  if (in.empty()) return std::nullopt;
  const char* lf = static_cast<const char*>(std::memchr(in.data(), '\n', in.size()));
  const std::size_t upto = lf ? static_cast<std::size_t>(lf - in.data()) : in.size();

  // Fast path: a whole line in the input, nothing held.
  if (lf && !started_) {
    std::string_view text = in.substr(0, upto);
    in.remove_prefix(upto + 1);
    Line line{strip_cr(text), false, upto + 1};
    // The limit applies to the text without its CRLF.
    if (line.text.size() > limit_) {
      line.text = line.text.substr(0, limit_);
      line.truncated = true;
    }
    return line;
  }

  // Slow path: append what fits (limit + 1, so a CR just past the limit can
  // still be told apart from real excess), drop the rest.
  started_ = true;
  wire_ += upto + (lf ? 1 : 0);
  if (!overflow_) {
    const std::size_t keep_max = limit_ + 1;
    std::size_t room = keep_max > buf_.size() ? keep_max - buf_.size() : 0;
    std::size_t take = upto < room ? upto : room;
    if (buf_.size() + take > buf_.capacity()) {
      // Grow geometrically but never past the limit (+1 for a CR).
      std::size_t want = buf_.capacity() * 2;
      if (want < buf_.size() + take) want = buf_.size() + take;
      buf_.reserve(want < keep_max ? want : keep_max);
    }
    buf_.append(in.data(), take);
    if (take < upto) overflow_ = true;
  }
  in.remove_prefix(lf ? upto + 1 : upto);
  if (!lf) return std::nullopt;

  std::string_view text = strip_cr(buf_);
  const bool truncated = overflow_ || text.size() > limit_;
  if (truncated) text = std::string_view(buf_).substr(0, limit_);
  Line line{text, truncated, wire_};
  // The view must stay valid until the next call: clear then.
  started_ = false;
  overflow_ = false;
  wire_ = 0;
  clear_pending_ = true;
  return line;
}

}  // namespace spamsink::smtp
