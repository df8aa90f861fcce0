#include "aws/sqs.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "net/url.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace obsync::aws {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

constexpr std::string_view k_target_prefix = "AmazonSQS.";
constexpr int k_max_delay_seconds = 900;
constexpr int k_max_visibility_seconds = 43'200;  // 12 hours
constexpr std::size_t k_max_entry_id = 80;

[[noreturn]] void bad_queue_url(std::string_view queue_url, std::string_view why) {
    throw Error(ErrorKind::config,
                "SQS queue URL \"" + std::string(queue_url) + "\" " + std::string(why));
}

void check_entry_id(const std::string& id) {
    const bool valid =
        !id.empty() && id.size() <= k_max_entry_id && std::all_of(id.begin(), id.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_';
        });
    if (!valid) {
        // Shortened: an id is ours, but a long one says nothing more.
        throw Error(ErrorKind::bad_input, "SQS batch entry id \"" + id.substr(0, k_max_entry_id) +
                                              "\" is not 1 to 80 letters, digits, '-' or '_'");
    }
}

std::string string_field(const bj::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

}  // namespace

std::string sqs_endpoint(const AwsEnvironment& environment, std::string_view queue_url) {
    // Checked even when a custom endpoint is used: a wrong URL is the configuration's mistake.
    net::Url url;
    try {
        url = net::Url::parse(queue_url);
    } catch (const Error& error) {
        bad_queue_url(queue_url, std::string("is not usable: ") + error.what());
    }
    if (url.scheme != "https" && url.scheme != "http") {
        bad_queue_url(queue_url, "is not an http(s) URL");
    }
    // "/123456789012/name": the account and the queue's name, nothing else.
    const std::string_view path = url.target;
    const auto slash = path.find('/', 1);
    if (slash == std::string_view::npos || slash == 1 || slash + 1 == path.size() ||
        path.find_first_of("/?#", slash + 1) != std::string_view::npos) {
        bad_queue_url(queue_url, "is not scheme://host/account/queue-name");
    }
    if (environment.custom_endpoint(Service::sqs)) {
        return environment.endpoint(Service::sqs);
    }
    // sqs.REGION.amazonaws.com (and .amazonaws.com.cn): signed for AWS_REGION, so it must be that.
    const std::string& host = url.host;
    if (host.rfind("sqs.", 0) == 0) {
        const auto dot = host.find('.', 4);
        if (dot != std::string::npos && host.compare(dot, 15, ".amazonaws.com") == 0 &&
            host.substr(4, dot - 4) != environment.region()) {
            bad_queue_url(queue_url, "is in region " + host.substr(4, dot - 4) + ", not in " +
                                         environment.region() +
                                         " (AWS_REGION): use a queue of this region");
        }
    }
    return url.scheme + "://" + url.authority();
}

std::vector<std::pair<std::size_t, std::size_t>> sqs_batch_chunks(
    const std::vector<SqsBatchEntry>& entries) {
    std::vector<std::pair<std::size_t, std::size_t>> chunks;
    std::size_t first = 0;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const std::size_t size = entries[i].body.size();
        if (i > first &&
            (i - first == Sqs::k_max_batch_entries || bytes + size > Sqs::k_max_batch_bytes)) {
            chunks.emplace_back(first, i);
            first = i;
            bytes = 0;
        }
        bytes += size;
    }
    if (first < entries.size()) {
        chunks.emplace_back(first, entries.size());
    }
    return chunks;
}

Sqs::Sqs(AwsClient& client) : Sqs(client, BatchPolicy{}) {}

Sqs::Sqs(AwsClient& client, BatchPolicy policy) : m_client(client), m_policy(policy) {}

asio::awaitable<bj::object> Sqs::call(std::string operation, std::string queue_url,
                                      bj::object request) {
    AwsRequest aws;
    aws.service = Service::sqs;
    aws.operation = operation;
    aws.method = "POST";
    aws.path = "/";
    if (!queue_url.empty()) {
        aws.endpoint = sqs_endpoint(m_client.environment(), queue_url);
        request["QueueUrl"] = queue_url;
    }
    aws.headers.emplace_back("content-type", "application/x-amz-json-1.0");
    aws.headers.emplace_back("x-amz-target", std::string(k_target_prefix) + operation);
    aws.body = bj::serialize(request);
    net::HttpResponse response;
    std::optional<AwsError> failure;
    try {
        response = co_await m_client.send(std::move(aws));
    } catch (const AwsError& error) {
        if (queue_url.empty()) {
            throw;
        }
        failure = error;
    }
    if (failure) {
        if (failure->failure() == AwsFailure::resource_not_found) {
            throw Error(ErrorKind::config, "SQS queue \"" + queue_url +
                                               "\" does not exist (check the queue URL and "
                                               "AWS_REGION)");
        }
        throw AwsError(failure->failure(), failure->code(), failure->status(),
                       "SQS queue \"" + queue_url + "\": " + failure->what());
    }
    const std::string context = "SQS " + operation + " reply";
    // An empty 200 (an operation with no result) is an empty object.
    co_return response.body.empty() ? bj::object() : json::parse_object(response.body, context);
}

