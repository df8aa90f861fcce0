#include "aws/dynamodb.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "util/backoff.hpp"
#include "util/base64.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace obsync::aws {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

constexpr std::string_view k_target_prefix = "DynamoDB_20120810.";

[[noreturn]] void bad_attribute(std::string_view name, std::string_view why) {
    throw Error(ErrorKind::storage,
                "DynamoDB item attribute '" + std::string(name) + "' " + std::string(why));
}

// The value of a typed attribute ({"S": ...}), or null when the item lacks it.
const bj::value* typed(const bj::object& item, std::string_view name, std::string_view type) {
    const auto* attribute = item.if_contains(name);
    if (attribute == nullptr) {
        return nullptr;
    }
    const auto* inner = attribute->is_object() ? attribute->as_object().if_contains(type) : nullptr;
    if (inner == nullptr) {
        bad_attribute(name, "has an unexpected type");
    }
    return inner;
}

std::size_t unprocessed_count(const bj::object& reply, const std::string& table) {
    const auto* unprocessed = reply.if_contains("UnprocessedItems");
    if (unprocessed == nullptr || !unprocessed->is_object()) {
        return 0;
    }
    const auto* list = unprocessed->as_object().if_contains(table);
    return list != nullptr && list->is_array() ? list->as_array().size() : 0;
}

}  // namespace

DynamoDb::DynamoDb(AwsClient& client) : DynamoDb(client, BatchPolicy{}) {}

DynamoDb::DynamoDb(AwsClient& client, BatchPolicy policy) : m_client(client), m_policy(policy) {}

asio::awaitable<bj::object> DynamoDb::call(std::string operation, bj::object request) {
    AwsRequest aws;
    aws.service = Service::dynamodb;
    aws.operation = operation;
    aws.method = "POST";
    aws.path = "/";
    aws.headers.emplace_back("content-type", "application/x-amz-json-1.0");
    aws.headers.emplace_back("x-amz-target", std::string(k_target_prefix) + operation);
    aws.body = bj::serialize(request);
    const net::HttpResponse response = co_await m_client.send(std::move(aws));
    const std::string context = "DynamoDB " + operation + " reply";
    co_return json::parse_object(response.body, context);
}

asio::awaitable<std::vector<std::string>> DynamoDb::transact_write(bj::array items) {
    bj::object request;
    request["TransactItems"] = std::move(items);
    std::vector<std::string> reasons;
    try {
        const std::string operation = "TransactWriteItems";
        co_await call(operation, std::move(request));
    } catch (const AwsError& error) {
        if (error.code() != "TransactionCanceledException" || error.reasons().empty()) {
            throw;
        }
        reasons = error.reasons();
    }
    for (const std::string& reason : reasons) {
        if (reason == "TransactionConflict" || reason == "ThrottlingError" ||
            reason == "ProvisionedThroughputExceeded" || reason == "RequestLimitExceeded") {
            throw Error(ErrorKind::throttled,
                        "DynamoDB TransactWriteItems: cancelled (" + reason +
                            "): another write to the same items or over capacity; retry later");
        }
        if (reason != "None" && reason != "ConditionalCheckFailed") {
            throw Error(ErrorKind::storage,
                        "DynamoDB TransactWriteItems: cancelled (" + reason + ")");
        }
    }
    co_return reasons;
}

asio::awaitable<std::vector<bj::object>> DynamoDb::query_all(std::string operation,
                                                             bj::object request) {
    std::vector<bj::object> items;
    for (;;) {
        bj::object page = co_await call(operation, request);
        if (auto* list = page.if_contains("Items"); list != nullptr && list->is_array()) {
            for (bj::value& item : list->as_array()) {
                if (item.is_object()) {
                    items.push_back(std::move(item.as_object()));
                }
            }
        }
        auto* last = page.if_contains("LastEvaluatedKey");
        if (last == nullptr || !last->is_object() || last->as_object().empty()) {
            break;
        }
        request["ExclusiveStartKey"] = std::move(*last);
    }
    co_return items;
}

asio::awaitable<void> DynamoDb::batch_write(std::string table, bj::array requests) {
    for (std::size_t first = 0; first < requests.size(); first += k_max_batch_write) {
        const std::size_t last = std::min(requests.size(), first + k_max_batch_write);
        bj::array chunk;
        chunk.reserve(last - first);
        for (std::size_t i = first; i < last; ++i) {
            chunk.push_back(std::move(requests[i]));
        }
        co_await write_chunk(table, std::move(chunk));
    }
}

