#pragma once

#include <string>
#include <string_view>

namespace obsync {

// `text` with A-Z turned into a-z and every other byte as it was: for names that protocols and
// settings compare without case (HTTP headers, log levels, flags), whatever the C locale says.
inline std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

inline constexpr bool is_ascii_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

// A-Z, a-z, 0-9 whatever the C locale says.
inline constexpr bool is_ascii_alnum(char c) noexcept {
    return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace obsync
