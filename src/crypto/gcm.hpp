#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "crypto/secure_memory.hpp"
#include "util/bytes.hpp"

namespace obsync::crypto {

inline constexpr std::size_t k_gcm_iv_size = 12;
inline constexpr std::size_t k_gcm_tag_size = 16;

// One AES-256-GCM operation (no AAD, 96-bit IV, 128-bit tag: the WebCrypto defaults the
// official client uses). `update` writes exactly `in.size()` bytes to `out`.
class Gcm {
public:
    enum class Direction { encrypt, decrypt };

    Gcm(Direction direction, const Key32& key, ByteView iv);
    Gcm(Gcm&&) noexcept;
    Gcm& operator=(Gcm&&) noexcept;
    ~Gcm();

    void update(ByteView in, std::uint8_t* out);
    // Encrypt: returns the tag. Decrypt: checks `expected_tag` and throws Error{crypto} on
    // mismatch (OpenSSL compares in constant time).
    void finish_decrypt(ByteView expected_tag);
    std::array<std::uint8_t, k_gcm_tag_size> finish_encrypt();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Fills `out` from the operating system's CSPRNG.
void random_bytes(std::span<std::uint8_t> out);

}  // namespace obsync::crypto
