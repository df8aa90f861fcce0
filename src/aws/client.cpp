#include "aws/client.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <random>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "aws/xml.hpp"
#include "crypto/sha256.hpp"
#include "net/url.hpp"
#include "util/backoff.hpp"
#include "util/log.hpp"

namespace obsync::aws {

namespace asio = boost::asio;

namespace {

ErrorKind kind_of(AwsFailure failure) noexcept {
    switch (failure) {
        case AwsFailure::access_denied:
            return ErrorKind::denied;
        case AwsFailure::no_such_bucket:
        case AwsFailure::resource_not_found:
            return ErrorKind::not_found;
        case AwsFailure::throttled:
            return ErrorKind::throttled;
        case AwsFailure::unavailable:
            return ErrorKind::network;
        case AwsFailure::service_down:
            return ErrorKind::unavailable;
        case AwsFailure::wrong_region:
            return ErrorKind::config;
        case AwsFailure::invalid_key:
            return ErrorKind::bad_input;
        case AwsFailure::conditional_check_failed:
        case AwsFailure::other:
            break;
    }
    return ErrorKind::storage;
}

bool retryable(AwsFailure failure) noexcept {
    return failure == AwsFailure::throttled || failure == AwsFailure::unavailable;
}

struct ErrorDetail {
    std::string code;
    std::string message;
    std::vector<std::string> reasons;  // a cancelled DynamoDB transaction's, one per item
};

// JSON services put the code in "__type" ("com.amazonaws.dynamodb.v20120810#Code" or "Code") or
// in the x-amzn-ErrorType header ("Code:http://..."); S3 puts <Code> in an XML body, except for
// HEAD replies, which have no body at all.
ErrorDetail error_detail(const net::HttpResponse& response) {
    ErrorDetail detail;
    const std::string_view body = response.body;
    const auto first = body.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && body[first] == '{') {
        boost::system::error_code ec;
        const auto value = boost::json::parse(body, ec);
        if (!ec && value.is_object()) {
            const auto& object = value.as_object();
            if (const auto* type = object.if_contains("__type"); type && type->is_string()) {
                detail.code = std::string(type->as_string());
            }
            for (const char* key : {"message", "Message"}) {
                if (const auto* text = object.if_contains(key); text && text->is_string()) {
                    detail.message = std::string(text->as_string());
                }
            }
            // TransactionCanceledException: which item's condition failed is only here (the
            // message lists the codes too, but messages are not parsed).
            if (const auto* list = object.if_contains("CancellationReasons");
                list && list->is_array()) {
                for (const auto& reason : list->as_array()) {
                    const auto* code =
                        reason.is_object() ? reason.as_object().if_contains("Code") : nullptr;
                    std::string text = "None";
                    if (code != nullptr && code->is_string()) {
                        text = std::string(code->as_string());
                    }
                    detail.reasons.push_back(std::move(text));
                }
            }
        }
    } else if (first != std::string_view::npos && body[first] == '<') {
        try {
            detail.code = xml_text(body, "Code").value_or("");
            detail.message = xml_text(body, "Message").value_or("");
        } catch (const Error&) {
            // An unreadable error body still has its status: keep going with that.
        }
    }
    if (detail.code.empty()) {
        if (auto header = response.header("x-amzn-ErrorType")) {
            detail.code = std::string(header->substr(0, header->find(':')));
        }
    }
    if (const auto hash = detail.code.rfind('#'); hash != std::string::npos) {
        detail.code.erase(0, hash + 1);
    }
    if (detail.code.empty()) {
        switch (response.status) {
            case 403:
                detail.code = "AccessDenied";
                break;
            case 404:
                detail.code = "NotFound";
                break;
            case 412:
                detail.code = "PreconditionFailed";
                break;
            case 503:
                detail.code = "SlowDown";
                break;
            default:
                detail.code = "HTTP" + std::to_string(response.status);
        }
    }
    return detail;
}

// "S3 PutObject": what every message of a call starts with.
std::string call_name(const AwsRequest& request) {
    return std::string(display_name(request.service)) + " " + request.operation;
}

std::string describe_failure(const AwsRequest& request, const ErrorDetail& detail,
                             unsigned status) {
    std::string text =
        call_name(request) + ": " + detail.code + " (HTTP " + std::to_string(status) + ")";
    if (!detail.message.empty()) {
        text += ": " + detail.message;
    }
    return text;
}

// What S3 says when a bucket lives in another region than the request was signed for: nullopt when
// this is not such a reply, "" when it is but names no region, else the bucket's region. 301 and
// 307 are always about the bucket's location (S3 sends no other redirects to API calls); a 400
// AuthorizationHeaderMalformed is only when it names a region (it also means a broken header).
std::optional<std::string> redirect_region(const net::HttpResponse& response,
                                           const ErrorDetail& detail) {
    std::string region(response.header("x-amz-bucket-region").value_or(""));
    if (region.empty() && !response.body.empty()) {
        try {
            region = xml_text(response.body, "Region").value_or("");
        } catch (const Error&) {
            // No readable region in the body: the header was the only other place.
        }
    }
    if (response.status == 301 || response.status == 307) {
        return region;
    }
    if (response.status == 400 && detail.code == "AuthorizationHeaderMalformed" &&
        !region.empty()) {
        return region;
    }
    return std::nullopt;
}

std::string format_duration(std::chrono::milliseconds duration) {
    if (duration.count() % 1000 == 0) {
        return std::to_string(duration.count() / 1000) + " s";
    }
    return std::to_string(duration.count()) + " ms";
}

}  // namespace

