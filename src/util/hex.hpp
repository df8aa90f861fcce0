#pragma once

#include <string>
#include <string_view>

#include "util/bytes.hpp"

namespace obsync {

// Lowercase hex, as the Obsidian protocol writes keyhashes, paths and hashes.
std::string to_hex(ByteView bytes);

// Accepts upper and lower case. Throws Error{bad_input} on an odd length or a non-hex character.
Bytes from_hex(std::string_view hex);

}  // namespace obsync
