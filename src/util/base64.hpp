#pragma once

#include <string>
#include <string_view>

#include "util/bytes.hpp"

namespace obsync {

// Standard alphabet with padding (RFC 4648 §4), as the official client stores vault keys.
std::string base64_encode(ByteView bytes);

// Strict: padding required, no whitespace. Throws Error{bad_input} otherwise.
Bytes base64_decode(std::string_view text);

}  // namespace obsync
