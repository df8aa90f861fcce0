// The REST rules of protocol §1.1 and the HTTP client underneath, against a scripted loopback
// server (the faithful fake server is exercised in tests/integration).
#include "obsidian/api.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "net/http_client.hpp"
#include "support/run_coro.hpp"
#include "support/scripted_servers.hpp"
#include "util/error.hpp"

namespace obsync::obsidian {
namespace {

namespace asio = boost::asio;
using test::ScriptedHttpServer;
using namespace std::chrono_literals;

class ApiTest : public ::testing::Test {
public:
    asio::io_context io;
    net::HttpOptions http_options = [] {
        net::HttpOptions o;
        o.request_timeout = 500ms;
        return o;
    }();

    // Runs one signin against a server that answers with `response`; returns the error kind.
    std::optional<ErrorKind> signin_error(const std::string& response) {
        ScriptedHttpServer server(io, [&](const auto&) { return response; });
        net::HttpClient http(io.get_executor(), http_options);
        Api api(http, server.url());
        std::optional<ErrorKind> kind;
        test::run_coro(io, [&]() -> asio::awaitable<void> {
            try {
                co_await api.signin("alice@example.com", "hunter2", "");
            } catch (const Error& e) {
                kind = e.kind();
                EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos);
            }
        }());
        return kind;
    }
};

TEST_F(ApiTest, SigninSendsTheProtocolFieldsAndReadsTheToken) {
    ScriptedHttpServer::Request seen;
    ScriptedHttpServer server(io, [&](const ScriptedHttpServer::Request& r) {
        seen = r;
        return ScriptedHttpServer::json_response(
            R"({"token":"t0k","name":"Alice","email":"alice@example.com"})");
    });
    net::HttpClient http(io.get_executor(), http_options);
    Api api(http, server.url() + "/");
    test::run_coro(io, [&]() -> asio::awaitable<void> {
        const Account account = co_await api.signin("alice@example.com", "hunter2", "123456");
        EXPECT_EQ(account.token, "t0k");
        EXPECT_EQ(account.name, "Alice");
    }());
    EXPECT_EQ(seen.method, "POST");
    EXPECT_EQ(seen.target, "/user/signin");
    const auto body = boost::json::parse(seen.body).as_object();
    EXPECT_EQ(body.at("email").as_string(), "alice@example.com");
    EXPECT_EQ(body.at("password").as_string(), "hunter2");
    EXPECT_EQ(body.at("mfa").as_string(), "123456");
    EXPECT_NE(seen.headers.find("Content-Type: application/json"), std::string::npos);
    EXPECT_NE(seen.headers.find("User-Agent: obsync/"), std::string::npos);
}

TEST_F(ApiTest, AnyErrorKeyIsAFailure) {
    EXPECT_EQ(signin_error(ScriptedHttpServer::json_response(R"({"error":"Login failed"})")),
              ErrorKind::auth);
    // §1.1: the key's presence is what counts, even with null or "".
    EXPECT_EQ(signin_error(ScriptedHttpServer::json_response(R"({"token":"x","error":null})")),
              ErrorKind::auth);
    EXPECT_EQ(signin_error(ScriptedHttpServer::json_response(R"({"token":"x","error":""})")),
              ErrorKind::auth);
}

TEST_F(ApiTest, TwoFactorErrorsHaveTheirOwnKind) {
    EXPECT_EQ(signin_error(
                  ScriptedHttpServer::json_response(R"({"error":"Please enter your 2FA code."})")),
              ErrorKind::mfa);
    EXPECT_EQ(
        signin_error(ScriptedHttpServer::json_response(R"({"error":"2FA code is incorrect."})")),
        ErrorKind::mfa);
}

TEST_F(ApiTest, HttpAndBodyFailuresAreTyped) {
    EXPECT_EQ(signin_error(ScriptedHttpServer::json_response("{}", 500)), ErrorKind::network);
    EXPECT_EQ(signin_error(ScriptedHttpServer::json_response("{}", 429)), ErrorKind::throttled);
    EXPECT_EQ(signin_error(ScriptedHttpServer::json_response("{}", 404)), ErrorKind::protocol);
    EXPECT_EQ(signin_error(ScriptedHttpServer::json_response("<html>")), ErrorKind::protocol);
    EXPECT_EQ(signin_error(ScriptedHttpServer::json_response("[1,2]")), ErrorKind::protocol);
    EXPECT_EQ(signin_error(ScriptedHttpServer::json_response("{}")),
              ErrorKind::protocol);  // no token
    EXPECT_EQ(signin_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc"),
              ErrorKind::network);  // a body that never completes: the read times out
    EXPECT_EQ(signin_error("DROP"), ErrorKind::network);
    EXPECT_EQ(signin_error("garbage\r\n\r\n"), ErrorKind::network);
}

TEST_F(ApiTest, SilentServerTimesOut) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(signin_error(""), ErrorKind::network);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(ApiTest, RefusedConnectionIsANetworkError) {
    std::uint16_t port = 0;
    {
        ScriptedHttpServer closed(io, [](const auto&) { return std::string(); });
        port = closed.port();
    }
    net::HttpClient http(io.get_executor(), http_options);
    Api api(http, "http://127.0.0.1:" + std::to_string(port));
    test::run_coro(io, [&]() -> asio::awaitable<void> {
        try {
            co_await api.user_info("tok");
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::network);
            EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
        }
    }());
}

