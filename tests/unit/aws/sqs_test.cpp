// The SQS client's requests (JSON 1.0 protocol, endpoint from the queue URL or the override),
// batch splitting and the one resend of SQS's own failures, against a scripted loopback SQS.

#include "aws/sqs.hpp"

#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "support/run_coro.hpp"
#include "support/scripted_servers.hpp"

namespace obsync::aws {
namespace {

namespace bj = boost::json;
using test::run_coro_value;
using test::ScriptedHttpServer;

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

std::vector<SqsBatchEntry> entries(int count, std::size_t body_size = 4) {
    std::vector<SqsBatchEntry> out;
    for (int i = 0; i < count; ++i) {
        out.push_back({"m" + std::to_string(i), std::string(body_size, 'x')});
    }
    return out;
}

std::string header_value(const std::string& headers, const std::string& lower_name) {
    std::string lower = headers;
    for (char& c : lower) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    const auto at = lower.find(lower_name + ":");
    if (at == std::string::npos) {
        return {};
    }
    const auto start = headers.find_first_not_of(' ', at + lower_name.size() + 1);
    return headers.substr(start, headers.find("\r\n", start) - start);
}

TEST(SqsEndpointTest, TheQueueUrlsHostUnlessAnEndpointIsConfigured) {
    const std::string url = "https://sqs.eu-west-1.amazonaws.com/123456789012/dispatch";
    EXPECT_EQ(sqs_endpoint(environment_with({}), url), "https://sqs.eu-west-1.amazonaws.com");
    EXPECT_EQ(sqs_endpoint(environment_with({}), "https://vpce-1.sqs.example:8443/1/q"),
              "https://vpce-1.sqs.example:8443");
    EXPECT_EQ(sqs_endpoint(environment_with({{"AWS_ENDPOINT_URL", "http://127.0.0.1:4566"}}), url),
              "http://127.0.0.1:4566");
    EXPECT_EQ(sqs_endpoint(environment_with({{"AWS_ENDPOINT_URL", "http://127.0.0.1:4566"},
                                             {"AWS_ENDPOINT_URL_SQS", "http://localhost:9324/"}}),
                           url),
              "http://localhost:9324");
    // The override is SQS's own: S3's does not move SQS.
    EXPECT_EQ(
        sqs_endpoint(environment_with({{"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000"}}), url),
        "https://sqs.eu-west-1.amazonaws.com");
}

TEST(SqsEndpointTest, AnUnusableQueueUrlIsAConfigErrorNamingIt) {
    const auto env = environment_with({});
    for (const std::string url :
         {"sqs.eu-west-1.amazonaws.com/1/q", "https://sqs.eu-west-1.amazonaws.com/",
          "https://sqs.eu-west-1.amazonaws.com/123456789012", "https://h/1/q/extra",
          "https://h/1/q?x=1", "http://sqs.example/1/q",
          "https://sqs.us-east-1.amazonaws.com/123456789012/q"}) {
        try {
            sqs_endpoint(env, url);
            ADD_FAILURE() << url << " accepted";
        } catch (const Error& error) {
            EXPECT_EQ(error.kind(), ErrorKind::config) << url;
            EXPECT_NE(std::string(error.what()).find(url), std::string::npos) << error.what();
        }
    }
}

TEST(SqsBatchChunksTest, TenEntriesPerCallAndTheByteLimitPerCall) {
    using Chunks = std::vector<std::pair<std::size_t, std::size_t>>;
    EXPECT_EQ(sqs_batch_chunks({}), Chunks{});
    EXPECT_EQ(sqs_batch_chunks(entries(25)), (Chunks{{0, 10}, {10, 20}, {20, 25}}));
    EXPECT_EQ(sqs_batch_chunks(entries(10)), (Chunks{{0, 10}}));
    // 100 KiB each: two fit in 256 KiB, the third starts the next call.
    EXPECT_EQ(sqs_batch_chunks(entries(5, 100 * 1024)), (Chunks{{0, 2}, {2, 4}, {4, 5}}));
    // One body over the limit goes alone.
    auto mixed = entries(3);
    mixed[1].body.assign(Sqs::k_max_batch_bytes + 1, 'y');
    EXPECT_EQ(sqs_batch_chunks(mixed), (Chunks{{0, 1}, {1, 2}, {2, 3}}));
}

class SqsScriptedTest : public ::testing::Test {
protected:
    // SQS at a scripted server that answers each request with `answer`, recording the requests.
    void serve(std::function<std::string(const bj::object&)> answer) {
        m_server = std::make_unique<ScriptedHttpServer>(
            m_io, [this, answer](const ScriptedHttpServer::Request& request) {
                m_requests.push_back(request);
                return answer(bj::parse(request.body).as_object());
            });
        m_client = std::make_unique<AwsClient>(
            m_io.get_executor(), environment_with({{"AWS_ENDPOINT_URL_SQS", m_server->url()}}),
            fast());
        m_sqs = std::make_unique<Sqs>(*m_client, Sqs::BatchPolicy{std::chrono::milliseconds(1)});
    }

