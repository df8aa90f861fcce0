#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "obsidian/sync_session.hpp"
#include "sync/file_state.hpp"
#include "sync/portable_names.hpp"
#include "sync/sink.hpp"
#include "util/error.hpp"

namespace obsync::crypto {
class VaultCipher;
}

namespace obsync::sync {

class Sink;
class StateStore;

struct EngineOptions {
    bool full = false;                  // a fresh snapshot; files the snapshot lacks are removed
    bool dry_run = false;               // plan only, write nothing
    bool keep_deleted = false;          // never remove anything from the destination
    int concurrency = 4;                // parallel sessions, 1..16
    std::vector<std::string> excludes;  // globs, see path_filter.hpp
    std::chrono::milliseconds checkpoint_interval{2000};
    std::size_t checkpoint_files = 500;
    int attempts = 3;  // per file, across reconnects
    std::string lease_owner;
    std::string vault_name;  // recorded in the destination's marker (Sink::claim)
    // An encrypted-at-rest backup (sync --encrypted): the cipher holds only the keyhash, the sink
    // is the encrypted layout, and this goes into its manifest. Records keep their encoded paths
    // and hashes, and each file is stored as the server's blob, checked by size alone (nothing
    // here can check a GCM tag: the restore that holds the password does).
    std::optional<EncryptedLayout> encrypted;
    std::chrono::seconds lease_ttl{120};
    obsidian::SessionOptions session;
    // The run's deadline (docs/sync-engine.md, "Deadline"), for a host with a hard time limit.
    // Past `stop_at` nothing new starts (no session, pull, retry or removal); the pulls in flight
    // finish, what is verified is committed and the state is checkpointed, and the run returns
    // with EngineResult::stopped_early. At `cut_at` the work still in flight on the sync server
    // (a pull, the change list) is abandoned. Unset or earlier than `stop_at`, `cut_at` is
    // `stop_at`. Neither set: no deadline.
    std::optional<std::chrono::steady_clock::time_point> stop_at;
    std::optional<std::chrono::steady_clock::time_point> cut_at;
};

struct Progress {
    std::int64_t files_total = 0;
    std::int64_t files_done = 0;
    std::int64_t bytes_total = 0;  // encrypted bytes to download
    std::int64_t bytes_done = 0;
};

struct PlannedAction {
    enum class Kind { create, update, remove, create_folder, remove_folder };
    Kind kind;
    std::string path;
    std::int64_t bytes = 0;
};

struct FileFailure {
    std::string path;  // may be empty when the path itself could not be decrypted
    std::int64_t uid = 0;
    std::string message;
    ErrorKind kind = ErrorKind::storage;
};

struct EngineResult {
    bool complete = false;  // a snapshot run (first run, --full, or after reset)
    std::int64_t created = 0;
    std::int64_t updated = 0;
    std::int64_t deleted = 0;
    std::int64_t unchanged = 0;
    std::int64_t bytes = 0;  // bytes written: plaintext, or the blobs of an encrypted backup
    std::vector<FileFailure> failures;  // transient: the cursor stays below them
    // Refused for good (unsafe or undecryptable paths, names the destination cannot hold): the
    // cursor passes them, the state keeps them, and every run reports them while they stand.
    std::vector<RefusedRecord> refused;
    // Files a --full run found at the destination that neither the state lists nor this backup
    // marked as its own: kept, never removed.
    std::int64_t foreign_kept = 0;
    std::vector<PlannedAction> plan;  // filled for dry runs
    // Vault paths that may not restore on Windows or macOS (portable_names.hpp); still written.
    std::vector<PortabilityIssue> portability;
    Cursor cursor;  // where the next run resumes
    std::chrono::milliseconds duration{0};
    // The deadline (EngineOptions::stop_at) kept work from being done: the next run resumes it.
    bool stopped_early = false;
    // Planned actions (downloads, removals, folders) the deadline kept from being done: never
    // started, a retry not made, or a pull abandoned at cut_at. 0 when the run stopped before it
    // had the change list (then nothing was planned).
    std::int64_t not_attempted = 0;

    std::int64_t failed() const { return static_cast<std::int64_t>(failures.size()); }
    // Whether the destination now holds everything the vault has (what exit code 0 means).
    bool ok() const { return failures.empty() && refused.empty() && !stopped_early; }
};

// Downloads one vault into one destination (docs/sync-engine.md): plans against the saved state,
// pulls on K sessions, decrypts and verifies every file, applies it atomically, and checkpoints
// the state so that an interrupted run resumes without downloading committed files again. The
// cursor never moves past a record that was not applied. Per-file failures are collected in the
// result; vault-level failures (login, key, lease, lost state) throw obsync::Error. Exactly one
// run writes a destination at a time: the run claims it (Sink::claim) and takes the state's lease
// first, and a run that finds either held throws Error{busy}.
class Engine {
public:
    using ProgressFn = std::function<void(const Progress&)>;

    Engine(boost::asio::any_io_executor executor, obsidian::SessionTarget target,
           const crypto::VaultCipher& cipher, Sink& sink, StateStore& state, EngineOptions options);

    boost::asio::awaitable<EngineResult> run(ProgressFn progress);

private:
    boost::asio::any_io_executor m_executor;
    obsidian::SessionTarget m_target;
    const crypto::VaultCipher& m_cipher;
    Sink& m_sink;
    StateStore& m_state;
    EngineOptions m_options;
};

}  // namespace obsync::sync
