#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "aws/client.hpp"

namespace obsync::aws {

// DynamoDB's JSON protocol (API version 2012-08-10) over AwsClient: every operation is a POST to
// "/" naming the operation in x-amz-target. Failures are AwsError (a failed ConditionExpression
// has failure() == conditional_check_failed); throttling is retried inside AwsClient::send().
class DynamoDb {
public:
    struct BatchPolicy {
        int max_rounds = 10;  // BatchWriteItem calls for one chunk before giving up
        std::chrono::milliseconds base_delay{50};
        std::chrono::milliseconds max_delay{std::chrono::seconds(2)};
    };

    explicit DynamoDb(AwsClient& client);
    DynamoDb(AwsClient& client, BatchPolicy policy);

    // One operation ("GetItem", "Query", ...): the reply object.
    boost::asio::awaitable<boost::json::object> call(std::string operation,
                                                     boost::json::object request);

    // Every item a Query (or Scan) returns, following LastEvaluatedKey page by page.
    boost::asio::awaitable<std::vector<boost::json::object>> query_all(std::string operation,
                                                                       boost::json::object request);

    // Writes `requests` ({"PutRequest": ...} / {"DeleteRequest": ...}, any number) in
    // BatchWriteItem calls of at most 25, resending UnprocessedItems with capped, jittered
    // backoff. Throws Error{throttled} when a chunk is still unprocessed after max_rounds.
    // A key must not appear twice in `requests` (DynamoDB refuses such a batch).
    boost::asio::awaitable<void> batch_write(std::string table, boost::json::array requests);

    // TransactWriteItems: `items` ({"ConditionCheck": ...}, {"Update": ...}, ...; at most 100)
    // all apply or none does. Returns nothing when they applied; when a condition failed, the
    // cancellation reasons, one per item in order ("ConditionalCheckFailed" or "None"), so the
    // caller can tell which one. A transaction cancelled by a conflict with another one or by
    // throttling throws Error{throttled}; anything else throws AwsError.
    boost::asio::awaitable<std::vector<std::string>> transact_write(boost::json::array items);

    AwsClient& client() noexcept { return m_client; }

    static constexpr std::size_t k_max_batch_write = 25;

private:
    boost::asio::awaitable<void> write_chunk(const std::string& table, boost::json::array chunk);

    AwsClient& m_client;
    BatchPolicy m_policy;
};

// The expressions of one UpdateItem/DeleteItem, with only the placeholders they use (DynamoDB
// refuses unused ones). set("v", "version", value) adds "#v = :v" with #v → version.
struct ItemWrite {
    std::vector<std::string> sets;     // "SET" clauses
    std::vector<std::string> removes;  // "REMOVE" clauses
    std::string condition;             // ConditionExpression; empty = none
    boost::json::object names;
    boost::json::object values;

    ItemWrite& set(std::string_view placeholder, std::string_view attribute,
                   boost::json::object value);
    ItemWrite& remove(std::string_view placeholder, std::string_view attribute);
    ItemWrite& name(std::string_view placeholder, std::string_view attribute);
    ItemWrite& value(std::string_view placeholder, boost::json::object v);

    // The request body for `key` in `table`.
    boost::json::object request(const std::string& table, boost::json::object key) const;
};

// AttributeValue helpers: {"S": "..."}, {"N": "..."}, {"BOOL": ...}.
boost::json::object attr_s(std::string_view value);
boost::json::object attr_n(std::int64_t value);
boost::json::object attr_bool(bool value);
// {"B": base64}: any bytes (an "S" must be valid UTF-8).
boost::json::object attr_b(std::string_view bytes);

// Typed reads of an item's attributes; nothing when absent. A present attribute of the wrong
// type (or an unreadable number) throws Error{storage} naming `name`.
std::optional<std::string> item_string(const boost::json::object& item, std::string_view name);
std::optional<std::int64_t> item_int(const boost::json::object& item, std::string_view name);
std::optional<bool> item_bool(const boost::json::object& item, std::string_view name);
// A "B" attribute, decoded.
std::optional<std::string> item_bytes(const boost::json::object& item, std::string_view name);

}  // namespace obsync::aws
