#include "http/blocklist.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

namespace spamsink::http {
namespace {

using namespace std::chrono;

const sys_seconds kT0 = sys_days{year{2026} / 11 / 25};

store::HostRow host(const char* ip, std::uint64_t sessions = 1, int seen_offset = 0) {
  store::HostRow h;
  h.ip = *parse_ip(ip);
  h.first_seen = kT0 + seconds{seen_offset};
  h.last_seen = kT0 + seconds{seen_offset + 60};
  h.sessions = sessions;
  h.messages = sessions * 2;
  h.tarpit_seconds = 1.5 * static_cast<double>(sessions);
  return h;
}

core::Cidr cidr(const char* ip, int bits) {
  auto a = *parse_ip(ip);
  return core::Cidr::make(a, static_cast<std::uint8_t>(a.is_v4() ? 96 + bits : bits));
}

// Rows in address order, as the store streams them.
std::vector<store::HostRow> rows(std::vector<store::HostRow> v) {
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.ip.bytes < b.ip.bytes; });
  return v;
}

std::string render(BlocklistFormat f, const std::vector<store::HostRow>& in, std::uint8_t v6_prefix = 128,
                   const std::vector<core::Cidr>& never = {}) {
  BlocklistWriter w(f, v6_prefix, never, kT0);
  std::string out;
  w.begin(out);
  for (const auto& h : rows(in)) w.add(h, out);
  w.finish(out);
  return out;
}

const std::vector<store::HostRow> kMixed = {host("192.0.2.7"), host("198.51.100.23", 3), host("2001:db8:1::1"),
                                            host("2001:db8:1::2", 2), host("2001:db8:1:0:ffff::9"),
                                            host("2001:db8:2::5"), host("::1")};

TEST(Blocklist, TxtOneAddressPerLine) {
  EXPECT_EQ(render(BlocklistFormat::kTxt, kMixed),
            "::1\n192.0.2.7\n198.51.100.23\n2001:db8:1::1\n2001:db8:1::2\n2001:db8:1:0:ffff::9\n2001:db8:2::5\n");
}

TEST(Blocklist, Ipv6GroupedByPrefix) {
  EXPECT_EQ(render(BlocklistFormat::kTxt, kMixed, 64),
            "192.0.2.7\n198.51.100.23\n::/64\n2001:db8:1::/64\n2001:db8:2::/64\n");
  EXPECT_EQ(render(BlocklistFormat::kTxt, kMixed, 48), "192.0.2.7\n198.51.100.23\n::/48\n2001:db8:1::/48\n2001:db8:2::/48\n");
  EXPECT_EQ(render(BlocklistFormat::kTxt, kMixed, 32), "192.0.2.7\n198.51.100.23\n::/32\n2001:db8::/32\n");
}

TEST(Blocklist, GroupSumsItsHosts) {
  const std::string csv = render(BlocklistFormat::kCsv, kMixed, 64);
  EXPECT_NE(csv.find("2001:db8:1::/64,3,2026-11-25T00:00:00Z,2026-11-25T00:01:00Z,4,8,6\n"), std::string::npos) << csv;
  EXPECT_EQ(csv.rfind("entry,hosts,first_seen,last_seen,sessions,messages,tarpit_seconds\n", 0), 0u);
  EXPECT_NE(csv.find("198.51.100.23,1,2026-11-25T00:00:00Z,2026-11-25T00:01:00Z,3,6,4.5\n"), std::string::npos);
}

