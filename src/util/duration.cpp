#include "util/duration.hpp"

#include <charconv>

namespace obsync {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    using std::chrono::milliseconds;
    constexpr long long k_max_ms = 30LL * 24 * 3600 * 1000;
    if (text.empty()) {
        return std::nullopt;
    }
    long long total = 0;
    long long last_unit = 0;  // units must go from larger to smaller, each once
    const char* p = text.data();
    const char* end = p + text.size();
    while (p < end) {
        long long value = 0;
        const auto [stop, ec] = std::from_chars(p, end, value);
        if (ec != std::errc{} || stop == p || value < 0 || value > k_max_ms) {
            return std::nullopt;
        }
        p = stop;
        long long unit = 1000;  // a bare number is seconds, and only alone
        if (p == end) {
            if (last_unit != 0) {
                return std::nullopt;
            }
        } else if (*p == 'h') {
            unit = 3'600'000;
        } else if (*p == 'm') {
            unit = 60'000;
        } else if (*p == 's') {
            unit = 1000;
        } else {
            return std::nullopt;
        }
        if (p != end) {
            ++p;
            if (last_unit != 0 && unit >= last_unit) {
                return std::nullopt;
            }
            last_unit = unit;
        }
        total += value * unit;
        if (total > k_max_ms) {
            return std::nullopt;
        }
    }
    return milliseconds(total);
}

}  // namespace obsync
