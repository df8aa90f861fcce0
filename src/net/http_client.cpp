#include "net/http_client.hpp"

#include <map>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "net/tls.hpp"
#include "net/transport.hpp"
#include "net/url.hpp"
#include "util/error.hpp"

#ifndef OBSYNC_VERSION
#define OBSYNC_VERSION "0.0.0"
#endif

namespace obsync::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr auto k_nothrow = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// One kept-alive connection, plain or TLS.
struct Connection {
    std::variant<beast::tcp_stream, detail::TlsStream> stream;
    beast::flat_buffer buffer;
    // When it went back to the pool. The wall clock, not the steady one: it keeps running while
    // a Lambda execution environment is frozen, and a connection that slept through a freeze is
    // likely closed by the other side.
    std::chrono::system_clock::time_point idle_since{};

    beast::tcp_stream& tcp() {
        if (auto* plain = std::get_if<beast::tcp_stream>(&stream)) {
            return *plain;
        }
        return beast::get_lowest_layer(std::get<detail::TlsStream>(stream));
    }
};

struct Outcome {
    boost::system::error_code ec;
    bool response_started = false;
};

}  // namespace

std::string user_agent() {
    return std::string("obsync/") + OBSYNC_VERSION;
}

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) {
            return value;
        }
    }
    return std::nullopt;
}

struct HttpClient::Impl {
    asio::any_io_executor executor;
    HttpOptions options;
    // Idle connections by "scheme://host:port".
    std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;

    static std::string pool_key(const Url& url) {
        return url.scheme + "://" + url.host + ":" + std::to_string(url.port);
    }

    asio::awaitable<std::unique_ptr<Connection>> connect(const Url& url) {
        beast::tcp_stream tcp(executor);
        co_await detail::connect_tcp(tcp, url, options.connect_timeout);
        if (!url.secure()) {
            co_return std::make_unique<Connection>(Connection{std::move(tcp), {}});
        }
        auto conn = std::make_unique<Connection>(
            Connection{detail::TlsStream(std::move(tcp), detail::client_tls_context()), {}});
        co_await detail::tls_handshake(std::get<detail::TlsStream>(conn->stream), url,
                                       options.connect_timeout);
        co_return conn;
    }

    template <typename Stream>
    asio::awaitable<Outcome> exchange(Stream& stream, Connection& conn,
                                      http::request<http::string_body>& request,
                                      http::response_parser<http::string_body>& parser,
                                      bool long_poll) {
        conn.tcp().expires_after(options.request_timeout);
        auto [wec, written] = co_await http::async_write(stream, request, k_nothrow);
        if (wec) {
            co_return Outcome{wec, false};
        }
        if (long_poll) {
            conn.tcp().expires_never();
        } else {
            conn.tcp().expires_after(options.request_timeout);
        }
        auto [rec, read] = co_await http::async_read(stream, conn.buffer, parser, k_nothrow);
        co_return Outcome{rec, parser.got_some()};
    }

    asio::awaitable<Outcome> exchange(Connection& conn, http::request<http::string_body>& request,
                                      http::response_parser<http::string_body>& parser,
                                      bool long_poll) {
        if (auto* plain = std::get_if<beast::tcp_stream>(&conn.stream)) {
            co_return co_await exchange(*plain, conn, request, parser, long_poll);
        }
        co_return co_await exchange(std::get<detail::TlsStream>(conn.stream), conn, request, parser,
                                    long_poll);
    }
};

HttpClient::HttpClient(asio::any_io_executor executor, HttpOptions options)
    : m_impl(std::make_unique<Impl>(Impl{std::move(executor), options, {}})) {}

HttpClient::~HttpClient() = default;

asio::awaitable<HttpResponse> HttpClient::send(HttpRequest request) {
    const Url url = Url::parse(request.url);
    if (url.scheme != "http" && url.scheme != "https") {
        throw Error(ErrorKind::config, "not an HTTP URL: " + request.url);
    }
    const http::verb verb = http::string_to_verb(request.method);
    if (verb == http::verb::unknown) {
        throw Error(ErrorKind::config, "unknown HTTP method " + request.method);
    }
    http::request<http::string_body> message{verb, url.target, 11};
    message.set(http::field::host, url.authority());
    message.set(http::field::user_agent, user_agent());
    for (const auto& [name, value] : request.headers) {
        message.set(name, value);
    }
    message.body() = std::move(request.body);
    message.keep_alive(true);
    message.prepare_payload();

    const std::string key = Impl::pool_key(url);
    auto& idle = m_impl->idle[key];
    // Connections idle for too long are dropped unused: servers close them after a while
    // (S3 after about 20 s), and a request sent on one may not be safe to send twice.
    const auto now = std::chrono::system_clock::now();
    std::erase_if(idle, [&](const std::unique_ptr<Connection>& c) {
        return now - c->idle_since > m_impl->options.max_idle;
    });
    for (int attempt = 0;; ++attempt) {
        std::unique_ptr<Connection> conn;
        const bool reused = !idle.empty();
        if (reused) {
            conn = std::move(idle.back());
            idle.pop_back();
        } else {
            conn = co_await m_impl->connect(url);
        }
        http::response_parser<http::string_body> parser;
        parser.body_limit(m_impl->options.max_response_body);
        // A HEAD reply announces a Content-Length but carries no body.
        parser.skip(verb == http::verb::head);
        const Outcome outcome =
            co_await m_impl->exchange(*conn, message, parser, request.long_poll);
        if (outcome.ec) {
            // A kept-alive connection that the server closed while idle fails before any byte
            // of a response: the request was not processed, so it is safe to send it again.
            if (reused && !outcome.response_started && attempt == 0) {
                continue;
            }
            detail::throw_network(outcome.ec, url, "HTTP exchange with");
        }
        auto& response = parser.get();
        HttpResponse result;
        result.status = response.result_int();
        for (const auto& field : response) {
            result.headers.emplace_back(std::string(field.name_string()),
                                        std::string(field.value()));
        }
        result.body = std::move(response.body());
        if (response.keep_alive()) {
            conn->tcp().expires_never();
            conn->idle_since = std::chrono::system_clock::now();
            m_impl->idle[key].push_back(std::move(conn));
        }
        co_return result;
    }
}

}  // namespace obsync::net
