#include "crypto/gcm.hpp"

#include <climits>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto/openssl_error.hpp"
#include "util/error.hpp"

namespace obsync::crypto {
namespace {

const EVP_CIPHER* aes_256_gcm() {
    static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    if (cipher == nullptr) {
        detail::throw_openssl("EVP_CIPHER_fetch(AES-256-GCM)");
    }
    return cipher;
}

}  // namespace

struct Gcm::Impl {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    Direction direction;

    explicit Impl(Direction d) : direction(d) {
        if (ctx == nullptr) {
            detail::throw_openssl("EVP_CIPHER_CTX_new");
        }
    }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    ~Impl() { EVP_CIPHER_CTX_free(ctx); }
};

Gcm::Gcm(Direction direction, const Key32& key, ByteView iv)
    : m_impl(std::make_unique<Impl>(direction)) {
    if (iv.size() != k_gcm_iv_size) {
        throw Error(ErrorKind::crypto, "AES-GCM needs a 12-byte IV");
    }
    const int enc = direction == Direction::encrypt ? 1 : 0;
    // The default IV length of AES-GCM in OpenSSL is 12 bytes, which is what we use.
    detail::check(
        EVP_CipherInit_ex2(m_impl->ctx, aes_256_gcm(), key.data(), iv.data(), enc, nullptr),
        "EVP_CipherInit_ex2(AES-256-GCM)");
}

Gcm::Gcm(Gcm&&) noexcept = default;
Gcm& Gcm::operator=(Gcm&&) noexcept = default;
Gcm::~Gcm() = default;

void Gcm::update(ByteView in, std::uint8_t* out) {
    // EVP takes int lengths: feed huge inputs in slices.
    constexpr std::size_t k_slice = std::size_t{1} << 30;
    std::size_t done = 0;
    while (done < in.size()) {
        const std::size_t n = std::min(k_slice, in.size() - done);
        int written = 0;
        detail::check(EVP_CipherUpdate(m_impl->ctx, out + done, &written, in.data() + done,
                                       static_cast<int>(n)),
                      "EVP_CipherUpdate(AES-256-GCM)");
        done += n;
    }
}

void Gcm::finish_decrypt(ByteView expected_tag) {
    if (expected_tag.size() != k_gcm_tag_size) {
        throw Error(ErrorKind::crypto, "AES-GCM tag must be 16 bytes");
    }
    detail::check(EVP_CIPHER_CTX_ctrl(m_impl->ctx, EVP_CTRL_GCM_SET_TAG,
                                      static_cast<int>(expected_tag.size()),
                                      const_cast<std::uint8_t*>(expected_tag.data())),
                  "EVP_CTRL_GCM_SET_TAG");
    int written = 0;
    std::array<std::uint8_t, 16> unused{};
    if (EVP_CipherFinal_ex(m_impl->ctx, unused.data(), &written) != 1) {
        throw Error(ErrorKind::crypto,
                    "decryption failed: authentication tag mismatch (wrong key or corrupted data)");
    }
}

std::array<std::uint8_t, k_gcm_tag_size> Gcm::finish_encrypt() {
    int written = 0;
    std::array<std::uint8_t, 16> unused{};
    detail::check(EVP_CipherFinal_ex(m_impl->ctx, unused.data(), &written), "EVP_CipherFinal_ex");
    std::array<std::uint8_t, k_gcm_tag_size> tag{};
    detail::check(EVP_CIPHER_CTX_ctrl(m_impl->ctx, EVP_CTRL_GCM_GET_TAG,
                                      static_cast<int>(tag.size()), tag.data()),
                  "EVP_CTRL_GCM_GET_TAG");
    return tag;
}

void random_bytes(std::span<std::uint8_t> out) {
    if (out.size() > INT_MAX) {
        throw Error(ErrorKind::crypto, "random_bytes: request too large");
    }
    detail::check(RAND_bytes(out.data(), static_cast<int>(out.size())), "RAND_bytes");
}

}  // namespace obsync::crypto
