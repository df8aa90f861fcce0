#include "backup/key_cache.hpp"

#include "crypto/sha256.hpp"
#include "util/bytes.hpp"

namespace obsync::backup {

const crypto::VaultCipher& KeyCache::cipher(const obsidian::VaultInfo& vault,
                                            std::string_view password) {
    const crypto::EncryptionVersion version =
        crypto::encryption_version_from_int(vault.encryption_version);
    std::string material = vault.id;
    material += '\0';
    material += vault.salt;
    material += '\0';
    material += std::to_string(vault.encryption_version);
    material += '\0';
    material += password;
    const std::string key = crypto::sha256_hex(as_bytes(material));
    if (const auto it = m_ciphers.find(key); it != m_ciphers.end()) {
        return *it->second;
    }
    if (m_ciphers.size() >= k_max_entries) {
        m_ciphers.clear();  // an account has a few vaults; this bounds a pathological caller
    }
    auto cipher = std::make_unique<crypto::VaultCipher>(
        crypto::VaultCipher::from_password(password, vault.salt, version));
    ++m_derivations;
    return *m_ciphers.emplace(key, std::move(cipher)).first->second;
}

}  // namespace obsync::backup
