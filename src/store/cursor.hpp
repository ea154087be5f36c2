// store/cursor: the opaque paging cursors of the Reader, as text.
//
// Purpose: a hosts cursor is "<order value>~<address as 32 hex digits>"
// (keyset paging on the order column, the address breaking ties); a
// sessions cursor is the last session id in decimal. Clients get them from
// one page and hand them back for the next.
// Invariants: encode then decode gives the same key; decode accepts
// nothing else (no sign on integers, finite reals only, at most 80 bytes)
// and returns nullopt, which the reader turns into BadQuery (HTTP 400).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/address.hpp"

namespace spamsink::store {

inline constexpr std::size_t kMaxCursorBytes = 80;

struct HostCursor {
  bool real = false;  // the order column is REAL (tarpit_seconds): use `d`
  std::int64_t i = 0;
  double d = 0;
  core::IpAddress ip;
};

std::string encode_host_cursor(const HostCursor& c);
std::optional<HostCursor> decode_host_cursor(std::string_view text, bool real);

std::optional<std::int64_t> decode_session_cursor(std::string_view text);

}  // namespace spamsink::store
