#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace obsync::sync {

// What a destination holds of one vault path, as last applied from a server record.
struct FileState {
    std::string path;
    std::string hash;        // lowercase hex SHA-256 of the plaintext; "" for folders
    std::int64_t uid = 0;    // the server record that produced it
    std::int64_t mtime = 0;  // milliseconds since the epoch
    std::int64_t size = 0;   // plaintext bytes
    bool folder = false;
};

// Where the next run resumes (protocol §5: one version, one initial flag).
struct Cursor {
    std::int64_t version = 0;
    bool initial = true;  // true until a complete snapshot has been applied
};

// A server record refused for good: its path is unsafe or could not be decrypted, or the
// destination cannot hold the name. The cursor passes it (it would never apply), but the state
// keeps it, so every run reports it until the server replaces or deletes that path.
struct RefusedRecord {
    std::string path;  // as the server sent it (may be invalid UTF-8); empty when undecryptable
    std::int64_t uid = 0;
    std::string reason;  // user-facing, never a secret
};

// The identity of a refusal in the state: its path, or its uid when the path could not be read.
inline std::string refusal_key(const RefusedRecord& refused) {
    return refused.path.empty() ? "#" + std::to_string(refused.uid) : "/" + refused.path;
}

// The outcome of one run, kept for `obsync status`.
struct RunRecord {
    std::int64_t started_ms = 0;
    std::int64_t finished_ms = 0;
    bool complete = false;  // a full snapshot rather than an incremental run
    bool ok = false;
    std::int64_t created = 0;
    std::int64_t updated = 0;
    std::int64_t deleted = 0;
    std::int64_t failed = 0;
    std::int64_t bytes = 0;
    std::string error;  // first error, user-facing, never a secret
};

// Everything a store knows of one (vault, destination) pair.
struct StateSnapshot {
    Cursor cursor;
    std::vector<FileState> files;
    std::optional<RunRecord> last_run;
    std::string vault_name;
    std::vector<RefusedRecord> refused;  // refusals recorded by earlier runs, any order
};

// One atomic step of progress: files applied, paths removed and, when it may move, the cursor.
struct Checkpoint {
    std::vector<FileState> upserts;
    std::vector<std::string> removals;
    std::vector<RefusedRecord> refusals;        // recorded (replacing one with the same key)
    std::vector<std::string> cleared_refusals;  // refusal_key()s forgotten
    std::optional<Cursor> cursor;
};

}  // namespace obsync::sync
