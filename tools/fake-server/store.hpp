#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "accounts.hpp"
#include "sqlite.hpp"

namespace obsync::fake {

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

// Keyhashes arrive as hex in any case and are stored in lowercase. `canonical_keyhash` throws
// Error{bad_input} when `keyhash` is not hex; to `keyhash_matches` that is simply a wrong key.
std::string canonical_keyhash(std::string_view keyhash);
bool keyhash_matches(const Vault& vault, std::string_view keyhash);

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

// All persistent state of the fake server: SQLite (the accounts, plus vaults, shares and records)
// and one blob file per file record under DIR/blobs/<vault_id>/<uid>. Several processes may open
// the same DIR at once; every call reads the database afresh, so nothing is cached.
//
// Visibility order, which every writer keeps so that no reader (another connection, or `serve`
// while `seed` runs) ever sees something half-written: a blob file exists before the record row
// that points to it is committed, and a seeded vault's records and shares exist before its vault
// row. Readers find records and shares only through a vault row, so everything written under an
// id without a row (an unfinished or failed seed) is invisible, and it never blocks a name.
class Store {
public:
    explicit Store(const std::filesystem::path& data_dir);

    // Users, credentials and tokens.
    Accounts& accounts() noexcept { return m_accounts; }

    // Vaults. `create_vault` makes the vault visible at once and fills id and created_ms.
    // `find_vault_by_name` accepts a vault id too and throws when a name is ambiguous.
    Vault create_vault(Vault vault);
    std::optional<Vault> find_vault(std::string_view id);
    Vault find_vault_by_name(std::string_view name_or_id);
    bool owner_has_vault_named(std::int64_t owner_id, std::string_view name);
    std::vector<Vault> owned_vaults(std::int64_t user_id);
    std::vector<Vault> shared_vaults(std::int64_t user_id);
    void share_vault(std::string_view vault_id, std::int64_t user_id);
    bool can_access(const Vault& vault, std::int64_t user_id);
    std::int64_t vault_size(std::string_view vault_id);

    // Building a vault invisibly (`seed`): take an id from `new_vault_id`, append its records and
    // share it, then `publish_vault` inserts the row (filling created_ms), refusing with
    // Error{bad_input} if the owner has a vault of that name by then. On failure
    // `discard_unpublished_vault` removes what was written; it never touches a published vault.
    std::string new_vault_id();
    Vault publish_vault(Vault vault);
    void discard_unpublished_vault(std::string_view vault_id);

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
    void insert_vault(const Vault& vault);

    std::filesystem::path m_dir;
    Database m_db;
    Accounts m_accounts;
};

}  // namespace obsync::fake
