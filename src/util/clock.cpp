#include "util/clock.hpp"

#include <array>
#include <chrono>
#include <ctime>

namespace obsync {

std::int64_t epoch_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string iso8601_utc(std::int64_t ms) {
    std::int64_t seconds = ms / 1000;
    if (ms % 1000 < 0) {
        --seconds;  // floor, for times before 1970
    }
    const auto time = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&time, &tm);
    std::array<char, 32> text{};
    std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text.data();
}

}  // namespace obsync
