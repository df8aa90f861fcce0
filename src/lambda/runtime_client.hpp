#pragma once

// The Lambda Runtime API (the custom-runtime side of
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) on the project's HTTP client.

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "net/http_client.hpp"

namespace obsync::lambda {

// One event to handle, from GET /runtime/invocation/next.
struct Invocation {
    std::string request_id;     // Lambda-Runtime-Aws-Request-Id
    std::int64_t deadline = 0;  // Lambda-Runtime-Deadline-Ms: Unix epoch milliseconds
    std::string function_arn;   // Lambda-Runtime-Invoked-Function-Arn ("" if absent)
    std::string trace_id;       // Lambda-Runtime-Trace-Id ("" if absent)
    std::string payload;        // the event, as Lambda delivered it
};

// Every call throws obsync::Error: `network` when the Runtime API cannot be reached or answers
// with a status other than 2xx (the message gives it), `protocol` when an invocation lacks its
// request id or a valid deadline.
class RuntimeClient {
public:
    // `api` is AWS_LAMBDA_RUNTIME_API ("host:port"). `http` must outlive the client; any
    // request timeout suits it: next() waits without one.
    RuntimeClient(net::HttpClient& http, std::string_view api);

    // Waits, as long as it takes, for the next invocation.
    boost::asio::awaitable<Invocation> next();

    boost::asio::awaitable<void> post_response(std::string_view request_id, std::string body);

    // The invocation failed: {"errorMessage","errorType","stackTrace":[]} with the header
    // Lambda-Runtime-Function-Error-Type: error_type.
    boost::asio::awaitable<void> post_error(std::string_view request_id,
                                            std::string_view error_type, std::string_view message);

    // The function cannot start (bad configuration); Lambda then discards the environment.
    boost::asio::awaitable<void> post_init_error(std::string_view error_type,
                                                 std::string_view message);

private:
    boost::asio::awaitable<net::HttpResponse> send(net::HttpRequest request, std::string_view what);

    net::HttpClient& m_http;
    std::string m_base;  // "http://host:port/2018-06-01/runtime"
};

}  // namespace obsync::lambda