    static RetryPolicy fast() {
        RetryPolicy policy;
        policy.max_attempts = 2;
        policy.base_delay = std::chrono::milliseconds(1);
        policy.max_delay = std::chrono::milliseconds(2);
        return policy;
    }

    const std::string m_queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/dispatch";
    boost::asio::io_context m_io;
    std::vector<ScriptedHttpServer::Request> m_requests;
    std::unique_ptr<ScriptedHttpServer> m_server;
    std::unique_ptr<AwsClient> m_client;
    std::unique_ptr<Sqs> m_sqs;
};

TEST_F(SqsScriptedTest, SendMessageIsAJson10CallSignedForSqs) {
    serve([](const bj::object&) {
        return ScriptedHttpServer::json_response(R"({"MessageId":"id-1","MD5OfMessageBody":"x"})");
    });
    EXPECT_EQ(run_coro_value(m_io, m_sqs->send_message(m_queue, R"({"vault":"v1"})")), "id-1");
    ASSERT_EQ(m_requests.size(), 1U);
    const auto& request = m_requests[0];
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.target, "/");
    EXPECT_EQ(header_value(request.headers, "x-amz-target"), "AmazonSQS.SendMessage");
    EXPECT_EQ(header_value(request.headers, "content-type"), "application/x-amz-json-1.0");
    EXPECT_NE(header_value(request.headers, "authorization").find("/eu-west-1/sqs/aws4_request"),
              std::string::npos);
    const auto body = bj::parse(request.body).as_object();
    EXPECT_EQ(body.at("QueueUrl").as_string(), m_queue);
    EXPECT_EQ(body.at("MessageBody").as_string(), R"({"vault":"v1"})");
    EXPECT_FALSE(body.contains("DelaySeconds"));

