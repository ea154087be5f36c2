// http/params: the API's query parameters, parsed and validated.
//
// Purpose: turn a request's query string (already split by httplib into a
// multimap) into store queries, or an error that names the parameter, so
// the server answers 400 with {"error":"bad_parameter","parameter":...}.
// Invariants: every accepted value is within its documented range
// (docs/api.md); a parameter given twice is an error (no guessing which one
// wins); unknown parameters are ignored.
// Limits: a cursor is at most kMaxCursor bytes of [A-Za-z0-9-_.:=~]; a
// listener name at most kMaxListener bytes; times are RFC 3339 between the
// years 1970 and 9999.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/address.hpp"
#include "core/cidr.hpp"
#include "store/reader.hpp"

namespace spamsink::http {

using Params = std::multimap<std::string, std::string>;  // = httplib::Params

inline constexpr std::size_t kMaxCursor = 256;
inline constexpr std::size_t kMaxListener = 128;

struct ParamError {
  std::string parameter;
  std::string message;  // "limit: a whole number from 1 to 1000"
};

template <class T>
using Parsed = std::variant<T, ParamError>;

// RFC 3339 ("2026-11-25T04:05:00Z", "...T06:05:00.5+02:00"); fractions are
// truncated. nullopt when malformed.
std::optional<std::chrono::sys_seconds> parse_time(std::string_view s);

// Numeric IPv4 or IPv6 (IPv4-mapped IPv6 becomes the IPv4 address).
std::optional<core::IpAddress> parse_ip(std::string_view s);

std::optional<core::Mode> parse_mode(std::string_view s);
std::optional<core::EndReason> parse_reason(std::string_view s);

Parsed<store::HostQuery> parse_host_query(const Params& p);
Parsed<store::SessionQuery> parse_session_query(const Params& p);

enum class BlocklistFormat : std::uint8_t { kTxt, kCsv, kNft, kRbldnsd, kRbldnsd6, kJson };

struct BlocklistParams {
  BlocklistFormat format = BlocklistFormat::kTxt;
  store::BlocklistQuery query;
  std::uint8_t v6_prefix = 128;  // 128: every address on its own
};

Parsed<BlocklistParams> parse_blocklist_params(const Params& p);

}  // namespace spamsink::http
