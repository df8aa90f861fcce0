// `obsync state-init` and the state URL: the DynamoDB table behind DynamoStateStore.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "aws/dynamodb.hpp"
#include "state/dynamodb_store.hpp"
#include "util/error.hpp"

namespace obsync::state {
namespace {

namespace asio = boost::asio;
namespace bj = boost::json;

constexpr std::string_view k_scheme = "dynamodb://";
constexpr const char* k_ttl_attribute = "ttl";
// A new on-demand table is ACTIVE within seconds; a minute means something else is wrong.
constexpr int k_max_polls = 60;
constexpr std::chrono::seconds k_poll_interval{1};

bj::object key_element(const char* name, const char* type) {
    bj::object out;
    out["AttributeName"] = name;
    out["KeyType"] = type;
    return out;
}

bj::object attribute_definition(const char* name) {
    bj::object out;
    out["AttributeName"] = name;
    out["AttributeType"] = "S";
    return out;
}

bj::object create_request(const std::string& table) {
    bj::object request;
    request["TableName"] = table;
    request["BillingMode"] = "PAY_PER_REQUEST";
    bj::array definitions;
    definitions.push_back(attribute_definition("vault_id"));
    definitions.push_back(attribute_definition("item"));
    request["AttributeDefinitions"] = std::move(definitions);
    bj::array schema;
    schema.push_back(key_element("vault_id", "HASH"));
    schema.push_back(key_element("item", "RANGE"));
    request["KeySchema"] = std::move(schema);
    return request;
}

std::string string_at(const bj::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

// True when the table's key is (vault_id HASH, item RANGE): a table made for something else
// would take our items and mix them with its own.
bool has_our_schema(const bj::object& description) {
    const auto* schema = description.if_contains("KeySchema");
    if (schema == nullptr || !schema->is_array() || schema->as_array().size() != 2) {
        return false;
    }
    bool hash = false;
    bool range = false;
    for (const bj::value& element : schema->as_array()) {
        if (!element.is_object()) {
            return false;
        }
        const std::string name = string_at(element.as_object(), "AttributeName");
        const std::string type = string_at(element.as_object(), "KeyType");
        hash = hash || (name == "vault_id" && type == "HASH");
        range = range || (name == "item" && type == "RANGE");
    }
    return hash && range;
}

bool valid_table_name(std::string_view name) {
    if (name.size() < 3 || name.size() > 255) {
        return false;
    }
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

}  // namespace

asio::awaitable<void> create_dynamodb_state_table(aws::AwsClient& client, std::string table) {
    aws::DynamoDb db(client);
    bj::object create = create_request(table);
    bool exists = false;
    try {
        const std::string operation = "CreateTable";
        co_await db.call(operation, create);
    } catch (const aws::AwsError& error) {
        if (error.code() != "ResourceInUseException") {
            throw;
        }
        exists = true;  // idempotent: a second state-init only checks and fixes TTL
    }

    bj::object describe;
    describe["TableName"] = table;
    for (int poll = 0;; ++poll) {
        const std::string operation = "DescribeTable";
        bj::object reply = co_await db.call(operation, describe);
        const auto* found = reply.if_contains("Table");
        const bj::object empty;
        const bj::object& description =
            found != nullptr && found->is_object() ? found->as_object() : empty;
        if (exists && !has_our_schema(description)) {
            throw Error(ErrorKind::config, "DynamoDB table " + table +
                                               " exists with another key schema; obsync needs "
                                               "partition key vault_id (S) and sort key item (S)");
        }
        if (string_at(description, "TableStatus") == "ACTIVE") {
            break;
        }
        if (poll + 1 >= k_max_polls) {
            throw Error(ErrorKind::storage, "DynamoDB table " + table + " is not ACTIVE after " +
                                                std::to_string(k_max_polls) + " s (status " +
                                                string_at(description, "TableStatus") + ")");
        }
        asio::steady_timer timer(co_await asio::this_coro::executor, k_poll_interval);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }

    // UpdateTimeToLive refuses a repeat within the hour, so look before enabling.
    const std::string describe_ttl = "DescribeTimeToLive";
    bj::object ttl_reply = co_await db.call(describe_ttl, describe);
    const auto* ttl = ttl_reply.if_contains("TimeToLiveDescription");
    const bj::object none;
    const bj::object& ttl_description =
        ttl != nullptr && ttl->is_object() ? ttl->as_object() : none;
    const std::string status = string_at(ttl_description, "TimeToLiveStatus");
    const std::string attribute = string_at(ttl_description, "AttributeName");
    if (status == "ENABLED" || status == "ENABLING") {
        if (attribute != k_ttl_attribute) {
            throw Error(ErrorKind::config, "DynamoDB table " + table + " has TTL on attribute '" +
                                               attribute + "'; obsync needs it on '" +
                                               k_ttl_attribute + "'");
        }
        co_return;
    }
    bj::object update;
    update["TableName"] = table;
    bj::object& specification = update["TimeToLiveSpecification"].emplace_object();
    specification["Enabled"] = true;
    specification["AttributeName"] = k_ttl_attribute;
    const std::string update_ttl = "UpdateTimeToLive";
    co_await db.call(update_ttl, update);
}

std::string parse_dynamodb_url(std::string_view url) {
    if (url.substr(0, k_scheme.size()) == k_scheme) {
        const std::string_view table = url.substr(k_scheme.size());
        if (valid_table_name(table)) {
            return std::string(table);
        }
    }
    throw Error(ErrorKind::config, "state location '" + std::string(url) +
                                       "': expected dynamodb://TABLE, TABLE being 3-255 "
                                       "characters of A-Z a-z 0-9 _ . -");
}

}  // namespace obsync::state
