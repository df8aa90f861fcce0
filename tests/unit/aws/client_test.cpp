// AwsClient against scripted loopback servers: the circuit breaker, S3 region redirects and the
// messages of network errors.

#include "aws/client.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "aws/s3.hpp"
#include "support/run_coro.hpp"
#include "support/scripted_servers.hpp"

namespace obsync::aws {
namespace {

using test::run_coro_value;
using test::ScriptedHttpServer;
using Clock = std::chrono::steady_clock;

AwsEnvironment environment_with(std::map<std::string, std::string> values) {
    values.emplace("AWS_ACCESS_KEY_ID", "AKID");
    values.emplace("AWS_SECRET_ACCESS_KEY", "secret");
    values.emplace("AWS_REGION", "eu-west-1");
    return AwsEnvironment::from_lookup([values](const char* name) -> std::optional<std::string> {
        const auto found = values.find(name);
        if (found == values.end()) {
            return std::nullopt;
        }
        return found->second;
    });
}

std::string reply(unsigned status, const std::string& body, const std::string& headers = "") {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\n" + headers +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

AwsRequest s3_get(std::string path) {
    AwsRequest request;
    request.service = Service::s3;
    request.method = "GET";
    request.path = std::move(path);
    request.operation = "GetObject";
    return request;
}

AwsRequest dynamodb_call() {
    AwsRequest request;
    request.service = Service::dynamodb;
    request.method = "POST";
    request.operation = "GetItem";
    request.headers.emplace_back("content-type", "application/x-amz-json-1.0");
    request.body = "{}";
    return request;
}

// A slow retry policy (a call alone would retry for seconds) with a short down_after.
RetryPolicy breaker_policy() {
    RetryPolicy policy;
    policy.max_attempts = 8;
    policy.base_delay = std::chrono::milliseconds(200);
    policy.max_delay = std::chrono::milliseconds(1000);
    policy.down_after = std::chrono::milliseconds(1000);
    return policy;
}

// Runs `request` and returns the error it threw (a default Error{storage} when it succeeded).
Error failure_of(boost::asio::io_context& io, AwsClient& client, AwsRequest request) {
    try {
        run_coro_value(io, client.send(std::move(request)));
    } catch (const Error& error) {
        return error;
    }
    return Error(ErrorKind::storage, "no failure");
}

TEST(AwsCircuitBreakerTest, AServiceAnswering500ForeverIsDeclaredDownWithinDownAfter) {
    boost::asio::io_context io;
    int calls = 0;
    ScriptedHttpServer server(io, [&](const ScriptedHttpServer::Request&) {
        ++calls;
        return reply(500, "<Error><Code>InternalError</Code><Message>boom</Message></Error>");
    });
    AwsClient client(io.get_executor(), environment_with({{"AWS_ENDPOINT_URL", server.url()}}),
                     breaker_policy());
    // 300 files, one after another: each would retry 8 times with backoff.
    const auto start = Clock::now();
    const Error first = failure_of(io, client, s3_get("/b/file-0"));
    const auto first_elapsed = Clock::now() - start;
    EXPECT_EQ(first.kind(), ErrorKind::unavailable) << first.what();
    EXPECT_TRUE(first.retryable());
    EXPECT_NE(std::string(first.what()).find("S3 looks down: no successful request for 1 s"),
              std::string::npos)
        << first.what();
    EXPECT_NE(std::string(first.what()).find("InternalError"), std::string::npos) << first.what();
    EXPECT_NE(std::string(first.what()).find("stopped, retry later"), std::string::npos);
    // Without the breaker this one call alone retries 8 times: 1.5 s to 6 s of backoff.
    EXPECT_LT(first_elapsed, std::chrono::milliseconds(2500));
    EXPECT_GE(first_elapsed, std::chrono::milliseconds(900));

    const int sent = calls;
    for (int i = 1; i < 300; ++i) {
        const Error again = failure_of(io, client, s3_get("/b/file-" + std::to_string(i)));
        ASSERT_EQ(again.kind(), ErrorKind::unavailable) << again.what();
    }
    EXPECT_EQ(calls, sent) << "an open breaker sends nothing";
    try {
        run_coro_value(io, client.send(s3_get("/b/last")));
        FAIL() << "expected the breaker's error";
    } catch (const AwsError& error) {
        EXPECT_EQ(error.failure(), AwsFailure::service_down);
        EXPECT_EQ(error.kind(), ErrorKind::unavailable);
    }
    EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(3500));
}

TEST(AwsCircuitBreakerTest, FailingCallsOneAfterAnotherStillOpenItAfterDownAfter) {
    boost::asio::io_context io;
    ScriptedHttpServer server(io, [&](const ScriptedHttpServer::Request&) { return "DROP"; });
    RetryPolicy policy = breaker_policy();
    policy.max_attempts = 2;  // each call gives up quickly; the breaker counts across calls
    policy.base_delay = std::chrono::milliseconds(100);
    policy.max_delay = std::chrono::milliseconds(100);
    AwsClient client(io.get_executor(), environment_with({{"AWS_ENDPOINT_URL", server.url()}}),
                     policy);
    const auto start = Clock::now();
    int network_failures = 0;
    for (;;) {
        const Error error = failure_of(io, client, s3_get("/b/k"));
        if (error.kind() == ErrorKind::unavailable) {
            EXPECT_NE(std::string(error.what()).find("last error: S3 GetObject: HTTP exchange"),
                      std::string::npos)
                << error.what();
            break;
        }
        ASSERT_EQ(error.kind(), ErrorKind::network) << error.what();
        ++network_failures;
        ASSERT_LT(Clock::now() - start, std::chrono::seconds(5)) << "never declared down";
    }
    EXPECT_GE(network_failures, 2);
    EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(3000));
}

TEST(AwsCircuitBreakerTest, OtherServicesAreUnaffectedAndAnAnswerClosesItAfterDownAfter) {
    boost::asio::io_context io;
    bool s3_up = false;
    ScriptedHttpServer s3_server(io, [&](const ScriptedHttpServer::Request&) {
        return s3_up ? reply(200, "ok") : reply(503, "");
    });
    ScriptedHttpServer dynamodb_server(
        io, [&](const ScriptedHttpServer::Request&) { return reply(200, "{}"); });
    AwsClient client(io.get_executor(),
                     environment_with({{"AWS_ENDPOINT_URL_S3", s3_server.url()},
                                       {"AWS_ENDPOINT_URL_DYNAMODB", dynamodb_server.url()}}),
                     breaker_policy());
    EXPECT_EQ(failure_of(io, client, s3_get("/b/k")).kind(), ErrorKind::unavailable);
    // DynamoDB can still take the final checkpoint.
    EXPECT_EQ(run_coro_value(io, client.send(dynamodb_call())).body, "{}");
    EXPECT_EQ(failure_of(io, client, s3_get("/b/k")).kind(), ErrorKind::unavailable);

    // Still down when probed after down_after: open again at once, after one attempt.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    const auto probe_start = Clock::now();
    EXPECT_EQ(failure_of(io, client, s3_get("/b/k")).kind(), ErrorKind::unavailable);
    EXPECT_LT(Clock::now() - probe_start, std::chrono::milliseconds(900));

    s3_up = true;
    EXPECT_EQ(failure_of(io, client, s3_get("/b/k")).kind(), ErrorKind::unavailable)
        << "open: nothing is sent until down_after has passed again";
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    EXPECT_EQ(run_coro_value(io, client.send(s3_get("/b/k"))).body, "ok");
    EXPECT_EQ(run_coro_value(io, client.send(s3_get("/b/k"))).body, "ok");
}

TEST(AwsNetworkErrorTest, NamesTheServiceAndTheOperationItInterrupted) {
    boost::asio::io_context io;
    ScriptedHttpServer server(io, [&](const ScriptedHttpServer::Request&) { return "DROP"; });
    RetryPolicy policy;
    policy.max_attempts = 2;
    policy.base_delay = std::chrono::milliseconds(1);
    policy.max_delay = std::chrono::milliseconds(2);
    AwsClient client(io.get_executor(), environment_with({{"AWS_ENDPOINT_URL", server.url()}}),
                     policy);
    AwsRequest put = s3_get("/b/k");
    put.method = "PUT";
    put.operation = "PutObject";
    const Error error = failure_of(io, client, put);
    EXPECT_EQ(error.kind(), ErrorKind::network);
    const std::string expected = "S3 PutObject: HTTP exchange with 127.0.0.1:";
    EXPECT_EQ(std::string(error.what()).substr(0, expected.size()), expected) << error.what();

    const Error dynamodb = failure_of(io, client, dynamodb_call());
    EXPECT_EQ(std::string(dynamodb.what()).rfind("DynamoDB GetItem: HTTP exchange", 0), 0U)
        << dynamodb.what();
}

// The region a request was signed for, from its Authorization header's credential scope.
std::string signed_region(const ScriptedHttpServer::Request& request) {
    const std::string marker = "Credential=AKID/";
    const std::size_t at = request.headers.find(marker);
    if (at == std::string::npos) {
        return "";
    }
    const std::size_t date_end = request.headers.find('/', at + marker.size());
    const std::size_t region_end = request.headers.find('/', date_end + 1);
    return request.headers.substr(date_end + 1, region_end - date_end - 1);
}

TEST(AwsRegionRedirectTest, A301IsFollowedWithTheBucketsRegionAndRemembered) {
    boost::asio::io_context io;
    std::vector<std::string> regions;
    ScriptedHttpServer server(io, [&](const ScriptedHttpServer::Request& request) {
        regions.push_back(signed_region(request));
        if (regions.back() != "us-west-2") {
            return reply(301,
                         "<Error><Code>PermanentRedirect</Code><Message>use the right "
                         "endpoint</Message></Error>",
                         "x-amz-bucket-region: us-west-2\r\n");
        }
        return reply(200, "");
    });
    AwsClient client(io.get_executor(), environment_with({{"AWS_ENDPOINT_URL", server.url()}}));
    S3Client s3(client);
    run_coro_value(io, [&]() -> boost::asio::awaitable<int> {
        co_await s3.put_object("far-bucket", "a.md", "hello", {});
        co_await s3.put_object("far-bucket", "b.md", "hello", {});
        co_return 0;
    }());
    const std::vector<std::string> expected = {"eu-west-1", "us-west-2", "us-west-2"};
    EXPECT_EQ(regions, expected);
}

TEST(AwsRegionRedirectTest, AnAuthorizationHeaderMalformedNamingTheRegionIsFollowed) {
    boost::asio::io_context io;
    int calls = 0;
    ScriptedHttpServer server(io, [&](const ScriptedHttpServer::Request& request) {
        ++calls;
        if (signed_region(request) != "ap-southeast-2") {
            return reply(400,
                         "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region "
                         "'eu-west-1' is wrong; expecting 'ap-southeast-2'</Message>"
                         "<Region>ap-southeast-2</Region></Error>");
        }
        return reply(200, "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
    });
    AwsClient client(io.get_executor(), environment_with({{"AWS_ENDPOINT_URL", server.url()}}));
    S3Client s3(client);
    const auto listed = run_coro_value(io, s3.list_objects_v2("far-bucket", "p"));
    EXPECT_TRUE(listed.empty());
    EXPECT_EQ(calls, 2);
}

TEST(AwsRegionRedirectTest, ARedirectWithoutARegionIsAConfigErrorNamingTheBucket) {
    boost::asio::io_context io;
    int calls = 0;
    ScriptedHttpServer server(io, [&](const ScriptedHttpServer::Request&) {
        ++calls;
        return reply(301, "");
    });
    AwsClient client(io.get_executor(), environment_with({{"AWS_ENDPOINT_URL", server.url()}}));
    S3Client s3(client);
    try {
        run_coro_value(io, s3.head_object("far-bucket", "a.md"));
        FAIL() << "expected a config error";
    } catch (const Error& error) {
        EXPECT_EQ(error.kind(), ErrorKind::config) << error.what();
        EXPECT_NE(std::string(error.what()).find("far-bucket"), std::string::npos);
        EXPECT_NE(std::string(error.what()).find("AWS_REGION"), std::string::npos);
    }
    EXPECT_EQ(calls, 1);
}

TEST(AwsRegionRedirectTest, OnlyAwsOwnEndpointsChangeWithTheRegion) {
    EXPECT_EQ(
        s3_endpoint_for_region("https://b.s3.eu-west-1.amazonaws.com", "eu-west-1", "us-west-2"),
        "https://b.s3.us-west-2.amazonaws.com");
    EXPECT_EQ(
        s3_endpoint_for_region("https://s3.eu-west-1.amazonaws.com", "eu-west-1", "us-east-1"),
        "https://s3.us-east-1.amazonaws.com");
    EXPECT_EQ(s3_endpoint_for_region("http://127.0.0.1:9000", "eu-west-1", "us-west-2"),
              "http://127.0.0.1:9000");
    EXPECT_EQ(
        s3_endpoint_for_region("https://evils3.eu-west-1.amazonaws.com", "eu-west-1", "us-west-2"),
        "https://evils3.eu-west-1.amazonaws.com");
}

}  // namespace
}  // namespace obsync::aws
