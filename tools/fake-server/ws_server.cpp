#include "ws_server.hpp"

#include <cstdio>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "sync_ws.hpp"

namespace obsync::fake {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using boost::system::error_code;

// The client uploads in 2 MiB pieces (§4.3); nothing legitimate is larger than one piece.
constexpr std::size_t k_max_message = (2u << 20) + (64u << 10);
// Replies queued for one connection before the server stops reading its requests (a client that
// sends but never reads must not grow the queue without end). Items are small: pull pieces are
// file references, read only when written.
constexpr std::size_t k_max_queued = 4096;
// Broadcasts to a connection whose backlog is this large drop it instead (a stalled listener).
constexpr std::size_t k_max_backlog = 65536;

class Connection;

// State shared by all connections; one instance per WsServer.
class Hub {
public:
    Hub(Store& store, const ServerOptions& options) : m_store(store), m_options(options) {}

    Store& store() const noexcept { return m_store; }
    const ServerOptions& options() const noexcept { return m_options; }

    // A connection receives the broadcasts of a vault from its init until it leaves.
    void join(const std::string& vault_id, Connection* connection);
    void leave(const std::string& vault_id, Connection* connection);
    void broadcast(const std::string& vault_id, const std::vector<std::string>& messages);

    // --drop-after: whether a connection that has just sent its `sent`th frame is dropped.
    bool should_drop(std::uint64_t sent);

private:
    Store& m_store;
    const ServerOptions& m_options;
    // vault id -> connections that completed init on it (§7 WebSocket 5: broadcast targets).
    std::unordered_map<std::string, std::unordered_set<Connection*>> m_vaults;
    bool m_dropped_once = false;  // --drop-after without --drop-repeat drops one connection only
};

class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(Hub& hub, beast::tcp_stream stream)
        : m_hub(hub),
          m_ws(std::move(stream)),
          m_wake(m_ws.get_executor()),
          m_drained(m_ws.get_executor()),
          m_session(hub.store(), hub.options()) {}

    asio::awaitable<void> run(beast::http::request<beast::http::string_body> request) {
        m_ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        m_ws.read_message_max(k_max_message);
        // One frame per message, written at once; Beast would otherwise cut every message into
        // 4 KB frames, one send() each. How the real server frames its messages is not known
        // (protocol §4 says only "text frames" and "binary frames"); the client reassembles
        // fragmented messages either way (tests/unit/net/websocket_client_test.cpp).
        m_ws.auto_fragment(false);
        error_code ec;
        co_await m_ws.async_accept(request, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            co_return;
        }
        asio::co_spawn(m_ws.get_executor(), write_loop(shared_from_this()), asio::detached);
        try {
            co_await read_loop();
        } catch (const std::exception& e) {
            spdlog::warn("ws connection failed: {}", e.what());
        }
        leave();
    }

    void send_text(const std::string& message) {
        if (!m_closed && m_queue.size() >= k_max_backlog) {
            spdlog::warn("ws dropping a connection that does not read its messages");
            m_closed = true;
            beast::get_lowest_layer(m_ws).close();
            return;
        }
        if (!m_closed) {
            OutFrame frame;
            frame.text = message;
            m_queue.push_back({std::move(frame), false});
            m_wake.cancel();
        }
    }

private:
    struct Item {
        OutFrame frame;
        bool close = false;  // send a close frame after everything before it
    };

