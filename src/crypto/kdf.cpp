#include "crypto/kdf.hpp"

#include <array>
#include <string>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "crypto/openssl_error.hpp"
#include "crypto/text_normalize.hpp"
#include "util/error.hpp"

namespace obsync::crypto {
namespace {

EVP_KDF* fetch_hkdf() {
    static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    if (kdf == nullptr) {
        detail::throw_openssl("EVP_KDF_fetch(HKDF)");
    }
    return kdf;
}

// OSSL_PARAM wants mutable pointers for octet strings it only reads.
void* mutable_ptr(const void* p) {
    return const_cast<void*>(p);
}

}  // namespace

void scrypt(ByteView password, ByteView salt, const ScryptParams& params,
            std::span<std::uint8_t> out) {
    // scrypt needs 128 * N * r bytes for V plus 128 * r * p for B; give it twice that.
    const std::uint64_t maxmem =
        std::uint64_t{256} * params.n * params.r + std::uint64_t{128} * params.r * params.p;
    const int rc =
        EVP_PBE_scrypt(reinterpret_cast<const char*>(password.data()), password.size(), salt.data(),
                       salt.size(), params.n, params.r, params.p, maxmem, out.data(), out.size());
    detail::check(rc, "EVP_PBE_scrypt");
}

Key32 derive_vault_key(std::string_view password, std::string_view salt) {
    std::string pw = nfkc(password);
    const std::string normalized_salt = nfkc(salt);
    Key32 key;
    try {
        scrypt(as_bytes(pw), as_bytes(normalized_salt), ScryptParams{},
               std::span<std::uint8_t>(key.data(), Key32::k_size));
    } catch (...) {
        secure_wipe(pw.data(), pw.size());
        throw;
    }
    secure_wipe(pw.data(), pw.size());
    return key;
}

void hkdf_sha256(ByteView ikm, ByteView salt, std::string_view info, std::span<std::uint8_t> out) {
    EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(fetch_hkdf());
    if (ctx == nullptr) {
        detail::throw_openssl("EVP_KDF_CTX_new");
    }
    // RFC 5869 defines an absent salt as HashLen zeros; pass them explicitly so OpenSSL's own
    // handling of a zero-length salt does not matter.
    static constexpr std::array<std::uint8_t, 32> k_zero_salt{};
    const ByteView effective_salt = salt.empty() ? ByteView(k_zero_salt) : salt;
    std::string digest = "SHA256";
    const std::array<OSSL_PARAM, 5> params = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, mutable_ptr(ikm.data()), ikm.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, mutable_ptr(effective_salt.data()),
                                          effective_salt.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, mutable_ptr(info.data()),
                                          info.size()),
        OSSL_PARAM_construct_end(),
    };
    const int rc = EVP_KDF_derive(ctx, out.data(), out.size(), params.data());
    EVP_KDF_CTX_free(ctx);
    detail::check(rc, "EVP_KDF_derive(HKDF)");
}

Key32 hkdf_sha256_key(ByteView ikm, ByteView salt, std::string_view info) {
    Key32 key;
    hkdf_sha256(ikm, salt, info, std::span<std::uint8_t>(key.data(), Key32::k_size));
    return key;
}

}  // namespace obsync::crypto
