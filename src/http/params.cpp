#include "http/params.hpp"

#include "store/time_text.hpp"

#include <arpa/inet.h>

#include <array>
#include <charconv>

namespace spamsink::http {

namespace {

// The single value of `name`, or nullopt when absent. A repeated parameter
// is an error.
struct One {
  const std::string* value = nullptr;
  bool repeated = false;
};

One get(const Params& p, const std::string& name) {
  One o;
  auto [lo, hi] = p.equal_range(name);
  if (lo == hi) return o;
  o.value = &lo->second;
  o.repeated = std::next(lo) != hi;
  return o;
}

ParamError err(const std::string& name, const std::string& allowed) { return {name, name + ": " + allowed}; }

std::optional<std::uint64_t> parse_u64(std::string_view v, std::uint64_t min, std::uint64_t max) {
  std::uint64_t out = 0;
  if (v.empty() || v.front() < '0' || v.front() > '9') return std::nullopt;
  auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (r.ec != std::errc{} || r.ptr != v.data() + v.size() || out < min || out > max) return std::nullopt;
  return out;
}

bool valid_cursor(std::string_view c) {
  if (c.size() > kMaxCursor) return false;
  for (char ch : c) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                    ch == '-' || ch == '_' || ch == '.' || ch == ':' || ch == '=' || ch == '~';
    if (!ok) return false;
  }
  return true;
}

// Common parameters of the paged routes. Returns an error or nothing.
std::optional<ParamError> paging(const Params& p, std::size_t& limit, std::string& cursor) {
  for (const char* name : {"limit", "cursor"})
    if (get(p, name).repeated) return err(name, "given more than once");
  if (auto l = get(p, "limit"); l.value) {
    auto n = parse_u64(*l.value, 1, store::kMaxPageLimit);
    if (!n) return err("limit", "a whole number from 1 to " + std::to_string(store::kMaxPageLimit));
    limit = static_cast<std::size_t>(*n);
  }
  if (auto c = get(p, "cursor"); c.value) {
    if (!valid_cursor(*c.value))
      return err("cursor", "an opaque value from next_cursor (letters, digits, -_.:=~, at most " +
                               std::to_string(kMaxCursor) + " bytes)");
    cursor = *c.value;
  }
  return std::nullopt;
}

std::optional<ParamError> time_param(const Params& p, const char* name, std::optional<store::WallTime>& out) {
  auto v = get(p, name);
  if (v.repeated) return err(name, "given more than once");
  if (!v.value) return std::nullopt;
  auto t = parse_time(*v.value);
  if (!t) return err(name, "an RFC 3339 time, e.g. 2026-11-25T04:05:00Z");
  out = *t;
  return std::nullopt;
}

}  // namespace

std::optional<std::chrono::sys_seconds> parse_time(std::string_view s) {
  // One RFC 3339 parser for the API, the CLI and cursors: the store's.
  return store::parse_rfc3339(s);
}

std::optional<core::IpAddress> parse_ip(std::string_view s) {
  if (s.empty() || s.size() > 45) return std::nullopt;
  const std::string text(s);
  std::array<std::uint8_t, 16> b{};
  if (s.find(':') == std::string_view::npos) {
    in_addr a4{};
    if (inet_pton(AF_INET, text.c_str(), &a4) != 1) return std::nullopt;
    return core::IpAddress::from_v4(ntohl(a4.s_addr));
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, text.c_str(), &a6) != 1) return std::nullopt;
  for (std::size_t i = 0; i < 16; ++i) b[i] = a6.s6_addr[i];
  // from_v6 keeps the bytes; an IPv4-mapped address then is the v4 host.
  return core::IpAddress::from_v6(b);
}

std::optional<core::Mode> parse_mode(std::string_view s) {
  for (auto m : {core::Mode::kSink, core::Mode::kTarpit, core::Mode::kRelay})
    if (core::to_string(m) == s) return m;
  return std::nullopt;
}

std::optional<core::EndReason> parse_reason(std::string_view s) {
  for (std::size_t i = 0; i < core::kEndReasonCount; ++i) {
    const auto r = static_cast<core::EndReason>(i);
    if (core::to_string(r) == s) return r;
  }
  return std::nullopt;
}

