// fuzz/fuzz_data_scanner: smtp::DataScanner against a reference model.
//
// Input: 1 byte chooses the long-line threshold, 2 bytes a split point,
// the rest is a DATA body as it arrives after "354".
// The body is scanned in one call, in two calls split at the chosen point,
// and one byte per call. All three must agree with each other and with a
// byte-by-byte reference model on: whether and where the body ended
// (only CRLF "." CRLF, the DATA line's CRLF counting as the first), the
// unstuffed content the digest saw, bytes(), lines() and long_lines().
// The input's own end may fall inside the terminator or after a dot: the
// model then holds back what the scanner may not have decided yet.
// Chunks are copied into exactly-sized heap blocks so that ASan sees a
// read past a chunk's end.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "core/event_sink.hpp"
#include "fuzz_check.hpp"
#include "smtp/data_scanner.hpp"

namespace {

using spamsink::smtp::DataScanner;

class RecordingDigest final : public spamsink::core::BodyDigest {
 public:
  void reset() noexcept override { seen.clear(); }
  void update(const char* data, std::size_t n) noexcept override { seen.append(data, n); }
  void finish(std::array<std::uint8_t, 32>& out) noexcept override { out.fill(0); }
  std::string seen;
};

struct Result {
  bool done = false;
  std::size_t consumed = 0;  // input bytes taken, terminator included
  std::string content;       // what the digest saw
  std::uint64_t bytes = 0, lines = 0, long_lines = 0;
  friend bool operator==(const Result&, const Result&) = default;
};

Result reference(std::string_view d, std::size_t long_line) {
  Result r;
  bool bol = true;          // the DATA command line ended with CRLF
  std::size_t line_len = 0;  // raw bytes of the current line, stuffing dot included
  std::size_t i = 0;
  while (i < d.size()) {
    if (bol && d[i] == '.') {
      if (i + 1 == d.size()) {  // a lone dot so far: undecided, and dropped either way
        i = d.size();
        break;
      }
      if (d[i + 1] == '\r') {
        if (i + 2 == d.size()) break;  // ".\r": the CR is held back
        if (d[i + 2] == '\n') {
          r.done = true;
          i += 3;
          break;
        }
      }
      ++i;  // a stuffed dot: dropped from the content, counted in the line
      ++line_len;
      bol = false;
      continue;
    }
    const char c = d[i++];
    r.content.push_back(c);
    bol = false;
    if (c == '\n' && r.content.size() >= 2 && r.content[r.content.size() - 2] == '\r') {
      // line_len counted the CR; the line's length excludes it.
      ++r.lines;
      if (line_len - 1 > long_line) ++r.long_lines;
      line_len = 0;
      bol = true;
    } else {
      ++line_len;
    }
  }
  // Not done: the scanner took everything, deciding later about a held CR.
  r.consumed = r.done ? i : d.size();
  r.bytes = r.content.size();
  return r;
}

std::unique_ptr<char[]> copy(std::string_view s) {
  auto p = std::make_unique<char[]>(s.size() == 0 ? 1 : s.size());
  if (!s.empty()) std::memcpy(p.get(), s.data(), s.size());
  return p;
}

// Feeds `body` in chunks of at most `step` bytes (0: one call).
Result scan(std::string_view body, std::size_t long_line, std::size_t first, std::size_t step) {
  RecordingDigest digest;
  DataScanner s(long_line);
  s.start(&digest);
  Result r;
  std::size_t pos = 0;
  while (pos < body.size() && !r.done) {
    std::size_t n = body.size() - pos;
    const std::size_t want = pos == 0 && first != 0 ? first : step;
    if (want != 0 && n > want) n = want;
    auto block = copy(body.substr(pos, n));
    std::string_view in(block.get(), n);
    r.done = s.scan(in);
    FUZZ_CHECK(r.done || in.empty());  // not done: the whole chunk was taken
    FUZZ_CHECK(in.size() <= n);
    FUZZ_CHECK(in.empty() || in.data() >= block.get());
    pos += n - in.size();
    FUZZ_CHECK(s.bytes() == digest.seen.size());
  }
  r.consumed = pos;
  r.content = digest.seen;
  r.bytes = s.bytes();
  r.lines = s.lines();
  r.long_lines = s.long_lines();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::size_t long_line = data[0] < 128 ? data[0] : 2048;
  const std::string_view body(reinterpret_cast<const char*>(data) + 3, size - 3);
  const std::size_t split = (data[1] | (data[2] << 8)) % (body.size() + 1);

  const Result want = reference(body, long_line);
  const Result one_shot = scan(body, long_line, 0, 0);
  FUZZ_CHECK(one_shot.done == want.done);
  FUZZ_CHECK(one_shot.consumed == want.consumed);
  FUZZ_CHECK(one_shot.content == want.content);
  FUZZ_CHECK(one_shot == want);

  if (split != 0) FUZZ_CHECK(scan(body, long_line, split, 0) == want);
  if (body.size() <= 8192) {
    const Result bytewise = scan(body, long_line, 0, 1);
    FUZZ_CHECK(bytewise.consumed == want.consumed);
    FUZZ_CHECK(bytewise.content == want.content);
    FUZZ_CHECK(bytewise == want);
  }
  return 0;
}
