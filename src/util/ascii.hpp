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

}  // namespace obsync
