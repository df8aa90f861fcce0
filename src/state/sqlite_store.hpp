#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sync/file_state.hpp"
#include "sync/state_store.hpp"

namespace obsync::state {

struct SqliteStateOptions {
    // How long a writer waits for another process holding the database (two runs, `status`).
    std::chrono::milliseconds busy_timeout{5000};
    // Milliseconds since the epoch, for lease expiry; the system clock when empty. Tests inject
    // time here instead of sleeping.
    std::function<std::int64_t()> now_ms;
};

// The local state store: one SQLite database (WAL) holds any number of scopes, each a
// (vault id, destination) pair. Creates the file (0600) and its missing parent folders (0700).
// Throws Error{config} if the file is not a usable state database (not SQLite, or written by a
// newer obsync), Error{storage} on I/O failures.
std::unique_ptr<sync::StateStore> open_sqlite_state(const std::filesystem::path& db_file,
                                                    sync::StateScope scope);
std::unique_ptr<sync::StateStore> open_sqlite_state(const std::filesystem::path& db_file,
                                                    sync::StateScope scope,
                                                    SqliteStateOptions options);

// One scope of a state database, for `obsync status`.
struct ScopeSummary {
    std::string vault_id;
    std::string vault_name;
    std::string destination;
    sync::Cursor cursor;
    std::int64_t file_count = 0;   // files only, not folders
    std::int64_t total_bytes = 0;  // sum of their plaintext sizes
    std::optional<sync::RunRecord> last_run;
    // Records refused for good and still reported (sync::RefusedRecord), ordered by
    // sync::refusal_key(); refused.size() is the count `status` shows.
    std::vector<sync::RefusedRecord> refused;
};

// Every scope in `db_file`, ordered by vault id then destination. A missing file (or one without
// the schema yet) lists nothing; nothing is created.
std::vector<ScopeSummary> list_sqlite_scopes(const std::filesystem::path& db_file);

}  // namespace obsync::state
