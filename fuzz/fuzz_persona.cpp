// fuzz/fuzz_persona: the persona parser of smtp/persona.
//
// Input: a persona text (TOML), as it would come from --persona-file.
// Checked: parse_persona never throws out; it returns a persona or an error
// naming the origin, never both or neither; a persona it accepts renders
// for a hostname into a ReplyTable whose every text is whole CRLF lines,
// each starting with a 3-digit code and '-' or ' ' (the teaser '-'), the
// last line ' ' (but the teaser's); rendering every reply with long peer
// values stays bounded (the echo cap); a queue id has the format's length.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "smtp/persona.hpp"
#include "smtp/replies.hpp"

namespace {

using namespace spamsink::smtp;

void check_reply(std::string_view text, bool open) {
  FUZZ_CHECK(!text.empty());
  FUZZ_CHECK(text.size() >= 2 && text.substr(text.size() - 2) == "\r\n");
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find("\r\n", pos);
    FUZZ_CHECK(end != std::string_view::npos);
    const std::string_view line = text.substr(pos, end - pos);
    FUZZ_CHECK(line.size() >= 3);
    for (int i = 0; i < 3; ++i) FUZZ_CHECK(line[i] >= '0' && line[i] <= '9');
    const bool last = end + 2 == text.size();
    const char sep = line.size() > 3 ? line[3] : ' ';
    FUZZ_CHECK(sep == ((last && !open) ? ' ' : '-'));
    FUZZ_CHECK(line.find('\n') == std::string_view::npos);
    pos = end + 2;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const PersonaResult r = parse_persona(text, "fuzz.toml");
  FUZZ_CHECK(r.persona.has_value() != !r.error.empty());
  if (!r.persona) {
    FUZZ_CHECK(r.error.starts_with("fuzz.toml: "));
    return 0;
  }
  const ReplyTable t = ReplyTable::from_persona(*r.persona, "mx.example.test", 10240000, 1795579275);
  const std::string long_peer(1000, 'x');
  ReplyVars v;
  v.helo = long_peer;
  v.ip = "192.0.2.1";
  v.arg = long_peer;
  v.id = "ABCDEF12345";
  v.code = "503";
  v.bytes = 12345;
  v.num = 42;
  v.unix_time = 1795579275;
  for (std::size_t i = 0; i < static_cast<std::size_t>(ReplyId::kCount); ++i) {
    const auto id = static_cast<ReplyId>(i);
    if (id == ReplyId::kTooManyErrors && r.persona->behaviour.error_limit_merge) continue;  // a tail, not a reply
    const bool open = id == ReplyId::kTeaser;
    check_reply(t.get(id), open);
    std::string out;
    t.render(id, v, out);
    check_reply(out, open);
    // Peer text is capped: each placeholder adds at most kMaxEcho bytes
    // (a date at most 31), and a template is at most kMaxText per line.
    FUZZ_CHECK(out.size() <= 64 * 1024);
  }
  FUZZ_CHECK(!t.queue_id_format().empty() && t.queue_id_format().size() <= Persona::kMaxQueueIdFormat);
  return 0;
}
