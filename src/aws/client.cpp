#include "aws/client.hpp"

#include <algorithm>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "aws/xml.hpp"
#include "crypto/sha256.hpp"
#include "net/url.hpp"
#include "util/backoff.hpp"

namespace obsync::aws {

namespace asio = boost::asio;

namespace {

ErrorKind kind_of(AwsFailure failure) noexcept {
    switch (failure) {
        case AwsFailure::access_denied:
            return ErrorKind::auth;
        case AwsFailure::no_such_bucket:
        case AwsFailure::resource_not_found:
            return ErrorKind::not_found;
        case AwsFailure::throttled:
            return ErrorKind::throttled;
        case AwsFailure::unavailable:
            return ErrorKind::network;
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

std::string describe_failure(const AwsRequest& request, const ErrorDetail& detail,
                             unsigned status) {
    std::string text = std::string(signing_name(request.service)) + " " + request.operation + ": " +
                       detail.code + " (HTTP " + std::to_string(status) + ")";
    if (!detail.message.empty()) {
        text += ": " + detail.message;
    }
    return text;
}

}  // namespace

AwsError::AwsError(AwsFailure failure, std::string code, unsigned status,
                   const std::string& message)
    : Error(kind_of(failure), message),
      m_failure(failure),
      m_code(std::move(code)),
      m_status(status) {}

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
                                                    "KMS.AccessDeniedException"};
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
        code == "NoSuchUpload") {
        return AwsFailure::resource_not_found;
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
    return AwsFailure::other;
}

struct AwsClient::Impl {
    AwsEnvironment environment;
    RetryPolicy retry;
    net::HttpClient http;
    AwsCallStats stats;
    std::mt19937_64 rng{std::random_device{}()};

    Impl(asio::any_io_executor executor, AwsEnvironment env, RetryPolicy policy)
        : environment(std::move(env)), retry(policy), http(std::move(executor)) {}

    // At least a quarter of the ceiling: a throttled or failing AWS endpoint gets a real pause.
    std::chrono::milliseconds backoff(int attempt) {
        return backoff_delay({retry.base_delay, retry.max_delay, 0.25}, attempt, rng);
    }

    net::HttpRequest sign(const AwsRequest& request, const std::string& payload_hash) {
        const std::string base =
            request.endpoint.empty() ? environment.endpoint(request.service) : request.endpoint;
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
        params.region = environment.region();
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

asio::awaitable<net::HttpResponse> AwsClient::send(AwsRequest request) {
    const std::string payload_hash =
        request.unsigned_payload ? std::string("UNSIGNED-PAYLOAD")
                                 : crypto::sha256_hex(as_bytes(std::string_view(request.body)));
    for (int attempt = 1;; ++attempt) {
        // Signed again on every attempt: a retry after a long backoff needs a fresh x-amz-date.
        net::HttpRequest http_request = m_impl->sign(request, payload_hash);
        ++m_impl->stats.requests;
        m_impl->stats.bytes_sent += request.body.size();
        std::optional<AwsError> failure;
        std::optional<Error> network;
        try {
            net::HttpResponse response = co_await m_impl->http.send(std::move(http_request));
            if (response.status >= 200 && response.status < 300) {
                co_return response;
            }
            ErrorDetail detail = error_detail(response);
            const AwsFailure kind = classify(detail.code, response.status);
            failure.emplace(kind, detail.code, response.status,
                            describe_failure(request, detail, response.status));
        } catch (const Error& error) {
            if (error.kind() != ErrorKind::network) {
                throw;
            }
            network.emplace(error);
        }
        const bool again = network ? true : retryable(failure->failure());
        if (!again || attempt >= m_impl->retry.max_attempts) {
            if (failure) {
                throw *failure;
            }
            throw *network;
        }
        ++m_impl->stats.retries;
        asio::steady_timer timer(co_await asio::this_coro::executor, m_impl->backoff(attempt));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

}  // namespace obsync::aws
