#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace obsync {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Views the bytes of a string without copying (UTF-8 text is bytes on the wire).
inline ByteView as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline std::string_view as_chars(ByteView b) noexcept {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

inline Bytes to_bytes(std::string_view s) {
    const ByteView v = as_bytes(s);
    return {v.begin(), v.end()};
}

inline std::string to_string(ByteView b) {
    return std::string(as_chars(b));
}

}  // namespace obsync
