#include "crypto/totp.hpp"

#include <array>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto/openssl_error.hpp"
#include "crypto/secure_memory.hpp"
#include "util/error.hpp"

namespace obsync::crypto {
namespace {

int base32_value(char c) noexcept {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a';
    }
    if (c >= '2' && c <= '7') {
        return c - '2' + 26;
    }
    return -1;
}

}  // namespace

Bytes base32_decode(std::string_view text) {
    Bytes out;
    out.reserve(text.size() * 5 / 8);
    std::uint32_t buffer = 0;
    int bits = 0;
    bool padding_seen = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == ' ' || c == '-' || c == '\t') {
            continue;
        }
        if (c == '=') {
            padding_seen = true;
            continue;
        }
        const int v = base32_value(c);
        if (v < 0 || padding_seen) {
            throw Error(ErrorKind::bad_input,
                        "malformed base32 secret: unexpected character at "
                        "position " +
                            std::to_string(i + 1));
        }
        buffer = (buffer << 5) | static_cast<std::uint32_t>(v);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>(buffer >> bits));
        }
    }
    secure_wipe(&buffer, sizeof buffer);
    if (out.empty()) {
        throw Error(ErrorKind::bad_input, "malformed base32 secret: it is empty");
    }
    return out;
}

std::string hotp(ByteView key, std::uint64_t counter, int digits) {
    if (digits < 6 || digits > 9) {
        throw Error(ErrorKind::bad_input, "HOTP digits must be between 6 and 9");
    }
    std::array<std::uint8_t, 8> message{};
    for (int i = 7; i >= 0; --i) {
        message[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(counter & 0xff);
        counter >>= 8;
    }
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> mac{};
    unsigned int mac_len = 0;
    if (HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), message.data(), message.size(),
             mac.data(), &mac_len) == nullptr) {
        detail::throw_openssl("HMAC(SHA1)");
    }
    // Dynamic truncation (RFC 4226 §5.3).
    const std::size_t offset = mac[mac_len - 1] & 0x0f;
    const std::uint32_t binary = ((mac[offset] & 0x7fU) << 24) | (mac[offset + 1] << 16) |
                                 (mac[offset + 2] << 8) | mac[offset + 3];
    secure_wipe(mac.data(), mac.size());
    std::uint32_t modulus = 1;
    for (int i = 0; i < digits; ++i) {
        modulus *= 10;
    }
    std::string code = std::to_string(binary % modulus);
    code.insert(0, static_cast<std::size_t>(digits) - code.size(), '0');
    return code;
}

std::string totp(ByteView key, std::int64_t unix_seconds, int digits, int step_seconds) {
    if (unix_seconds < 0 || step_seconds <= 0) {
        throw Error(ErrorKind::bad_input, "TOTP needs a non-negative time and a positive step");
    }
    return hotp(key, static_cast<std::uint64_t>(unix_seconds / step_seconds), digits);
}

std::string totp_from_base32(std::string_view secret, std::int64_t unix_seconds) {
    Bytes key = base32_decode(secret);
    std::string code = totp(key, unix_seconds);
    secure_wipe(key.data(), key.size());
    return code;
}

}  // namespace obsync::crypto
