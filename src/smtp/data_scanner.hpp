// smtp/data_scanner: the DATA body scanner.
//
// Purpose: find the end of a DATA body, dot-unstuff it and count it, in
// place, without keeping any of it. Content runs go to a BodyDigest.
// Invariants:
//  - the body ends only on CRLF "." CRLF, whatever the read boundaries
//    (the state carries up to four bytes of that sequence between calls);
//    a bare LF never ends it (no SMTP smuggling via "\n.\n");
//  - a line that starts (after CRLF) with "." loses that dot;
//  - the digest sees exactly the unstuffed content, the CRLF before the
//    final dot included, the terminator excluded.
// Limits: O(1) state; lines are found with memchr and never buffered.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/event_sink.hpp"

namespace spamsink::smtp {

class DataScanner {
 public:
  explicit DataScanner(std::size_t long_line_bytes = 2048) : long_line_(long_line_bytes) {}

  // Starts a new body; `digest` may be null (no hashing).
  void start(core::BodyDigest* digest);
  // Stops hashing the rest of this body (e.g. it is already too big).
  void stop_digest() { digest_ = nullptr; }

  // Consumes body bytes from the front of `in`. Returns true when the end
  // marker was consumed; `in` then holds what followed it.
  bool scan(std::string_view& in);

  std::uint64_t bytes() const { return bytes_; }  // unstuffed content
  std::uint64_t lines() const { return lines_; }  // CRLF-terminated lines
  std::uint64_t long_lines() const { return long_lines_; }
  void set_long_line_bytes(std::size_t n) { long_line_ = n; }

 private:
  enum class State : std::uint8_t { kMid, kCr, kBol, kDot, kDotCr };
  void emit(const char* p, std::size_t n) {
    bytes_ += n;
    if (digest_ != nullptr && n != 0) digest_->update(p, n);
  }
  void end_line() {
    ++lines_;
    if (line_len_ > long_line_) ++long_lines_;
    line_len_ = 0;
  }

  core::BodyDigest* digest_ = nullptr;
  std::size_t long_line_;
  State state_ = State::kBol;
  std::uint64_t bytes_ = 0;
  std::uint64_t lines_ = 0;
  std::uint64_t long_lines_ = 0;
  std::uint64_t line_len_ = 0;  // bytes of the current line before its CRLF
};

}  // namespace spamsink::smtp