std::string_view display_name(Service service) noexcept {
    switch (service) {
        case Service::s3:
            return "S3";
        case Service::dynamodb:
            return "DynamoDB";
        case Service::secrets_manager:
            return "Secrets Manager";
        case Service::sqs:
            return "SQS";
    }
    return "AWS";
}

std::string s3_endpoint_for_region(std::string endpoint, std::string_view from,
                                   std::string_view to) {
    const std::string old_host = "s3." + std::string(from) + ".amazonaws.com";
    const std::size_t scheme = endpoint.find("://");
    const std::size_t host = scheme == std::string::npos ? 0 : scheme + 3;
    const std::size_t end = endpoint.find_first_of(":/", host);
    const std::string_view authority =
        std::string_view(endpoint).substr(host, end == std::string::npos ? end : end - host);
    // The host is exactly "s3.FROM.amazonaws.com" or ends with ".s3.FROM.amazonaws.com".
    if (authority.size() < old_host.size() ||
        authority.substr(authority.size() - old_host.size()) != old_host ||
        (authority.size() > old_host.size() &&
         authority[authority.size() - old_host.size() - 1] != '.')) {
        return endpoint;
    }
    endpoint.replace(host + authority.size() - old_host.size(), old_host.size(),
                     "s3." + std::string(to) + ".amazonaws.com");
    return endpoint;
}

AwsError::AwsError(AwsFailure failure, std::string code, unsigned status,
                   const std::string& message, std::vector<std::string> reasons)
    : Error(kind_of(failure), message),
      m_failure(failure),
      m_code(std::move(code)),
      m_status(status),
      m_reasons(std::move(reasons)) {}

AwsFailure classify(std::string_view code, unsigned status) noexcept {
    static constexpr std::string_view k_denied[] = {"AccessDenied",
                                                    "AccessDeniedException",
                                                    "InvalidAccessKeyId",
                                                    "SignatureDoesNotMatch",
                                                    "InvalidSignatureException",
                                                    "UnrecognizedClientException",
                                                    "ExpiredToken",
                                                    "ExpiredTokenException",
                                                    "InvalidClientTokenId",
                                                    "MissingAuthenticationToken",
                                                    "IncompleteSignature",
                                                    "AllAccessDisabled",
                                                    "InvalidToken",
                                                    "KMS.AccessDeniedException",
                                                    "KMSAccessDeniedException"};
    static constexpr std::string_view k_throttled[] = {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "TransactionInProgressException",
        "TransactionConflictException",
        "PriorRequestNotComplete",
    };
    static constexpr std::string_view k_transient[] = {"RequestTimeout",
                                                       "RequestTimeoutException",
                                                       "InternalError",
                                                       "InternalFailure",
                                                       "InternalServerError",
                                                       "ServiceUnavailable",
                                                       "InternalServerErrorException",
                                                       "RequestTimeTooSkewed"};
    const auto in = [code](const auto& list) {
        return std::find(std::begin(list), std::end(list), code) != std::end(list);
    };
    if (in(k_denied)) {
        return AwsFailure::access_denied;
    }
    if (code == "NoSuchBucket") {
        return AwsFailure::no_such_bucket;
    }
    if (code == "ResourceNotFoundException" || code == "NoSuchKey" || code == "NotFound" ||
        code == "NoSuchUpload" || code == "QueueDoesNotExist" ||
        code == "AWS.SimpleQueueService.NonExistentQueue") {
        return AwsFailure::resource_not_found;
    }
    if (code == "KeyTooLongError") {
        return AwsFailure::invalid_key;
    }
    if (code == "ConditionalCheckFailedException" || code == "PreconditionFailed") {
        return AwsFailure::conditional_check_failed;
    }
    if (in(k_throttled) || status == 429) {
        return AwsFailure::throttled;
    }
    if (in(k_transient) || status >= 500) {
        return AwsFailure::unavailable;
    }
    // AWS answers a refusal with 403 under many codes (AccountProblem, a service's own
    // *AccessDenied*); 403 is never a transient state except the clock skew listed above.
    if (status == 403) {
        return AwsFailure::access_denied;
    }
    return AwsFailure::other;
}

