#include "crypto/sha256.hpp"

#include <openssl/evp.h>

#include "crypto/openssl_error.hpp"
#include "util/hex.hpp"

namespace obsync::crypto {
namespace {

const EVP_MD* sha256_md() {
    // Fetched once: an implicit fetch on every call costs a provider lookup.
    static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (md == nullptr) {
        detail::throw_openssl("EVP_MD_fetch(SHA256)");
    }
    return md;
}

}  // namespace

struct Sha256::Impl {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    Impl() {
        if (ctx == nullptr) {
            detail::throw_openssl("EVP_MD_CTX_new");
        }
        detail::check(EVP_DigestInit_ex2(ctx, sha256_md(), nullptr), "EVP_DigestInit_ex2");
    }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : m_impl(std::make_unique<Impl>()) {}
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;
Sha256::~Sha256() = default;

void Sha256::update(ByteView data) {
    detail::check(EVP_DigestUpdate(m_impl->ctx, data.data(), data.size()), "EVP_DigestUpdate");
}

Sha256Digest Sha256::finish() {
    Sha256Digest digest{};
    detail::check(EVP_DigestFinal_ex(m_impl->ctx, digest.data(), nullptr), "EVP_DigestFinal_ex");
    detail::check(EVP_DigestInit_ex2(m_impl->ctx, sha256_md(), nullptr), "EVP_DigestInit_ex2");
    return digest;
}

Sha256Digest sha256(ByteView data) {
    Sha256Digest digest{};
    detail::check(
        EVP_Digest(data.data(), data.size(), digest.data(), nullptr, sha256_md(), nullptr),
        "EVP_Digest(SHA256)");
    return digest;
}

std::string sha256_hex(ByteView data) {
    return to_hex(sha256(data));
}

}  // namespace obsync::crypto
