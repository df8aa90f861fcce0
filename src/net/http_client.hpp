#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace obsync::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    Headers headers;
    std::string body;
    // The server may hold the response back for as long as it likes (a long poll such as the
    // Lambda Runtime API's /next, which answers when an event arrives): waiting for the response
    // has no time limit. Connecting and sending the request keep their timeouts.
    bool long_poll = false;
};

struct HttpResponse {
    unsigned status = 0;
    Headers headers;
    std::string body;

    // Case-insensitive lookup of the first header of that name.
    std::optional<std::string_view> header(std::string_view name) const;
};

struct HttpOptions {
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(30)};
    // Bounds each write and each read of one exchange.
    std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
    std::size_t max_response_body = std::size_t{64} << 20;
    // A kept-alive connection idle for longer is closed instead of reused (also after a Lambda
    // execution environment was frozen between invocations).
    std::chrono::milliseconds max_idle{std::chrono::seconds(15)};
};

// "obsync/<version>", sent as User-Agent by every client of the project.
std::string user_agent();

// An HTTP/1.1 client with TLS and keep-alive connection reuse, for one io_context thread.
// Failures throw obsync::Error: `network` for resolve, connect, transport and timeout errors
// (retryable), `config` for bad URLs and untrusted certificates. Any HTTP status is a response,
// not an error: interpreting it is the caller's business.
class HttpClient {
public:
    explicit HttpClient(boost::asio::any_io_executor executor, HttpOptions options = {});
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;
    ~HttpClient();

    boost::asio::awaitable<HttpResponse> send(HttpRequest request);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace obsync::net
