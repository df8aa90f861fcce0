#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "backup/credentials.hpp"

namespace obsync::app {

// Exit codes (a contract for scripts).
enum ExitCode : int {
    k_exit_ok = 0,
    k_exit_partial = 1,    // some files or vaults failed
    k_exit_login = 2,      // login or password problem
    k_exit_not_found = 3,  // vault not found
    k_exit_usage = 4,      // usage or configuration error
    k_exit_stopped = 5,    // nothing failed, but --time-limit stopped the run: run it again
};

struct GlobalOptions {
    std::string api_url;
    bool json = false;
    bool json_logs = false;     // --log-format json: stderr carries JSON log records, not text
    backup::Credentials flags;  // account and vault credentials given on the command line
};

struct SyncRequest {
    std::optional<std::string> vault;  // id or exact name; empty with --all
    bool all = false;
    std::string dest;                  // a folder or s3://BUCKET/PREFIX
    std::optional<std::string> state;  // sqlite://PATH or dynamodb://TABLE
    std::string sse;                   // S3 server-side encryption: AES256 or aws:kms
    std::string sse_kms_key_id;
    bool full = false;
    bool dry_run = false;
    bool keep_deleted = false;
    int concurrency = 4;
    std::vector<std::string> excludes;
    // --time-limit: the whole run ends within it, stopped early and resumable (a deadline).
    std::optional<std::chrono::milliseconds> time_limit;
    bool encrypted = false;  // --encrypted: keep the vault's ciphertext (encrypted at rest)
};

// obsync verify: compares the server, the destination and the saved state; writes nothing.
struct VerifyCommand {
    std::optional<std::string> vault;  // id or exact name; empty with --all
    bool all = false;
    std::string dest;
    std::optional<std::string> state;
    int deep_percent = 0;  // --deep (100) or --deep=PERCENT: S3 objects downloaded and hashed
    std::vector<std::string> excludes;
};

struct RestoreRequest {
    std::string from;                // a backup folder or s3://BUCKET/PREFIX
    std::string to;                  // the folder to restore into
    std::optional<std::string> at;   // --at: ISO-8601 UTC or an age (-3d)
    std::vector<std::string> paths;  // --path, repeatable
    bool overwrite = false;
    bool dry_run = false;
    int concurrency = 8;
    std::optional<std::string> state;          // where a local backup's state lives (its hashes)
    std::optional<std::string> list_versions;  // --list-versions PATH
};

int run_login(const GlobalOptions& global, const std::optional<std::string>& mfa_code);
int run_logout(const GlobalOptions& global);
int run_vaults(const GlobalOptions& global);
int run_sync(const GlobalOptions& global, const SyncRequest& request);
// The checks `sync` and `verify` make before any sign-in: a --dest is given, and every --exclude
// glob is well formed. Throws Error{config}.
void check_destination_flags(const std::string& dest, const std::vector<std::string>& excludes);
// 0 when every backup equals the server, 1 when any differs (or a vault failed with --all).
int run_verify(const GlobalOptions& global, const VerifyCommand& request);
// Creates the DynamoDB state table (and its TTL) if it is missing.
int run_state_init(const GlobalOptions& global, const std::string& state);
int run_status(const GlobalOptions& global, const std::optional<std::string>& vault);
int run_reset(const GlobalOptions& global, const std::optional<std::string>& vault, bool all);
int run_restore(const GlobalOptions& global, const RestoreRequest& request);
int run_totp(const GlobalOptions& global);
// Prints the keyhash of `vault` (id or exact name), derived from its password and accepted by
// the server; stdout stays empty on any failure.
int run_keyhash(const GlobalOptions& global, const std::string& vault);

}  // namespace obsync::app
