#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/bytes.hpp"

namespace obsync::crypto {

// RFC 4648 base32 as authenticator apps show TOTP secrets: upper or lower case, with or without
// '=' padding, spaces and hyphens ignored. Throws Error{bad_input}; the message never repeats
// the secret.
Bytes base32_decode(std::string_view text);

// HOTP (RFC 4226) with HMAC-SHA1, `digits` from 6 to 9, zero-padded.
std::string hotp(ByteView key, std::uint64_t counter, int digits = 6);

// TOTP (RFC 6238) with HMAC-SHA1, T0 = 0.
std::string totp(ByteView key, std::int64_t unix_seconds, int digits = 6, int step_seconds = 30);

// The 6-digit, 30-second code an authenticator app shows for a base32 secret.
std::string totp_from_base32(std::string_view secret, std::int64_t unix_seconds);

}  // namespace obsync::crypto
