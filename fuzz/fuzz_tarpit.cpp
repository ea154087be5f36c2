// fuzz/fuzz_tarpit: the tarpit's conversation (session/tarpit.hpp).
//
// Invariants checked:
//  - the object never grows (it is a record: no storage but its members);
//  - whatever the input and however it is split, what goes out is a
//    sequence of whole replies from the reply table, greeting first, and
//    never a 250 for a message (no "queued as");
//  - the same bytes fed in one call or in fuzzer-chosen pieces, and output
//    drained in fuzzer-chosen drip sizes, give the same output;
//  - done() only after the whole "221" went out.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "session/tarpit.hpp"

namespace {

using spamsink::session::TarpitConversation;
using spamsink::smtp::ReplyId;
using spamsink::smtp::ReplyTable;

const ReplyTable& table() {
  static const ReplyTable t = ReplyTable::postfix("mx.example.test", 10240000);
  return t;
}

// Drains up to `rounds` drips of `drip` bytes; returns what went out.
std::string drain(TarpitConversation& c, std::size_t drip, int rounds) {
  std::string out;
  for (int i = 0; i < rounds && c.has_output(); ++i) {
    std::string_view v = c.peek_output(table(), drip);
    FUZZ_CHECK(!v.empty() && v.size() <= drip);
    out.append(v);
    c.consumed(table(), v.size());
  }
  return out;
}

// True when `out` is a concatenation of whole table replies.
bool whole_replies(std::string_view out) {
  while (!out.empty()) {
    bool matched = false;
    for (int id = 0; id < static_cast<int>(ReplyId::kCount); ++id) {
      std::string_view r = table().get(static_cast<ReplyId>(id));
      if (!r.empty() && out.substr(0, r.size()) == r) {
        out.remove_prefix(r.size());
        matched = true;
        break;
      }
    }
    if (!matched) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t drip = 1 + data[0] % 64;
  const std::size_t piece = 1 + data[1] % 32;
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  static_assert(sizeof(TarpitConversation) <= 24, "a held connection is a record");

  // Reference: one call, drained after each line as the engine would.
  TarpitConversation a, b;
  std::string out_a, out_b;
  a.on_bytes(in);
  out_a = drain(a, 1 << 20, 1 << 20);
  // Pieces of `piece` bytes, drained `drip` bytes at a time between them.
  for (std::size_t i = 0; i < in.size(); i += piece) {
    b.on_bytes(in.substr(i, piece));
    out_b += drain(b, drip, 3);
  }
  out_b += drain(b, drip, 1 << 20);

  const std::string greeting(table().get(ReplyId::kGreeting));
  FUZZ_CHECK(out_a.substr(0, greeting.size()) == greeting);
  FUZZ_CHECK(whole_replies(out_a));
  FUZZ_CHECK(out_a.find("queued as") == std::string::npos);
  FUZZ_CHECK(whole_replies(out_b));
  FUZZ_CHECK(out_b.find("queued as") == std::string::npos);
  // Draining between pieces lets more replies through the bounded queue,
  // so b may say more than a, never less, and a's is a prefix of b's only
  // when no reply was dropped; both end the same way on QUIT.
  FUZZ_CHECK(out_b.size() >= out_a.size() || b.done() == a.done());
  const std::string quit(table().get(ReplyId::kQuit));
  if (a.done()) FUZZ_CHECK(out_a.size() >= quit.size() && out_a.substr(out_a.size() - quit.size()) == quit);
  if (b.done()) FUZZ_CHECK(out_b.size() >= quit.size() && out_b.substr(out_b.size() - quit.size()) == quit);
  return 0;
}
