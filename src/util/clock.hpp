#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace obsync {

// Wall-clock time as Unix epoch milliseconds: what the protocol, the state stores and the run
// records write. Durations and timeouts use std::chrono::steady_clock instead.
std::int64_t epoch_ms();

// "2026-12-06T05:45:53Z": epoch milliseconds as ISO-8601 UTC, to the second.
std::string iso8601_utc(std::int64_t ms);

// "2026-12-06T05:45:53.123Z": the same with milliseconds, as log records carry them.
std::string iso8601_utc_ms(std::int64_t ms);

// The epoch milliseconds of "YYYY-MM-DDTHH:MM:SS[.f...]Z" (UTC; the fraction may have any number of
// digits, cut to milliseconds; a lowercase 't' or 'z' is accepted): what S3 and the logs write.
// Nothing for anything else, including impossible dates (February 30th) and offsets other than Z.
std::optional<std::int64_t> parse_iso8601_utc(std::string_view text);

// A moment as `restore --at` takes it: ISO-8601 UTC (parse_iso8601_utc), or an age before
// `now_ms`: '-' then one or more NUMBER+UNIT, the units s, m, h, d and w ("-3d", "-1d12h",
// "-90m"), at most 100 years. Nothing for anything else.
std::optional<std::int64_t> parse_moment(std::string_view text, std::int64_t now_ms);

}  // namespace obsync
