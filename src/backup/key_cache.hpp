#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "crypto/vault_cipher.hpp"
#include "obsidian/vault.hpp"

namespace obsync::backup {

// The keys derived from vault passwords, kept for the life of the process. Deriving one costs an
// scrypt run (~170 ms and 64 MiB); a warm Lambda function or a CLI run with --all over many
// vaults pays it once per vault. An entry is found again only with the same vault, salt,
// encryption version and password (its SHA-256 is the key: a changed password derives anew).
class KeyCache {
public:
    const crypto::VaultCipher& cipher(const obsidian::VaultInfo& vault, std::string_view password);
    // A keyhash-only cipher (crypto::VaultCipher::keyhash_only: no scrypt, nothing decryptable)
    // for encrypted backups, found again with the same vault, salt, encryption version and keyhash.
    // Kept apart from the derived ciphers: making one never drops a derived cipher that a
    // caller still holds (unlock_vault passes a derived cipher's keyhash in here).
    const crypto::VaultCipher& keyhash_cipher(const obsidian::VaultInfo& vault,
                                              std::string_view keyhash);

    // Derivations so far (tests and logs).
    int derivations() const noexcept { return m_derivations; }

private:
    static constexpr std::size_t k_max_entries = 64;

    std::map<std::string, std::unique_ptr<crypto::VaultCipher>> m_ciphers;
    std::map<std::string, std::unique_ptr<crypto::VaultCipher>> m_keyhash_ciphers;
    int m_derivations = 0;
};

}  // namespace obsync::backup
