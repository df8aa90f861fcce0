#pragma once

#include "backup/service.hpp"
#include "util/log.hpp"

namespace obsync::backup {

// Logs a backup as structured records: one when a vault starts, one when it ends (its counts, or
// its failure with kind and whether a retry can help), one per failed file. The Lambda function
// writes them as JSON lines on stdout; the CLI with --log-format json on stderr.
class LoggingObserver : public BackupObserver {
public:
    explicit LoggingObserver(Logger& log) : m_log(log) {}

    void vault_started(const obsidian::VaultInfo& vault) override;
    void vault_finished(const obsidian::VaultInfo& vault, const VaultOutcome& outcome,
                        const sync::EngineResult* result) override;

protected:
    Logger& m_log;
};

}  // namespace obsync::backup
