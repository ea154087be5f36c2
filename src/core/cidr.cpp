#include "core/cidr.hpp"

namespace spamsink::core {

Cidr Cidr::make(const IpAddress& addr, std::uint8_t bits) {
  Cidr c;
  c.prefix = bits > 128 ? 128 : bits;
  for (int i = 0; i < 16; ++i) {
    const int keep = c.prefix - i * 8;
    const std::uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : static_cast<std::uint8_t>(0xff << (8 - keep));
    c.net.bytes[static_cast<std::size_t>(i)] = addr.bytes[static_cast<std::size_t>(i)] & mask;
  }
  return c;
}

bool Cidr::contains(const IpAddress& a) const { return make(a, prefix).net == net; }

bool any_contains(const std::vector<Cidr>& list, const IpAddress& a) {
  for (const auto& c : list)
    if (c.contains(a)) return true;
  return false;
}

}  // namespace spamsink::core
