// The Lambda Runtime API client against a scripted loopback server standing in for Lambda.
#include "lambda/runtime_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "net/http_client.hpp"
#include "support/run_coro.hpp"
#include "support/scripted_servers.hpp"
#include "util/error.hpp"

namespace obsync::lambda {
namespace {

namespace asio = boost::asio;
using test::ScriptedHttpServer;
using namespace std::chrono_literals;

// An answer to GET /next with the given extra header lines ("Name: value\r\n" each).
std::string invocation_response(const std::string& headers, const std::string& payload) {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + headers +
           "Content-Length: " + std::to_string(payload.size()) + "\r\n\r\n" + payload;
}

const std::string k_full_headers =
    "Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n"
    "Lambda-Runtime-Deadline-Ms: 1542409706888\r\n"
    "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:123456789012:function:obsync\r\n"
    "Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419\r\n";

const std::string k_accepted = ScriptedHttpServer::json_response(R"({"status":"OK"})", 202);

class RuntimeClientTest : public ::testing::Test {
public:
    asio::io_context io;
    // Short, so that a request that honours it fails fast where a test expects a wait.
    net::HttpOptions options = [] {
        net::HttpOptions o;
        o.request_timeout = 200ms;
        return o;
    }();
    std::vector<ScriptedHttpServer::Request> seen;

    ScriptedHttpServer server_answering(std::string answer) {
        return ScriptedHttpServer(io, [this, answer](const ScriptedHttpServer::Request& r) {
            seen.push_back(r);
            return answer;
        });
    }

    static std::string api(const ScriptedHttpServer& server) {
        return "127.0.0.1:" + std::to_string(server.port());
    }

    // Runs `call` on a client of `server`; returns the Error it threw.
    template <typename Call>
    std::optional<Error> error_of(ScriptedHttpServer& server, Call call) {
        net::HttpClient http(io.get_executor(), options);
        RuntimeClient client(http, api(server));
        std::optional<Error> error;
        test::run_coro(io, [&]() -> asio::awaitable<void> {
            try {
                co_await call(client);
            } catch (const Error& e) {
                error = e;
            }
        }());
        return error;
    }
};

TEST_F(RuntimeClientTest, NextReadsTheInvocationFromTheHeadersAndBody) {
    auto server = server_answering(invocation_response(k_full_headers, R"({"vault_id":"Notes"})"));
    net::HttpClient http(io.get_executor(), options);
    RuntimeClient client(http, api(server));
    const Invocation invocation = test::run_coro_value(io, client.next());
    EXPECT_EQ(invocation.request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    EXPECT_EQ(invocation.deadline, 1542409706888);
    EXPECT_EQ(invocation.function_arn, "arn:aws:lambda:us-east-2:123456789012:function:obsync");
    EXPECT_EQ(invocation.trace_id,
              "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419");
    EXPECT_EQ(invocation.payload, R"({"vault_id":"Notes"})");
    ASSERT_EQ(seen.size(), 1U);
    EXPECT_EQ(seen[0].method, "GET");
    EXPECT_EQ(seen[0].target, "/2018-06-01/runtime/invocation/next");
}

TEST_F(RuntimeClientTest, OptionalHeadersMayBeMissing) {
    auto server = server_answering(invocation_response(
        "Lambda-Runtime-Aws-Request-Id: r1\r\nLambda-Runtime-Deadline-Ms: 1700000000000\r\n",
        "{}"));
    net::HttpClient http(io.get_executor(), options);
    RuntimeClient client(http, api(server));
    const Invocation invocation = test::run_coro_value(io, client.next());
    EXPECT_EQ(invocation.request_id, "r1");
    EXPECT_EQ(invocation.function_arn, "");
    EXPECT_EQ(invocation.trace_id, "");
}

TEST_F(RuntimeClientTest, NextWaitsLongerThanTheRequestTimeout) {
    // Lambda answers /next when an event comes: much later than any request timeout.
    auto server = server_answering("DELAY 700\n" + invocation_response(k_full_headers, "{}"));
    net::HttpClient http(io.get_executor(), options);
    RuntimeClient client(http, api(server));
    const auto started = std::chrono::steady_clock::now();
    const Invocation invocation = test::run_coro_value(io, client.next());
    EXPECT_GE(std::chrono::steady_clock::now() - started, 700ms);
    EXPECT_EQ(invocation.request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
}

TEST_F(RuntimeClientTest, PostsKeepTheRequestTimeout) {
    // The counterpart of the test above: the same delay on a post is a timeout.
    auto server = server_answering("DELAY 700\n" + k_accepted);
    const auto error =
        error_of(server, [](RuntimeClient& c) { return c.post_response("r1", "{}"); });
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind(), ErrorKind::network);
}

TEST_F(RuntimeClientTest, AMissingRequestIdIsAClearError) {
    auto server = server_answering(
        invocation_response("Lambda-Runtime-Deadline-Ms: 1700000000000\r\n", "{}"));
    const auto error = error_of(server, [](RuntimeClient& c) { return c.next(); });
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind(), ErrorKind::protocol);
    EXPECT_NE(std::string(error->what()).find("Lambda-Runtime-Aws-Request-Id"), std::string::npos);
}

TEST_F(RuntimeClientTest, AMalformedDeadlineIsAClearError) {
    for (const std::string deadline : {"", "soon", "17000000000x", "-5"}) {
        seen.clear();
        auto server = server_answering(invocation_response(
            "Lambda-Runtime-Aws-Request-Id: r1\r\nLambda-Runtime-Deadline-Ms: " + deadline + "\r\n",
            "{}"));
        const auto error = error_of(server, [](RuntimeClient& c) { return c.next(); });
        ASSERT_TRUE(error) << deadline;
        EXPECT_EQ(error->kind(), ErrorKind::protocol);
        EXPECT_NE(std::string(error->what()).find("Lambda-Runtime-Deadline-Ms"), std::string::npos);
    }
}

TEST_F(RuntimeClientTest, ANon2xxAnswerIsANetworkErrorWithItsStatus) {
    auto server = server_answering(ScriptedHttpServer::json_response(
        R"({"errorMessage":"boom","errorType":"ServiceException"})", 500));
    const auto error = error_of(server, [](RuntimeClient& c) { return c.next(); });
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind(), ErrorKind::network);
    const std::string message = error->what();
    EXPECT_NE(message.find("HTTP 500"), std::string::npos) << message;
    EXPECT_NE(message.find("ServiceException"), std::string::npos) << message;
}

TEST_F(RuntimeClientTest, ATooLargeResponseSaysSo) {
    auto server = server_answering(ScriptedHttpServer::json_response(
        R"({"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).",)"
        R"("errorType":"RequestEntityTooLarge"})",
        413));
    const auto error = error_of(
        server, [](RuntimeClient& c) { return c.post_response("r1", std::string(100, 'x')); });
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind(), ErrorKind::network);
    const std::string message = error->what();
    EXPECT_NE(message.find("413"), std::string::npos) << message;
    EXPECT_NE(message.find("larger than"), std::string::npos) << message;
}

