#pragma once

// Reading a backup back (issue #14): what a destination holds, and its bytes. `obsync restore`
// and `obsync verify` both stand on it.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "util/bytes.hpp"
#include "util/error.hpp"

namespace obsync::archive {

// What a backup recorded about one file when it wrote it: S3 keeps it as object metadata
// (x-amz-meta-content-hash, x-amz-meta-mtime); a local folder keeps the
// hash in the saved state only, and the mtime on the file itself.
struct Recorded {
    std::optional<std::string> content_hash;  // lowercase hex SHA-256 of the file's bytes
    std::optional<std::int64_t> mtime_ms;
    // Everything the destination kept with the file, by name (S3: each x-amz-meta-* with the
    // prefix stripped, content-hash and mtime included; a local folder keeps none). The
    // encrypted layout keeps what places an entry here (sink/encrypted_sink.hpp).
    std::map<std::string, std::string> attributes;
};

// One file or folder of a backup.
struct ArchivedEntry {
    std::string path;  // vault path: '/'-separated, relative, checked by sync::unsafe_path_reason
    bool folder = false;
    std::uint64_t size = 0;  // bytes stored (0 for folders)
    // Filled by list() where it costs nothing (a local folder: the state's hash, the file's
    // mtime), else by describe() (S3: one HEAD of exactly this version) or read().
    Recorded recorded;
    bool described = false;      // `recorded` is complete (list() or describe() filled it)
    std::string version_id;      // S3: the version this entry is; "" = the current object
    std::int64_t stored_ms = 0;  // when the destination stored it: S3 LastModified, file mtime
};

// Receives the bytes of a file in order; awaited before the next piece is read.
using ByteHandler = std::function<boost::asio::awaitable<void>(ByteView)>;
// Receives what was recorded with the bytes about to come (before the first of them).
using RecordedHandler = std::function<boost::asio::awaitable<void>(const Recorded&)>;

// What every list() returns: `entries` sorted by path, without the obsync folders of nested
// backups. A listing of the root of a `sync --all` destination holds each vault's backup below it,
// each with its own ".obsync/" (lock, marker); a "P/.obsync" folder counts as one only when it
// holds the marker "backup.json", so a vault's own folder of that name elsewhere is kept.
void finish_listing(std::vector<ArchivedEntry>& entries);

// An entry list() found but cannot present as a vault path: an encrypted backup's entry whose
// recorded path or hash does not decrypt, or belongs to another entry (tampered with). A restore
// reports each as failed; nothing is written for it.
struct UnreadableEntry {
    std::string name;     // where the destination keeps it ("e/<sha256>")
    std::string message;  // for people; never a secret
    ErrorKind kind = ErrorKind::crypto;
};

// A backup to read: a local folder or an S3 prefix, as `obsync sync` wrote it, optionally as it
// was at a moment (a versioned bucket). Never writes. Errors are obsync::Error (storage, network,
// config for a missing bucket or folder, not_found for an object gone since the listing).
class BackupReader {
public:
    virtual ~BackupReader() = default;

    // "/abs/path" or "s3://bucket/prefix" (Sink::describe() of the same destination).
    virtual std::string describe() const = 0;

    // The backup's marker document (.obsync/backup.json; the manifest of an encrypted backup),
    // or nullopt when it has none. Always the current one, also for a reader at a moment: a
    // destination keeps one vault and one key (sink::check_backup_marker).
    virtual boost::asio::awaitable<std::optional<std::string>> marker() = 0;

    // Every file and folder of the backup, sorted by path, without obsync's own (.obsync/, temp
    // files) and without names no vault path can have (skipped(): counted, never restored).
    virtual boost::asio::awaitable<std::vector<ArchivedEntry>> list() = 0;
    // Names under the backup that list() left out because no vault path can have them.
    virtual std::vector<std::string> skipped() const = 0;
    // Entries the last list() found and could not present (see UnreadableEntry).
    virtual std::vector<UnreadableEntry> unreadable() const { return {}; }

    // Completes entry.recorded (S3: one HEAD of that version). Safe to run many at once.
    virtual boost::asio::awaitable<void> describe(ArchivedEntry& entry) = 0;

    // Streams the bytes of `entry` (its version) to `on_bytes` and returns what was recorded
    // with exactly these bytes (S3: the GET's own metadata). Safe to run many at once.
    // `on_recorded` hears it before the first byte (a restore creates its file with that mtime).
    virtual boost::asio::awaitable<Recorded> read(const ArchivedEntry& entry,
                                                  const RecordedHandler& on_recorded,
                                                  const ByteHandler& on_bytes) = 0;
    boost::asio::awaitable<Recorded> read(const ArchivedEntry& entry, const ByteHandler& on_bytes) {
        static const RecordedHandler ignore = [](const Recorded&) -> boost::asio::awaitable<void> {
            co_return;
        };
        return read(entry, ignore, on_bytes);
    }
};

// A file read whole through a reader and hashed on the way (nothing kept in memory).
struct HashedRead {
    std::string hash;  // lowercase hex SHA-256 of the bytes read
    std::uint64_t bytes = 0;
    Recorded recorded;  // what was recorded with exactly these bytes
};
boost::asio::awaitable<HashedRead> read_hashed(BackupReader& reader, const ArchivedEntry& entry);

}  // namespace obsync::archive
