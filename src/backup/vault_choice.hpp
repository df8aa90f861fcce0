#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "backup/account.hpp"
#include "backup/key_cache.hpp"
#include "crypto/vault_cipher.hpp"
#include "net/http_client.hpp"
#include "obsidian/vault.hpp"

namespace obsync::backup {

// The vaults a run works on, and the folder of each under DEST with a folder per vault.
struct VaultChoice {
    std::string token;  // secret
    std::vector<obsidian::VaultInfo> chosen;
    // Every vault of the account by id: its folder name (the vault name, or its id when the name
    // is not a safe folder name or an earlier vault of the account has it).
    std::map<std::string, std::string> folders;
};

// Signs in (or reuses the token) and lists the account's vaults; `vault` (an id or an exact name)
// picks one, nothing picks all. Folders come from the whole account, not from the vaults asked
// for, so that one vault asked for alone and every vault asked for together use the same folder.
// Backup, verify and restore all name folders here. Throws Error (auth, not_found...).
VaultChoice choose_vaults(Account& account, const std::optional<std::string>& vault);

// The vault's cipher (derived, or from `keys`), checked with the server: a wrong password or
// keyhash fails here (Error{auth}), before anything at the destination is opened.
//
// `encrypted` (the backup keeps the vault's ciphertext, `sync --encrypted`): a keyhash-only
// cipher, from the vault's keyhash in the credentials (no scrypt), else from the keyhash of the
// key the password derives, so the caller never holds a key. Neither a keyhash nor a password:
// Error{auth}.
// Not encrypted: the key the password derives. No password: Error{config} when the credentials
// hold a keyhash for the vault (only encrypted backups are possible), else Error{auth}.
// Managed vaults take their password from the vault list.
const crypto::VaultCipher& unlock_vault(boost::asio::io_context& io, net::HttpClient& http,
                                        Account& account, KeyCache& keys,
                                        const obsidian::VaultInfo& vault, const std::string& token,
                                        bool encrypted);

}  // namespace obsync::backup
