#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "obsidian/sync_session.hpp"
#include "sync/file_state.hpp"
#include "sync/portable_names.hpp"
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
    std::chrono::seconds lease_ttl{120};
    obsidian::SessionOptions session;
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
    ErrorKind kind = ErrorKind::storage;  // what failed it (network, crypto, storage...)
};

struct EngineResult {
    bool complete = false;  // a snapshot run (first run, --full, or after reset)
    std::int64_t created = 0;
    std::int64_t updated = 0;
    std::int64_t deleted = 0;
    std::int64_t unchanged = 0;
    std::int64_t bytes = 0;             // plaintext bytes written
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

    std::int64_t failed() const { return static_cast<std::int64_t>(failures.size()); }
    // Whether the destination now holds everything the vault has (what exit code 0 means).
    bool ok() const { return failures.empty() && refused.empty(); }
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
