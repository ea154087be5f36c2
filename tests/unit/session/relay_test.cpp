// Tests for session/relay: domain extraction and the capped domain list,
// the relay-test rule, the IpMatcher (found whatever the split, at every
// byte; boundaries; IPv6 case), and ForwardGate's accounting (threshold per
// host, hourly budget over all hosts, refunds, eviction) on a ManualClock.
#include "session/relay.hpp"

#include <gtest/gtest.h>

#include <string>

namespace spamsink::session {
namespace {

using namespace std::chrono_literals;

TEST(Relay, DomainOf) {
  EXPECT_EQ(domain_of("user@Example.COM"), "Example.COM");
  EXPECT_EQ(domain_of("\"a@b\"@c.example"), "c.example");  // the last '@'
  EXPECT_EQ(domain_of(""), "");
  EXPECT_EQ(domain_of("postmaster"), "");
  EXPECT_EQ(domain_of("user@"), "");
  EXPECT_TRUE(iequal("Example.COM", "example.com"));
  EXPECT_FALSE(iequal("example.com", "example.co"));
}

TEST(Relay, DomainListIsDistinctCaseInsensitiveAndCapped) {
  DomainList l;
  l.add("a.example");
  l.add("B.example");
  l.add("A.EXAMPLE");
  l.add("");
  l.add("b.example");
  EXPECT_EQ(l.view(), "a.example,B.example");
  EXPECT_FALSE(l.truncated());
  // Fill to the cap with 20-byte domains: whole items only, then truncated.
  DomainList big;
  std::size_t added = 0;
  for (int i = 0; i < 100; ++i) {
    char d[32];
    std::snprintf(d, sizeof d, "domain-%04d.example", i);  // 19 bytes
    big.add(d);
    if (!big.truncated()) ++added;
  }
  EXPECT_TRUE(big.truncated());
  EXPECT_LE(big.view().size(), kDomainListBytes);
  EXPECT_EQ(added, (kDomainListBytes + 1) / 20);  // 19 bytes + a comma each
  EXPECT_EQ(big.view().back(), 'e');               // never a cut item
  big.clear();
  EXPECT_TRUE(big.view().empty());
  EXPECT_FALSE(big.truncated());
}

TEST(Relay, RelayTestRule) {
  EXPECT_TRUE(is_relay_test(true, 10'000'000, false));
  EXPECT_TRUE(is_relay_test(false, 300, true));
  EXPECT_TRUE(is_relay_test(false, kRelayTestBodyBytes, true));
  EXPECT_FALSE(is_relay_test(false, kRelayTestBodyBytes + 1, true));
  EXPECT_FALSE(is_relay_test(false, 300, false));
}

bool find_in(std::string_view needle, std::string_view body) {
  IpMatcher m;
  m.set_needle(needle);
  m.feed(body.data(), body.size());
  m.finish();
  return m.found();
}

TEST(IpMatcher, FindsTheAddressWithBoundaries) {
  EXPECT_TRUE(find_in("192.0.2.1", "Relay test from 192.0.2.1 ok\r\n"));
  EXPECT_TRUE(find_in("192.0.2.1", "192.0.2.1"));          // whole body, both ends
  EXPECT_TRUE(find_in("192.0.2.1", "[192.0.2.1]."));       // brackets, a full stop
  EXPECT_TRUE(find_in("192.0.2.1", "x 192.0.2.10 y 192.0.2.1\r\n"));  // a near miss first
  EXPECT_FALSE(find_in("192.0.2.1", "192.0.2.10"));        // a longer address
  EXPECT_FALSE(find_in("192.0.2.1", "1192.0.2.1"));
  EXPECT_FALSE(find_in("192.0.2.1", "192.0.2.2"));
  EXPECT_FALSE(find_in("192.0.2.1", ""));
  EXPECT_FALSE(find_in("", "anything"));
  EXPECT_TRUE(find_in("1.1.1.1", "1.1.1.1.1.1 and 1.1.1.1 "));  // overlapping candidates
  EXPECT_TRUE(find_in("2001:db8::1", "to [2001:DB8::1]"));     // IPv6, any case
  EXPECT_FALSE(find_in("2001:db8::1", "2001:db8::1a"));
  EXPECT_FALSE(find_in("2001:db8::1", "2001:db8::10"));
  EXPECT_FALSE(find_in(std::string(IpMatcher::kMaxNeedle + 1, '1'), std::string(100, '1')));
}

TEST(IpMatcher, SameAnswerForEverySplit) {
  const std::string needle = "10.20.30.40";
  const std::string bodies[] = {
      "Subject: test\r\n\r\nrelay probe for 10.20.30.40\r\n",
      "10.20.30.40",
      "x10.20.30.400 10.20.30.4 10.20.30.40",
      "10.20.30.401",
      "110.20.30.40 no",
  };
  for (const auto& body : bodies) {
    const bool whole = find_in(needle, body);
    for (std::size_t cut = 0; cut <= body.size(); ++cut) {
      IpMatcher m;
      m.set_needle(needle);
      m.feed(body.data(), cut);
      m.feed(body.data() + cut, body.size() - cut);
      m.finish();
      EXPECT_EQ(m.found(), whole) << body << " cut at " << cut;
    }
    // And one byte at a time.
    IpMatcher m;
    m.set_needle(needle);
    for (char c : body) m.feed(&c, 1);
    m.finish();
    EXPECT_EQ(m.found(), whole) << body;
  }
}

TEST(IpMatcher, ResetStartsANewBody) {
  IpMatcher m;
  m.set_needle("192.0.2.1");
  m.feed("192.0.2.1 ", 10);
  EXPECT_TRUE(m.found());
  m.reset();
  EXPECT_FALSE(m.found());
  m.feed("19", 2);
  m.reset();  // what was half matched does not carry over
  m.feed("2.0.2.1 ", 8);
  m.finish();
  EXPECT_FALSE(m.found());
}

class GateTest : public ::testing::Test {
 protected:
  core::ManualClock clock_;
  ForwardGate gate_;
  core::IpAddress host(std::uint32_t n) { return core::IpAddress::from_v4(0x7f000000u + n); }
};

TEST_F(GateTest, ThresholdZeroNeverGrantsAndRemembersNothing) {
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(gate_.begin(host(2), clock_.now(), {0, 10}));
  EXPECT_EQ(gate_.hosts(), 0u);
  EXPECT_FALSE(gate_.begin(host(2), clock_.now(), {3, 0}));
}

TEST_F(GateTest, FirstNMessagesPerHost) {
  const ForwardGate::Settings s{2, 100};
  for (std::uint32_t h = 2; h < 6; ++h) {
    EXPECT_TRUE(gate_.begin(host(h), clock_.now(), s));
    EXPECT_TRUE(gate_.begin(host(h), clock_.now(), s));
    EXPECT_FALSE(gate_.begin(host(h), clock_.now(), s));
    EXPECT_FALSE(gate_.begin(host(h), clock_.now(), s));
  }
  EXPECT_EQ(gate_.used_this_hour(clock_.now()), 8u);
  // An hour later the hosts are no longer new: still no more.
  clock_.advance(2h);
  EXPECT_FALSE(gate_.begin(host(2), clock_.now(), s));
  EXPECT_EQ(gate_.used_this_hour(clock_.now()), 0u);
}

TEST_F(GateTest, HourlyBudgetOverAllHostsIsASlidingHour) {
  const ForwardGate::Settings s{5, 3};
  EXPECT_TRUE(gate_.begin(host(2), clock_.now(), s));
  clock_.advance(10min);
  EXPECT_TRUE(gate_.begin(host(3), clock_.now(), s));
  EXPECT_TRUE(gate_.begin(host(4), clock_.now(), s));
  EXPECT_FALSE(gate_.begin(host(5), clock_.now(), s));  // budget spent
  EXPECT_FALSE(gate_.begin(host(2), clock_.now(), s));
  clock_.advance(50min - 1s);
  EXPECT_FALSE(gate_.begin(host(6), clock_.now(), s));  // the first grant is 59:59 old
  clock_.advance(1s);
  EXPECT_TRUE(gate_.begin(host(7), clock_.now(), s));   // it has aged out
  EXPECT_FALSE(gate_.begin(host(8), clock_.now(), s));
  // A host that hit the spent budget used up its first messages: host 5
  // had one (refused) message, so with threshold 5 it has 4 left.
  clock_.advance(2h);
  int granted = 0;
  for (int i = 0; i < 10; ++i) granted += gate_.begin(host(5), clock_.now(), s) ? 1 : 0;
  EXPECT_EQ(granted, 3);  // the budget (3) binds before the 4 left
}

TEST_F(GateTest, RefundReturnsTheBudgetNotTheHostsTurn) {
  const ForwardGate::Settings s{1, 1};
  const auto t = clock_.now();
  EXPECT_TRUE(gate_.begin(host(2), t, s));
  EXPECT_FALSE(gate_.begin(host(3), t, s));
  gate_.refund(t);
  EXPECT_EQ(gate_.used_this_hour(t), 0u);
  EXPECT_FALSE(gate_.begin(host(2), t, s));  // its one message was counted
  clock_.advance(1s);
  EXPECT_TRUE(gate_.begin(host(4), clock_.now(), s));
  gate_.refund(t);  // nothing granted at t any more: no effect
  EXPECT_EQ(gate_.used_this_hour(clock_.now()), 1u);
}

TEST_F(GateTest, HostMapIsBoundedLeastRecentFirst) {
  const ForwardGate::Settings s{1, 1'000'000};
  for (std::uint32_t h = 0; h < kForwardHostCap; ++h) ASSERT_TRUE(gate_.begin(host(h), clock_.now(), s));
  EXPECT_EQ(gate_.hosts(), kForwardHostCap);
  EXPECT_FALSE(gate_.begin(host(0), clock_.now(), s));  // host 0 is now the most recent
  EXPECT_TRUE(gate_.begin(host(kForwardHostCap), clock_.now(), s));  // evicts host 1
  EXPECT_EQ(gate_.hosts(), kForwardHostCap);
  EXPECT_FALSE(gate_.begin(host(0), clock_.now(), s));  // still remembered
  EXPECT_TRUE(gate_.begin(host(1), clock_.now(), s));   // forgotten: new again
}

}  // namespace
}  // namespace spamsink::session
