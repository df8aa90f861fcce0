#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "crypto/gcm.hpp"
#include "crypto/secure_memory.hpp"
#include "util/bytes.hpp"

namespace obsync::crypto {

// The encrypted blob of protocol §3.3: `iv(12) || AES-256-GCM ciphertext || tag(16)`.
// Empty content is never encrypted: a 0-byte blob is empty content, and so is a 12-byte blob
// (an IV and nothing else), as the official client reads it.

inline constexpr std::uint64_t k_blob_overhead = k_gcm_iv_size + k_gcm_tag_size;

// The content size a blob of `blob_size` bytes holds (0 for the empty-content blobs).
constexpr std::uint64_t blob_plaintext_size(std::uint64_t blob_size) noexcept {
    return blob_size > k_blob_overhead ? blob_size - k_blob_overhead : 0;
}

// Whether a blob can be `blob_size` bytes long at all: empty, an IV alone, or an IV, ciphertext
// and tag. All that can be checked of a blob without the key.
constexpr bool plausible_blob_size(std::uint64_t blob_size) noexcept {
    return blob_size == 0 || blob_size == k_gcm_iv_size || blob_size >= k_blob_overhead;
}

// Encrypts with a fresh random IV; empty plaintext gives an empty blob.
Bytes encrypt_blob(const Key32& key, ByteView plaintext);
// Deterministic variant, for v0 name encoding (§3.4) and test vectors.
Bytes encrypt_blob(const Key32& key, ByteView plaintext, ByteView iv);

// Throws Error{crypto} on a blob shorter than its IV and tag or on a failed tag.
Bytes decrypt_blob(const Key32& key, ByteView blob);

// Decrypts a blob that arrives in pieces of any size, with memory bounded by the piece size.
//
// The last 16 bytes of the stream are the tag, and the stream's end is known only at finish(),
// so the decryptor always holds back the latest 16 bytes. Plaintext returned by update() is NOT
// authenticated until finish() returns: write it somewhere provisional (a temp file) and commit
// only after finish().
class BlobDecryptor {
public:
    explicit BlobDecryptor(const Key32& key);

    // Returns the plaintext that this piece releases; the view stays valid until the next call.
    ByteView update(ByteView piece);
    // Verifies the tag; throws Error{crypto} if the blob is short or was tampered with.
    void finish();

    std::uint64_t bytes_in() const noexcept { return m_bytes_in; }
    std::uint64_t bytes_out() const noexcept { return m_bytes_out; }

private:
    ByteView decrypt_into_output(ByteView a, ByteView b);

    Key32 m_key;
    std::optional<Gcm> m_gcm;
    std::array<std::uint8_t, k_gcm_iv_size> m_iv{};
    std::size_t m_iv_fill = 0;
    std::array<std::uint8_t, k_gcm_tag_size> m_tail{};
    std::size_t m_tail_fill = 0;
    Bytes m_out;
    std::uint64_t m_bytes_in = 0;
    std::uint64_t m_bytes_out = 0;
    bool m_finished = false;
};

}  // namespace obsync::crypto