TEST_F(RuntimeClientTest, PostResponseSendsTheBodyToTheInvocation) {
    auto server = server_answering(k_accepted);
    EXPECT_FALSE(error_of(server, [](RuntimeClient& c) {
        return c.post_response("8476a536-e9f4", R"({"success":true})");
    }));
    ASSERT_EQ(seen.size(), 1U);
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].target, "/2018-06-01/runtime/invocation/8476a536-e9f4/response");
    EXPECT_EQ(seen[0].body, R"({"success":true})");
}

TEST_F(RuntimeClientTest, PostErrorSendsTheErrorDocumentAndHeader) {
    auto server = server_answering(k_accepted);
    EXPECT_FALSE(error_of(server, [](RuntimeClient& c) {
        return c.post_error("r-1", "Obsync.Retryable.network", "Notes: connection reset");
    }));
    ASSERT_EQ(seen.size(), 1U);
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].target, "/2018-06-01/runtime/invocation/r-1/error");
    EXPECT_NE(
        seen[0].headers.find("Lambda-Runtime-Function-Error-Type: Obsync.Retryable.network\r\n"),
        std::string::npos)
        << seen[0].headers;
    const auto body = boost::json::parse(seen[0].body).as_object();
    EXPECT_EQ(body.at("errorMessage").as_string(), "Notes: connection reset");
    EXPECT_EQ(body.at("errorType").as_string(), "Obsync.Retryable.network");
    EXPECT_TRUE(body.at("stackTrace").as_array().empty());
    EXPECT_EQ(body.size(), 3U);
}

TEST_F(RuntimeClientTest, PostInitErrorGoesToInitError) {
    auto server = server_answering(k_accepted);
    EXPECT_FALSE(error_of(server, [](RuntimeClient& c) {
        return c.post_init_error("Obsync.ConfigError", "S3_BUCKET is not set");
    }));
    ASSERT_EQ(seen.size(), 1U);
    EXPECT_EQ(seen[0].target, "/2018-06-01/runtime/init/error");
    EXPECT_NE(seen[0].headers.find("Lambda-Runtime-Function-Error-Type: Obsync.ConfigError\r\n"),
              std::string::npos);
    const auto body = boost::json::parse(seen[0].body).as_object();
    EXPECT_EQ(body.at("errorType").as_string(), "Obsync.ConfigError");
    EXPECT_EQ(body.at("errorMessage").as_string(), "S3_BUCKET is not set");
}

TEST_F(RuntimeClientTest, ARequestIdStaysOnePathSegment) {
    auto server = server_answering(k_accepted);
    EXPECT_FALSE(
        error_of(server, [](RuntimeClient& c) { return c.post_response("a/../b c", "{}"); }));
    ASSERT_EQ(seen.size(), 1U);
    EXPECT_EQ(seen[0].target, "/2018-06-01/runtime/invocation/a%2F..%2Fb%20c/response");
}

TEST_F(RuntimeClientTest, AnUnreachableRuntimeApiIsANetworkError) {
    net::HttpClient http(io.get_executor(), options);
    // Port 1 on loopback: nothing listens there.
    RuntimeClient client(http, "127.0.0.1:1");
    std::optional<ErrorKind> kind;
    test::run_coro(io, [&]() -> asio::awaitable<void> {
        try {
            co_await client.next();
        } catch (const Error& e) {
            kind = e.kind();
        }
    }());
    EXPECT_EQ(kind, ErrorKind::network);
}

}  // namespace
}  // namespace obsync::lambda
