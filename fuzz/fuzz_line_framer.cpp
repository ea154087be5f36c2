// fuzz/fuzz_line_framer: smtp::LineFramer against a reference model.
//
// Input: 2 bytes choose the line limit, 2 bytes a split point, the rest is
// the byte stream. The stream is framed three ways (one read, two reads
// split at the chosen point, one byte per read) and every way must return
// exactly the lines a plain reference model computes: a line ends at LF,
// one CR before it is stripped, text longer than the limit is cut to the
// limit and flagged, and wire_bytes is the line's size on the wire.
// Also checked after every call: the framer never holds more than
// limit + 1 bytes, returned text is at most `limit` bytes and has no LF,
// and a line that lies whole in one read is a view into that read (the
// "nothing is copied" promise of line_framer.hpp).
// Reads after the first are copied into exactly-sized heap blocks so that
// ASan sees any read past a chunk's end.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "smtp/line_framer.hpp"

namespace {

using spamsink::smtp::LineFramer;

struct ModelLine {
  std::string text;
  bool truncated = false;
  std::size_t wire_bytes = 0;
  friend bool operator==(const ModelLine&, const ModelLine&) = default;
};

struct Model {
  std::vector<ModelLine> lines;
  std::size_t pending = 0;  // bytes after the last LF
};

Model model(std::string_view data, std::size_t limit) {
  Model m;
  std::size_t start = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] != '\n') continue;
    std::string_view raw = data.substr(start, i - start);
    std::string_view text = raw;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    ModelLine l;
    l.truncated = text.size() > limit;
    l.text = std::string(l.truncated ? raw.substr(0, limit) : text);
    l.wire_bytes = i - start + 1;
    m.lines.push_back(std::move(l));
    start = i + 1;
  }
  m.pending = data.size() - start;
  return m;
}

// Frames `chunk` (one read) and appends the lines to `out`.
void drain(LineFramer& f, std::string_view chunk, bool whole_lines_are_views, std::vector<ModelLine>& out) {
  const char* const begin = chunk.data();
  const char* const end = begin + chunk.size();
  std::string_view in = chunk;
  for (;;) {
    const bool started = f.in_line();
    auto line = f.next(in);
    FUZZ_CHECK(f.buffered() <= f.limit() + 1);
    if (!line) break;
    FUZZ_CHECK(line->text.size() <= f.limit());
    FUZZ_CHECK(line->text.find('\n') == std::string_view::npos);
    if (whole_lines_are_views && !started && !line->text.empty())
      FUZZ_CHECK(line->text.data() >= begin && line->text.data() + line->text.size() <= end);
    out.push_back({std::string(line->text), line->truncated, line->wire_bytes});
  }
  FUZZ_CHECK(in.empty());
}

std::unique_ptr<char[]> copy(std::string_view s) {
  auto p = std::make_unique<char[]>(s.size() == 0 ? 1 : s.size());
  if (!s.empty()) std::memcpy(p.get(), s.data(), s.size());
  return p;
}

void check_against(const Model& m, const std::vector<ModelLine>& got, const LineFramer& f) {
  FUZZ_CHECK(got.size() == m.lines.size());
  for (std::size_t i = 0; i < got.size(); ++i) FUZZ_CHECK(got[i] == m.lines[i]);
  FUZZ_CHECK(f.in_line() == (m.pending != 0));
  const std::size_t keep = m.pending < f.limit() + 1 ? m.pending : f.limit() + 1;
  FUZZ_CHECK(f.buffered() == keep);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const unsigned v = data[0] | (data[1] << 8);
  // Tiny limits reach the overflow paths with tiny inputs; the real range
  // (512..2048) is covered too.
  const std::size_t limit = (data[0] & 0x80) ? 1 + v % 64 : 1 + v % 2100;
  std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);
  const std::size_t split = (data[2] | (data[3] << 8)) % (stream.size() + 1);
  const Model m = model(stream, limit);

  {  // One read.
    LineFramer f(limit);
    std::vector<ModelLine> got;
    drain(f, stream, true, got);
    check_against(m, got, f);
    f.reset();
    FUZZ_CHECK(f.buffered() == 0 && !f.in_line());
  }
  {  // Two reads, split where the input says.
    LineFramer f(limit);
    std::vector<ModelLine> got;
    auto a = copy(stream.substr(0, split));
    auto b = copy(stream.substr(split));
    drain(f, std::string_view(a.get(), split), true, got);
    drain(f, std::string_view(b.get(), stream.size() - split), true, got);
    check_against(m, got, f);
  }
  if (stream.size() <= 4096) {  // One byte per read.
    LineFramer f(limit);
    std::vector<ModelLine> got;
    for (char c : stream) {
      auto one = copy(std::string_view(&c, 1));
      drain(f, std::string_view(one.get(), 1), false, got);
    }
    check_against(m, got, f);
  }
  return 0;
}
