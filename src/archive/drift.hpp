#pragma once

// How a backup differs from the server (obsync verify, issue #14): a pure comparison of the
// server's snapshot, what the destination holds (with what was measured of it) and the saved
// state. No I/O: the verify service gathers the inputs, this decides.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/reader.hpp"
#include "obsidian/sync_session.hpp"
#include "sync/file_state.hpp"
#include "sync/path_filter.hpp"

namespace obsync::archive {

enum class DriftKind {
    missing,  // the server has the path, the backup lacks it
    extra,    // the backup has a file or folder the server does not
    stale,    // the backup's version is not the server's (its hash differs)
    corrupt,  // the bytes are not what the backup recorded for them
};

std::string_view to_string(DriftKind kind) noexcept;

// One path where the backup differs from the server. One kind per path.
struct Drift {
    std::string path;
    DriftKind kind = DriftKind::missing;
    std::string detail;  // for people: what differs (short hashes, sizes)
    // The server changed this path after the backup's cursor (a record after it names the path):
    // the next backup fixes it by itself. Still drift: the backup is not the server now.
    bool pending = false;

    bool operator==(const Drift&) const = default;
};

// One entry of the backup and what was measured of it.
struct MeasuredEntry {
    ArchivedEntry entry;  // path, folder, size, recorded (S3 metadata; local: the state's hash)
    // The SHA-256 (lowercase hex) of the bytes, when they were read; nullopt when not.
    std::optional<std::string> actual_hash;
    // The bytes could not be read although the entry was listed (gone since, or unreadable).
    std::optional<std::string> read_error;
};

struct DriftInput {
    // The server's snapshot (init(0, true)): the newest record of each path decides; deletions
    // count as absent.
    const std::vector<obsidian::RemoteRecord>* server = nullptr;
    const std::vector<MeasuredEntry>* backup = nullptr;
    const std::vector<sync::FileState>* state = nullptr;
    // The records the backup refused for good (StateSnapshot::refused): a live server path among
    // them is counted as refused, never drift (the backup will not hold it). May be null.
    const std::vector<sync::RefusedRecord>* refused = nullptr;
    // Every record after the backup's cursor (init(cursor.version, false): changes and
    // deletions), when the cursor is not initial; null otherwise. A drift path among their paths
    // is pending.
    const std::vector<obsidian::RemoteRecord>* since_backup = nullptr;
    // Paths the backup leaves out (--exclude): neither side's business, as in sync.
    const sync::PathFilter* filter = nullptr;
    // The destination keeps each file's content hash with it (S3 metadata): an entry without one
    // is corrupt. A local folder keeps none (the state's hash stands in, when it has one).
    bool destination_records_hash = false;
    // The backup keeps the server's blobs as they are (an encrypted backup, compared under the
    // encoded paths and hashes of a keyhash-only session): each file's size is its record's.
    bool server_sizes = false;
};

struct DriftResult {
    std::vector<Drift> drift;  // sorted by path
    std::int64_t server_files = 0;
    std::int64_t server_folders = 0;
    // Server records the backup refuses too (so never drift): undecryptable, unsafe paths.
    std::int64_t undecryptable = 0;
    std::int64_t unsafe = 0;
    std::int64_t excluded = 0;  // server paths left out by the filter
    std::int64_t refused = 0;   // live server paths the backup refused for good (not drift)

    std::int64_t count(DriftKind kind) const;
    std::int64_t pending() const;  // drift entries marked pending
};

// The rules (tests/unit/archive/drift_test.cpp):
// - missing: the server has the path and the backup has nothing there. A folder is present
//   when the backup lists it or anything below it (a file implies its folders).
// - extra: the backup has a file the server does not, or a folder with neither a server folder
//   of that path nor any server path below it.
// - corrupt: the bytes read do not hash to the recorded hash; or, not read, the size differs
//   from the size the state recorded; or the destination keeps hashes and this entry has none;
//   or its bytes could not be read.
// - stale: the hash of the backup's version (measured, else recorded) is not the server's; also
//   a file where the server has a folder.
// - corrupt too, with DriftInput::server_sizes: the hash is the server's (or unknown) and the
//   size is not the size of the server's record (a blob cut or grown behind the backup's back).
// corrupt is decided before stale.
// - refused: a live server path the state refused (DriftInput::refused) is counted, and neither
//   it nor a backup entry at that path is compared.
// - pending: a drift entry whose path a record after the backup's cursor names
//   (DriftInput::since_backup); its kind is unchanged.
DriftResult compare(const DriftInput& input);

}  // namespace obsync::archive
