// Tests of core/cidr: address blocks for allowlists, IPv4 held IPv4-mapped.
#include "core/cidr.hpp"

#include <gtest/gtest.h>

namespace spamsink::core {
namespace {

IpAddress v4(unsigned a, unsigned b, unsigned c, unsigned d) { return IpAddress::from_v4((a << 24) | (b << 16) | (c << 8) | d); }

TEST(Cidr, Ipv4Blocks) {
  const Cidr net = Cidr::make(v4(192, 0, 2, 77), 96 + 24);
  EXPECT_TRUE(net.contains(v4(192, 0, 2, 1)));
  EXPECT_TRUE(net.contains(v4(192, 0, 2, 255)));
  EXPECT_FALSE(net.contains(v4(192, 0, 3, 1)));
  EXPECT_EQ(net.net, v4(192, 0, 2, 0));  // host bits cleared
  EXPECT_TRUE(Cidr::make(v4(0, 0, 0, 0), 96).contains(v4(203, 0, 113, 9)));  // 0.0.0.0/0
  EXPECT_TRUE(Cidr::make(v4(10, 1, 2, 3), 128).contains(v4(10, 1, 2, 3)));
  EXPECT_FALSE(Cidr::make(v4(10, 1, 2, 3), 128).contains(v4(10, 1, 2, 4)));
}

TEST(Cidr, Ipv6BlocksAndOddPrefixes) {
  std::array<std::uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8};
  const IpAddress a = IpAddress::from_v6(b);
  const Cidr net = Cidr::make(a, 32);
  b[5] = 0x42;
  EXPECT_TRUE(net.contains(IpAddress::from_v6(b)));
  b[3] = 0xb9;
  EXPECT_FALSE(net.contains(IpAddress::from_v6(b)));
  // A /13 cuts inside a byte.
  std::array<std::uint8_t, 16> c{0x20, 0x07};
  const Cidr n13 = Cidr::make(IpAddress::from_v6(c), 13);
  c[1] = 0x06;
  EXPECT_TRUE(n13.contains(IpAddress::from_v6(c)));
  c[1] = 0x08;
  EXPECT_FALSE(n13.contains(IpAddress::from_v6(c)));
  // An IPv6 block never holds an IPv4 address by accident.
  EXPECT_FALSE(net.contains(v4(32, 1, 13, 184)));
}

TEST(Cidr, AnyContains) {
  std::vector<Cidr> list{Cidr::make(v4(10, 0, 0, 0), 104), Cidr::make(v4(127, 0, 0, 0), 104)};
  EXPECT_TRUE(any_contains(list, v4(127, 0, 0, 1)));
  EXPECT_FALSE(any_contains(list, v4(192, 0, 2, 1)));
  EXPECT_FALSE(any_contains({}, v4(127, 0, 0, 1)));
}

}  // namespace
}  // namespace spamsink::core
