// core/cidr: an address block, for allowlists.
//
// Purpose: "never treat these as early talkers / never list them" checks.
// Invariants: IPv4 blocks are stored IPv4-mapped (a /24 is a /120), so one
// comparison serves both families; bits past the prefix are zero.
#pragma once

#include <cstdint>
#include <vector>

#include "core/address.hpp"

namespace spamsink::core {

struct Cidr {
  IpAddress net;
  std::uint8_t prefix = 128;  // in the 128-bit (IPv4-mapped) space

  // Keeps the first `bits` bits of `addr` (`bits` in the v6 space).
  static Cidr make(const IpAddress& addr, std::uint8_t bits);
  bool contains(const IpAddress& a) const;
  friend bool operator==(const Cidr&, const Cidr&) = default;
};

bool any_contains(const std::vector<Cidr>& list, const IpAddress& a);

}  // namespace spamsink::core
