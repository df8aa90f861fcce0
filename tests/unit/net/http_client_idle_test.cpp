#include <chrono>
#include <thread>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "net/http_client.hpp"
#include "support/run_coro.hpp"
#include "support/scripted_servers.hpp"

namespace obsync::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Two GETs on one client with a pause between them; returns the connections the server saw.
int connections_for_two_requests(std::chrono::milliseconds max_idle,
                                 std::chrono::milliseconds pause) {
    asio::io_context io;
    test::ScriptedHttpServer server(io, [](const test::ScriptedHttpServer::Request&) {
        return test::ScriptedHttpServer::json_response("{}");
    });
    HttpOptions options;
    options.max_idle = max_idle;
    HttpClient http(io.get_executor(), options);
    // Named requests: g++ 12 mishandles a braced temporary inside a co_await expression.
    for (const std::string target : {"/a", "/b"}) {
        HttpRequest request;
        request.url = server.url() + target;
        test::run_coro(io, [&]() -> asio::awaitable<void> {
            const HttpResponse response = co_await http.send(request);
            EXPECT_EQ(response.status, 200u);
        }());
        std::this_thread::sleep_for(pause);
    }
    return server.connections();
}

TEST(HttpClientIdleTest, AConnectionIdleForLessThanTheLimitIsReused) {
    EXPECT_EQ(connections_for_two_requests(10s, 0ms), 1);
}

// A Lambda execution environment frozen between invocations wakes up with connections the
// other side has likely closed: past the limit they are not used again.
TEST(HttpClientIdleTest, AConnectionIdleForLongerThanTheLimitIsReplaced) {
    EXPECT_EQ(connections_for_two_requests(50ms, 200ms), 2);
}

}  // namespace
}  // namespace obsync::net