Parsed<store::HostQuery> parse_host_query(const Params& p) {
  store::HostQuery q;
  if (auto e = paging(p, q.limit, q.cursor)) return *e;
  if (auto e = time_param(p, "since", q.since)) return *e;
  auto o = get(p, "order");
  if (o.repeated) return err("order", "given more than once");
  if (o.value) {
    const std::string& v = *o.value;
    if (v == "last_seen") q.order = store::HostOrder::kLastSeen;
    else if (v == "sessions") q.order = store::HostOrder::kSessions;
    else if (v == "messages") q.order = store::HostOrder::kMessages;
    else if (v == "tarpit_seconds") q.order = store::HostOrder::kTarpitSeconds;
    else return err("order", "last_seen, sessions, messages or tarpit_seconds");
  }
  return q;
}

Parsed<store::SessionQuery> parse_session_query(const Params& p) {
  store::SessionQuery q;
  if (auto e = paging(p, q.limit, q.cursor)) return *e;
  if (auto e = time_param(p, "since", q.since)) return *e;
  if (auto e = time_param(p, "until", q.until)) return *e;
  for (const char* name : {"ip", "mode", "listener", "reason"})
    if (get(p, name).repeated) return err(name, "given more than once");
  if (auto v = get(p, "ip"); v.value) {
    auto ip = parse_ip(*v.value);
    if (!ip) return err("ip", "an IPv4 or IPv6 address, e.g. 192.0.2.7 or 2001:db8::1");
    q.ip = *ip;
  }
  if (auto v = get(p, "mode"); v.value) {
    auto m = parse_mode(*v.value);
    if (!m) return err("mode", "sink, tarpit or relay");
    q.mode = *m;
  }
  if (auto v = get(p, "listener"); v.value) {
    if (v.value->empty() || v.value->size() > kMaxListener)
      return err("listener", "a listener name, 1 to " + std::to_string(kMaxListener) + " bytes");
    q.listener = *v.value;
  }
  if (auto v = get(p, "reason"); v.value) {
    auto r = parse_reason(*v.value);
    if (!r) {
      std::string all;
      for (std::size_t i = 0; i < core::kEndReasonCount; ++i)
        all += (i ? ", " : "") + std::string(core::to_string(static_cast<core::EndReason>(i)));
      return err("reason", "one of " + all);
    }
    q.reason = *r;
  }
  if (q.since && q.until && *q.until <= *q.since) return err("until", "must be later than since");
  return q;
}

Parsed<BlocklistParams> parse_blocklist_params(const Params& p) {
  BlocklistParams b;
  for (const char* name : {"format", "min_sessions", "v6_prefix"})
    if (get(p, name).repeated) return err(name, "given more than once");
  if (auto v = get(p, "format"); v.value) {
    const std::string& f = *v.value;
    if (f == "txt") b.format = BlocklistFormat::kTxt;
    else if (f == "csv") b.format = BlocklistFormat::kCsv;
    else if (f == "nft") b.format = BlocklistFormat::kNft;
    else if (f == "rbldnsd") b.format = BlocklistFormat::kRbldnsd;
    else if (f == "rbldnsd6") b.format = BlocklistFormat::kRbldnsd6;
    else if (f == "json") b.format = BlocklistFormat::kJson;
    else return err("format", "txt, csv, nft, rbldnsd, rbldnsd6 or json");
  }
  if (auto v = get(p, "min_sessions"); v.value) {
    auto n = parse_u64(*v.value, 1, std::uint64_t{1} << 63);
    if (!n) return err("min_sessions", "a whole number, at least 1");
    b.query.min_sessions = *n;
  }
  if (auto e = time_param(p, "since", b.query.since)) return *e;
  if (auto v = get(p, "v6_prefix"); v.value) {
    auto n = parse_u64(*v.value, 8, 128);
    if (!n) return err("v6_prefix", "a prefix length from 8 to 128");
    b.v6_prefix = static_cast<std::uint8_t>(*n);
  }
  return b;
}

}  // namespace spamsink::http
