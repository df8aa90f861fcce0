#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace obsync::obsidian {

// One entry of /vault/list (protocol §2). Own and shared vaults have the same shape.
struct VaultInfo {
    std::string id;
    std::string name;
    std::string host;  // "host[:port]" of the sync server, without a scheme
    std::string salt;
    std::string region;
    int encryption_version = 0;
    // Present for "standard" (managed) encryption: the server-held vault password. A secret.
    std::optional<std::string> managed_password;
    bool shared = false;

    bool managed() const noexcept { return managed_password.has_value(); }
};

// Finds a vault by id, else by exact name. Throws Error{not_found} if none matches and
// Error{config} if the name is ambiguous (then the id must be used).
const VaultInfo& find_vault(const std::vector<VaultInfo>& vaults, std::string_view id_or_name);

// The WebSocket URL for a vault host (§4.1): ws:// when the host starts with "127.0.0.1" or
// "localhost", wss:// otherwise. Like the official client, only hosts under .obsidian.md and
// 127.0.0.1/localhost are accepted: a vault list naming any other host is refused with
// Error{protocol}, so a token is never sent to a stranger.
std::string sync_url(std::string_view host);

}  // namespace obsync::obsidian