struct AwsClient::Impl {
    using Clock = std::chrono::steady_clock;

    // The circuit breaker of one service (see the class comment in client.hpp).
    struct Breaker {
        std::optional<Clock::time_point> failing_since;  // first retryable failure since an answer
        Clock::time_point last_failure;                  // the latest retryable failure
        std::optional<Clock::time_point> opened_at;      // set while open
        std::optional<AwsError> down;                    // what an open breaker throws
    };

    AwsEnvironment environment;
    RetryPolicy retry;
    std::optional<Clock::time_point> retry_deadline;
    net::HttpClient http;
    AwsCallStats stats;
    std::mt19937_64 rng{std::random_device{}()};
    std::array<Breaker, 4> breakers;                                 // one per Service
    std::map<std::string, std::string, std::less<>> bucket_regions;  // learnt from redirects

    Breaker& breaker(Service service) { return breakers.at(static_cast<std::size_t>(service)); }

    // The service answered (anything but a retryable failure): it is up.
    void answered(Service service) {
        Breaker& b = breaker(service);
        b.failing_since.reset();
        b.last_failure = {};
        b.opened_at.reset();
        b.down.reset();
    }

    // Records a retryable failure; returns the error to throw when the service is now down.
    std::optional<AwsError> failed(const AwsRequest& request, const std::string& last_error,
                                   const std::string& code, unsigned status, bool probe) {
        Breaker& b = breaker(request.service);
        const auto now = Clock::now();
        // Failing means failing while being asked: after a quiet spell longer than down_after
        // (no request at all, say between two vaults), the count starts again.
        if (!b.failing_since || now - b.last_failure > retry.down_after) {
            b.failing_since = now;
        }
        b.last_failure = now;
        if (!probe && now - *b.failing_since < retry.down_after) {
            return std::nullopt;
        }
        b.opened_at = now;
        b.down.emplace(AwsFailure::service_down, code, status,
                       std::string(display_name(request.service)) +
                           " looks down: no successful request for " +
                           format_duration(retry.down_after) + " (last error: " + last_error +
                           "); stopped, retry later");
        return b.down;
    }

    // How long until a failing service would be declared down (the backoff never sleeps past it).
    std::chrono::milliseconds until_down(Service service) {
        const Breaker& b = breaker(service);
        if (!b.failing_since) {
            return retry.down_after;
        }
        const auto left = *b.failing_since + retry.down_after - Clock::now();
        return std::max(std::chrono::milliseconds(0),
                        std::chrono::ceil<std::chrono::milliseconds>(left));
    }

    Impl(asio::any_io_executor executor, AwsEnvironment env, RetryPolicy policy)
        : environment(std::move(env)), retry(policy), http(std::move(executor)) {}

    // At least a quarter of the ceiling: a throttled or failing AWS endpoint gets a real pause.
    std::chrono::milliseconds backoff(int attempt) {
        return backoff_delay({retry.base_delay, retry.max_delay, 0.25}, attempt, rng);
    }

    // The region a bucket's requests are signed for: the one S3 redirected us to, if any.
    std::string region_for(const AwsRequest& request) const {
        if (request.service == Service::s3 && !request.bucket.empty()) {
            if (const auto found = bucket_regions.find(request.bucket);
                found != bucket_regions.end()) {
                return found->second;
            }
        }
        return environment.region();
    }

    net::HttpRequest sign(const AwsRequest& request, const std::string& payload_hash) {
        std::string base =
            request.endpoint.empty() ? environment.endpoint(request.service) : request.endpoint;
        const std::string region = region_for(request);
        if (region != environment.region() && !environment.custom_endpoint(request.service)) {
            base = s3_endpoint_for_region(std::move(base), environment.region(), region);
        }
        const net::Url url = net::Url::parse(base);
        const Credentials& credentials = environment.credentials();

        SignableRequest signable;
        signable.method = request.method;
        signable.path = request.path;
        signable.query = request.query;
        signable.payload_hash = payload_hash;
        signable.headers = request.headers;
        signable.headers.emplace_back("host", url.authority());
        const std::string date = amz_date_now();
        signable.headers.emplace_back("x-amz-date", date);
        if (request.service == Service::s3) {
            signable.headers.emplace_back("x-amz-content-sha256", payload_hash);
        }
        if (!credentials.session_token.empty()) {
            signable.headers.emplace_back("x-amz-security-token", credentials.session_token);
        }
        SigningParams params;
        params.region = region;
        params.service = std::string(signing_name(request.service));
        params.amz_date = date;
        params.normalize_path = request.service != Service::s3;
        const Signature signature = aws::sign(signable, credentials, params);

        net::HttpRequest http_request;
        http_request.method = request.method;
        http_request.url = base + uri_encode_path(request.path);
        if (!request.query.empty()) {
            http_request.url += "?" + canonical_query(request.query);
        }
        for (auto& header : signable.headers) {
            if (header.first != "host") {
                http_request.headers.push_back(std::move(header));
            }
        }
        http_request.headers.emplace_back("authorization", signature.authorization);
        http_request.body = request.body;
        return http_request;
    }
};

