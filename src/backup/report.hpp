#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace obsync::backup {

// A failure as a value: what kind (decides retries, exit codes and HTTP statuses) and a message
// for people. Messages never carry secrets (util/error.hpp).
struct Failure {
    ErrorKind kind = ErrorKind::storage;
    std::string message;
    // Only a change of configuration can fix it: AWS access denied, a bucket or table that does
    // not exist, a bucket in another region (the CLI exits 4 for these).
    bool configuration = false;
};

// The failure an exception describes.
Failure failure_of(const Error& error);

// One file that could not be backed up in this run (the cursor stays below it; a rerun tries it
// again).
struct FileFailureInfo {
    std::string path;  // may be empty when the path itself could not be decrypted
    std::int64_t uid = 0;
    Failure failure;
};

// What happened to one vault in one run. A vault-level failure (wrong vault password, busy,
// missing bucket...) is `error`; the counts then say what was done before it.
struct VaultOutcome {
    std::string id;
    std::string name;
    std::string destination;     // "s3://bucket/prefix/name" or a folder
    bool complete = false;       // a snapshot run (first run, complete sync, or after reset)
    bool stopped_early = false;  // the deadline stopped it; the next run resumes
    bool skipped = false;        // never started: the deadline had passed (also stopped_early)
    std::int64_t created = 0;
    std::int64_t updated = 0;
    std::int64_t deleted = 0;
    std::int64_t unchanged = 0;
    std::int64_t refused = 0;        // refused for good (unsafe names...): reported every run
    std::int64_t not_attempted = 0;  // planned but left for the next run (deadline)
    std::int64_t bytes_downloaded = 0;
    std::chrono::milliseconds duration{0};
    std::string cursor;  // where the next run resumes (the vault version), empty if unknown
    std::vector<FileFailureInfo> failures;
    std::optional<Failure> error;

    std::int64_t failed() const { return static_cast<std::int64_t>(failures.size()); }
    // Everything the vault has is in the backup (or was, when the run stopped early).
    bool ok() const { return !error && failures.empty() && refused == 0; }
};

// One invocation of the service: every vault it was asked for, in order. `error` is a failure
// before any vault could start (sign-in, vault list, unknown vault).
struct BackupReport {
    std::vector<VaultOutcome> vaults;
    std::optional<Failure> error;
    std::chrono::milliseconds duration{0};

    bool ok() const;
    bool stopped_early() const;
    // The failure that makes retrying the whole request worthwhile, if any: the report-level
    // error, or a vault error that is retryable (busy, network, throttled, unavailable).
    std::optional<Failure> retryable_failure() const;
};

}  // namespace obsync::backup
