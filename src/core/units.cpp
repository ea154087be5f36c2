#include "core/units.hpp"

#include <charconv>
#include <limits>

namespace spamsink::core {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Leading decimal digits of `s`; nullopt if none or overflow.
std::optional<std::uint64_t> leading_number(std::string_view& s) {
  std::uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc{} || r.ptr == s.data()) return std::nullopt;
  s.remove_prefix(static_cast<std::size_t>(r.ptr - s.data()));
  return v;
}

std::optional<std::uint64_t> mul(std::uint64_t a, std::uint64_t b) {
  if (b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b) return std::nullopt;
  return a * b;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  std::string_view s = trim(text);
  auto n = leading_number(s);
  if (!n) return std::nullopt;
  std::uint64_t us_per_unit;
  if (s.empty() || s == "s")
    us_per_unit = 1'000'000;
  else if (s == "ms")
    us_per_unit = 1000;
  else if (s == "us")
    us_per_unit = 1;
  else if (s == "m")
    us_per_unit = 60'000'000;
  else if (s == "h")
    us_per_unit = 3'600'000'000;
  else if (s == "d")
    us_per_unit = 86'400'000'000;
  else
    return std::nullopt;
  auto us = mul(*n, us_per_unit);
  // Keep far away from the steady_clock's range so deadlines never overflow.
  if (!us || *us > 100ull * 365 * 86'400'000'000) return std::nullopt;
  return std::chrono::duration_cast<Duration>(std::chrono::microseconds{static_cast<std::int64_t>(*us)});
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::string_view s = trim(text);
  auto n = leading_number(s);
  if (!n) return std::nullopt;
  if (!s.empty() && (s.back() == 'B' || s.back() == 'b')) s.remove_suffix(1);
  std::uint64_t unit;
  if (s.empty())
    unit = 1;
  else if (s == "K" || s == "k")
    unit = 1ull << 10;
  else if (s == "M" || s == "m")
    unit = 1ull << 20;
  else if (s == "G" || s == "g")
    unit = 1ull << 30;
  else
    return std::nullopt;
  return mul(*n, unit);
}

std::string format_duration(Duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  if (us % 1000 != 0) return std::to_string(us) + "us";
  auto ms = us / 1000;
  if (ms % 3'600'000 == 0 && ms != 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms != 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace spamsink::core