    run_coro_value(m_io, m_sqs->send_message(m_queue, "later", 30));
    EXPECT_EQ(bj::parse(m_requests.back().body).at("DelaySeconds").as_int64(), 30);
    EXPECT_THROW(run_coro_value(m_io, m_sqs->send_message(m_queue, "x", 901)), Error);
    EXPECT_EQ(m_requests.size(), 2U);
}

TEST_F(SqsScriptedTest, ARefusalNamesTheQueueButNeverTheBody) {
    serve([](const bj::object&) {
        return ScriptedHttpServer::json_response(
            R"({"__type":"com.amazonaws.sqs#InvalidMessageContents","message":"Invalid characters"})",
            400);
    });
    try {
        run_coro_value(m_io, m_sqs->send_message(m_queue, "private-body-text"));
        FAIL() << "expected a refusal";
    } catch (const AwsError& error) {
        const std::string what = error.what();
        EXPECT_EQ(error.code(), "InvalidMessageContents");
        EXPECT_NE(what.find(m_queue), std::string::npos) << what;
        EXPECT_EQ(what.find("private-body-text"), std::string::npos) << what;
    }
}

TEST_F(SqsScriptedTest, AMissingQueueIsAConfigErrorNamingTheQueue) {
    serve([](const bj::object&) {
        return ScriptedHttpServer::json_response(
            R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."})",
            400);
    });
    try {
        run_coro_value(m_io, m_sqs->send_message(m_queue, "private-body-text"));
        FAIL() << "expected QueueDoesNotExist";
    } catch (const Error& error) {
        EXPECT_EQ(error.kind(), ErrorKind::config);
        EXPECT_NE(std::string(error.what()).find(m_queue), std::string::npos);
        EXPECT_EQ(std::string(error.what()).find("private-body-text"), std::string::npos);
    }
    EXPECT_EQ(m_requests.size(), 1U);  // not retried
}

// SQS's reply to a batch: entries whose id is in `failures` fail with the given SenderFault.
std::string batch_reply(const bj::object& request, const std::map<std::string, bool>& failures) {
    bj::array successful;
    bj::array failed;
    for (const auto& entry : request.at("Entries").as_array()) {
        const std::string id(entry.at("Id").as_string());
        if (const auto found = failures.find(id); found != failures.end()) {
            failed.push_back(
                bj::object{{"Id", id},
                           {"SenderFault", found->second},
                           {"Code", found->second ? "InvalidMessageContents" : "InternalError"},
                           {"Message", "no"}});
        } else {
            successful.push_back(bj::object{{"Id", id}, {"MessageId", "mid-" + id}});
        }
    }
    return ScriptedHttpServer::json_response(
        bj::serialize(bj::object{{"Successful", successful}, {"Failed", failed}}));
}

TEST_F(SqsScriptedTest, ABatchOf25IsThreeCallsAndSqsOwnFailuresAreSentOnceMore) {
    int calls = 0;
    serve([&](const bj::object& request) {
        ++calls;
        // m3 fails on SQS's side the first time only; m12 every time; m21 is the sender's fault.
        std::map<std::string, bool> failures{{"m12", false}, {"m21", true}};
        if (calls <= 3) {
            failures["m3"] = false;
        }
        return batch_reply(request, failures);
    });
    const auto result = run_coro_value(m_io, m_sqs->send_message_batch(m_queue, entries(25)));
    ASSERT_EQ(m_requests.size(), 4U);  // 10 + 10 + 5, then m3 and m12 again
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(header_value(m_requests[i].headers, "x-amz-target"),
                  "AmazonSQS.SendMessageBatch");
        const auto body = bj::parse(m_requests[i].body).as_object();
        EXPECT_EQ(body.at("QueueUrl").as_string(), m_queue);
        EXPECT_EQ(body.at("Entries").as_array().size(), i < 2 ? 10U : 5U);
    }
    const auto resent = bj::parse(m_requests[3].body).at("Entries").as_array();
    ASSERT_EQ(resent.size(), 2U);
    EXPECT_EQ(resent[0].at("Id").as_string(), "m3");
    EXPECT_EQ(resent[0].at("MessageBody").as_string(), "xxxx");
    EXPECT_EQ(resent[1].at("Id").as_string(), "m12");

    EXPECT_EQ(result.sent.size(), 23U);
    ASSERT_EQ(result.failed.size(), 2U);
    EXPECT_EQ(result.failed[0].id, "m12");
    EXPECT_FALSE(result.failed[0].sender_fault);
    EXPECT_EQ(result.failed[0].code, "InternalError");
    EXPECT_EQ(result.failed[1].id, "m21");
    EXPECT_TRUE(result.failed[1].sender_fault);
    EXPECT_EQ(result.failed[1].code, "InvalidMessageContents");
}

TEST_F(SqsScriptedTest, AnEntryTheReplyDoesNotMentionCountsAsFailed) {
    serve([](const bj::object&) {
        return ScriptedHttpServer::json_response(
            R"({"Successful":[{"Id":"m0","MessageId":"a"}],"Failed":[]})");
    });
    const auto result = run_coro_value(m_io, m_sqs->send_message_batch(m_queue, entries(2)));
    EXPECT_EQ(m_requests.size(), 2U);  // m1 sent once more
    ASSERT_EQ(result.failed.size(), 1U);
    EXPECT_EQ(result.failed[0].id, "m1");
    EXPECT_EQ(result.sent, (std::vector<std::pair<std::string, std::string>>{{"m0", "a"}}));
}

TEST_F(SqsScriptedTest, BadOrRepeatedIdsAreRefusedBeforeAnyCall) {
    serve([](const bj::object&) { return ScriptedHttpServer::json_response("{}"); });
    auto repeated = entries(3);
    repeated[2].id = "m0";
    auto bad = entries(1);
    bad[0].id = "a.b";
    auto long_id = entries(1);
    long_id[0].id = std::string(81, 'a');
    for (auto* list : {&repeated, &bad, &long_id}) {
        try {
            run_coro_value(m_io, m_sqs->send_message_batch(m_queue, *list));
            ADD_FAILURE() << "accepted";
        } catch (const Error& error) {
            EXPECT_EQ(error.kind(), ErrorKind::bad_input);
        }
    }
    EXPECT_TRUE(run_coro_value(m_io, m_sqs->send_message_batch(m_queue, {})).sent.empty());
    EXPECT_TRUE(m_requests.empty());
}

}  // namespace
}  // namespace obsync::aws
