#pragma once

#include <cstdint>
#include <string_view>

#include "crypto/secure_memory.hpp"
#include "util/bytes.hpp"

namespace obsync::crypto {

struct ScryptParams {
    std::uint64_t n = 32768;
    std::uint64_t r = 8;
    std::uint64_t p = 1;
};

// Raw scrypt (RFC 7914) into `out`. The memory limit is sized from the parameters, because
// OpenSSL's default limit of 32 MiB rejects Obsidian's N=32768, r=8 (protocol §3.1).
void scrypt(ByteView password, ByteView salt, const ScryptParams& params,
            std::span<std::uint8_t> out);

// The vault key of protocol §3.1: scrypt(NFKC(password), NFKC(salt), N=32768, r=8, p=1, 32 bytes).
Key32 derive_vault_key(std::string_view password, std::string_view salt);

// HKDF-SHA256 (RFC 5869), extract and expand. An empty salt means HashLen zero bytes.
void hkdf_sha256(ByteView ikm, ByteView salt, std::string_view info, std::span<std::uint8_t> out);
Key32 hkdf_sha256_key(ByteView ikm, ByteView salt, std::string_view info);

}  // namespace obsync::crypto
