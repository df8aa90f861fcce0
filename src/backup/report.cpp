#include "backup/report.hpp"

#include <algorithm>

namespace obsync::backup {

bool BackupReport::ok() const {
    return !error && std::all_of(vaults.begin(), vaults.end(),
                                 [](const VaultOutcome& vault) { return vault.ok(); });
}

bool BackupReport::stopped_early() const {
    return std::any_of(vaults.begin(), vaults.end(),
                       [](const VaultOutcome& vault) { return vault.stopped_early; });
}

std::optional<Failure> BackupReport::retryable_failure() const {
    if (error) {
        // A report-level error means no vault ran; when it is permanent (auth, not_found...)
        // retrying the request cannot help, whatever else the report holds.
        if (is_retryable(error->kind)) {
            return error;
        }
        return std::nullopt;
    }
    for (const VaultOutcome& vault : vaults) {
        if (vault.error && is_retryable(vault.error->kind)) {
            // Callers report this one failure on its own (a function error, a log line): it
            // must say which vault it is about.
            return Failure{vault.error->kind, vault.name + ": " + vault.error->message};
        }
    }
    return std::nullopt;
}

}  // namespace obsync::backup
