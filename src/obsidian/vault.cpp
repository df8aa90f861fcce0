#include "obsidian/vault.hpp"

#include "util/error.hpp"

namespace obsync::obsidian {

const VaultInfo& find_vault(const std::vector<VaultInfo>& vaults, std::string_view id_or_name) {
    for (const auto& vault : vaults) {
        if (vault.id == id_or_name) {
            return vault;
        }
    }
    const VaultInfo* match = nullptr;
    for (const auto& vault : vaults) {
        if (vault.name == id_or_name) {
            if (match != nullptr) {
                throw Error(ErrorKind::config, "more than one vault is named \"" +
                                                   std::string(id_or_name) +
                                                   "\"; use the vault id instead");
            }
            match = &vault;
        }
    }
    if (match == nullptr) {
        throw Error(ErrorKind::not_found, "vault \"" + std::string(id_or_name) +
                                              "\" not found (run `obsync vaults` to list them)");
    }
    return *match;
}

std::string sync_url(std::string_view host) {
    const bool local = host.starts_with("127.0.0.1") || host.starts_with("localhost");
    const std::string_view hostname = host.substr(0, host.find_first_of(":/"));
    const bool official = hostname.ends_with(".obsidian.md");
    const bool loopback = hostname == "127.0.0.1" || hostname == "localhost";
    if (!official && !loopback) {
        throw Error(ErrorKind::protocol,
                    "refusing to connect to sync host \"" + std::string(host) +
                        "\": only *.obsidian.md and 127.0.0.1 are Obsidian Sync servers");
    }
    return (local ? "ws://" : "wss://") + std::string(host);
}

}  // namespace obsync::obsidian