TEST_F(ApiTest, ReusesKeptAliveConnectionsAndRetriesStaleOnes) {
    int requests = 0;
    ScriptedHttpServer server(io, [&](const auto&) {
        ++requests;
        // The second reply closes the connection without saying so in advance, as a server
        // that times out idle connections does.
        if (requests == 2) {
            return ScriptedHttpServer::json_response(R"({"name":"A","email":"a@x"})") + "DROPNEXT";
        }
        return ScriptedHttpServer::json_response(R"({"name":"A","email":"a@x"})");
    });
    net::HttpClient http(io.get_executor(), http_options);
    Api api(http, server.url());
    test::run_coro(io, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            const UserInfo info = co_await api.user_info("tok");
            EXPECT_EQ(info.name, "A");
        }
    }());
    // Requests 1 and 2 share a connection; the third first tries that (now dead) connection,
    // then transparently reconnects and is sent exactly once.
    EXPECT_EQ(requests, 3);
    EXPECT_EQ(server.connections(), 2);
}

TEST_F(ApiTest, ListsOwnAndSharedVaults) {
    ScriptedHttpServer server(io, [&](const auto& r) {
        EXPECT_EQ(r.target, "/vault/list");
        EXPECT_NE(r.body.find(R"("supported_encryption_version":3)"), std::string::npos);
        return ScriptedHttpServer::json_response(R"({
            "vaults":[{"id":"v1","name":"Mine","host":"127.0.0.1:1","salt":"s1","encryption_version":3,"region":"eu"}],
            "shared":[{"id":"v2","name":"Theirs","host":"sync-2.obsidian.md","salt":"s2","encryption_version":3,"password":"managed-pw"}]})");
    });
    net::HttpClient http(io.get_executor(), http_options);
    Api api(http, server.url());
    test::run_coro(io, [&]() -> asio::awaitable<void> {
        const auto vaults = co_await api.list_vaults("tok");
        EXPECT_EQ(vaults.size(), 2U);
        EXPECT_FALSE(vaults[0].shared);
        EXPECT_FALSE(vaults[0].managed());
        EXPECT_TRUE(vaults[1].shared);
        EXPECT_EQ(vaults[1].managed_password, "managed-pw");
        EXPECT_EQ(&find_vault(vaults, "Theirs"), &vaults[1]);
        EXPECT_EQ(&find_vault(vaults, "v1"), &vaults[0]);
    }());
}

}  // namespace
}  // namespace obsync::obsidian
