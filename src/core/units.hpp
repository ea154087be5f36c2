// core/units: parsing of durations and sizes as config spells them.
//
// Durations: "100us", "500ms", "20s", "5m", "1h", "2d"; a bare number is seconds.
// Sizes: "2048", "10K", "10M", "1G" (binary: K = 1024); optional "B".
// Invariants: results never overflow; bad text yields std::nullopt.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace spamsink::core {

std::optional<Duration> parse_duration(std::string_view text);
std::optional<std::uint64_t> parse_size(std::string_view text);
std::string format_duration(Duration d);

}  // namespace spamsink::core