TEST(Blocklist, NeverListKeepsAddressesOutOfEveryFormat) {
  const std::vector<core::Cidr> never = {cidr("198.51.100.0", 24), cidr("2001:db8:2::5", 128), cidr("::1", 128)};
  for (auto f : {BlocklistFormat::kTxt, BlocklistFormat::kCsv, BlocklistFormat::kNft, BlocklistFormat::kRbldnsd,
                 BlocklistFormat::kRbldnsd6, BlocklistFormat::kJson}) {
    for (std::uint8_t prefix : {std::uint8_t{128}, std::uint8_t{64}}) {
      const std::string out = render(f, kMixed, prefix, never);
      // Split on the separators of every format; no token may be a never-listed address or a prefix covering one.
      std::set<std::string> tokens;
      std::string cur;
      for (char c : out + "\n") {
        if (std::string_view(" \n,{}\"[]:").find(c) != std::string_view::npos && c != ':') {
          if (!cur.empty()) tokens.insert(cur);
          cur.clear();
        } else {
          cur += c;
        }
      }
      if (f != BlocklistFormat::kRbldnsd6) {
        EXPECT_TRUE(tokens.count("192.0.2.7")) << out;
      }
      if (f != BlocklistFormat::kRbldnsd) {
        EXPECT_TRUE(tokens.count("2001:db8:1::1") || tokens.count("2001:db8:1::/64")) << out;
      }
      for (const char* hidden : {"198.51.100.23", "2001:db8:2::5", "2001:db8:2::/64", "::1", "::/64"})
        EXPECT_FALSE(tokens.count(hidden)) << hidden << " in\n" << out;
    }
  }
}

TEST(Blocklist, GroupOverlappingTheNeverListIsListedHostByHost) {
  // 2001:db8:1::2 is never listed: its /64 must not appear; its neighbours do, one by one.
  const std::vector<core::Cidr> never = {cidr("2001:db8:1::2", 128)};
  EXPECT_EQ(render(BlocklistFormat::kTxt, kMixed, 64, never),
            "192.0.2.7\n198.51.100.23\n::/64\n2001:db8:1::1\n2001:db8:1:0:ffff::9\n2001:db8:2::/64\n");
  // ::/64 holds the IPv4-mapped space, but an IPv4 never-list block does not split it.
  EXPECT_EQ(render(BlocklistFormat::kTxt, kMixed, 64, {cidr("192.0.2.7", 32)}),
            "198.51.100.23\n::/64\n2001:db8:1::/64\n2001:db8:2::/64\n");
  // A never-list block wider than the prefix hides the whole group.
  EXPECT_EQ(render(BlocklistFormat::kTxt, kMixed, 64, {cidr("2001:db8::", 32)}), "192.0.2.7\n198.51.100.23\n::/64\n");
}

TEST(Blocklist, Overlaps) {
  EXPECT_TRUE(overlaps(cidr("2001:db8::", 32), cidr("2001:db8:1::", 64)));
  EXPECT_TRUE(overlaps(cidr("2001:db8:1::", 64), cidr("2001:db8::", 32)));
  EXPECT_FALSE(overlaps(cidr("2001:db8:1::", 64), cidr("2001:db8:2::", 64)));
  EXPECT_FALSE(overlaps(cidr("10.0.0.0", 8), cidr("11.0.0.0", 8)));
}

TEST(Blocklist, NftDefinesBothFamilies) {
  const std::string nft = render(BlocklistFormat::kNft, kMixed, 64);
  EXPECT_NE(nft.find("add set inet spamsink blocklist_v4 { type ipv4_addr; flags interval; }\n"), std::string::npos);
  EXPECT_NE(nft.find("add set inet spamsink blocklist_v6 { type ipv6_addr; flags interval; }\n"), std::string::npos);
  EXPECT_NE(nft.find("flush set inet spamsink blocklist_v4\n"), std::string::npos);
  EXPECT_NE(nft.find("add element inet spamsink blocklist_v4 { 192.0.2.7, 198.51.100.23 }\n"), std::string::npos) << nft;
  EXPECT_NE(nft.find("add element inet spamsink blocklist_v6 { ::/64, 2001:db8:1::/64, 2001:db8:2::/64 }\n"),
            std::string::npos)
      << nft;
  // Empty list: the sets are still defined (and flushed), no empty element statement.
  const std::string empty = render(BlocklistFormat::kNft, {});
  EXPECT_EQ(empty.find("add element"), std::string::npos);
  EXPECT_NE(empty.find("flush set inet spamsink blocklist_v6"), std::string::npos);
}

