#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sqlite.hpp"

namespace obsync::fake {

struct User {
    std::int64_t id = 0;
    std::string email;
    std::string name;
    std::string totp_secret;  // base32; empty when the account has no 2FA
};

struct Vault {
    std::string id;
    std::int64_t owner_id = 0;
    std::string name;
    std::string salt;
    std::string keyhash;
    std::optional<std::string> password;  // managed ("standard") encryption only (§2)
    int encryption_version = 3;
    std::string region;
    std::int64_t created_ms = 0;
};

// One entry of a vault's change log (§4.7). Path and hash are opaque to the server: they are
// whatever the client encoded, stored byte for byte.
struct Record {
    std::int64_t uid = 0;
    std::string path;
    std::string hash;
    std::int64_t size = 0;
    std::int64_t ctime = 0;
    std::int64_t mtime = 0;
    bool folder = false;
    bool deleted = false;
    std::string device;
    std::int64_t user_id = 0;
};

// All persistent state of the fake server: SQLite (users, tokens, vaults, shares, records) plus
// one blob file per file record under DIR/blobs/<vault_id>/<uid>. Several processes may open
// the same DIR at once; every call reads the database afresh, so nothing is cached.
class Store {
public:
    explicit Store(const std::filesystem::path& data_dir);

    // Users. `set_credentials` creates the user if needed (name = the part before '@').
    User ensure_user(std::string_view email);
    User set_credentials(std::string_view email, std::string_view password,
                         std::string_view totp_secret);
    std::optional<User> find_user(std::string_view email);
    std::optional<User> find_user(std::int64_t id);
    bool check_password(std::int64_t user_id, std::string_view password);

    // Tokens: 32 random hex characters. `ttl_seconds` 0 means tokens never expire.
    std::string create_token(std::int64_t user_id);
    std::optional<User> user_for_token(std::string_view token, std::int64_t ttl_seconds);
    void delete_token(std::string_view token);

    // Vaults. `find_vault_by_name` accepts a vault id too and throws when a name is ambiguous.
    Vault create_vault(Vault vault);  // fills id and created_ms
    std::optional<Vault> find_vault(std::string_view id);
    Vault find_vault_by_name(std::string_view name_or_id);
    bool owner_has_vault_named(std::int64_t owner_id, std::string_view name);
    std::vector<Vault> owned_vaults(std::int64_t user_id);
    std::vector<Vault> shared_vaults(std::int64_t user_id);
    void share_vault(std::string_view vault_id, std::int64_t user_id);
    bool can_access(const Vault& vault, std::int64_t user_id);
    std::int64_t vault_size(std::string_view vault_id);

    // Records. `append_record` assigns the next vault-wide uid and, for file records, moves
    // `blob_file` (written beforehand, e.g. by new_blob_file) to the blob of that uid, inside
    // one transaction so that no reader sees a record without its blob.
    std::filesystem::path new_blob_file(std::string_view vault_id);
    std::int64_t append_record(std::string_view vault_id, Record record,
                               const std::optional<std::filesystem::path>& blob_file);
    std::int64_t max_uid(std::string_view vault_id);
    std::optional<Record> find_record(std::string_view vault_id, std::int64_t uid);
    // §7 WebSocket 2: initial → latest live record per path; otherwise the whole log after
    // `version`. Ascending uid either way.
    std::vector<Record> records_after(std::string_view vault_id, std::int64_t version,
                                      bool initial);
    std::vector<Record> all_records(std::string_view vault_id);
    std::filesystem::path blob_path(std::string_view vault_id, std::int64_t uid) const;

private:
    std::filesystem::path m_dir;
    Database m_db;
};

// 2n lowercase hex characters from the OS CSPRNG: ids, salts, tokens, managed passwords.
std::string random_hex(std::size_t bytes);
std::int64_t now_ms();

}  // namespace obsync::fake
