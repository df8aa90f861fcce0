#pragma once

// `obsync restore`: a backup, or part of it, written back to a folder (issue #14).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "archive/reader.hpp"
#include "util/error.hpp"

namespace obsync::archive {

struct RestoreOptions {
    // Vault paths (a file, or a folder and everything below it); empty = the whole backup.
    std::vector<std::string> paths;
    bool overwrite = false;  // replace existing files whose bytes differ
    bool dry_run = false;    // plan only: nothing is written, not even the folder
    int concurrency = 8;     // files read and written at once, 1..64
};

// One step of a restore, as a dry run lists it.
struct RestoreStep {
    // conflict: something else is at the path (a file with other bytes, a link); --overwrite
    // replaces it. blocked: a folder where the backup has a file, a file where it has a folder or
    // where a folder above it should be; nothing replaces those, not even --overwrite.
    enum class Kind { write, replace, folder, identical, conflict, blocked };
    Kind kind = Kind::write;
    std::string path;
    std::uint64_t size = 0;
    std::string reason;  // conflict and blocked: what is in the way
};

// Something at the target in the way of the backup's path.
struct RestoreConflict {
    std::string path;
    std::string reason;
    bool blocked = false;  // --overwrite cannot help (RestoreStep::Kind::blocked)
};

struct RestoreFailure {
    std::string path;
    std::string message;  // never a secret
    ErrorKind kind = ErrorKind::storage;
};

struct RestoreProgress {
    std::int64_t files_total = 0;
    std::int64_t files_done = 0;
    std::int64_t bytes_total = 0;
    std::int64_t bytes_done = 0;
};

struct RestoreResult {
    std::int64_t written = 0;     // files written (new or replaced)
    std::int64_t replaced = 0;    // of which replaced an existing, different file (--overwrite)
    std::int64_t folders = 0;     // folders created
    std::int64_t identical = 0;   // already there with the same bytes: left alone
    std::int64_t unverified = 0;  // written without a recorded hash to check them against
    std::int64_t bytes = 0;       // bytes written
    // What is in the way at the target. Nothing at all is written while there is one that is
    // blocked, or (without --overwrite) any: a restore never half-mixes two trees.
    std::vector<RestoreConflict> conflicts;
    // Not written: the bytes did not match the recorded hash or size, or could not be read, or
    // (an encrypted backup) the entry could not be placed (BackupReader::unreadable()).
    std::vector<RestoreFailure> failures;
    std::vector<RestoreStep> plan;     // every step, in path order (dry runs and reports)
    std::vector<std::string> skipped;  // names in the backup that no vault path can have
    std::chrono::milliseconds duration{0};

    bool ok() const { return conflicts.empty() && failures.empty(); }
    // Whether the conflicts stopped the restore before it wrote anything.
    bool stopped_by_conflicts(bool overwrite) const;
};

using RestoreProgressFn = std::function<void(const RestoreProgress&)>;

// Writes the files of `reader` (every one, or those under options.paths) into the folder `to`:
// each file is checked against the hash and size the backup recorded for it before it appears
// (a file that fails is reported and not written), written atomically (a temp file renamed into
// place) with its recorded mtime, `concurrency` at a time. Files already there with the same bytes
// are left alone, so a rerun after an interruption does only what is left; leftovers of an
// interrupted run are removed first. Files at `to` that the backup lacks are kept.
//
// Throws Error{config} when `to` is the backup itself or lies inside it (or around it), and
// Error{not_found} when a --path matches nothing in the backup; nothing is written then.
boost::asio::awaitable<RestoreResult> restore(BackupReader& reader, const std::filesystem::path& to,
                                              const RestoreOptions& options,
                                              const RestoreProgressFn& progress);

// A --path as given ("Notes/", "/Notes") as a vault path ("Notes"); Error{config} when no vault
// path can have it ("../x", "a//b").
std::string normalize_restore_path(std::string_view path);

}  // namespace obsync::archive
