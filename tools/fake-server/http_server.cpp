#include "http_server.hpp"

#include <chrono>
#include <csignal>
#include <iostream>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

#include "rest_api.hpp"
#include "store.hpp"
#include "ws_server.hpp"

namespace obsync::fake {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using boost::system::error_code;

constexpr std::size_t k_max_request_body = 1u << 20;  // REST bodies are a few hundred bytes
constexpr auto k_idle_timeout = std::chrono::seconds(120);

// Plain data: what every HTTP session needs.
struct Server {
    const ServerOptions& options;
    RestApi& rest;
    WsServer& ws;
};

http::response<http::string_body> respond(const http::request<http::string_body>& request,
                                          Server& server) {
    http::response<http::string_body> response{http::status::ok, request.version()};
    response.set(http::field::server, "obsync-fake-server");
    response.keep_alive(request.keep_alive());
    // Harmless for Node's fetch, which ignores the preflight answer (§1.1), and lets a browser
    // page talk to the server too.
    response.set(http::field::access_control_allow_origin, "*");
    response.set(http::field::access_control_allow_headers, "*");
    response.set(http::field::access_control_allow_methods, "POST, OPTIONS");
    if (request.method() == http::verb::options) {
        response.result(http::status::no_content);
        spdlog::info("OPTIONS {}", std::string(request.target()));
        return response;
    }
    // §1.1: always 200 with a JSON body; failures are {"error": ...}.
    const RestReply reply = server.rest.handle(request.target(), request.body());
    spdlog::info("{} {} -> {}", std::string(request.method_string()), std::string(request.target()),
                 reply.error.empty() ? "ok" : reply.error);
    response.set(http::field::content_type, "application/json");
    response.body() = reply.body;
    response.prepare_payload();
    return response;
}

asio::awaitable<void> http_session(tcp::socket socket, Server& server) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(k_max_request_body);
        stream.expires_after(k_idle_timeout);
        error_code ec;
        co_await http::async_read(stream, buffer, parser,
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            break;  // the client went away, or sent something that is not HTTP
        }
        http::request<http::string_body> request = parser.release();
        if (beast::websocket::is_upgrade(request)) {
            // One port for both: the vault host handed out is the API's own port.
            stream.expires_never();
            co_await server.ws.run(std::move(stream), std::move(request));
            co_return;
        }
        http::response<http::string_body> response = respond(request, server);
        if (server.options.latency.count() > 0) {
            asio::steady_timer timer(stream.get_executor(), server.options.latency);
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
        if (ec || !response.keep_alive()) {
            break;
        }
    }
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> guarded_session(tcp::socket socket, Server& server) {
    try {
        co_await http_session(std::move(socket), server);
    } catch (const std::exception& e) {
        spdlog::warn("connection failed: {}", e.what());
    }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, Server& server) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::operation_aborted) {
            co_return;
        }
        if (ec) {
            // Out of file descriptors, typically: back off instead of spinning.
            spdlog::warn("accept failed: {}", ec.message());
            asio::steady_timer timer(acceptor.get_executor(), std::chrono::milliseconds(100));
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        // Replies often go out as two small writes (echo, then ack): without NODELAY, Nagle and
        // the peer's delayed ACK would add ~40 ms to each request.
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        asio::co_spawn(acceptor.get_executor(), guarded_session(std::move(socket), server),
                       asio::detached);
    }
}

}  // namespace

int run_server(Store& store, const ServerOptions& options) {
    std::optional<RestApi> rest;  // needs the port, known once the acceptor is bound
    WsServer ws(store, options);
    // Declared after everything the sessions refer to: destroying the io_context first destroys
    // the suspended sessions while the store and the servers are still alive.
    asio::io_context io(1);
    // Loopback only, always: this server has no authentication worth the name.
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), options.port));
    const std::string host = "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
    rest.emplace(store, options, host);
    Server server{options, *rest, ws};

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const error_code&, int) { io.stop(); });
    bool failed = false;
    asio::co_spawn(io, accept_loop(acceptor, server), [&](const std::exception_ptr& error) {
        // Never keep running without accepting: tests would hang instead of failing.
        if (error) {
            spdlog::error("the accept loop failed; stopping");
            failed = true;
            io.stop();
        }
    });

    std::cout << R"({"api":"http://)" << host << R"(","host":")" << host << R"("})" << std::endl;
    spdlog::info("listening on {}", host);
    io.run();
    return failed ? 1 : 0;
}

}  // namespace obsync::fake