    asio::awaitable<void> read_loop() {
        for (;;) {
            beast::flat_buffer buffer;
            error_code ec;
            co_await m_ws.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                co_return;
            }
            if (m_close_requested) {
                continue;  // refused init: nothing more is answered
            }
            if (m_hub.options().latency.count() > 0) {
                // Delaying before processing keeps init snapshots and broadcasts consistent.
                asio::steady_timer timer(m_ws.get_executor(), m_hub.options().latency);
                co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                if (m_closed) {
                    co_return;
                }
            }
            const auto data = buffer.cdata();
            const ByteView bytes(static_cast<const std::uint8_t*>(data.data()), data.size());
            SyncOutput out =
                m_ws.got_text() ? m_session.on_text(as_chars(bytes)) : m_session.on_binary(bytes);
            if (out.delay.count() > 0) {
                asio::steady_timer timer(m_ws.get_executor(), out.delay);
                co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                if (m_closed) {
                    co_return;
                }
            }
            deliver(std::move(out));
            // Backpressure: read the next request only once the replies are flowing out.
            while (m_queue.size() > k_max_queued && !m_closed) {
                m_drained.expires_at(asio::steady_timer::time_point::max());
                co_await m_drained.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            }
        }
    }

    void deliver(SyncOutput out) {
        if (!out.log.empty()) {
            spdlog::info("{}", out.log);
        }
        if (m_vault.empty() && !m_session.vault_id().empty()) {
            m_vault = m_session.vault_id();
            m_hub.join(m_vault, this);
        }
        if (!out.broadcast.empty()) {
            m_hub.broadcast(m_vault, out.broadcast);
        }
        if (m_closed) {
            return;
        }
        for (OutFrame& frame : out.reply) {
            m_queue.push_back({std::move(frame), false});
        }
        if (out.close) {
            m_close_requested = true;
            m_queue.push_back({{}, true});
        }
        m_wake.cancel();
    }

    void leave() {
        m_closed = true;
        m_queue.clear();
        m_wake.cancel();
        m_hub.leave(m_vault, this);
    }

    // The only writer of the stream: Beast allows one outstanding write, and pushes from other
    // connections may arrive at any time.
    static asio::awaitable<void> write_loop(std::shared_ptr<Connection> self) {
        try {
            co_await self->drain();
        } catch (const std::exception& e) {
            // A detached coroutine would swallow this; close so the reader ends too.
            spdlog::warn("ws writer failed: {}", e.what());
            beast::get_lowest_layer(self->m_ws).close();
        }
        self->m_closed = true;
        self->m_queue.clear();
        self->m_drained.cancel();
    }

    asio::awaitable<void> drain() {
        std::string piece;
        for (;;) {
            if (m_queue.empty()) {
                if (m_closed) {
                    co_return;
                }
                error_code ignored;
                m_wake.expires_at(asio::steady_timer::time_point::max());
                co_await m_wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
                continue;
            }
            Item item = std::move(m_queue.front());
            m_queue.pop_front();
            error_code ec;
            if (item.close) {
                co_await m_ws.async_close(websocket::close_code::normal,
                                          asio::redirect_error(asio::use_awaitable, ec));
                co_return;
            }
            if (item.frame.kind == OutFrame::Kind::text) {
                m_ws.text(true);
                co_await m_ws.async_write(asio::buffer(item.frame.text),
                                          asio::redirect_error(asio::use_awaitable, ec));
            } else {
                if (!read_piece(item.frame, piece)) {
                    spdlog::warn("ws cannot read {}", item.frame.file.string());
                    beast::get_lowest_layer(m_ws).close();
                    co_return;
                }
                m_ws.binary(true);
                co_await m_ws.async_write(asio::buffer(piece),
                                          asio::redirect_error(asio::use_awaitable, ec));
            }
            if (ec) {
                co_return;
            }
            m_drained.cancel();
            if (m_hub.should_drop(++m_sent)) {
                // --drop-after: an abrupt TCP close right after the Nth frame this connection
                // sent, no close frame: the peer sees the connection vanish mid-reply (for
                // example between the pieces of a pull).
                spdlog::info("ws dropping the connection after {} sent messages", m_sent);
                beast::get_lowest_layer(m_ws).close();
                co_return;
            }
        }
    }

    static bool read_piece(const OutFrame& frame, std::string& out) {
        std::FILE* file = std::fopen(frame.file.c_str(), "rb");
        if (file == nullptr) {
            return false;
        }
        out.resize(frame.length);
        const bool ok = std::fseek(file, static_cast<long>(frame.offset), SEEK_SET) == 0 &&
                        std::fread(out.data(), 1, out.size(), file) == out.size();
        std::fclose(file);
        return ok;
    }

    Hub& m_hub;
    websocket::stream<beast::tcp_stream> m_ws;
    asio::steady_timer m_wake;     // cancelled to wake the writer
    asio::steady_timer m_drained;  // cancelled by the writer after each frame (backpressure)
    std::deque<Item> m_queue;
    SyncSession m_session;
    std::string m_vault;
    bool m_closed = false;
    bool m_close_requested = false;
    std::uint64_t m_sent = 0;  // frames written, for --drop-after
};

void Hub::join(const std::string& vault_id, Connection* connection) {
    m_vaults[vault_id].insert(connection);
}

void Hub::leave(const std::string& vault_id, Connection* connection) {
    const auto it = m_vaults.find(vault_id);
    if (it != m_vaults.end()) {
        it->second.erase(connection);
        if (it->second.empty()) {
            m_vaults.erase(it);
        }
    }
}

void Hub::broadcast(const std::string& vault_id, const std::vector<std::string>& messages) {
    const auto it = m_vaults.find(vault_id);
    if (it == m_vaults.end()) {
        return;
    }
    for (Connection* connection : it->second) {
        for (const std::string& message : messages) {
            connection->send_text(message);
        }
    }
}

bool Hub::should_drop(std::uint64_t sent) {
    if (m_options.drop_after == 0 || sent != m_options.drop_after) {
        return false;
    }
    if (m_dropped_once && !m_options.drop_repeat) {
        return false;
    }
    m_dropped_once = true;
    return true;
}

}  // namespace

struct WsServer::Impl {
    Hub hub;
};

WsServer::WsServer(Store& store, const ServerOptions& options)
    : m_impl(std::make_unique<Impl>(Impl{Hub(store, options)})) {}

WsServer::~WsServer() = default;

asio::awaitable<void> WsServer::run(beast::tcp_stream stream,
                                    beast::http::request<beast::http::string_body> request) {
    auto connection = std::make_shared<Connection>(m_impl->hub, std::move(stream));
    co_await connection->run(std::move(request));
}

}  // namespace obsync::fake
