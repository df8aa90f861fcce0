#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "util/bytes.hpp"

namespace obsync::net {

struct WsMessage {
    bool binary = false;
    std::string data;  // text, or the frame's bytes
};

struct WsOptions {
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(30)};
    std::size_t max_message_size = std::size_t{64} << 20;
};

// A WebSocket client (RFC 6455) over TCP or TLS for one io_context thread. One read may be
// outstanding at a time; writes may be issued from several coroutines and are serialised.
// Failures throw obsync::Error{network}; a bad URL or an untrusted certificate, Error{config}.
class WebSocketClient {
public:
    static boost::asio::awaitable<std::unique_ptr<WebSocketClient>> connect(
        boost::asio::any_io_executor executor, std::string_view url, WsOptions options);

    WebSocketClient(const WebSocketClient&) = delete;
    WebSocketClient& operator=(const WebSocketClient&) = delete;
    ~WebSocketClient();

    boost::asio::awaitable<WsMessage> read();
    boost::asio::awaitable<void> write_text(std::string_view text);
    boost::asio::awaitable<void> write_binary(ByteView bytes);

    // Closes the connection at once (no close handshake): a pending read or write fails with
    // Error{network} carrying `reason`. Used by watchdogs for silent or stuck peers.
    void abort(std::string reason) noexcept;
    // The close handshake; errors are ignored because the connection is finished either way.
    boost::asio::awaitable<void> close();

    bool is_open() const noexcept;

private:
    struct Impl;
    explicit WebSocketClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

}  // namespace obsync::net
