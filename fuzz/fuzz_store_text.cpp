// fuzz/fuzz_store_text: the text parsers of the store's read side, which
// take input from API clients and the CLI: RFC 3339 times
// (store/time_text) and the paging cursors (store/cursor).
//
// Input: the first byte picks the parser, the rest is the text.
// Checked: a parsed time formats back to a string that parses to the same
// time; a decoded cursor encodes to text that decodes to the same key (and
// for integer cursors, to the very same text); a decoded session id is
// positive and prints back as the input.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "store/cursor.hpp"
#include "store/time_text.hpp"

using namespace spamsink::store;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto t = parse_rfc3339(text);
      if (t) {
        const std::string back = format_rfc3339(*t);
        FUZZ_CHECK(back.size() == 20);
        FUZZ_CHECK(parse_rfc3339(back) == t);
      }
      break;
    }
    case 1:
    case 2: {
      const bool real = data[0] % 4 == 2;
      auto c = decode_host_cursor(text, real);
      if (c) {
        FUZZ_CHECK(c->real == real);
        const std::string again = encode_host_cursor(*c);
        FUZZ_CHECK(again.size() <= kMaxCursorBytes);
        auto c2 = decode_host_cursor(again, real);
        FUZZ_CHECK(c2);
        FUZZ_CHECK(c2->ip == c->ip);
        if (real) FUZZ_CHECK(std::memcmp(&c2->d, &c->d, sizeof c->d) == 0 || c2->d == c->d);
        else FUZZ_CHECK(c2->i == c->i && again == text);
      }
      break;
    }
    case 3: {
      auto id = decode_session_cursor(text);
      if (id) {
        FUZZ_CHECK(*id > 0);
        FUZZ_CHECK(std::to_string(*id) == text);
      }
      break;
    }
  }
  return 0;
}
