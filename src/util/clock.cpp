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

std::optional<std::int64_t> parse_iso8601_utc(std::string_view text) {
    // YYYY-MM-DDTHH:MM:SS = 19 characters, then an optional fraction, then Z.
    if (text.size() < 20) {
        return std::nullopt;
    }
    const auto number = [&](std::size_t at, std::size_t digits) -> std::optional<int> {
        int n = 0;
        for (std::size_t i = at; i < at + digits; ++i) {
            if (text[i] < '0' || text[i] > '9') {
                return std::nullopt;
            }
            n = n * 10 + (text[i] - '0');
        }
        return n;
    };
    const auto year = number(0, 4);
    const auto month = number(5, 2);
    const auto day = number(8, 2);
    const auto hour = number(11, 2);
    const auto minute = number(14, 2);
    const auto second = number(17, 2);
    if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' ||
        text[7] != '-' || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
        text[16] != ':') {
        return std::nullopt;
    }
    std::size_t at = 19;
    int millis = 0;
    if (text[at] == '.') {
        ++at;
        int digits = 0;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
            if (digits < 3) {
                millis = millis * 10 + (text[at] - '0');
            }
            ++digits;
            ++at;
        }
        if (digits == 0) {
            return std::nullopt;
        }
        for (int i = digits; i < 3; ++i) {
            millis *= 10;
        }
    }
    if (at + 1 != text.size() || (text[at] != 'Z' && text[at] != 'z')) {
        return std::nullopt;
    }
    const std::chrono::year_month_day date{std::chrono::year(*year),
                                           std::chrono::month(static_cast<unsigned>(*month)),
                                           std::chrono::day(static_cast<unsigned>(*day))};
    if (!date.ok() || *hour > 23 || *minute > 59 || *second > 60) {
        return std::nullopt;
    }
    const std::int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
    return ((days * 24 + *hour) * 60 + *minute) * 60'000 + std::int64_t{*second} * 1000 + millis;
}

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

std::optional<std::int64_t> parse_moment(std::string_view text, std::int64_t now_ms) {
    if (const auto absolute = parse_iso8601_utc(text)) {
        return absolute;
    }
    if (text.size() < 3 || text.front() != '-') {
        return std::nullopt;
    }
    constexpr std::int64_t k_limit_ms = std::int64_t{100} * 366 * 24 * 3600 * 1000;
    std::int64_t age_ms = 0;
    std::string_view rest = text.substr(1);
    while (!rest.empty()) {
        std::int64_t number = 0;
        std::size_t digits = 0;
        while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
            number = number * 10 + (rest[digits] - '0');
            if (number > k_limit_ms) {
                return std::nullopt;
            }
            ++digits;
        }
        if (digits == 0 || digits == rest.size()) {
            return std::nullopt;  // a unit without a number, or a number without a unit
        }
        std::int64_t unit_ms = 0;
        switch (rest[digits]) {
            case 's':
                unit_ms = 1000;
                break;
            case 'm':
                unit_ms = 60 * 1000;
                break;
            case 'h':
                unit_ms = 3600 * 1000;
                break;
            case 'd':
                unit_ms = 24 * 3600 * 1000;
                break;
            case 'w':
                unit_ms = 7 * 24 * 3600 * 1000;
                break;
            default:
                return std::nullopt;
        }
        if (number > k_limit_ms / unit_ms) {
            return std::nullopt;
        }
        age_ms += number * unit_ms;
        if (age_ms > k_limit_ms) {
            return std::nullopt;
        }
        rest.remove_prefix(digits + 1);
    }
    return now_ms - age_ms;
}

}  // namespace obsync
