#include "backup/log_observer.hpp"

namespace obsync::backup {

void LoggingObserver::vault_started(const obsidian::VaultInfo& vault) {
    m_log.info("vault sync started", {{"vault_id", vault.id}, {"vault_name", vault.name}});
}

void LoggingObserver::vault_finished(const obsidian::VaultInfo& vault, const VaultOutcome& outcome,
                                     const sync::EngineResult* /*result*/) {
    if (outcome.error) {
        const bool retryable = is_retryable(outcome.error->kind);
        m_log.log(retryable ? LogLevel::warning : LogLevel::error, "vault sync failed",
                  {{"vault_id", vault.id},
                   {"vault_name", vault.name},
                   {"error_kind", std::string(to_string(outcome.error->kind))},
                   {"error", outcome.error->message},
                   {"retryable", retryable}});
        return;
    }
    m_log.log(outcome.ok() ? LogLevel::info : LogLevel::warning,
              outcome.stopped_early ? "vault sync stopped at the deadline" : "vault sync finished",
              {{"vault_id", vault.id},
               {"vault_name", vault.name},
               {"destination", outcome.destination},
               {"created", outcome.created},
               {"updated", outcome.updated},
               {"deleted", outcome.deleted},
               {"unchanged", outcome.unchanged},
               {"failed", outcome.failed()},
               {"refused", outcome.refused},
               {"not_attempted", outcome.not_attempted},
               {"bytes_downloaded", outcome.bytes_downloaded},
               {"duration_ms", static_cast<std::int64_t>(outcome.duration.count())},
               {"complete", outcome.complete},
               {"stopped_early", outcome.stopped_early},
               {"cursor", outcome.cursor}});
    for (const auto& f : outcome.failures) {
        m_log.warning("file failed", {{"vault_id", vault.id},
                                      {"path", f.path},
                                      {"uid", f.uid},
                                      {"error_kind", std::string(to_string(f.failure.kind))},
                                      {"error", f.failure.message}});
    }
}

}  // namespace obsync::backup
