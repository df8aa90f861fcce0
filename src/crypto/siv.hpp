#pragma once

#include <memory>
#include <span>

#include "util/bytes.hpp"

namespace obsync::crypto {

// AES-SIV (RFC 5297) as the official Obsidian client implements it (protocol §3.5): S2V with
// AES-CMAC, then AES-CTR whose counter step increments ONLY the low 16 bits of the block
// (WebCrypto AES-CTR with length 16). For inputs where low16(Q) + blocks - 1 > 0xFFFF this
// differs from RFC 5297 and from OpenSSL's AES-SIV, which carry into the upper bits.
//
// Keys are 16 or 32 bytes each (AES-128 or AES-256); Obsidian uses 32. Obsidian passes no
// associated data, but S2V over associated data is supported so that RFC 5297's own vectors can
// check this code. Thread-safe: all methods are const and share no mutable state.
class SivCipher {
public:
    static constexpr std::size_t k_tag_size = 16;

    SivCipher(ByteView mac_key, ByteView ctr_key);
    SivCipher(SivCipher&&) noexcept;
    SivCipher& operator=(SivCipher&&) noexcept;
    ~SivCipher();

    // Returns V(16) || C.
    Bytes seal(ByteView plaintext, std::span<const ByteView> associated = {}) const;
    // Throws Error{crypto} if `sealed` is shorter than the tag or fails authentication.
    Bytes open(ByteView sealed, std::span<const ByteView> associated = {}) const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace obsync::crypto