AwsClient::AwsClient(asio::any_io_executor executor, AwsEnvironment environment, RetryPolicy retry)
    : m_impl(std::make_unique<Impl>(std::move(executor), std::move(environment), retry)) {}

AwsClient::~AwsClient() = default;

const AwsEnvironment& AwsClient::environment() const noexcept {
    return m_impl->environment;
}

const AwsCallStats& AwsClient::stats() const noexcept {
    return m_impl->stats;
}

void AwsClient::set_retry_deadline(std::optional<std::chrono::steady_clock::time_point> not_after) {
    m_impl->retry_deadline = not_after;
}

asio::awaitable<net::HttpResponse> AwsClient::send(AwsRequest request) {
    const std::string payload_hash =
        request.unsigned_payload ? std::string("UNSIGNED-PAYLOAD")
                                 : crypto::sha256_hex(as_bytes(std::string_view(request.body)));
    bool redirected = false;
    for (int attempt = 1;; ++attempt) {
        // An open breaker fails fast until down_after has passed; then one attempt probes.
        Impl::Breaker& breaker = m_impl->breaker(request.service);
        bool probe = false;
        if (breaker.opened_at) {
            if (Impl::Clock::now() - *breaker.opened_at < m_impl->retry.down_after) {
                throw *breaker.down;
            }
            probe = true;
        }
        // Signed again on every attempt: a retry after a long backoff needs a fresh x-amz-date.
        net::HttpRequest http_request = m_impl->sign(request, payload_hash);
        ++m_impl->stats.requests;
        m_impl->stats.bytes_sent += request.body.size();
        std::optional<AwsError> failure;
        std::optional<Error> network;
        try {
            net::HttpResponse response = co_await m_impl->http.send(std::move(http_request));
            if (response.status >= 200 && response.status < 300) {
                m_impl->answered(request.service);
                co_return response;
            }
            ErrorDetail detail = error_detail(response);
            const AwsFailure kind = classify(detail.code, response.status);
            std::optional<std::string> region;
            if (request.service == Service::s3 && !request.bucket.empty()) {
                region = redirect_region(response, detail);
            }
            if (region && region->empty()) {
                failure.emplace(AwsFailure::wrong_region, detail.code, response.status,
                                call_name(request) + ": bucket \"" + request.bucket +
                                    "\" is not in region " + m_impl->region_for(request) +
                                    " and S3 did not say where it is (" + detail.code + ", HTTP " +
                                    std::to_string(response.status) +
                                    "); set AWS_REGION to the bucket's region");
            } else if (region && !redirected && *region != m_impl->region_for(request)) {
                // Not a retry: the service answered, and the same attempt goes to the right place.
                m_impl->answered(request.service);
                m_impl->bucket_regions[request.bucket] = *region;
                redirected = true;
                --attempt;
                continue;
            } else {
                failure.emplace(kind, detail.code, response.status,
                                describe_failure(request, detail, response.status),
                                std::move(detail.reasons));
            }
        } catch (const Error& error) {
            if (error.kind() != ErrorKind::network) {
                throw;
            }
            // The HTTP client knows the peer, not the call: name the service and the operation.
            network.emplace(ErrorKind::network, call_name(request) + ": " + error.what());
        }
        const bool again = network ? true : retryable(failure->failure());
        if (!again) {
            m_impl->answered(request.service);
            throw *failure;
        }
        if (auto down = m_impl->failed(request, network ? network->what() : failure->what(),
                                       network ? std::string() : failure->code(),
                                       network ? 0U : failure->status(), probe)) {
            throw *down;
        }
        const auto delay = std::min(m_impl->backoff(attempt), m_impl->until_down(request.service));
        const bool too_late =
            m_impl->retry_deadline && Impl::Clock::now() + delay >= *m_impl->retry_deadline;
        if (attempt >= m_impl->retry.max_attempts || too_late) {
            if (failure) {
                throw *failure;
            }
            throw *network;
        }
        ++m_impl->stats.retries;
        if (Logger* log = process_logger()) {
            log->warning("AWS request retried",
                         {{"operation", request.operation},
                          {"attempt", attempt},
                          {"delay_ms", static_cast<std::int64_t>(delay.count())},
                          {"error_code", network ? std::string("network") : failure->code()},
                          {"status", network ? 0U : failure->status()}});
        }
        asio::steady_timer timer(co_await asio::this_coro::executor, delay);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

}  // namespace obsync::aws
