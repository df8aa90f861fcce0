#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "backup/account.hpp"
#include "backup/key_cache.hpp"
#include "backup/report.hpp"
#include "backup/storage.hpp"
#include "net/http_client.hpp"
#include "obsidian/vault.hpp"
#include "sync/engine.hpp"

namespace obsync::backup {

// Gives a run the deadline of a host that must answer by `end` (steady clock), keeping `margin`
// for the answer: no new work (no vault, pull, removal or retry) from end - margin
// (EngineOptions::stop_at), pulls still in flight abandoned at end - margin / 2 (cut_at).
void end_by(sync::EngineOptions& options, std::chrono::steady_clock::time_point end,
            std::chrono::milliseconds margin);

// The margin a run keeps before its end when none is configured: 30 s, or a fifth of the time
// it has when that is shorter (a 10 s budget keeps 2 s).
std::chrono::milliseconds default_margin(std::chrono::milliseconds budget);

// What to back up and how.
struct BackupRequest {
    std::optional<std::string> vault;  // id or exact name; nothing = every vault of the account
    // Each vault in its own folder (prefix) DEST/<vault name> (the id when the name cannot be a
    // folder name, or another vault already took it): the CLI's --all, and always on Lambda.
    bool folder_per_vault = false;
    // How each vault is synced: full (a complete sync), dry_run, keep_deleted, concurrency,
    // excludes, lease_owner (unique per run: process_owner.hpp), lease_ttl, the deadline
    // (stop_at, cut_at: see end_by), which also keeps vaults from starting. The service fills in
    // the vault's own name.
    sync::EngineOptions engine;
    // Keep the vault's ciphertext (sync --encrypted, docs/encryption-at-rest.md): the engine gets
    // a keyhash-only cipher (unlock_vault), so this run can download every record but decrypt
    // none, and credentials that hold only the vault's keyhash suffice; the destination gets the
    // encrypted layout.
    bool encrypted = false;
};

// Told what happens while a backup runs (the CLI draws its progress bar and prints each vault's
// lines; the Lambda function logs). Every method has a default that does nothing.
class BackupObserver {
public:
    virtual ~BackupObserver() = default;
    virtual void vault_started(const obsidian::VaultInfo& /*vault*/) {}
    virtual void progress(const sync::Progress& /*progress*/) {}
    // `result` is the engine's full result when the engine ran (details the report leaves out:
    // a dry run's plan, refused records, portability warnings), else null.
    virtual void vault_finished(const obsidian::VaultInfo& /*vault*/,
                                const VaultOutcome& /*outcome*/,
                                const sync::EngineResult* /*result*/) {}
};

// The backup service both faces call (docs/architecture.md): signs in, chooses the vaults,
// derives (or reuses) their keys, and syncs each into its destination, one after the other.
// Failures are values in the report: one vault's failure never stops the others, and nothing
// throws obsync::Error (other exceptions are bugs and propagate).
class BackupService {
public:
    BackupService(boost::asio::io_context& io, net::HttpClient& http, Account& account,
                  KeyCache& keys);

    BackupReport run(const BackupRequest& request, Storage& storage, BackupObserver& observer);

private:
    VaultOutcome sync_vault(const obsidian::VaultInfo& vault, const std::string& token,
                            const std::string& folder, const BackupRequest& request,
                            Storage& storage, BackupObserver& observer);

    boost::asio::io_context& m_io;
    net::HttpClient& m_http;
    Account& m_account;
    KeyCache& m_keys;
};

}  // namespace obsync::backup
