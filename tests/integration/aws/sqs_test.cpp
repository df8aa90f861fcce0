// The SQS client (JSON 1.0 protocol) and Secrets Manager ListSecrets against moto_server.

#include "aws/sqs.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "aws/secrets_manager.hpp"
#include "support/moto_fixture.hpp"
#include "support/run_coro.hpp"

namespace obsync::aws {
namespace {

namespace bj = boost::json;
using test::run_coro_value;

class SqsMotoTest : public test::MotoTest {
protected:
    void SetUp() override {
        MotoTest::SetUp();
        m_client =
            std::make_unique<AwsClient>(m_io.get_executor(), AwsEnvironment::from_environment());
        m_sqs = std::make_unique<Sqs>(*m_client);
    }

    // CreateQueue through the raw call (the product never creates queues): the queue's URL.
    std::string create_queue(const std::string& name) {
        const auto reply =
            run_coro_value(m_io, m_sqs->call("CreateQueue", "", bj::object{{"QueueName", name}}));
        return std::string(reply.at("QueueUrl").as_string());
    }

    // Every message of the queue (ReceiveMessage through the raw call), hidden for a minute so
    // that none comes twice.
    std::vector<std::string> receive_all(const std::string& queue_url, std::size_t expected) {
        std::vector<std::string> bodies;
        for (int round = 0; round < 20 && bodies.size() < expected; ++round) {
            const auto reply =
                run_coro_value(m_io, m_sqs->call("ReceiveMessage", queue_url,
                                                 bj::object{{"MaxNumberOfMessages", 10},
                                                            {"VisibilityTimeout", 60},
                                                            {"WaitTimeSeconds", 0}}));
            if (const auto* messages = reply.if_contains("Messages")) {
                for (const auto& message : messages->as_array()) {
                    bodies.emplace_back(message.at("Body").as_string());
                }
            }
        }
        return bodies;
    }

    boost::asio::io_context m_io;
    std::unique_ptr<AwsClient> m_client;
    std::unique_ptr<Sqs> m_sqs;
};

TEST_F(SqsMotoTest, OneMessageAndABatchOf25InThreeCallsComeBackIntact) {
    const std::string queue = create_queue("obsync-dispatch");
    EXPECT_NE(queue.find("/obsync-dispatch"), std::string::npos);

    const std::string single = R"({"vault":"Café notes","sync_type":"full"})";
    EXPECT_FALSE(run_coro_value(m_io, m_sqs->send_message(queue, single)).empty());

    std::vector<SqsBatchEntry> batch;
    std::vector<std::string> expected{single};
    for (int i = 0; i < 25; ++i) {
        const std::string body =
            R"({"vault":"v)" + std::to_string(i) + R"(","note":"déjà vu \"quoted\" 🙂"})";
        batch.push_back({"v" + std::to_string(i), body});
        expected.push_back(body);
    }
    const auto before = m_client->stats().requests;
    const auto result = run_coro_value(m_io, m_sqs->send_message_batch(queue, batch));
    EXPECT_EQ(m_client->stats().requests - before, 3U);
    EXPECT_TRUE(result.failed.empty());
    ASSERT_EQ(result.sent.size(), 25U);
    for (const auto& [id, message_id] : result.sent) {
        EXPECT_FALSE(message_id.empty()) << id;
    }

    auto received = receive_all(queue, expected.size());
    std::sort(received.begin(), received.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(received, expected);
}

TEST_F(SqsMotoTest, AMissingQueueIsAConfigErrorNamingTheQueueUrlNotTheBody) {
    create_queue("exists");
    const std::string queue = moto().endpoint() + "/123456789012/no-such-queue";
    try {
        run_coro_value(m_io, m_sqs->send_message(queue, "body-that-must-not-leak"));
        FAIL() << "expected a missing queue";
    } catch (const Error& error) {
        const std::string what = error.what();
        EXPECT_EQ(error.kind(), ErrorKind::config);
        EXPECT_NE(what.find(queue), std::string::npos) << what;
        EXPECT_EQ(what.find("body-that-must-not-leak"), std::string::npos) << what;
    }
    try {
        run_coro_value(m_io, m_sqs->send_message_batch(queue, {{"a", "batch-body-secret"}}));
        FAIL() << "expected a missing queue";
    } catch (const Error& error) {
        EXPECT_EQ(error.kind(), ErrorKind::config);
        EXPECT_EQ(std::string(error.what()).find("batch-body-secret"), std::string::npos);
    }
}

// With moto's IAM checks on, the calls are signed for service "sqs" and accepted with the send
// actions only. AWS authorizes SendMessageBatch with sqs:SendMessage (there is no IAM action
// sqs:SendMessageBatch); moto 5.2 checks an action named after the API, so it is granted too.
TEST_F(SqsMotoTest, CallsAreSignedForSqsAndNeedOnlyTheSendActions) {
    const std::string queue = create_queue("signed");
    const auto keys = moto().enable_auth({"sqs:SendMessage", "sqs:SendMessageBatch"});
    moto().export_environment(keys);
    AwsClient client(m_io.get_executor(), AwsEnvironment::from_environment());
    Sqs sqs(client);
    EXPECT_FALSE(run_coro_value(m_io, sqs.send_message(queue, "x")).empty());
    EXPECT_TRUE(run_coro_value(m_io, sqs.send_message_batch(queue, {{"a", "y"}})).failed.empty());
    try {
        run_coro_value(m_io, sqs.call("ReceiveMessage", queue, {}));
        FAIL() << "ReceiveMessage is not granted";
    } catch (const AwsError& error) {
        EXPECT_EQ(error.kind(), ErrorKind::denied);
    }
}

class SecretListMotoTest : public test::MotoTest {
protected:
    void SetUp() override {
        MotoTest::SetUp();
        m_client =
            std::make_unique<AwsClient>(m_io.get_executor(), AwsEnvironment::from_environment());
    }

