#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "util/bytes.hpp"

namespace obsync::sync {

struct FileMeta {
    std::int64_t mtime_ms = 0;
    std::string content_hash;  // lowercase hex SHA-256 of the plaintext
    std::uint64_t size = 0;    // plaintext bytes
    // false: commit() replaces nothing. Whatever appeared at the path since the caller looked
    // (another program's file, a name a case-insensitive file system folds onto an earlier one)
    // is kept, and commit() throws Error{storage}. A restore without --overwrite writes so; a
    // sync replaces (S3 always does: PutObject cannot refuse without a conditional header).
    bool replace = true;
    // Kept with the file where the destination keeps metadata (S3: x-amz-meta-NAME). Names are
    // lowercase ASCII letters and '-'. The encrypted layout (sink/encrypted_sink.hpp) keeps each
    // entry's encoded path here.
    std::vector<std::pair<std::string, std::string>> attributes;
};

// One file being written. Nothing is visible at the destination until commit() returns; a
// writer destroyed without commit() leaves no trace (no partial file, no orphaned upload).
class FileWriter {
public:
    virtual ~FileWriter() = default;
    virtual boost::asio::awaitable<void> write(ByteView bytes) = 0;
    virtual boost::asio::awaitable<void> commit() = 0;
};

struct EntryInfo {
    bool folder = false;
    std::uint64_t size = 0;
    std::optional<std::string> content_hash;  // when the destination keeps it (S3 metadata)
};

// The folder (local) or key prefix (S3) below a destination's root where obsync keeps its own
// files: the run lock and the backup marker. Reserved: no vault path may use it (path_policy).
inline constexpr std::string_view k_backup_meta_dir = ".obsync";

// Which backup a run writes: the marker a destination keeps, so that a destination is never
// shared by two vaults, nor nested inside another backup.
// An encrypted-at-rest backup (sync --encrypted, docs/encryption-at-rest.md): what its manifest
// records beside the vault, so that a restore holding the password derives the key without the
// server, and no run mixes two keys or two layouts in one destination. Nothing here decrypts.
struct EncryptedLayout {
    int encryption_version = 0;  // protocol §3.2
    std::string salt;            // the vault's scrypt salt (VaultInfo::salt)
    std::string keyhash;         // 64 hex: checks a password offline
    // Managed ("standard") encryption: the key comes from the account (its vault password), not
    // from a password of the owner's.
    bool managed = false;
};

struct BackupIdentity {
    std::string vault_id;
    std::string vault_name;
    std::string owner;  // this run (the lease owner): shown to a run that finds the lock held
    std::optional<EncryptedLayout> encrypted;  // set: the destination keeps the vault's ciphertext
};

// A destination claimed by one run (Sink::claim). Dropping it without release() leaves the lock
// to the operating system (a local lock dies with its process) or to its expiry (S3).
class DestinationLock {
public:
    virtual ~DestinationLock() = default;
    // Extends the claim by `ttl` from now. Throws Error{busy} when another run took it over.
    virtual boost::asio::awaitable<void> renew(std::chrono::seconds ttl) = 0;
    // Gives the destination up. A lock already lost is not an error.
    virtual boost::asio::awaitable<void> release() = 0;
};

// A destination for vault files: a local folder or an S3 prefix. Paths are vault paths
// ('/'-separated, relative); the engine validates them first, and implementations refuse anything
// that would land outside their root (Error{bad_input}), symlinks included. I/O failures are
// Error{storage}.
class Sink {
public:
    virtual ~Sink() = default;

    // "/abs/path" or "s3://bucket/prefix": shown to users and used as the state scope.
    virtual std::string describe() const = 0;

    // The name under which the entry at `path` is stored: `path` itself, or in the encrypted
    // layout a name derived from it. list_files() lists stored names.
    virtual std::string stored_name(std::string_view path) const { return std::string(path); }
    // Whether this is the encrypted layout (the engine writes it with a keyhash-only cipher).
    virtual bool encrypted_layout() const { return false; }

    // Claims the destination for one run of `backup`, before anything is written. The lock
    // belongs to the destination itself, whatever path, symbolic link or state store named it:
    // a lock file in the folder's real location (flock), or a lock object under the S3 prefix
    // taken with a conditional write, expiring after `ttl` unless renewed. Throws Error{busy}
    // while another live run holds it, and Error{config} (nothing written) when the destination
    // holds another vault's backup or lies inside or around another backup. Records the marker
    // of `backup` on first use.
    virtual boost::asio::awaitable<std::unique_ptr<DestinationLock>> claim(
        const BackupIdentity& backup, std::chrono::seconds ttl) = 0;

    // Called once before a run, under claim(): creates the root if it is missing and removes the
    // leftovers of an interrupted run of this backup (temp files; for S3, the multipart uploads
    // this backup started), and nothing else.
    virtual boost::asio::awaitable<void> prepare() = 0;

    virtual boost::asio::awaitable<std::unique_ptr<FileWriter>> create_file(std::string_view path,
                                                                            FileMeta meta) = 0;
    virtual boost::asio::awaitable<void> create_folder(std::string_view path) = 0;
    // A missing file is not an error.
    virtual boost::asio::awaitable<void> remove_file(std::string_view path) = 0;
    // Removes the folder only if it is empty; returns whether it is gone.
    virtual boost::asio::awaitable<bool> remove_folder_if_empty(std::string_view path) = 0;
    virtual boost::asio::awaitable<std::optional<EntryInfo>> stat(std::string_view path) = 0;
    // Every file below the root, as stored names (for --full clean-up), without obsync's own.
    // Every method that takes a path also takes a stored name this lists.
    virtual boost::asio::awaitable<std::vector<std::string>> list_files() = 0;
    // Whether this backup wrote the file at `path` (S3: its metadata names the vault; a local
    // folder cannot tell and answers false). A --full run removes an extra file only if the state
    // lists it or this says so: never what another program or another backup put there.
    virtual boost::asio::awaitable<bool> written_by_backup(std::string_view path) = 0;

    // Makes every committed file durable. The engine calls it before each state checkpoint, so the
    // state never records a file whose bytes a crash could still lose; one flush per checkpoint
    // instead of one per file keeps small-file backups fast.
    virtual boost::asio::awaitable<void> flush() = 0;
};

}  // namespace obsync::sync
