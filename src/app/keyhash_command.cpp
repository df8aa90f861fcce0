// obsync keyhash: a vault's keyhash, checked with the server (docs/cli.md, "Keyhash").
#include <iostream>

#include <boost/json.hpp>

#include "app/account.hpp"
#include "app/commands.hpp"
#include "app/output.hpp"
#include "backup/key_cache.hpp"
#include "backup/vault_choice.hpp"
#include "util/error.hpp"

namespace obsync::app {

int run_keyhash(const GlobalOptions& global, const std::string& vault_name) {
    try {
        Session session(global);
        const auto [token, vaults] = session.account().vaults();
        const obsidian::VaultInfo& vault = obsidian::find_vault(vaults, vault_name);
        if (!vault.managed() && !session.credentials().password_for_vault(vault.id, vault.name)) {
            // Checked here, not left to unlock_vault: a keyhash already in the credentials is no
            // way to compute one, and "only encrypted backups are possible" would not say what
            // this command needs.
            throw Error(ErrorKind::auth,
                        "vault \"" + vault.name +
                            "\" is end-to-end encrypted: its keyhash comes from its password, "
                            "and none was given (--password, OBSIDIAN_VAULT_PASSWORD, or its "
                            "\"password\" under \"vaults\" in the credentials)");
        }
        backup::KeyCache keys;
        // The server's check makes a mistyped password an error here rather than a keyhash that
        // every later backup is refused with.
        const crypto::VaultCipher& cipher = backup::unlock_vault(
            session.io(), session.http(), session.account(), keys, vault, token, false);
        if (global.json) {
            print_json(std::cout,
                       boost::json::object{{"vault_id", vault.id},
                                           {"vault_name", vault.name},
                                           {"encryption_version", vault.encryption_version},
                                           {"keyhash", cipher.keyhash()}});
        } else {
            std::cout << cipher.keyhash() << std::endl;
        }
        return k_exit_ok;
    } catch (const Error& e) {
        // The error on stderr only, even with --json: a script that stores what this command
        // prints (KEYHASH=$(obsync keyhash ...)) gets a checked keyhash or nothing.
        GlobalOptions text = global;
        text.json = false;
        return report(text, e);
    }
}

}  // namespace obsync::app
