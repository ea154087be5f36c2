// smtp/line_framer: a bounded CRLF framer for command lines.
//
// Purpose: cut the byte stream into command lines without ever holding more
// than one line's limit, in the way Postfix's smtp_get() with SKIP does.
// Invariants:
//  - a line ends at LF; one CR before the LF is stripped (a bare LF also
//    ends a command line, as in Postfix 3.7);
//  - the kept part of a line is at most `limit` bytes; a longer line is
//    returned truncated to `limit` bytes, once its LF arrives, with
//    `truncated` set, and the excess is discarded without being stored;
//  - when a whole line lies in the input, it is returned as a view into the
//    input and nothing is copied; only an unfinished line is copied, so the
//    framer's buffer holds at most the unfinished part of one line.
// Limits: `limit` bytes of storage at most, allocated only when a line spans
// two reads.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace spamsink::smtp {

class LineFramer {
 public:
  struct Line {
    std::string_view text;  // without CR/LF; valid until the next call
    bool truncated = false;
    std::size_t wire_bytes = 0;  // bytes the whole line took on the wire
  };

  explicit LineFramer(std::size_t limit) : limit_(limit) {}

  // Takes bytes from the front of `in`. Returns the next complete line, or
  // nullopt when `in` ran out first (the unfinished part is kept).
  std::optional<Line> next(std::string_view& in);

  // True while part of a line has been received.
  bool in_line() const { return started_; }
  std::size_t buffered() const { return clear_pending_ ? 0 : buf_.size(); }
  std::size_t limit() const { return limit_; }
  void set_limit(std::size_t limit) { limit_ = limit; }
  // Drops any unfinished line and frees its storage.
  void reset();

 private:
  std::string buf_;
  std::size_t limit_;
  std::size_t wire_ = 0;     // bytes of the current line seen so far
  bool overflow_ = false;    // past the limit: discarding to LF
  bool started_ = false;
  bool clear_pending_ = false;
  static constexpr std::size_t kKeepCapacity = 256;
};

}  // namespace spamsink::smtp
