// store/time_text: RFC 3339 UTC times for the CLI, the API and cursors.
//
// Purpose: format WallTime as "2026-11-25T04:15:00Z"; parse the RFC 3339
// forms a user types (Z or a numeric offset, optional fraction, which is
// dropped: the store keeps seconds).
// Limits: years 1970-9999; input longer than 64 bytes is refused.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "store/reader.hpp"

namespace spamsink::store {

std::string format_rfc3339(WallTime t);
std::optional<WallTime> parse_rfc3339(std::string_view text);

}  // namespace spamsink::store
