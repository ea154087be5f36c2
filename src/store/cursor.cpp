#include "store/cursor.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace spamsink::store {

namespace {

bool all_digits(std::string_view v) {
  if (v.empty() || v.size() > 19) return false;
  if (v.size() > 1 && v[0] == '0') return false;  // one spelling per number
  for (char c : v)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

std::string encode_host_cursor(const HostCursor& c) {
  static constexpr char kHex[] = "0123456789abcdef";
  char v[40];
  if (c.real) std::snprintf(v, sizeof v, "%.17g", c.d);
  else std::snprintf(v, sizeof v, "%lld", static_cast<long long>(c.i));
  std::string out = std::string(v) + "~";
  for (std::uint8_t b : c.ip.bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::optional<HostCursor> decode_host_cursor(std::string_view text, bool real) {
  if (text.size() > kMaxCursorBytes) return std::nullopt;
  const auto tilde = text.find('~');
  if (tilde == std::string_view::npos) return std::nullopt;
  const std::string_view v = text.substr(0, tilde), hex = text.substr(tilde + 1);
  if (hex.size() != 32) return std::nullopt;
  HostCursor c;
  c.real = real;
  for (std::size_t i = 0; i < 16; ++i) {
    unsigned b = 0;
    for (std::size_t k = 0; k < 2; ++k) {
      const char ch = hex[2 * i + k];
      unsigned d;
      if (ch >= '0' && ch <= '9') d = static_cast<unsigned>(ch - '0');
      else if (ch >= 'a' && ch <= 'f') d = static_cast<unsigned>(ch - 'a' + 10);
      else return std::nullopt;
      b = b * 16 + d;
    }
    c.ip.bytes[i] = static_cast<std::uint8_t>(b);
  }
  if (real) {
    // Digits, one optional '.', an optional exponent; what %.17g writes.
    if (v.empty() || v.size() > 32) return std::nullopt;
    for (char ch : v)
      if (!((ch >= '0' && ch <= '9') || ch == '.' || ch == 'e' || ch == 'E' || ch == '+' || ch == '-'))
        return std::nullopt;
    const std::string t(v);
    char* end = nullptr;
    c.d = std::strtod(t.c_str(), &end);
    if (end != t.c_str() + t.size() || !std::isfinite(c.d)) return std::nullopt;
  } else {
    if (!all_digits(v)) return std::nullopt;
    auto r = std::from_chars(v.data(), v.data() + v.size(), c.i);
    if (r.ec != std::errc{} || r.ptr != v.data() + v.size()) return std::nullopt;
  }
  return c;
}

std::optional<std::int64_t> decode_session_cursor(std::string_view text) {
  if (!all_digits(text)) return std::nullopt;
  std::int64_t id = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), id);
  if (r.ec != std::errc{} || r.ptr != text.data() + text.size() || id <= 0) return std::nullopt;
  return id;
}

}  // namespace spamsink::store
