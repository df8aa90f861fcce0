#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "aws/client.hpp"

namespace obsync::aws {

// One message of a SendMessageBatch. `id` names it in the reply: letters, digits, '-' and '_',
// at most 80 characters, unique within one send_message_batch() call.
struct SqsBatchEntry {
    std::string id;
    std::string body;
};

// An entry SQS did not take, with SQS's code and message (never the body).
struct SqsBatchFailure {
    std::string id;
    std::string code;  // "InternalError", "InvalidMessageContents", ...
    std::string message;
    bool sender_fault = false;  // true: the same entry would fail again
};

struct SqsBatchResult {
    std::vector<std::pair<std::string, std::string>> sent;  // {entry id, SQS message id}
    std::vector<SqsBatchFailure> failed;                    // in the order of the input
};

// SQS over AwsClient with the AWS JSON 1.0 protocol: every operation is a POST to "/" naming the
// operation in x-amz-target ("AmazonSQS.SendMessage"), the queue in the body's QueueUrl. The
// calls of a queue go to the queue URL's own scheme://host[:port] unless AWS_ENDPOINT_URL_SQS or
// AWS_ENDPOINT_URL is set (see sqs_endpoint()); they are signed for AWS_REGION.
//
// Message bodies are data: no error message and no log line holds one. A queue that does not
// exist is Error{config} naming the queue URL; every other refusal is AwsError (throttling and
// 5xx are retried inside AwsClient::send()).
class Sqs {
public:
    struct BatchPolicy {
        // The pause before the one resend of the entries SQS failed on its side
        // (SenderFault=false).
        std::chrono::milliseconds retry_delay{200};
    };

    explicit Sqs(AwsClient& client);
    Sqs(AwsClient& client, BatchPolicy policy);

    // One operation ("SendMessage", ...) on `queue_url` (set as the request's QueueUrl; empty for
    // operations on no queue, such as CreateQueue, which then go to the environment's endpoint):
    // the reply object.
    boost::asio::awaitable<boost::json::object> call(std::string operation, std::string queue_url,
                                                     boost::json::object request);

    // SendMessage: the new message's id. `delay_seconds` 0..900 (else Error{bad_input}).
    boost::asio::awaitable<std::string> send_message(std::string queue_url, std::string body,
                                                     int delay_seconds = 0);

    // SendMessageBatch, any number of entries: calls of at most 10 entries and at most
    // k_max_batch_bytes of bodies each (an entry bigger than that goes alone, and SQS judges
    // it). SQS answers 200 with the entries it refused: those it failed on its own side
    // (SenderFault=false) are sent once more after retry_delay; what still fails is returned, not
    // thrown. Ids are checked first (Error{bad_input} naming the id). A call SQS refuses as a
    // whole throws AwsError, as send_message() does; the calls before it have sent their entries
    // by then (SQS has no transaction: a caller that resends them makes duplicates).
    boost::asio::awaitable<SqsBatchResult> send_message_batch(std::string queue_url,
                                                              std::vector<SqsBatchEntry> entries);

    // ChangeMessageVisibility: the received message `receipt_handle` is visible again after
    // `seconds` (0..43200, else Error{bad_input}).
    boost::asio::awaitable<void> change_message_visibility(std::string queue_url,
                                                           std::string receipt_handle, int seconds);

    AwsClient& client() noexcept { return m_client; }

    static constexpr std::size_t k_max_batch_entries = 10;
    // SQS's limit on a batch's payload was 256 KiB until 2025 (1 MiB since): the smaller one.
    static constexpr std::size_t k_max_batch_bytes = 256 * 1024;

private:
    // One SendMessageBatch call; adds to `result`, returns the entries to send again.
    boost::asio::awaitable<std::vector<SqsBatchEntry>> send_chunk(const std::string& queue_url,
                                                                  std::vector<SqsBatchEntry> chunk,
                                                                  bool last_try,
                                                                  SqsBatchResult& result);

    AwsClient& m_client;
    BatchPolicy m_policy;
};

// Where the calls on `queue_url` go: the environment's SQS endpoint when it is a custom one
// (AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL), else the queue URL's scheme://host[:port]. Throws
// Error{config} naming the URL when it is not scheme://host[:port]/account/name (plain http only
// to this machine), or when its host is sqs.REGION.amazonaws.com for another region than
// AWS_REGION (the calls are signed for AWS_REGION).
std::string sqs_endpoint(const AwsEnvironment& environment, std::string_view queue_url);

// The SendMessageBatch chunks of `entries`, by index: at most Sqs::k_max_batch_entries each and
// at most Sqs::k_max_batch_bytes of bodies (one bigger entry alone).
std::vector<std::pair<std::size_t, std::size_t>> sqs_batch_chunks(
    const std::vector<SqsBatchEntry>& entries);

}  // namespace obsync::aws
