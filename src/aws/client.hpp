#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "aws/environment.hpp"
#include "aws/sigv4.hpp"
#include "net/http_client.hpp"
#include "util/error.hpp"

namespace obsync::aws {

// One call to an AWS API. Path and query are decoded (the client encodes them once, identically
// on the wire and in the signature).
struct AwsRequest {
    Service service = Service::s3;
    std::string operation;  // "PutObject", "DynamoDB.Query": for error messages and metrics
    std::string method = "GET";
    std::string endpoint;  // "scheme://host[:port]"; empty = the environment's for the service
    std::string path = "/";
    QueryParams query;
    net::Headers headers;  // sent and signed (content-type, x-amz-target, x-amz-meta-*, ...)
    std::string body;
    // S3 over TLS only: skip hashing the body (TLS already protects it in transit).
    bool unsigned_payload = false;
    // S3 only: the bucket addressed, so that a redirect to the bucket's region can be followed
    // and remembered for the bucket. Empty: no redirect is followed.
    std::string bucket;
};

// The failures a caller acts on. Everything else is `other`; the AWS code is in AwsError::code().
enum class AwsFailure {
    other,
    access_denied,             // AccessDenied, InvalidAccessKeyId, KMS.*, any other 403, ...
    no_such_bucket,            // NoSuchBucket
    resource_not_found,        // ResourceNotFoundException, NoSuchKey, QueueDoesNotExist, ...
    conditional_check_failed,  // ConditionalCheckFailedException, PreconditionFailed
    throttled,                 // SlowDown, Throttling*, ProvisionedThroughputExceeded, ...
    unavailable,               // 5xx, connection errors: retried first
    service_down,              // the circuit breaker is open (see AwsClient): kind unavailable
    wrong_region,              // S3 bucket elsewhere and S3 did not say where: kind config
    invalid_key,               // KeyTooLongError: S3 cannot hold this name, kind bad_input
};

// An AWS service said no. kind() follows the failure: access_denied → denied, not-found ones →
// not_found, throttled → throttled, unavailable → network, service_down → unavailable,
// wrong_region → config, invalid_key → bad_input (for good: that file is refused), the rest →
// storage. The message holds
// the operation, the AWS error code, the HTTP status and AWS's own message, never a credential.
class AwsError : public Error {
public:
    AwsError(AwsFailure failure, std::string code, unsigned status, const std::string& message,
             std::vector<std::string> reasons = {});

    AwsFailure failure() const noexcept { return m_failure; }
    const std::string& code() const noexcept { return m_code; }
    unsigned status() const noexcept { return m_status; }
    // A cancelled DynamoDB transaction (TransactionCanceledException): one code per item, in
    // order, "None" for the items that were fine ("ConditionalCheckFailed", "TransactionConflict"
    // ...). Empty for every other error.
    const std::vector<std::string>& reasons() const noexcept { return m_reasons; }

private:
    AwsFailure m_failure;
    std::string m_code;
    unsigned m_status;
    std::vector<std::string> m_reasons;
};

// Classifies an AWS error code (the part after '#' of a JSON "__type", or an S3 <Code>) with the
// HTTP status. Codes, never message text, decide.
AwsFailure classify(std::string_view code, unsigned status) noexcept;

struct RetryPolicy {
    int max_attempts = 8;
    std::chrono::milliseconds base_delay{100};
    std::chrono::milliseconds max_delay{std::chrono::seconds(5)};
    // The circuit breaker: a service whose requests have failed retryably for this long without
    // one answer in between is declared down (see AwsClient).
    std::chrono::milliseconds down_after{std::chrono::seconds(60)};
};

// Counts since the client was made: what a run reports as metrics.
struct AwsCallStats {
    std::uint64_t requests = 0;  // attempts sent, retries included
    std::uint64_t retries = 0;
    std::uint64_t bytes_sent = 0;
};

// Signs (SigV4) and sends AWS API calls over the project's HTTP client, retrying throttling,
// 5xx and connection failures with capped, jittered exponential backoff. One per io_context
// thread; concurrent send()s use separate keep-alive connections.
//
// A circuit breaker per service (S3, DynamoDB, Secrets Manager, SQS; each independent of the
// others),
// so that a service that is down stops a run in about `down_after` instead of costing every
// remaining call its full retry budget:
//   - "failing" starts with the first retryable failure (5xx, throttling, connection error) after
//     the last answer; any answer that is not a retryable failure (2xx, but also 404, 403, 412:
//     the service is up) ends it.
//   - The breaker opens when a retryable failure arrives and the service has been failing for
//     `down_after` or longer; backoff sleeps are cut so that this happens on time. That call then
//     throws AwsError{service_down} (kind unavailable): "S3 looks down: no successful request for
//     60 s (last error: ...); stopped, retry later".
//   - While open, calls to that service throw the same error at once, sending nothing.
//   - `down_after` after opening, calls are let through again, one attempt each: an answer closes
//     the breaker, a retryable failure opens it again for another `down_after`.
//
// S3 region redirects: when S3 answers 301/307 (PermanentRedirect, TemporaryRedirect) or 400
// AuthorizationHeaderMalformed and names the bucket's region (x-amz-bucket-region or <Region>),
// the call is signed again for that region, sent to that region's endpoint when the endpoint is
// AWS's own (a custom endpoint stays), and the region is remembered for the bucket. A redirect
// that names no region throws AwsError{wrong_region} (kind config) naming the bucket.
// "https://bucket.s3.FROM.amazonaws.com" → "https://bucket.s3.TO.amazonaws.com" (also path-style
// "https://s3.FROM.amazonaws.com"); any other endpoint is returned unchanged.
std::string s3_endpoint_for_region(std::string endpoint, std::string_view from,
                                   std::string_view to);

// "S3", "DynamoDB", "Secrets Manager", "SQS": how messages name a service.
std::string_view display_name(Service service) noexcept;

class AwsClient {
public:
    AwsClient(boost::asio::any_io_executor executor, AwsEnvironment environment,
              RetryPolicy retry = RetryPolicy{});
    AwsClient(const AwsClient&) = delete;
    AwsClient& operator=(const AwsClient&) = delete;
    ~AwsClient();

    // The 2xx response; any other outcome throws AwsError (or Error{network} once retries are
    // exhausted on connection failures).
    boost::asio::awaitable<net::HttpResponse> send(AwsRequest request);

    const AwsEnvironment& environment() const noexcept;
    const AwsCallStats& stats() const noexcept;

    // No retry is started that would end after `not_after` (a Lambda invocation's deadline): the
    // failure is thrown instead. Nothing (the default) = no limit. Kept until changed.
    void set_retry_deadline(std::optional<std::chrono::steady_clock::time_point> not_after);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace obsync::aws
