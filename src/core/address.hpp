// core/address: an IP address as 16 bytes, IPv4 stored IPv4-mapped.
//
// Purpose: one representation for logs, per-IP caps and (later) the store,
// where addresses are 16-byte BLOBs (DESIGN.md §5).
// Invariants: v4 addresses are always ::ffff:a.b.c.d; formatting prints
// them dotted-quad.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

namespace spamsink::core {

struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};

  static IpAddress from_v4(std::uint32_t host_order);
  static IpAddress from_v6(const std::array<std::uint8_t, 16>& b);

  bool is_v4() const;
  // Text form: dotted quad for v4, RFC 5952 for v6.
  std::string to_string() const;
  // Same, written to `out` (at least 46 bytes); returns the length.
  std::size_t format(char* out) const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct IpAddressHash {
  std::size_t operator()(const IpAddress& a) const noexcept;
};

}  // namespace spamsink::core
