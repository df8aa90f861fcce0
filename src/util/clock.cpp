#include "util/clock.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace obsync {

std::int64_t epoch_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

namespace {

// Floor division, for times before 1970: -1 ms is 23:59:59.999 of the day before.
std::int64_t floor_seconds(std::int64_t ms) {
    return ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
}

std::string format_utc(std::int64_t seconds, const char* format) {
    const auto time = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&time, &tm);
    std::array<char, 32> text{};
    std::strftime(text.data(), text.size(), format, &tm);
    return text.data();
}

}  // namespace

std::string iso8601_utc(std::int64_t ms) {
    return format_utc(floor_seconds(ms), "%Y-%m-%dT%H:%M:%SZ");
}

std::string iso8601_utc_ms(std::int64_t ms) {
    const std::int64_t seconds = floor_seconds(ms);
    const auto millis = static_cast<int>(ms - seconds * 1000);
    std::array<char, 8> fraction{};
    std::snprintf(fraction.data(), fraction.size(), ".%03dZ", millis);
    return format_utc(seconds, "%Y-%m-%dT%H:%M:%S") + fraction.data();
}

}  // namespace obsync
