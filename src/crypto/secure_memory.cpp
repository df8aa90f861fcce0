#include "crypto/secure_memory.hpp"

#include <algorithm>
#include <string>

#include <openssl/crypto.h>

#include "util/error.hpp"

namespace obsync::crypto {

bool secure_equal(ByteView a, ByteView b) noexcept {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void secure_wipe(void* data, std::size_t size) noexcept {
    OPENSSL_cleanse(data, size);
}

Key32::Key32(ByteView bytes) {
    if (bytes.size() != k_size) {
        throw Error(ErrorKind::crypto,
                    "a key must be 32 bytes, got " + std::to_string(bytes.size()));
    }
    std::copy(bytes.begin(), bytes.end(), m_bytes.begin());
}

}  // namespace obsync::crypto
