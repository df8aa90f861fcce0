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
        return is_retryable(error->kind) ? error : std::nullopt;
    }
    for (const VaultOutcome& v : vaults) {
        if (v.error && is_retryable(v.error->kind)) {
            return v.error;
        }
    }
    return std::nullopt;
}

}  // namespace obsync::backup