asio::awaitable<void> DynamoDb::write_chunk(const std::string& table, bj::array chunk) {
    // Unprocessed items mean the partition is over its capacity right now: "full jitter" backoff
    // spreads the resends of concurrent writers instead of hammering it in step.
    const std::string operation = "BatchWriteItem";
    bj::object request;
    request["RequestItems"].emplace_object()[table] = std::move(chunk);
    for (int round = 1;; ++round) {
        bj::object reply = co_await call(operation, request);
        const std::size_t left = unprocessed_count(reply, table);
        if (left == 0) {
            co_return;
        }
        if (round >= m_policy.max_rounds) {
            throw Error(ErrorKind::throttled, "DynamoDB BatchWriteItem: " + std::to_string(left) +
                                                  " items still unprocessed after " +
                                                  std::to_string(round) + " attempts (table " +
                                                  table + " over capacity)");
        }
        request["RequestItems"] = std::move(reply["UnprocessedItems"]);
        asio::steady_timer timer(
            co_await asio::this_coro::executor,
            backoff_delay({m_policy.base_delay, m_policy.max_delay, 0.0}, round));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

ItemWrite& ItemWrite::set(std::string_view placeholder, std::string_view attribute,
                          bj::object value) {
    const std::string p(placeholder);
    sets.push_back("#" + p + " = :" + p);
    name(placeholder, attribute);
    values[":" + p] = std::move(value);
    return *this;
}

ItemWrite& ItemWrite::remove(std::string_view placeholder, std::string_view attribute) {
    removes.push_back("#" + std::string(placeholder));
    return name(placeholder, attribute);
}

ItemWrite& ItemWrite::name(std::string_view placeholder, std::string_view attribute) {
    names["#" + std::string(placeholder)] = attribute;
    return *this;
}

ItemWrite& ItemWrite::value(std::string_view placeholder, bj::object v) {
    values[":" + std::string(placeholder)] = std::move(v);
    return *this;
}

bj::object ItemWrite::request(const std::string& table, bj::object key) const {
    const auto join = [](std::string_view keyword, const std::vector<std::string>& clauses) {
        std::string out;
        for (const std::string& clause : clauses) {
            out += out.empty() ? std::string(keyword) : std::string(", ");
            out += clause;
        }
        return out;
    };
    bj::object out;
    out["TableName"] = table;
    out["Key"] = std::move(key);
    std::string update = join("SET ", sets);
    if (!removes.empty()) {
        update += (update.empty() ? "" : " ") + join("REMOVE ", removes);
    }
    if (!update.empty()) {
        out["UpdateExpression"] = update;
    }
    if (!condition.empty()) {
        out["ConditionExpression"] = condition;
    }
    if (!names.empty()) {
        out["ExpressionAttributeNames"] = names;
    }
    if (!values.empty()) {
        out["ExpressionAttributeValues"] = values;
    }
    return out;
}

bj::object attr_s(std::string_view value) {
    bj::object out;
    out["S"] = value;
    return out;
}

bj::object attr_n(std::int64_t value) {
    bj::object out;
    out["N"] = std::to_string(value);
    return out;
}

bj::object attr_bool(bool value) {
    bj::object out;
    out["BOOL"] = value;
    return out;
}

bj::object attr_b(std::string_view bytes) {
    bj::object out;
    out["B"] = base64_encode(as_bytes(bytes));
    return out;
}

std::optional<std::string> item_bytes(const bj::object& item, std::string_view name) {
    const bj::value* value = typed(item, name, "B");
    if (value == nullptr) {
        return std::nullopt;
    }
    if (!value->is_string()) {
        bad_attribute(name, "is not binary");
    }
    try {
        return to_string(base64_decode(value->as_string()));
    } catch (const Error&) {
        bad_attribute(name, "is not valid base64");
    }
}

std::optional<std::string> item_string(const bj::object& item, std::string_view name) {
    const bj::value* value = typed(item, name, "S");
    if (value == nullptr) {
        return std::nullopt;
    }
    if (!value->is_string()) {
        bad_attribute(name, "is not a string");
    }
    return std::string(value->as_string());
}

std::optional<std::int64_t> item_int(const bj::object& item, std::string_view name) {
    const bj::value* value = typed(item, name, "N");
    if (value == nullptr) {
        return std::nullopt;
    }
    // Numbers travel as strings so that no precision is lost on the way.
    if (!value->is_string()) {
        bad_attribute(name, "is not a number");
    }
    const std::string_view text = value->as_string();
    std::int64_t out = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || end != text.data() + text.size()) {
        bad_attribute(name, "is not an integer");
    }
    return out;
}

std::optional<bool> item_bool(const bj::object& item, std::string_view name) {
    const bj::value* value = typed(item, name, "BOOL");
    if (value == nullptr) {
        return std::nullopt;
    }
    if (!value->is_bool()) {
        bad_attribute(name, "is not a boolean");
    }
    return value->as_bool();
}

}  // namespace obsync::aws
