#include "backup/report.hpp"

#include <algorithm>

#include "aws/client.hpp"

namespace obsync::backup {

Failure failure_of(const Error& error) {
    Failure f{error.kind(), error.what(), false};
    if (const auto* aws_error = dynamic_cast<const aws::AwsError*>(&error)) {
        switch (aws_error->failure()) {
            case aws::AwsFailure::access_denied:
            case aws::AwsFailure::no_such_bucket:
            case aws::AwsFailure::resource_not_found:
            case aws::AwsFailure::wrong_region:
                f.configuration = true;
                break;
            default:
                break;
        }
    }
    return f;
}

bool BackupReport::ok() const {
    return !error &&
           std::all_of(vaults.begin(), vaults.end(), [](const VaultOutcome& v) { return v.ok(); });
}

bool BackupReport::stopped_early() const {
    return std::any_of(vaults.begin(), vaults.end(),
                       [](const VaultOutcome& v) { return v.stopped_early; });
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
            return Failure{vault.error->kind, vault.name + ": " + vault.error->message,
                           vault.error->configuration};
        }
    }
    return std::nullopt;
}

}  // namespace obsync::backup
