#include "crypto/vault_cipher.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include "crypto/kdf.hpp"
#include "crypto/sha256.hpp"
#include "crypto/siv.hpp"
#include "util/error.hpp"
#include "util/hex.hpp"

namespace obsync::crypto {

EncryptionVersion encryption_version_from_int(long long value) {
    switch (value) {
        case 0:
            return EncryptionVersion::v0;
        case 2:
            return EncryptionVersion::v2;
        case 3:
            return EncryptionVersion::v3;
        default:
            throw Error(ErrorKind::crypto, "encryption version " + std::to_string(value) +
                                               " is not supported (supported: 0, 2, 3)");
    }
}

int to_int(EncryptionVersion version) noexcept {
    return static_cast<int>(version);
}

struct VaultCipher::Impl {
    EncryptionVersion version;
    std::string keyhash;
    bool has_key = true;
    Key32 content_key;
    std::optional<SivCipher> siv;  // v2/v3 only
};

VaultCipher VaultCipher::from_password(std::string_view password, std::string_view salt,
                                       EncryptionVersion version) {
    return {derive_vault_key(password, salt), salt, version};
}

VaultCipher::VaultCipher(const Key32& raw_key, std::string_view salt, EncryptionVersion version)
    : m_impl(std::make_unique<Impl>()) {
    m_impl->version = version;
    if (version == EncryptionVersion::v0) {
        m_impl->keyhash = sha256_hex(raw_key.view());
        m_impl->content_key = raw_key;
        return;
    }
    // The HKDF salt is the raw salt string, not NFKC-normalised (§3.2).
    const ByteView salt_bytes = as_bytes(salt);
    m_impl->keyhash = to_hex(hkdf_sha256_key(raw_key.view(), salt_bytes, "ObsidianKeyHash").view());
    m_impl->content_key = hkdf_sha256_key(raw_key.view(), {}, "ObsidianAesGcm");
    const Key32 mac_key = hkdf_sha256_key(raw_key.view(), salt_bytes, "ObsidianAesSivMac");
    const Key32 ctr_key = hkdf_sha256_key(raw_key.view(), salt_bytes, "ObsidianAesSivEnc");
    m_impl->siv.emplace(mac_key.view(), ctr_key.view());
}

bool is_keyhash(std::string_view text) noexcept {
    return text.size() == 64 && is_lower_hex(text);
}

VaultCipher VaultCipher::keyhash_only(std::string_view keyhash, EncryptionVersion version) {
    if (!is_keyhash(keyhash)) {
        throw Error(ErrorKind::config, "a keyhash is 64 lowercase hex characters (obsync keyhash)");
    }
    VaultCipher cipher;
    cipher.m_impl = std::make_unique<Impl>();
    cipher.m_impl->version = version;
    cipher.m_impl->keyhash = std::string(keyhash);
    cipher.m_impl->has_key = false;
    return cipher;
}

const VaultCipher::Impl& VaultCipher::keyed() const {
    if (!m_impl->has_key) {
        throw Error(ErrorKind::crypto,
                    "this vault was opened with its keyhash only: nothing can be decrypted");
    }
    return *m_impl;
}

VaultCipher::VaultCipher(VaultCipher&&) noexcept = default;
VaultCipher& VaultCipher::operator=(VaultCipher&&) noexcept = default;
VaultCipher::~VaultCipher() = default;

EncryptionVersion VaultCipher::version() const noexcept {
    return m_impl->version;
}

const std::string& VaultCipher::keyhash() const noexcept {
    return m_impl->keyhash;
}

bool VaultCipher::has_key() const noexcept {
    return m_impl->has_key;
}

std::string VaultCipher::encode(std::string_view text) const {
    const Impl& impl = keyed();
    const ByteView plain = as_bytes(text);
    if (impl.siv) {
        return to_hex(impl.siv->seal(plain));
    }
    // v0: AES-GCM with IV = SHA-256(plaintext)[0:12], so equal names encode equally.
    const Sha256Digest digest = sha256(plain);
    return to_hex(encrypt_blob(impl.content_key, plain, ByteView(digest).first(k_gcm_iv_size)));
}

std::string VaultCipher::decode(std::string_view hex) const {
    const Impl& impl = keyed();
    const Bytes sealed = from_hex(hex);
    if (impl.siv) {
        return to_string(impl.siv->open(sealed));
    }
    return to_string(decrypt_blob(impl.content_key, sealed));
}

Bytes VaultCipher::encrypt_content(ByteView plaintext) const {
    return encrypt_blob(keyed().content_key, plaintext);
}

Bytes VaultCipher::decrypt_content(ByteView blob) const {
    return decrypt_blob(keyed().content_key, blob);
}

BlobDecryptor VaultCipher::content_decryptor() const {
    return BlobDecryptor(keyed().content_key);
}

}  // namespace obsync::crypto
