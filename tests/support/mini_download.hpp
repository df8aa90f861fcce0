#pragma once

// A deliberately small vault downloader built only from the protocol layer (obsidian::Api,
// obsidian::SyncSession, crypto::VaultCipher). It proves that layer against the fake server and
// the official client's uploads; it is NOT the product's sync engine (src/sync).

#include <filesystem>
#include <optional>
#include <string>

namespace obsync::test {

struct DownloadRequest {
    std::string api_url;
    std::string email;
    std::string password;
    std::string vault;                          // id or name
    std::optional<std::string> vault_password;  // not needed for managed vaults
    std::filesystem::path dest;
    std::optional<std::filesystem::path> state_file;  // {"version":N}; present → incremental
};

struct DownloadResult {
    int files_written = 0;
    int folders_created = 0;
    int removed = 0;
    long long version = 0;
};

// Throws obsync::Error on any failure, including a record with an unsafe path.
DownloadResult download_vault(const DownloadRequest& request);

}  // namespace obsync::test
