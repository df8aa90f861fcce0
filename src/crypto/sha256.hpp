#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "util/bytes.hpp"

namespace obsync::crypto {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(ByteView data);

// Lowercase hex: the form in which Obsidian records a file's content hash.
std::string sha256_hex(ByteView data);

// Incremental hashing, for content that arrives in pieces.
class Sha256 {
public:
    Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;
    ~Sha256();

    void update(ByteView data);
    // Returns the digest and resets the hasher for reuse.
    Sha256Digest finish();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace obsync::crypto
