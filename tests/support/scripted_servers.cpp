#include "support/scripted_servers.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <openssl/ssl.h>

namespace obsync::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr auto k_nothrow = asio::as_tuple(asio::use_awaitable);

// Accepts until the server stops, handing each connection to Impl::serve_connection.
template <typename Impl>
asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    for (;;) {
        auto [ec, socket] = co_await self->acceptor.async_accept(k_nothrow);
        if (ec || self->stopped) {
            co_return;
        }
        ++self->connections;
        asio::co_spawn(self->acceptor.get_executor(),
                       Impl::serve_connection(self, std::move(socket)), asio::detached);
    }
}

}  // namespace

struct ScriptedWsServer::Impl : std::enable_shared_from_this<Impl> {
    tcp::acceptor acceptor;
    Handler handler;
    int connections = 0;
    bool stopped = false;

    Impl(asio::io_context& io, Handler h)
        : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
          handler(std::move(h)) {}

    static asio::awaitable<void> serve_connection(std::shared_ptr<Impl> self, tcp::socket socket) {
        websocket::stream<beast::tcp_stream> ws(std::move(socket));
        auto [aec] = co_await ws.async_accept(k_nothrow);
        if (aec) {
            co_return;
        }
        beast::flat_buffer buffer;
        for (;;) {
            buffer.clear();
            auto [rec, n] = co_await ws.async_read(buffer, k_nothrow);
            if (rec || self->stopped) {
                co_return;
            }
            const std::string message = beast::buffers_to_string(buffer.data());
            for (const WsAction& action : self->handler(message, ws.got_binary())) {
                switch (action.kind) {
                    case WsAction::Kind::text:
                    case WsAction::Kind::binary: {
                        ws.binary(action.kind == WsAction::Kind::binary);
                        auto [wec, w] =
                            co_await ws.async_write(asio::buffer(action.data), k_nothrow);
                        if (wec) {
                            co_return;
                        }
                        break;
                    }
                    case WsAction::Kind::drop:
                        beast::get_lowest_layer(ws).close();
                        co_return;
                    case WsAction::Kind::delay: {
                        asio::steady_timer timer(ws.get_executor(), action.delay);
                        co_await timer.async_wait(k_nothrow);
                        break;
                    }
                }
            }
        }
    }
};

ScriptedWsServer::ScriptedWsServer(asio::io_context& io, Handler handler)
    : m_impl(std::make_shared<Impl>(io, std::move(handler))) {
    asio::co_spawn(io, accept_loop(m_impl), asio::detached);
}

ScriptedWsServer::~ScriptedWsServer() {
    m_impl->stopped = true;
    boost::system::error_code ignored;
    m_impl->acceptor.close(ignored);
}

std::uint16_t ScriptedWsServer::port() const {
    return m_impl->acceptor.local_endpoint().port();
}
int ScriptedWsServer::connections() const {
    return m_impl->connections;
}

struct ScriptedHttpServer::Impl : std::enable_shared_from_this<Impl> {
    tcp::acceptor acceptor;
    Handler handler;
    std::optional<asio::ssl::context> tls;
    std::string last_sni;
    int connections = 0;
    bool stopped = false;

    Impl(asio::io_context& io, Handler h, const std::optional<Tls>& files)
        : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
          handler(std::move(h)) {
        if (files) {
            tls.emplace(asio::ssl::context::tls_server);
            tls->use_certificate_chain_file(files->certificate_chain_file);
            tls->use_private_key_file(files->private_key_file, asio::ssl::context::pem);
        }
    }

    template <typename Stream>
    static asio::awaitable<void> serve(std::shared_ptr<Impl> self, Stream& socket) {
        asio::streambuf buffer;
        for (;;) {
            auto [hec, head_size] =
                co_await asio::async_read_until(socket, buffer, "\r\n\r\n", k_nothrow);
            if (hec || self->stopped) {
                co_return;
            }
            std::string head(
                asio::buffers_begin(buffer.data()),
                asio::buffers_begin(buffer.data()) + static_cast<std::ptrdiff_t>(head_size));
            buffer.consume(head_size);
            Request request;
            request.method = head.substr(0, head.find(' '));
            const auto target_start = head.find(' ') + 1;
            request.target = head.substr(target_start, head.find(' ', target_start) - target_start);
            request.headers = head;
            std::size_t length = 0;
            for (const char* name : {"Content-Length: ", "content-length: "}) {
                const auto pos = head.find(name);
                if (pos != std::string::npos) {
                    length = std::stoul(head.substr(pos + std::string(name).size()));
                }
            }
            while (buffer.size() < length) {
                auto [rec, n] = co_await socket.async_read_some(
                    buffer.prepare(length - buffer.size()), k_nothrow);
                if (rec) {
                    co_return;
                }
                buffer.commit(n);
            }
            request.body.assign(
                asio::buffers_begin(buffer.data()),
                asio::buffers_begin(buffer.data()) + static_cast<std::ptrdiff_t>(length));
            buffer.consume(length);
            std::string response = self->handler(request);
            bool close_after = false;
            if (response.ends_with("DROPNEXT")) {
                response.resize(response.size() - 8);
                close_after = true;
            }
            if (response == "DROP") {
                co_return;
            }
            if (response.starts_with("DELAY ")) {
                const auto line_end = response.find('\n');
                const auto delay =
                    std::chrono::milliseconds(std::stol(response.substr(6, line_end)));
                response.erase(0, line_end + 1);
                asio::steady_timer timer(socket.get_executor(), delay);
                co_await timer.async_wait(k_nothrow);
            }
            if (response.empty()) {
                // Silent peer: keep the socket open until the client gives up.
                asio::steady_timer timer(socket.get_executor(), std::chrono::seconds(60));
                co_await timer.async_wait(k_nothrow);
                co_return;
            }
            auto [wec, w] = co_await asio::async_write(socket, asio::buffer(response), k_nothrow);
            if (wec || close_after || response.find("Connection: close") != std::string::npos) {
                co_return;
            }
        }
    }

    static asio::awaitable<void> serve_connection(std::shared_ptr<Impl> self, tcp::socket socket) {
        if (!self->tls) {
            co_await serve(self, socket);
            co_return;
        }
        asio::ssl::stream<tcp::socket> stream(std::move(socket), *self->tls);
        auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, k_nothrow);
        const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
        self->last_sni = sni != nullptr ? sni : "";
        if (!ec) {
            co_await serve(self, stream);
        }
    }
};

ScriptedHttpServer::ScriptedHttpServer(asio::io_context& io, Handler handler,
                                       std::optional<Tls> tls)
    : m_impl(std::make_shared<Impl>(io, std::move(handler), tls)) {
    asio::co_spawn(io, accept_loop(m_impl), asio::detached);
}

ScriptedHttpServer::~ScriptedHttpServer() {
    m_impl->stopped = true;
    boost::system::error_code ignored;
    m_impl->acceptor.close(ignored);
}

std::uint16_t ScriptedHttpServer::port() const {
    return m_impl->acceptor.local_endpoint().port();
}
int ScriptedHttpServer::connections() const {
    return m_impl->connections;
}
std::string ScriptedHttpServer::last_sni() const {
    return m_impl->last_sni;
}

std::string ScriptedHttpServer::json_response(const std::string& body, unsigned status,
                                              bool keep_alive) {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
           "Content-Length: " + std::to_string(body.size()) + "\r\n" +
           (keep_alive ? "" : "Connection: close\r\n") + "\r\n" + body;
}

}  // namespace obsync::test
