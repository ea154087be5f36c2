// http/blocklist: the blocklist export formats.
//
// Purpose: turn the store's hosts, streamed in address order, into txt,
// CSV, an nftables script, rbldnsd ip4set/ip6trie data or JSON, appending
// to a buffer the server flushes as one chunk whenever it is big enough.
// Invariants:
//  - an address inside a never-list block never appears, in any format;
//    an IPv6 prefix group (v6_prefix < 128) that overlaps a never-list
//    block is not listed as a prefix: its hosts are listed one by one;
//  - IPv4 is never grouped; IPv6 hosts sharing a /v6_prefix become one
//    entry (the input is in address order, so a group's hosts are adjacent
//    apart from IPv4 rows, which never interrupt a pending IPv6 group);
//  - the nft output loads with `nft -f` and replaces the previous list
//    (flush, then add); its interval sets never get overlapping elements
//    because an address is either grouped or listed alone, never both.
// Limits: memory is one pending group plus at most kNftChunk elements per
// family (nft), whatever the number of hosts.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/cidr.hpp"
#include "http/params.hpp"
#include "store/reader.hpp"

namespace spamsink::http {

inline constexpr std::size_t kNftChunk = 500;  // elements per `add element`

// True when the two blocks share at least one address.
bool overlaps(const core::Cidr& a, const core::Cidr& b);

class BlocklistWriter {
 public:
  BlocklistWriter(BlocklistFormat format, std::uint8_t v6_prefix, const std::vector<core::Cidr>& never_list,
                  std::chrono::sys_seconds generated);

  static const char* content_type(BlocklistFormat f);

  void begin(std::string& out);
  void add(const store::HostRow& h, std::string& out);
  void finish(std::string& out);
  std::uint64_t entries() const { return entries_; }

 private:
  struct Entry {
    core::IpAddress ip;
    std::uint8_t bits = 128;  // in the 128-bit space; 128 = one address
    std::uint64_t hosts = 0;
    std::chrono::sys_seconds first_seen{}, last_seen{};
    std::uint64_t sessions = 0, messages = 0;
    double tarpit_seconds = 0;
  };
  static Entry single(const store::HostRow& h);
  void emit(const Entry& e, std::string& out);
  void flush_nft(bool v4, std::string& out);

  BlocklistFormat format_;
  std::uint8_t v6_prefix_;
  const std::vector<core::Cidr>& never_;
  std::chrono::sys_seconds generated_;
  bool have_group_ = false;
  Entry group_;
  std::vector<std::string> nft_v4_, nft_v6_;
  std::uint64_t entries_ = 0;
};

}  // namespace spamsink::http
