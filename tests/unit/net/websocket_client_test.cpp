// WebSocketClient::read() assembles a message from its frames in large reads. The scripted server
// is Beast with its defaults, which cuts every message into 4 KB frames: the client must put them
// back together exactly and still enforce the message size limit.
#include "net/websocket_client.hpp"

#include <string>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "support/run_coro.hpp"
#include "support/scripted_servers.hpp"
#include "support/test_util.hpp"
#include "util/error.hpp"

namespace obsync::net {
namespace {

namespace asio = boost::asio;
using test::WsAction;

std::string pattern(std::size_t size) {
    std::string out(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        out[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
    }
    return out;
}

TEST(WebSocketClientTest, AssemblesFragmentedMessagesExactlyAndKeepsTheirBoundaries) {
    asio::io_context io;
    const std::string big = pattern(3 * 1024 * 1024 + 17);  // ~770 frames, several large reads
    const std::string text(10'000, 'x');
    test::ScriptedWsServer server(io, [&](const std::string&, bool) {
        return std::vector<WsAction>{WsAction::binary(big), WsAction::text(text),
                                     WsAction::binary("tail")};
    });
    test::run_coro(io, [&]() -> asio::awaitable<void> {
        auto ws = co_await WebSocketClient::connect(io.get_executor(), "ws://" + server.host(),
                                                    WsOptions{});
        co_await ws->write_text("go");
        const WsMessage first = co_await ws->read();
        EXPECT_TRUE(first.binary);
        EXPECT_EQ(first.data.size(), big.size());
        EXPECT_TRUE(first.data == big);
        const WsMessage second = co_await ws->read();
        EXPECT_FALSE(second.binary);
        EXPECT_EQ(second.data, text);
        const WsMessage third = co_await ws->read();
        EXPECT_TRUE(third.binary);
        EXPECT_EQ(third.data, "tail");
        co_await ws->close();
    }());
}

TEST(WebSocketClientTest, AFragmentedMessageOverTheLimitIsANetworkError) {
    asio::io_context io;
    test::ScriptedWsServer server(io, [&](const std::string&, bool) {
        return std::vector<WsAction>{WsAction::binary(pattern(100'000))};
    });
    ErrorKind kind{};
    bool thrown = false;
    test::run_coro(io, [&]() -> asio::awaitable<void> {
        WsOptions options;
        options.max_message_size = 64 * 1024;
        auto ws =
            co_await WebSocketClient::connect(io.get_executor(), "ws://" + server.host(), options);
        co_await ws->write_text("go");
        try {
            co_await ws->read();
        } catch (const Error& e) {
            kind = e.kind();
            thrown = true;
        }
    }());
    EXPECT_TRUE(thrown);
    EXPECT_EQ(kind, ErrorKind::network);
}

}  // namespace
}  // namespace obsync::net
