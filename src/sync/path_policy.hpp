#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace obsync::sync {

// Why a vault path from the server must not be written, or nothing if it is safe: empty,
// absolute, a "." or ".." segment, an empty segment ("a//b", trailing '/'), a NUL or other
// control character, or invalid UTF-8.
std::optional<std::string> unsafe_path_reason(std::string_view path);

}  // namespace obsync::sync
