#include "backup/vault_choice.hpp"

#include <set>

#include "obsidian/api.hpp"
#include "sync/path_policy.hpp"
#include "util/error.hpp"
#include "util/run_coro.hpp"

namespace obsync::backup {

namespace {

// A vault name that is safe as one folder name, or nothing: one segment that the vault paths'
// own rules accept (no control character, valid UTF-8, not "..", not ".obsync").
std::optional<std::string> folder_name(const std::string& name) {
    if (name.find('/') != std::string::npos || name.size() > 200 ||
        sync::unsafe_path_reason(name)) {
        return std::nullopt;
    }
    return name;
}

}  // namespace

VaultChoice choose_vaults(Account& account, const std::optional<std::string>& vault) {
    VaultChoice choice;
    auto [token, vaults] = account.vaults();
    choice.token = std::move(token);
    std::set<std::string> used;
    for (const obsidian::VaultInfo& info : vaults) {
        const auto name = folder_name(info.name);
        const std::string folder = name && !used.contains(*name) ? *name : info.id;
        used.insert(folder);
        choice.folders[info.id] = folder;
    }
    if (vault) {
        choice.chosen.push_back(obsidian::find_vault(vaults, *vault));
    } else {
        choice.chosen = std::move(vaults);
    }
    return choice;
}

const crypto::VaultCipher& unlock_vault(boost::asio::io_context& io, net::HttpClient& http,
                                        Account& account, KeyCache& keys,
                                        const obsidian::VaultInfo& vault, const std::string& token,
                                        bool encrypted) {
    const Credentials& credentials = account.credentials();
    const auto keyhash = credentials.keyhash_for_vault(vault.id, vault.name);
    obsidian::Api api(http, account.api_url());
    if (encrypted && keyhash) {
        const crypto::VaultCipher& cipher = keys.keyhash_cipher(vault, *keyhash);
        try {
            run_coro(io, api.check_access(token, vault, cipher.keyhash()));
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::auth) {
                throw;
            }
            // check_access speaks of a password, which this run never had.
            throw Error(ErrorKind::auth,
                        "the keyhash of vault \"" + vault.name +
                            "\" in the credentials was not accepted (a new vault password makes "
                            "a new keyhash: obsync keyhash prints the current one)");
        }
        return cipher;
    }
    const auto password = vault.managed_password
                              ? vault.managed_password
                              : credentials.password_for_vault(vault.id, vault.name);
    if (!password) {
        // Worded for both faces: the CLI's --password is one of the ways named.
        if (encrypted) {
            throw Error(ErrorKind::auth,
                        "vault \"" + vault.name +
                            "\" is end-to-end encrypted and neither a password nor a keyhash was "
                            "given for it (--password, OBSIDIAN_VAULT_PASSWORD or "
                            "OBSIDIAN_VAULT_KEYHASH, or \"password\" or \"keyhash\" in its "
                            "entry under \"vaults\" in the credentials)");
        }
        if (keyhash) {
            throw Error(ErrorKind::config,
                        "vault \"" + vault.name +
                            "\" has only a keyhash in the credentials: only encrypted backups "
                            "(--encrypted) are possible");
        }
        throw Error(ErrorKind::auth,
                    "vault \"" + vault.name +
                        "\" is end-to-end encrypted and no password was given for it (--password, "
                        "OBSIDIAN_VAULT_PASSWORD, or its entry under \"vaults\" in the "
                        "credentials)");
    }
    const crypto::VaultCipher& derived = keys.cipher(vault, *password);
    // The derived key stays in `keys` (a warm function does not pay scrypt again); an encrypted
    // backup gets only its keyhash, so nothing it is handed can decrypt.
    const crypto::VaultCipher& cipher =
        encrypted ? keys.keyhash_cipher(vault, derived.keyhash()) : derived;
    run_coro(io, api.check_access(token, vault, cipher.keyhash()));
    return cipher;
}

}  // namespace obsync::backup