asio::awaitable<std::string> Sqs::send_message(std::string queue_url, std::string body,
                                               int delay_seconds) {
    if (delay_seconds < 0 || delay_seconds > k_max_delay_seconds) {
        throw Error(ErrorKind::bad_input, "SQS SendMessage: DelaySeconds " +
                                              std::to_string(delay_seconds) +
                                              " is not within 0..900");
    }
    bj::object request;
    request["MessageBody"] = std::move(body);
    if (delay_seconds != 0) {
        request["DelaySeconds"] = delay_seconds;
    }
    const bj::object reply = co_await call("SendMessage", std::move(queue_url), std::move(request));
    co_return json::get_string(reply, "MessageId", "SQS SendMessage reply");
}

asio::awaitable<void> Sqs::change_message_visibility(std::string queue_url,
                                                     std::string receipt_handle, int seconds) {
    if (seconds < 0 || seconds > k_max_visibility_seconds) {
        throw Error(ErrorKind::bad_input, "SQS ChangeMessageVisibility: VisibilityTimeout " +
                                              std::to_string(seconds) + " is not within 0..43200");
    }
    bj::object request;
    request["ReceiptHandle"] = std::move(receipt_handle);
    request["VisibilityTimeout"] = seconds;
    co_await call("ChangeMessageVisibility", std::move(queue_url), std::move(request));
}

asio::awaitable<SqsBatchResult> Sqs::send_message_batch(std::string queue_url,
                                                        std::vector<SqsBatchEntry> entries) {
    std::set<std::string, std::less<>> ids;
    std::map<std::string, std::size_t, std::less<>> order;
    for (const SqsBatchEntry& entry : entries) {
        check_entry_id(entry.id);
        if (!ids.insert(entry.id).second) {
            throw Error(ErrorKind::bad_input,
                        "SQS batch entry id \"" + entry.id + "\" appears more than once");
        }
        order.emplace(entry.id, order.size());
    }
    SqsBatchResult result;
    std::vector<SqsBatchEntry> again;
    for (int round = 0; round < 2 && !entries.empty(); ++round) {
        if (round == 1) {
            asio::steady_timer timer(co_await asio::this_coro::executor, m_policy.retry_delay);
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        for (const auto& [first, last] : sqs_batch_chunks(entries)) {
            std::vector<SqsBatchEntry> chunk(std::make_move_iterator(entries.begin() + first),
                                             std::make_move_iterator(entries.begin() + last));
            auto retry = co_await send_chunk(queue_url, std::move(chunk), round == 1, result);
            std::move(retry.begin(), retry.end(), std::back_inserter(again));
        }
        entries = std::move(again);
        again.clear();
    }
    const auto position = [&order](const std::string& id) {
        const auto found = order.find(id);
        return found == order.end() ? order.size() : found->second;
    };
    std::stable_sort(result.failed.begin(), result.failed.end(),
                     [&](const SqsBatchFailure& a, const SqsBatchFailure& b) {
                         return position(a.id) < position(b.id);
                     });
    co_return result;
}

asio::awaitable<std::vector<SqsBatchEntry>> Sqs::send_chunk(const std::string& queue_url,
                                                            std::vector<SqsBatchEntry> chunk,
                                                            bool last_try, SqsBatchResult& result) {
    bj::array list;
    list.reserve(chunk.size());
    for (const SqsBatchEntry& entry : chunk) {
        list.push_back(bj::object{{"Id", entry.id}, {"MessageBody", entry.body}});
    }
    bj::object request;
    request["Entries"] = std::move(list);
    const bj::object reply = co_await call("SendMessageBatch", queue_url, std::move(request));

    std::map<std::string, std::size_t, std::less<>> pending;  // id → index in chunk
    for (std::size_t i = 0; i < chunk.size(); ++i) {
        pending.emplace(chunk[i].id, i);
    }
    if (const auto* successful = reply.if_contains("Successful");
        successful != nullptr && successful->is_array()) {
        for (const bj::value& item : successful->as_array()) {
            if (!item.is_object()) {
                continue;
            }
            const std::string id = string_field(item.as_object(), "Id");
            if (pending.erase(id) == 1) {
                result.sent.emplace_back(id, string_field(item.as_object(), "MessageId"));
            }
        }
    }
    std::vector<SqsBatchEntry> again;
    const auto failed = [&](SqsBatchFailure failure) {
        const auto found = pending.find(failure.id);
        if (found == pending.end()) {
            return;  // not an entry of this call, or already answered
        }
        if (!failure.sender_fault && !last_try) {
            again.push_back(std::move(chunk[found->second]));
        } else {
            result.failed.push_back(std::move(failure));
        }
        pending.erase(found);
    };
    if (const auto* list_failed = reply.if_contains("Failed");
        list_failed != nullptr && list_failed->is_array()) {
        for (const bj::value& item : list_failed->as_array()) {
            if (!item.is_object()) {
                continue;
            }
            const bj::object& object = item.as_object();
            const auto* fault = object.if_contains("SenderFault");
            failed({string_field(object, "Id"), string_field(object, "Code"),
                    string_field(object, "Message"),
                    fault != nullptr && fault->is_bool() && fault->as_bool()});
        }
    }
    // An entry the reply does not mention was not confirmed: treated as SQS's failure.
    std::vector<std::string> unanswered;
    for (const auto& entry : pending) {
        unanswered.push_back(entry.first);
    }
    for (std::string& id : unanswered) {
        failed({std::move(id), "NoResult", "SQS SendMessageBatch reply did not mention the entry",
                false});
    }
    co_return again;
}

}  // namespace obsync::aws