TEST(Blocklist, NftChunksElements) {
  std::vector<store::HostRow> many;
  for (int i = 0; i < 1234; ++i) {
    const std::string ip = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
    many.push_back(host(ip.c_str()));
  }
  const std::string nft = render(BlocklistFormat::kNft, many);
  std::size_t statements = 0, elements = 0;
  for (std::size_t p = 0; (p = nft.find("add element", p)) != std::string::npos; ++p) ++statements;
  for (std::size_t p = 0; (p = nft.find("10.0.", p)) != std::string::npos; ++p) ++elements;
  EXPECT_EQ(statements, (1234 + kNftChunk - 1) / kNftChunk);
  EXPECT_EQ(elements, 1234u);
}

TEST(Blocklist, RbldnsdSplitsFamilies) {
  const std::string v4 = render(BlocklistFormat::kRbldnsd, kMixed, 64);
  EXPECT_NE(v4.find("\n:127.0.0.2:Listed by spamsink\n192.0.2.7\n198.51.100.23\n"), std::string::npos) << v4;
  EXPECT_EQ(v4.find("2001:"), std::string::npos);
  EXPECT_EQ(v4.find("ip4set"), v4.find("(rbldnsd ip4set)") + 9);
  const std::string v6 = render(BlocklistFormat::kRbldnsd6, kMixed, 64);
  EXPECT_NE(v6.find(":127.0.0.2:Listed by spamsink\n::/64\n2001:db8:1::/64\n2001:db8:2::/64\n"), std::string::npos)
      << v6;
  EXPECT_EQ(v6.find("192.0.2.7"), std::string::npos);
}

TEST(Blocklist, JsonIsValidAndComplete) {
  const auto j = nlohmann::json::parse(render(BlocklistFormat::kJson, kMixed, 64));
  EXPECT_EQ(j["generated"], "2026-11-25T00:00:00Z");
  ASSERT_EQ(j["entries"].size(), 5u);
  EXPECT_EQ(j["entries"][3]["entry"], "2001:db8:1::/64");
  EXPECT_EQ(j["entries"][3]["hosts"], 3);
  EXPECT_EQ(j["entries"][3]["sessions"], 4);
  EXPECT_EQ(j["entries"][3]["tarpit_seconds"], 6.0);
  EXPECT_EQ(nlohmann::json::parse(render(BlocklistFormat::kJson, {}))["entries"].size(), 0u);
}

TEST(Blocklist, NftOutputPassesNftCheck) {
  const char* nft = access("/usr/sbin/nft", X_OK) == 0 ? "/usr/sbin/nft" : nullptr;
  if (nft == nullptr) GTEST_SKIP() << "nft not installed (Debian nftables)";
  std::vector<store::HostRow> many = kMixed;
  for (int i = 0; i < 1200; ++i) {  // adjacent addresses, three element statements
    const std::string ip = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
    many.push_back(host(ip.c_str()));
  }
  for (std::uint8_t prefix : {std::uint8_t{128}, std::uint8_t{64}, std::uint8_t{48}}) {
    const std::string path = ::testing::TempDir() + "spamsink_blocklist_test.nft";
    std::ofstream(path) << render(BlocklistFormat::kNft, many, prefix, {cidr("2001:db8:2::5", 128)});
    const std::string cmd = std::string(nft) + " -c -f " + path + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) out += buf;
    const int rc = pclose(p);
    std::remove(path.c_str());
    if (rc != 0 && out.find("Operation not permitted") != std::string::npos)
      GTEST_SKIP() << "nft -c needs CAP_NET_ADMIN here: " << out;
    EXPECT_EQ(rc, 0) << "v6_prefix " << int(prefix) << ": " << out;
  }
}

}  // namespace
}  // namespace spamsink::http
