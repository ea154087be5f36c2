#include "http/params.hpp"

#include <gtest/gtest.h>

namespace spamsink::http {
namespace {

using namespace std::chrono;

Params P(std::initializer_list<std::pair<const std::string, std::string>> l) { return Params(l); }

template <class T>
ParamError error_of(const Parsed<T>& p) {
  const auto* e = std::get_if<ParamError>(&p);
  EXPECT_NE(e, nullptr);
  return e ? *e : ParamError{};
}

TEST(Params, Rfc3339) {
  const sys_seconds base = sys_days{year{2026} / 11 / 25} + hours{4} + minutes{5};
  EXPECT_EQ(parse_time("2026-11-25T04:05:00Z"), base);
  EXPECT_EQ(parse_time("2026-11-25t04:05:00z"), base);
  EXPECT_EQ(parse_time("2026-11-25T06:05:00+02:00"), base);
  EXPECT_EQ(parse_time("2026-11-25T01:35:00-02:30"), base);
  EXPECT_EQ(parse_time("2026-11-25T04:05:00.999Z"), base);
  EXPECT_EQ(parse_time("1970-01-01T00:00:00Z"), sys_seconds{});
  for (const char* bad : {"", "2026-11-25", "2026-11-25T04:05:00", "2026-11-25 04:05:00Z", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T04:05:00.Z",
                          "2026-11-25T04:05:00+2:00", "2026-11-25T04:05:00Zjunk", "1969-12-31T23:59:59Z",
                          "+026-11-25T04:05:00Z", "2026-11-25T04:05:00+02:00x"})
    EXPECT_FALSE(parse_time(bad)) << bad;
}

TEST(Params, Addresses) {
  EXPECT_EQ(parse_ip("192.0.2.7")->to_string(), "192.0.2.7");
  EXPECT_EQ(parse_ip("::1")->to_string(), "::1");
  EXPECT_EQ(parse_ip("2001:DB8::1")->to_string(), "2001:db8::1");
  EXPECT_EQ(*parse_ip("::ffff:192.0.2.7"), *parse_ip("192.0.2.7"));
  for (const char* bad : {"", "1.2.3", "1.2.3.256", "01.2.3.4x", "::g", "1.2.3.4/24", "localhost", " 1.2.3.4"})
    EXPECT_FALSE(parse_ip(bad)) << bad;
}

TEST(Params, HostQueryDefaultsAndValues) {
  auto q = std::get<store::HostQuery>(parse_host_query({}));
  EXPECT_EQ(q.limit, 100u);
  EXPECT_EQ(q.order, store::HostOrder::kLastSeen);
  EXPECT_FALSE(q.since);
  q = std::get<store::HostQuery>(parse_host_query(
      P({{"limit", "1000"}, {"order", "tarpit_seconds"}, {"since", "2026-01-01T00:00:00Z"}, {"cursor", "abc-12:="},
         {"unknown", "ignored"}})));
  EXPECT_EQ(q.limit, 1000u);
  EXPECT_EQ(q.order, store::HostOrder::kTarpitSeconds);
  EXPECT_EQ(q.since, sys_seconds{sys_days{year{2026} / 1 / 1}});
  EXPECT_EQ(q.cursor, "abc-12:=");
}

TEST(Params, HostQueryErrorsNameTheParameter) {
  struct Case {
    Params p;
    const char* parameter;
  } cases[] = {
      {P({{"limit", "0"}}), "limit"},
      {P({{"limit", "1001"}}), "limit"},
      {P({{"limit", "-5"}}), "limit"},
      {P({{"limit", "10x"}}), "limit"},
      {P({{"limit", ""}}), "limit"},
      {P({{"limit", "5"}, {"limit", "6"}}), "limit"},
      {P({{"order", "ip"}}), "order"},
      {P({{"since", "yesterday"}}), "since"},
      {P({{"cursor", "a b"}}), "cursor"},
      {P({{"cursor", std::string(kMaxCursor + 1, 'a')}}), "cursor"},
  };
  for (const auto& c : cases) {
    auto e = error_of(parse_host_query(c.p));
    EXPECT_EQ(e.parameter, c.parameter);
    EXPECT_EQ(e.message.rfind(std::string(c.parameter) + ": ", 0), 0u) << e.message;
  }
}

TEST(Params, SessionQuery) {
  auto q = std::get<store::SessionQuery>(parse_session_query(
      P({{"ip", "::1"}, {"mode", "tarpit"}, {"listener", "tarpit:127.0.0.1:2526"}, {"reason", "early_talker"},
         {"since", "2026-01-01T00:00:00Z"}, {"until", "2026-01-02T00:00:00Z"}, {"limit", "7"}})));
  EXPECT_EQ(q.ip->to_string(), "::1");
  EXPECT_EQ(q.mode, core::Mode::kTarpit);
  EXPECT_EQ(q.listener, "tarpit:127.0.0.1:2526");
  EXPECT_EQ(q.reason, core::EndReason::kEarlyTalker);
  EXPECT_EQ(q.limit, 7u);
  EXPECT_EQ(error_of(parse_session_query(P({{"ip", "1.2.3.999"}}))).parameter, "ip");
  EXPECT_EQ(error_of(parse_session_query(P({{"mode", "Sink"}}))).parameter, "mode");
  EXPECT_EQ(error_of(parse_session_query(P({{"reason", "bored"}}))).parameter, "reason");
  EXPECT_EQ(error_of(parse_session_query(P({{"listener", ""}}))).parameter, "listener");
  EXPECT_EQ(error_of(parse_session_query(P({{"listener", std::string(kMaxListener + 1, 'x')}}))).parameter,
            "listener");
  EXPECT_EQ(error_of(parse_session_query(P({{"until", "2026"}}))).parameter, "until");
  EXPECT_EQ(error_of(parse_session_query(P({{"since", "2026-01-02T00:00:00Z"}, {"until", "2026-01-01T00:00:00Z"}})))
                .parameter,
            "until");
  for (std::size_t i = 0; i < core::kEndReasonCount; ++i) {
    const auto r = static_cast<core::EndReason>(i);
    EXPECT_EQ(parse_reason(core::to_string(r)), r);
  }
}

TEST(Params, Blocklist) {
  auto b = std::get<BlocklistParams>(parse_blocklist_params({}));
  EXPECT_EQ(b.format, BlocklistFormat::kTxt);
  EXPECT_EQ(b.query.min_sessions, 1u);
  EXPECT_EQ(b.v6_prefix, 128);
  b = std::get<BlocklistParams>(
      parse_blocklist_params(P({{"format", "nft"}, {"min_sessions", "3"}, {"v6_prefix", "64"}, {"since", "2026-01-01T00:00:00Z"}})));
  EXPECT_EQ(b.format, BlocklistFormat::kNft);
  EXPECT_EQ(b.query.min_sessions, 3u);
  EXPECT_EQ(b.v6_prefix, 64);
  EXPECT_TRUE(b.query.since);
  EXPECT_EQ(error_of(parse_blocklist_params(P({{"format", "xml"}}))).parameter, "format");
  EXPECT_EQ(error_of(parse_blocklist_params(P({{"min_sessions", "0"}}))).parameter, "min_sessions");
  EXPECT_EQ(error_of(parse_blocklist_params(P({{"v6_prefix", "7"}}))).parameter, "v6_prefix");
  EXPECT_EQ(error_of(parse_blocklist_params(P({{"v6_prefix", "129"}}))).parameter, "v6_prefix");
  EXPECT_EQ(error_of(parse_blocklist_params(P({{"since", "now"}}))).parameter, "since");
  EXPECT_EQ(error_of(parse_blocklist_params(P({{"format", "txt"}, {"format", "csv"}}))).parameter, "format");
}

}  // namespace
}  // namespace spamsink::http
