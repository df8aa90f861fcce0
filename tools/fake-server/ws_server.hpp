#pragma once

#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "server_options.hpp"
#include "store.hpp"

namespace obsync::fake {

// The WebSocket side of the server: accepts upgraded HTTP connections, runs one SyncSession per
// connection, and fans push records out to every connection of a vault. Everything runs on one
// single-threaded io_context, so the shared state needs no locks.
class WsServer {
public:
    WsServer(Store& store, const ServerOptions& options);
    WsServer(const WsServer&) = delete;
    WsServer& operator=(const WsServer&) = delete;
    ~WsServer();

    // Completes the upgrade of `request` and serves the connection until it closes.
    boost::asio::awaitable<void> run(
        boost::beast::tcp_stream stream,
        boost::beast::http::request<boost::beast::http::string_body> request);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace obsync::fake
