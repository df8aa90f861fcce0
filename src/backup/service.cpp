#include "backup/service.hpp"

#include "backup/vault_choice.hpp"
#include "sync/deadline.hpp"
#include "util/error.hpp"
#include "util/run_coro.hpp"

namespace obsync::backup {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

void end_by(sync::EngineOptions& options, Clock::time_point end, milliseconds margin) {
    options.stop_at = end - margin;
    options.cut_at = end - margin / 2;
}

milliseconds default_margin(milliseconds budget) {
    return std::min<milliseconds>(std::chrono::seconds(30), budget / 5);
}

namespace {

VaultOutcome outcome_of(const obsidian::VaultInfo& vault, const std::string& destination,
                        const sync::EngineResult& result) {
    VaultOutcome o;
    o.id = vault.id;
    o.name = vault.name;
    o.destination = destination;
    o.complete = result.complete;
    o.stopped_early = result.stopped_early;
    o.created = result.created;
    o.updated = result.updated;
    o.deleted = result.deleted;
    o.unchanged = result.unchanged;
    o.refused = static_cast<std::int64_t>(result.refused.size());
    o.not_attempted = result.not_attempted;
    o.bytes_downloaded = result.bytes;
    o.duration = result.duration;
    o.cursor = result.cursor.initial ? "" : std::to_string(result.cursor.version);
    for (const sync::FileFailure& f : result.failures) {
        o.failures.push_back({f.path, f.uid, {f.kind, f.message}});
    }
    return o;
}

}  // namespace

BackupService::BackupService(asio::io_context& io, net::HttpClient& http, Account& account,
                             KeyCache& keys)
    : m_io(io), m_http(http), m_account(account), m_keys(keys) {}

BackupReport BackupService::run(const BackupRequest& request, Storage& storage,
                                BackupObserver& observer) {
    const auto started = Clock::now();
    BackupReport report;
    VaultChoice choice;
    try {
        choice = choose_vaults(m_account, request.vault);
    } catch (const Error& e) {
        report.error = failure_of(e);
        report.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
        return report;
    }
    const std::string& token = choice.token;

    for (const obsidian::VaultInfo& vault : choice.chosen) {
        const std::string folder =
            request.folder_per_vault ? choice.folders[vault.id] : std::string();
        if (sync::Deadline(request.engine.stop_at, request.engine.cut_at).stopping()) {
            // Not started: the next run takes it from its checkpoint.
            VaultOutcome skipped;
            skipped.id = vault.id;
            skipped.name = vault.name;
            skipped.stopped_early = true;
            skipped.skipped = true;
            observer.vault_finished(vault, skipped, nullptr);
            report.vaults.push_back(std::move(skipped));
            continue;
        }
        observer.vault_started(vault);
        report.vaults.push_back(sync_vault(vault, token, folder, request, storage, observer));
    }
    report.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
    return report;
}

VaultOutcome BackupService::sync_vault(const obsidian::VaultInfo& vault, const std::string& token,
                                       const std::string& folder, const BackupRequest& request,
                                       Storage& storage, BackupObserver& observer) {
    const auto started = Clock::now();
    VaultOutcome failed;
    failed.id = vault.id;
    failed.name = vault.name;
    try {
        // A wrong password fails here, before a sink or a state entry exists.
        const crypto::VaultCipher& cipher =
            unlock_vault(m_io, m_http, m_account, m_keys, vault, token, request.encrypted);
        auto sink = storage.open_sink(folder, request.encrypted);
        failed.destination = sink->describe();
        const sync::StateScope scope{vault.id, sink->describe()};
        auto state = storage.open_state(scope, request.engine.dry_run);
        sync::EngineOptions options = request.engine;
        options.vault_name = vault.name;
        if (request.encrypted) {
            options.encrypted = sync::EncryptedLayout{vault.encryption_version, vault.salt,
                                                      cipher.keyhash(), vault.managed()};
        }
        sync::EngineResult result;
        run_coro(m_io, [&]() -> asio::awaitable<void> {
            const obsidian::SessionTarget target{vault.host, vault.id, token};
            sync::Engine engine(m_io.get_executor(), target, cipher, *sink, *state, options);
            const sync::Engine::ProgressFn on_progress = [&](const sync::Progress& p) {
                observer.progress(p);
            };
            result = co_await engine.run(on_progress);
        }());
        VaultOutcome outcome = outcome_of(vault, sink->describe(), result);
        observer.vault_finished(vault, outcome, &result);
        return outcome;
    } catch (const Error& e) {
        failed.error = failure_of(e);
        failed.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
        observer.vault_finished(vault, failed, nullptr);
        return failed;
    }
}

}  // namespace obsync::backup
