#pragma once

#include <string>
#include <string_view>

#include "util/bytes.hpp"

namespace obsync {

// Lowercase hex, as the Obsidian protocol writes keyhashes, paths and hashes.
std::string to_hex(ByteView bytes);

// Whether `text` is lowercase hex of whole bytes (an even number of 0-9a-f; "" is), the form
// to_hex() writes and the protocol's encoded paths, hashes and keyhashes have.
bool is_lower_hex(std::string_view text) noexcept;

// Accepts upper and lower case. Throws Error{bad_input} on an odd length or a non-hex character.
Bytes from_hex(std::string_view hex);

}  // namespace obsync
