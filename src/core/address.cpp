#include "core/address.hpp"

#include <cstring>

namespace spamsink::core {

IpAddress IpAddress::from_v4(std::uint32_t v) {
  IpAddress a;
  a.bytes[10] = 0xff;
  a.bytes[11] = 0xff;
  a.bytes[12] = static_cast<std::uint8_t>(v >> 24);
  a.bytes[13] = static_cast<std::uint8_t>(v >> 16);
  a.bytes[14] = static_cast<std::uint8_t>(v >> 8);
  a.bytes[15] = static_cast<std::uint8_t>(v);
  return a;
}

IpAddress IpAddress::from_v6(const std::array<std::uint8_t, 16>& b) {
  IpAddress a;
  a.bytes = b;
  return a;
}

bool IpAddress::is_v4() const {
  static constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(bytes.data(), kPrefix, 12) == 0;
}

namespace {

char* put_dec(char* p, unsigned v) {
  char tmp[4];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) *p++ = tmp[--n];
  return p;
}

char* put_hex(char* p, unsigned v) {
  static constexpr char kHex[] = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    unsigned d = (v >> shift) & 0xf;
    if (d != 0 || started || shift == 0) {
      *p++ = kHex[d];
      started = true;
    }
  }
  return p;
}

}  // namespace

std::size_t IpAddress::format(char* out) const {
  char* p = out;
  if (is_v4()) {
    for (int i = 12; i < 16; ++i) {
      if (i != 12) *p++ = '.';
      p = put_dec(p, bytes[i]);
    }
    return static_cast<std::size_t>(p - out);
  }
  unsigned words[8];
  for (int i = 0; i < 8; ++i) words[i] = (unsigned{bytes[2 * i]} << 8) | bytes[2 * i + 1];
  // RFC 5952: compress the longest run (>= 2) of zero words, first one wins.
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (words[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && words[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      *p++ = ':';
      if (i == 0) *p++ = ':';
      i += best_len - 1;
      continue;
    }
    p = put_hex(p, words[i]);
    if (i != 7) *p++ = ':';
  }
  return static_cast<std::size_t>(p - out);
}

std::string IpAddress::to_string() const {
  char buf[64];
  return std::string(buf, format(buf));
}

std::size_t IpAddressHash::operator()(const IpAddress& a) const noexcept {
  std::uint64_t lo, hi;
  std::memcpy(&lo, a.bytes.data(), 8);
  std::memcpy(&hi, a.bytes.data() + 8, 8);
  std::uint64_t h = (hi ^ (lo * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
  return static_cast<std::size_t>(h ^ (h >> 31));
}

}  // namespace spamsink::core
