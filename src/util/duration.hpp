#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace obsync {

// A span of time as people write it: "90" (seconds), "90s", "10m", "2h", "1h30m", "1m30s".
// Nothing for anything else (empty, negative, fractions, unknown units, a unit twice, overflow
// past 30 days).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace obsync
