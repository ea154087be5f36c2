// fuzz/fuzz_ip_matcher: the streaming own-address matcher (session/relay.hpp).
//
// Input: byte 0 picks the needle (one of a few v4/v6 addresses), byte 1
// seeds the splits, the rest is the body.
// Invariants checked:
//  - the answer is the same for the whole body at once and for the body in
//    fuzzer-chosen pieces (the matcher keeps no body, only its state);
//  - it agrees with a plain reference search: the needle occurs with no
//    address character right before or after it.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "session/relay.hpp"

using spamsink::session::IpMatcher;

namespace {

bool addr_char(char c, bool v6) {
  const auto u = static_cast<unsigned char>(c);
  const bool digit = u >= '0' && u <= '9';
  if (!v6) return digit;
  return digit || (u >= 'a' && u <= 'f') || (u >= 'A' && u <= 'F') || u == ':';
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool reference(std::string_view needle, std::string_view body) {
  const bool v6 = needle.find(':') != std::string_view::npos;
  std::string low(body);
  for (char& c : low) c = lower(c);
  for (std::size_t pos = low.find(needle); pos != std::string::npos; pos = low.find(needle, pos + 1)) {
    const bool left = pos == 0 || !addr_char(low[pos - 1], v6);
    const std::size_t end = pos + needle.size();
    const bool right = end == low.size() || !addr_char(low[end], v6);
    if (left && right) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static constexpr std::string_view kNeedles[] = {"192.0.2.1", "1.1.1.1", "10.0.0.10", "2001:db8::1", "::1"};
  const std::string_view needle = kNeedles[data[0] % 5];
  spamsink::fuzz::XorShift rng(data[1] + 1u);
  const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);

  IpMatcher whole;
  whole.set_needle(needle);
  whole.feed(body.data(), body.size());
  whole.finish();

  IpMatcher pieces;
  pieces.set_needle(needle);
  std::size_t at = 0;
  while (at < body.size()) {
    const std::size_t n = 1 + rng.next() % 7;
    const std::size_t take = n < body.size() - at ? n : body.size() - at;
    pieces.feed(body.data() + at, take);
    at += take;
  }
  pieces.finish();
  FUZZ_CHECK(whole.found() == pieces.found());
  FUZZ_CHECK(whole.found() == reference(needle, body));
  return 0;
}