    void create_secret(const std::string& name) {
        run_coro_value(
            m_io,
            m_client->send(secrets_manager_request(
                "CreateSecret", bj::object{{"Name", name}, {"SecretString", "value-of-" + name}})));
    }

    boost::asio::io_context m_io;
    std::unique_ptr<AwsClient> m_client;
};

TEST_F(SecretListMotoTest, APrefixListsExactlyTheMatchingNamesAcrossPages) {
    std::vector<std::string> expected;
    for (int i = 11; i >= 0; --i) {  // created out of order: the result is sorted
        const std::string name = "obsync/vault-" + std::to_string(100 + i);
        create_secret(name);
        expected.push_back(name);
    }
    std::sort(expected.begin(), expected.end());
    for (const std::string other :
         {"obsync-other", "OBSYNC/vault-upper", "team/obsync/vault-x", "obsync", "unrelated"}) {
        create_secret(other);
    }
    const auto before = m_client->stats().requests;
    const auto listed = run_coro_value(m_io, list_secret_names(*m_client, "obsync/", 5));
    EXPECT_EQ(m_client->stats().requests - before, 3U);  // 5 + 5 + 2
    std::vector<std::string> names;
    for (const auto& entry : listed) {
        names.push_back(entry.name);
        EXPECT_NE(entry.arn.find(":secret:" + entry.name), std::string::npos) << entry.arn;
    }
    EXPECT_EQ(names, expected);

    // The default page size: one page here.
    EXPECT_EQ(run_coro_value(m_io, list_secret_names(*m_client, "obsync/vault-10")).size(), 10U);
    EXPECT_TRUE(run_coro_value(m_io, list_secret_names(*m_client, "nothing/")).empty());
    EXPECT_EQ(run_coro_value(m_io, list_secret_names(*m_client, "")).size(), 17U);
}

}  // namespace
}  // namespace obsync::aws

namespace obsync::aws {
namespace {

TEST_F(SqsMotoTest, ChangeMessageVisibilityHidesAMessageForAsLongAsAsked) {
    const std::string queue = create_queue("obsync-visibility");
    (void)run_coro_value(m_io, m_sqs->send_message(queue, "{}"));
    const auto receive = [&]() {
        return run_coro_value(
            m_io, m_sqs->call("ReceiveMessage", queue,
                              bj::object{{"MaxNumberOfMessages", 1}, {"VisibilityTimeout", 30}}));
    };
    const auto first = receive();
    ASSERT_TRUE(first.contains("Messages"));
    const std::string handle(first.at("Messages").as_array()[0].at("ReceiptHandle").as_string());
    // Hidden for 30 s by the receive; visible at once after a change to 0.
    EXPECT_FALSE(receive().contains("Messages"));
    test::run_coro(m_io, m_sqs->change_message_visibility(queue, handle, 0));
    const auto again = receive();
    ASSERT_TRUE(again.contains("Messages"));
    const std::string handle2(again.at("Messages").as_array()[0].at("ReceiptHandle").as_string());
    test::run_coro(m_io, m_sqs->change_message_visibility(queue, handle2, 600));
    EXPECT_FALSE(receive().contains("Messages"));
    EXPECT_THROW(test::run_coro(m_io, m_sqs->change_message_visibility(queue, handle2, 43'201)),
                 Error);
}

}  // namespace
}  // namespace obsync::aws
