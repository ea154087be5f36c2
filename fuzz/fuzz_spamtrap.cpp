// fuzz/fuzz_spamtrap: the spamtrap list parser and matcher
// (session/spamtrap.hpp).
//
// Invariants checked:
//  - parse() either succeeds or names a line ("line N: ..."), and never
//    accepts more entries than there are non-blank lines;
//  - on success, every exact-address line of the input matches itself in
//    any case, and match() on every line and on arbitrary pieces of the
//    input never crashes;
//  - a failed parse leaves the target list untouched.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "session/spamtrap.hpp"

using spamsink::session::SpamtrapList;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  SpamtrapList before;
  std::string err;
  FUZZ_CHECK(SpamtrapList::parse("keep@example.test\n", before, err));
  SpamtrapList list = before;
  const bool ok = SpamtrapList::parse(text, list, err);
  if (!ok) {
    FUZZ_CHECK(err.rfind("line ", 0) == 0);
    FUZZ_CHECK(list.size() == 1 && list.match("keep@example.test"));
  }
  std::size_t lines = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    ++lines;
    (void)list.match(line);
    if (!ok) continue;
    // An entry without '*', '#' or surrounding space is an exact address.
    if (!line.empty() && line.find_first_of("*# \t\r") == std::string_view::npos) {
      FUZZ_CHECK(list.match(line));
      std::string upper(line);
      for (char& c : upper)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
      FUZZ_CHECK(list.match(upper));
    }
  }
  if (ok) FUZZ_CHECK(list.size() <= lines);
  for (std::size_t i = 0; i + 1 < size && i < 64; ++i) (void)list.match(text.substr(i, size - i));
  return 0;
}
