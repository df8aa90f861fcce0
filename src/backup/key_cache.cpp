#include "backup/key_cache.hpp"

#include "crypto/sha256.hpp"
#include "util/bytes.hpp"

namespace obsync::backup {

namespace {

// The map key of a vault's cipher: a hash, so that the map holds no password or keyhash.
std::string entry_key(const obsidian::VaultInfo& vault, std::string_view secret) {
    std::string material = vault.id;
    material += '\0';
    material += vault.salt;
    material += '\0';
    material += std::to_string(vault.encryption_version);
    material += '\0';
    material += secret;
    return crypto::sha256_hex(as_bytes(material));
}

template <typename Make>
const crypto::VaultCipher& find_or_make(
    std::map<std::string, std::unique_ptr<crypto::VaultCipher>>& ciphers, std::size_t max_entries,
    const std::string& key, Make make) {
    if (const auto it = ciphers.find(key); it != ciphers.end()) {
        return *it->second;
    }
    if (ciphers.size() >= max_entries) {
        ciphers.clear();  // an account has a few vaults; this bounds a pathological caller
    }
    auto cipher = std::make_unique<crypto::VaultCipher>(make());
    return *ciphers.emplace(key, std::move(cipher)).first->second;
}

}  // namespace

const crypto::VaultCipher& KeyCache::cipher(const obsidian::VaultInfo& vault,
                                            std::string_view password) {
    const crypto::EncryptionVersion version =
        crypto::encryption_version_from_int(vault.encryption_version);
    return find_or_make(m_ciphers, k_max_entries, entry_key(vault, password), [&] {
        crypto::VaultCipher derived =
            crypto::VaultCipher::from_password(password, vault.salt, version);
        ++m_derivations;
        return derived;
    });
}

const crypto::VaultCipher& KeyCache::keyhash_cipher(const obsidian::VaultInfo& vault,
                                                    std::string_view keyhash) {
    const crypto::EncryptionVersion version =
        crypto::encryption_version_from_int(vault.encryption_version);
    return find_or_make(m_keyhash_ciphers, k_max_entries, entry_key(vault, keyhash),
                        [&] { return crypto::VaultCipher::keyhash_only(keyhash, version); });
}

}  // namespace obsync::backup
