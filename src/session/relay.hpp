// session/relay: the pure parts of relay mode (DESIGN.md §1, issue 6).
//
// Purpose: decide what a relay attempt looks like and whether a message
// may be forwarded, without I/O or clock reads:
//  - domain_of() and DomainList: the distinct recipient domains of a
//    session, comma-joined and capped;
//  - IpMatcher: finds the server's own address (as text) in a body that
//    arrives in pieces, without keeping the body: KMP over the needle plus
//    a ring of the last kRing bytes for the left boundary; the right
//    boundary is decided by the next byte (or the end of the body);
//  - is_relay_test(): the rule that marks a relay test;
//  - ForwardGate: the bounds on forwarding (per-host threshold, hourly
//    budget over all hosts) with time passed in, so tests use ManualClock.
// Invariants: IpMatcher's answer does not depend on how the body is split;
// a match is the address not adjacent to another address character (a
// digit for IPv4; a hex digit or ':' for IPv6), so 10.0.0.1 is not found
// in 10.0.0.10. ForwardGate never allows more than `max_per_hour` grants in
// any window of one hour, nor more than `threshold` grants per host while
// the host is remembered.
// Limits: needle <= kMaxNeedle bytes (an IPv6 text is <= 45); DomainList
// kDomainListBytes; ForwardGate remembers kForwardHostCap hosts (the least
// recently seen is forgotten first, and would count as new again: the
// hourly budget still bounds what it can get).
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <string_view>
#include <unordered_map>

#include "core/address.hpp"
#include "core/clock.hpp"
#include "core/fixed_string.hpp"

namespace spamsink::session {

// Bodies up to this size are searched for the server's own address; a
// relay tester's probe is a few lines, spam with a tracking pixel is not.
inline constexpr std::uint64_t kRelayTestBodyBytes = 64 * 1024;
inline constexpr std::size_t kDomainListBytes = 256;
inline constexpr std::size_t kForwardHostCap = 65536;

// The domain of an address ("user@Example.COM" -> "Example.COM"); empty for
// the null sender or an address without '@'.
std::string_view domain_of(std::string_view address);
bool iequal(std::string_view a, std::string_view b);

// Distinct domains (case-insensitive), comma-joined, at most
// kDomainListBytes; a domain that does not fit marks it truncated.
class DomainList {
 public:
  void add(std::string_view domain);
  void clear() {
    list_.clear();
    truncated_ = false;
  }
  bool contains(std::string_view domain) const;
  std::string_view view() const { return list_.view(); }
  bool truncated() const { return truncated_; }

 private:
  core::FixedString<kDomainListBytes> list_;
  bool truncated_ = false;  // a domain was left out for want of room
};

class IpMatcher {
 public:
  static constexpr std::size_t kMaxNeedle = 48;

  // `needle` is the address text ("192.0.2.1" or "2001:db8::1"); an empty
  // or over-long needle never matches.
  void set_needle(std::string_view needle);
  void reset();  // a new body
  void feed(const char* p, std::size_t n);
  // The body ended (a match at its very end counts).
  void finish();
  bool found() const { return found_; }

 private:
  bool is_addr_char(unsigned char c) const;
  void step(unsigned char c);

  char needle_[kMaxNeedle] = {};
  std::uint8_t fail_[kMaxNeedle] = {};
  std::size_t len_ = 0;
  bool v6_ = false;
  std::size_t state_ = 0;   // needle bytes matched
  bool pending_ = false;    // a match waits for its right boundary
  bool prev_addr_ = false;  // the byte before the current input was an address char
  bool found_ = false;
  // Left boundary: whether the byte before position i was an address char,
  // for the last kMaxNeedle + 1 positions (a bit ring).
  std::uint64_t left_bits_ = 0;
};

// A relay test: a recipient outside the envelope sender's domain (not for
// the null sender, which has none), or a small body carrying our address.
bool is_relay_test(bool foreign_recipient, std::uint64_t body_bytes, bool body_has_own_ip);

// The forwarding bounds. Not thread-safe: the driver holds a lock.
class ForwardGate {
 public:
  struct Settings {
    std::uint32_t threshold = 0;     // messages forwarded per new host
    std::uint32_t max_per_hour = 10; // forwards per hour, all hosts
  };

  // A message from `host` starts (DATA or the first BDAT chunk). Counts it
  // for the host and returns true if it may be forwarded: the host has had
  // fewer than `threshold` messages and the hour's budget is not spent.
  // A true answer takes one unit of the budget.
  bool begin(const core::IpAddress& host, core::TimePoint now, const Settings& s);
  // A message begin() allowed was not forwarded after all (too big,
  // refused, aborted): its unit of budget comes back.
  void refund(core::TimePoint granted_at);

  std::size_t hosts() const { return hosts_.size(); }
  std::size_t used_this_hour(core::TimePoint now);

 private:
  void expire(core::TimePoint now);
  struct Host {
    std::uint32_t messages = 0;
    std::list<core::IpAddress>::iterator lru;
  };
  std::unordered_map<core::IpAddress, Host, core::IpAddressHash> hosts_;
  std::list<core::IpAddress> lru_;  // front = most recently seen
  std::deque<core::TimePoint> grants_;  // times of grants in the last hour, oldest first
};

}  // namespace spamsink::session
