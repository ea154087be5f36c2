// Tests for core/address: the text form of v4, v4-mapped and v6 addresses
// (RFC 5952 compression rules included), the bound on format()'s output,
// and that equal addresses hash equal while distinct ones spread.
#include "core/address.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <unordered_set>

namespace spamsink::core {
namespace {

IpAddress v6(std::array<std::uint16_t, 8> words) {
  std::array<std::uint8_t, 16> b{};
  for (int i = 0; i < 8; ++i) {
    b[2 * i] = static_cast<std::uint8_t>(words[i] >> 8);
    b[2 * i + 1] = static_cast<std::uint8_t>(words[i]);
  }
  return IpAddress::from_v6(b);
}

TEST(IpAddress, V4IsStoredMappedAndPrintedDottedQuad) {
  const IpAddress a = IpAddress::from_v4(0x7f000001);
  EXPECT_TRUE(a.is_v4());
  const std::array<std::uint8_t, 16> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
  EXPECT_EQ(a.bytes, mapped);
  EXPECT_EQ(a.to_string(), "127.0.0.1");
  EXPECT_EQ(IpAddress::from_v4(0).to_string(), "0.0.0.0");
  EXPECT_EQ(IpAddress::from_v4(0xffffffff).to_string(), "255.255.255.255");
  EXPECT_EQ(IpAddress::from_v4(0x0a00ff09).to_string(), "10.0.255.9");
  EXPECT_EQ(IpAddress::from_v4(0xc0a80164).to_string(), "192.168.1.100");
}

TEST(IpAddress, V4MappedV6IsTheSameAddressAsV4) {
  const IpAddress m = v6({0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304});
  EXPECT_TRUE(m.is_v4());
  EXPECT_EQ(m.to_string(), "1.2.3.4");
  EXPECT_EQ(m, IpAddress::from_v4(0x01020304));
  EXPECT_EQ(IpAddressHash{}(m), IpAddressHash{}(IpAddress::from_v4(0x01020304)));
  EXPECT_EQ(v6({0, 0, 0, 0, 0, 0xffff, 0, 0}).to_string(), "0.0.0.0");
}

TEST(IpAddress, NotMappedIsNotV4) {
  // ::1.2.3.4 (v4-compatible, deprecated) and ::fffe:... are plain v6.
  EXPECT_FALSE(v6({0, 0, 0, 0, 0, 0, 0x0102, 0x0304}).is_v4());
  EXPECT_FALSE(v6({0, 0, 0, 0, 0, 0xfffe, 0x0102, 0x0304}).is_v4());
  EXPECT_FALSE(v6({0, 0, 0, 0, 0, 0, 0, 1}).is_v4());
}

struct V6Case {
  std::array<std::uint16_t, 8> words;
  const char* text;
};

class IpAddressV6 : public ::testing::TestWithParam<V6Case> {};

TEST_P(IpAddressV6, FormatsPerRfc5952) {
  const IpAddress a = v6(GetParam().words);
  EXPECT_FALSE(a.is_v4());
  EXPECT_EQ(a.to_string(), GetParam().text);
  char buf[64];
  std::memset(buf, '#', sizeof buf);
  const std::size_t n = a.format(buf);
  EXPECT_EQ(std::string(buf, n), GetParam().text);
  // format() promises to fit in 46 bytes; nothing past its length is touched.
  EXPECT_LE(n, 46u);
  for (std::size_t i = n; i < sizeof buf; ++i) ASSERT_EQ(buf[i], '#') << "byte " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Rfc5952, IpAddressV6,
    ::testing::Values(
        V6Case{{0, 0, 0, 0, 0, 0, 0, 1}, "::1"},                       // loopback
        V6Case{{0, 0, 0, 0, 0, 0, 0, 0}, "::"},                        // unspecified
        V6Case{{0xfe80, 0, 0, 0, 0, 0, 0, 1}, "fe80::1"},              // link-local
        V6Case{{1, 0, 0, 0, 0, 0, 0, 0}, "1::"},                       // run at the end
        V6Case{{0x2001, 0xdb8, 0, 0, 1, 0, 0, 1}, "2001:db8::1:0:0:1"},  // equal runs: first wins
        V6Case{{0x2001, 0, 0, 1, 0, 0, 0, 1}, "2001:0:0:1::1"},        // longest run wins
        V6Case{{0x2001, 0xdb8, 0, 0, 0, 1, 0, 0}, "2001:db8::1:0:0"},  // longest run, not last
        V6Case{{0x2001, 0xdb8, 0, 1, 1, 1, 1, 1}, "2001:db8:0:1:1:1:1:1"},  // one zero word: kept
        V6Case{{0, 1, 2, 3, 4, 5, 6, 7}, "0:1:2:3:4:5:6:7"},           // leading single zero
        V6Case{{1, 2, 3, 4, 5, 6, 7, 0}, "1:2:3:4:5:6:7:0"},           // trailing single zero
        V6Case{{0, 0, 1, 2, 3, 4, 5, 6}, "::1:2:3:4:5:6"},             // run of two at start
        V6Case{{0x2001, 0x0db8, 0x00a0, 0x0abc, 0xABCD, 0xffff, 0x000f, 0x00f0},
               "2001:db8:a0:abc:abcd:ffff:f:f0"},                      // no leading zeros, lower case
        V6Case{{0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xfffe},
               "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"},             // longest text form
        V6Case{{0, 0, 0, 0, 0, 0, 0x0102, 0x0304}, "::102:304"}));

TEST(IpAddress, MappedFormatStaysWithinBuffer) {
  char buf[64];
  std::memset(buf, '#', sizeof buf);
  const std::size_t n = IpAddress::from_v4(0xffffffff).format(buf);
  EXPECT_EQ(std::string(buf, n), "255.255.255.255");
  for (std::size_t i = n; i < sizeof buf; ++i) ASSERT_EQ(buf[i], '#');
}

TEST(IpAddress, EqualityIsByValue) {
  EXPECT_EQ(IpAddress::from_v4(0x01020304), IpAddress::from_v4(0x01020304));
  EXPECT_NE(IpAddress::from_v4(0x01020304), IpAddress::from_v4(0x01020305));
  EXPECT_NE(v6({0, 0, 0, 0, 0, 0, 0, 1}), IpAddress::from_v4(1));
  EXPECT_EQ(IpAddress{}, v6({0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(IpAddressHash, EqualAddressesHashEqual) {
  const IpAddressHash h;
  EXPECT_EQ(h(IpAddress::from_v4(0x7f000001)), h(IpAddress::from_v4(0x7f000001)));
  EXPECT_EQ(h(v6({0xfe80, 0, 0, 0, 0, 0, 0, 1})), h(v6({0xfe80, 0, 0, 0, 0, 0, 0, 1})));
}

TEST(IpAddressHash, NeighbouringAddressesDoNotCollide) {
  // Per-IP caps key an unordered_map on this hash: a /16 of v4 neighbours
  // and a run of v6 neighbours must land on distinct hash values.
  const IpAddressHash h;
  std::unordered_set<std::size_t> hashes;
  std::unordered_set<IpAddress, IpAddressHash> addrs;
  for (std::uint32_t i = 0; i < 65536; ++i) {
    const IpAddress a = IpAddress::from_v4(0xc0a80000u + i);
    hashes.insert(h(a));
    addrs.insert(a);
  }
  for (std::uint16_t i = 0; i < 4096; ++i) {
    const IpAddress a = v6({0x2001, 0xdb8, i, 0, 0, 0, 0, 1});
    hashes.insert(h(a));
    addrs.insert(a);
  }
  EXPECT_EQ(addrs.size(), 65536u + 4096u);
  EXPECT_EQ(hashes.size(), 65536u + 4096u);
  EXPECT_EQ(addrs.count(IpAddress::from_v4(0xc0a80102)), 1u);
  EXPECT_EQ(addrs.count(IpAddress::from_v4(0xc0a90000)), 0u);
}

}  // namespace
}  // namespace spamsink::core
