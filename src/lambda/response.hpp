#pragma once

// What the function answers (docs/lambda.md, "Response body", "Status mapping", "Retry
// semantics"): a BackupReport or a Refusal as the response document, its HTTP status, the
// wrapping each event source expects, and when a report must be a function error instead.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "backup/report.hpp"
#include "backup/verify.hpp"
#include "lambda/event.hpp"

namespace obsync::lambda {

// The seconds an HTTP caller is asked to wait before retrying a 503.
inline constexpr int k_retry_after_seconds = 60;
// At most this many entries in "errors" and in each vault's "failures" (the counts stay exact):
// a synchronous Lambda response must stay under 6 MB.
inline constexpr std::size_t k_max_listed_errors = 100;

// What the response says besides the report.
struct ResponseDetails {
    SyncType sync_type = SyncType::incremental;
    bool encrypted = false;  // the run kept the vaults' ciphertext (OBSYNC_ENCRYPTED, "encrypted")
    std::string dest_bucket;
    std::string dest_prefix;
    std::int64_t lambda_memory_mb = 0;  // AWS_LAMBDA_FUNCTION_MEMORY_SIZE
    std::string request_id;
};

// The response document of a sync that ran (or failed before any vault; then it also has
// "error": {"kind","message"}, as a refusal's document does).
boost::json::object response_body(const backup::BackupReport& report,
                                  const ResponseDetails& details);

// The response document of a verify ({"action":"verify"}): "success" (every backup equals the
// server), "action", "vaults_verified", "drift_count", "details", "request_id", and per vault its
// counts by kind and the first k_max_listed_errors drifting paths; "error" as in response_body.
boost::json::object verify_response_body(const backup::VerifyReport& report,
                                         const ResponseDetails& details);

// A verify's failures as a backup report's (the report's error, each vault's error; drift is
// no failure): http_status() and function_error() then decide a verify's status and retries
// exactly as a sync's.
backup::BackupReport failures_of(const backup::VerifyReport& report);

// The response document of a request refused before any sync.
boost::json::object refusal_body(const Refusal& refusal, std::string_view request_id);

// The HTTP status of a report: 500 when the function's configuration failed it (AWS access
// denied, a missing bucket, table or secret), 404 when a named vault does not exist, 409 when a
// vault is busy, 503 for another retryable failure (BackupReport::retryable_failure), else 200 (the
// body's "success" tells the rest). `vault_requested`: the request named one vault.
unsigned http_status(const backup::BackupReport& report, bool vault_requested);

// The invocation's response: for HTTP sources {statusCode, headers, body (the document as a
// string), isBase64Encoded: false}; for direct and schedule invocations the document itself.
boost::json::value wrap_for_source(EventSource source, unsigned status, boost::json::object body);

// JSON text of a response (what post_response sends).
std::string to_json_text(const boost::json::value& document);

// A direct or scheduled invocation whose report has a retryable failure is reported to Lambda
// as a function error, so that Lambda retries it (asynchronous invocations).
struct FunctionError {
    std::string error_type;  // "Obsync.Retryable.<kind>"
    std::string message;
};

std::optional<FunctionError> function_error(const backup::BackupReport& report);

}  // namespace obsync::lambda
