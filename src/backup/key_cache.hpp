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

    // Derivations so far (tests and logs).
    int derivations() const noexcept { return m_derivations; }

private:
    static constexpr std::size_t k_max_entries = 64;

    std::map<std::string, std::unique_ptr<crypto::VaultCipher>> m_ciphers;
    int m_derivations = 0;
};

}  // namespace obsync::backup
