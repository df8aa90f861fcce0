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

// The vault's cipher (derived, or from `keys`), checked with the server: a wrong password fails
// here (Error{auth}), before anything at the destination is opened.
const crypto::VaultCipher& unlock_vault(boost::asio::io_context& io, net::HttpClient& http,
                                        Account& account, KeyCache& keys,
                                        const obsidian::VaultInfo& vault, const std::string& token);

}  // namespace obsync::backup
