#include "smtp/data_scanner.hpp"

#include <cstring>

namespace spamsink::smtp {

void DataScanner::start(core::BodyDigest* digest) {
  digest_ = digest;
  if (digest_ != nullptr) digest_->reset();
  state_ = State::kBol;  // the DATA line itself ended with a line end
  bytes_ = lines_ = long_lines_ = line_len_ = 0;
}

bool DataScanner::scan(std::string_view& in) {
  const char* p = in.data();
  const char* const end = p + in.size();
  const char* run = p;  // start of content not yet emitted

  while (p < end) {
    switch (state_) {
      case State::kBol:
        if (*p == '.') {
          emit(run, static_cast<std::size_t>(p - run));
          ++p;
          run = p;  // the dot is either stuffing or the terminator
          state_ = State::kDot;
          continue;
        }
        state_ = State::kMid;
        break;
      case State::kDot:
        if (*p == '\r') {
          ++p;
          run = p;  // held back: may be the terminator's CR
          state_ = State::kDotCr;
          continue;
        }
        ++line_len_;  // a stuffed dot: dropped, counted in the line length
        state_ = State::kMid;
        break;
      case State::kDotCr:
        if (*p == '\n') {
          ++p;
          in.remove_prefix(static_cast<std::size_t>(p - in.data()));
          state_ = State::kBol;
          return true;
        }
        // ".\r" then something else: the dot was stuffing, the CR content.
        emit("\r", 1);
        line_len_ += 2;
        state_ = State::kCr;
        continue;
      case State::kCr:
        if (*p == '\n') {
          // line_len_ counted the CR; the limit is on the text before CRLF.
          --line_len_;
          end_line();
          ++p;
          state_ = State::kBol;
          continue;
        }
        state_ = State::kMid;
        break;
      case State::kMid:
        break;
    }
    // kMid: jump to the next LF.
    const char* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (lf == nullptr) {
      line_len_ += static_cast<std::uint64_t>(end - p);
      state_ = end[-1] == '\r' ? State::kCr : State::kMid;
      p = end;
      break;
    }
    const bool crlf = lf > p ? lf[-1] == '\r' : false;
    line_len_ += static_cast<std::uint64_t>(lf - p);
    p = lf + 1;
    if (crlf) {
      --line_len_;
      end_line();
      state_ = State::kBol;
    } else {
      ++line_len_;  // a bare LF is content, not a line end
      state_ = State::kMid;
    }
  }
  emit(run, static_cast<std::size_t>(end - run));
  in.remove_prefix(in.size());
  return false;
}

}  // namespace spamsink::smtp
