#include "net/websocket_client.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "net/http_client.hpp"
#include "net/tls.hpp"
#include "net/transport.hpp"
#include "net/url.hpp"
#include "util/error.hpp"

namespace obsync::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

constexpr auto k_nothrow = asio::as_tuple(asio::use_awaitable);

// How much one read asks the socket for. Beast's async_read reads a message in steps of about
// 1.5 KB (one system call each, ~3,000 for an 8 MB attachment); reading frames with read_some
// into a large buffer lets every call take what the socket holds.
constexpr std::size_t k_read_chunk = 256 * 1024;

using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<detail::TlsStream>;

// Serialises writes: Beast allows one outstanding write per stream, but a keep-alive ping and a
// request may want to write at the same moment. Single-threaded, so a flag and a timer suffice.
class WriteLock {
public:
    explicit WriteLock(const asio::any_io_executor& executor)
        : m_wakeup(executor, asio::steady_timer::time_point::max()) {}

    asio::awaitable<void> lock() {
        while (m_locked) {
            co_await m_wakeup.async_wait(k_nothrow);
        }
        m_locked = true;
    }
    void unlock() {
        m_locked = false;
        m_wakeup.cancel_one();
    }

private:
    asio::steady_timer m_wakeup;
    bool m_locked = false;
};

}  // namespace

struct WebSocketClient::Impl {
    Url url;
    std::variant<PlainWs, TlsWs> ws;
    beast::flat_buffer buffer;
    WriteLock write_lock;
    std::optional<std::string> abort_reason;

    Impl(Url u, std::variant<PlainWs, TlsWs> stream, const asio::any_io_executor& executor)
        : url(std::move(u)), ws(std::move(stream)), write_lock(executor) {}

    template <typename F>
    decltype(auto) visit(F&& f) {
        return std::visit(std::forward<F>(f), ws);
    }

    [[noreturn]] void fail(const boost::system::error_code& ec, std::string_view during) {
        if (abort_reason) {
            throw Error(ErrorKind::network, *abort_reason);
        }
        detail::throw_network(ec, url, during);
    }
};

WebSocketClient::WebSocketClient(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
WebSocketClient::~WebSocketClient() = default;

asio::awaitable<std::unique_ptr<WebSocketClient>> WebSocketClient::connect(
    asio::any_io_executor executor, std::string_view url_text, WsOptions options) {
    const Url url = Url::parse(url_text);
    if (url.scheme != "ws" && url.scheme != "wss") {
        throw Error(ErrorKind::config, "not a WebSocket URL: " + std::string(url_text));
    }
    // connect_timeout bounds the whole connect (TCP, TLS, upgrade), not each step: a caller's
    // deadline passed as a timeout must hold.
    const auto until = std::chrono::steady_clock::now() + options.connect_timeout;
    const auto left = [&until] {
        return std::max(
            std::chrono::milliseconds(1),
            std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()));
    };
    beast::tcp_stream tcp(executor);
    co_await detail::connect_tcp(tcp, url, options.connect_timeout);

    std::unique_ptr<Impl> impl;
    if (url.secure()) {
        detail::TlsStream tls(std::move(tcp), detail::client_tls_context());
        co_await detail::tls_handshake(tls, url, left());
        impl = std::make_unique<Impl>(url, TlsWs(std::move(tls)), executor);
    } else {
        impl = std::make_unique<Impl>(url, PlainWs(std::move(tcp)), executor);
    }

    const std::string host = url.authority();
    co_await impl->visit([&](auto& ws) -> asio::awaitable<void> {
        beast::get_lowest_layer(ws).expires_after(left());
        ws.set_option(websocket::stream_base::decorator([](websocket::request_type& request) {
            request.set(beast::http::field::user_agent, user_agent());
        }));
        ws.read_message_max(options.max_message_size);
        auto [ec] = co_await ws.async_handshake(host, url.target, k_nothrow);
        if (ec) {
            detail::throw_network(ec, url, "WebSocket handshake with");
        }
        // From here on, liveness is the protocol layer's business (application pings and
        // silence limits), so the transport timeout is switched off.
        beast::get_lowest_layer(ws).expires_never();
        ws.set_option(websocket::stream_base::timeout{options.connect_timeout,
                                                      websocket::stream_base::none(), false});
    });
    co_return std::unique_ptr<WebSocketClient>(new WebSocketClient(std::move(impl)));
}

asio::awaitable<WsMessage> WebSocketClient::read() {
    m_impl->buffer.clear();
    WsMessage message;
    boost::system::error_code ec;
    co_await m_impl->visit([&](auto& ws) -> asio::awaitable<void> {
        // Beast still enforces read_message_max (message_too_big) on every read_some.
        do {
            const asio::mutable_buffer space = m_impl->buffer.prepare(k_read_chunk);
            auto [rec, n] = co_await ws.async_read_some(space, k_nothrow);
            m_impl->buffer.commit(n);
            if (rec) {
                ec = rec;
                co_return;
            }
        } while (!ws.is_message_done());
        message.binary = ws.got_binary();
    });
    if (ec) {
        m_impl->fail(ec, ec == websocket::error::closed ? "connection closed by" : "reading from");
    }
    message.data = beast::buffers_to_string(m_impl->buffer.data());
    co_return message;
}

asio::awaitable<void> WebSocketClient::write_text(std::string_view text) {
    co_await m_impl->write_lock.lock();
    boost::system::error_code ec;
    co_await m_impl->visit([&](auto& ws) -> asio::awaitable<void> {
        ws.text(true);
        auto [wec, n] = co_await ws.async_write(asio::buffer(text.data(), text.size()), k_nothrow);
        ec = wec;
    });
    m_impl->write_lock.unlock();
    if (ec) {
        m_impl->fail(ec, "writing to");
    }
}

asio::awaitable<void> WebSocketClient::write_binary(ByteView bytes) {
    co_await m_impl->write_lock.lock();
    boost::system::error_code ec;
    co_await m_impl->visit([&](auto& ws) -> asio::awaitable<void> {
        ws.binary(true);
        auto [wec, n] =
            co_await ws.async_write(asio::buffer(bytes.data(), bytes.size()), k_nothrow);
        ec = wec;
    });
    m_impl->write_lock.unlock();
    if (ec) {
        m_impl->fail(ec, "writing to");
    }
}

void WebSocketClient::abort(std::string reason) noexcept {
    if (!m_impl->abort_reason) {
        m_impl->abort_reason = std::move(reason);
    }
    // Closing the socket (not the stream) makes every pending operation complete with an error.
    boost::system::error_code ignored;
    if (auto* plain = std::get_if<PlainWs>(&m_impl->ws)) {
        beast::get_lowest_layer(*plain).socket().close(ignored);
    } else if (auto* tls = std::get_if<TlsWs>(&m_impl->ws)) {
        beast::get_lowest_layer(*tls).socket().close(ignored);
    }
}

asio::awaitable<void> WebSocketClient::close() {
    if (!is_open()) {
        co_return;
    }
    co_await m_impl->visit([&](auto& ws) -> asio::awaitable<void> {
        beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(5));
        // No status code, as the official client closes (the server sees 1005).
        co_await ws.async_close(websocket::close_reason{}, k_nothrow);
    });
}

bool WebSocketClient::is_open() const noexcept {
    if (const auto* plain = std::get_if<PlainWs>(&m_impl->ws)) {
        return plain->is_open();
    }
    return std::get_if<TlsWs>(&m_impl->ws)->is_open();
}

}  // namespace obsync::net
