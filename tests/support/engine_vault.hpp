#pragma once

// What an in-process sync::Engine needs to sync one vault of a running fake server, obtained the
// way the CLI does it: sign in, find the vault by name, derive its key from the password.

#include <string>

#include <boost/asio/io_context.hpp>

#include "crypto/vault_cipher.hpp"
#include "net/http_client.hpp"
#include "obsidian/api.hpp"
#include "obsidian/sync_session.hpp"
#include "support/run_coro.hpp"

namespace obsync::test {

struct EngineVault {
    obsidian::SessionTarget target;
    crypto::VaultCipher cipher;
};

inline EngineVault open_engine_vault(boost::asio::io_context& io, const std::string& api_url,
                                     const std::string& email, const std::string& password,
                                     const std::string& vault_name,
                                     const std::string& vault_password) {
    net::HttpClient http(io.get_executor());
    obsidian::Api api(http, api_url);
    const auto account = run_coro_value(io, api.signin(email, password, ""));
    const auto vaults = run_coro_value(io, api.list_vaults(account.token));
    const obsidian::VaultInfo vault = obsidian::find_vault(vaults, vault_name);
    return EngineVault{{vault.host, vault.id, account.token},
                       crypto::VaultCipher::from_password(
                           vault_password, vault.salt,
                           crypto::encryption_version_from_int(vault.encryption_version))};
}

}  // namespace obsync::test
