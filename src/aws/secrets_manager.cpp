#include "aws/secrets_manager.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "util/json.hpp"

namespace obsync::aws {

AwsRequest secrets_manager_request(std::string operation, const boost::json::object& body) {
    AwsRequest request;
    request.service = Service::secrets_manager;
    request.method = "POST";
    request.headers = {{"content-type", "application/x-amz-json-1.1"},
                       {"x-amz-target", "secretsmanager." + operation}};
    request.operation = std::move(operation);
    request.body = boost::json::serialize(body);
    return request;
}

namespace {

// One operation (named here as a literal, where tests/unit/aws/iam_policy_check.py reads it).
boost::asio::awaitable<net::HttpResponse> call(std::string operation, AwsClient& client,
                                               const boost::json::object& body) {
    co_return co_await client.send(secrets_manager_request(std::move(operation), body));
}

}  // namespace

boost::asio::awaitable<std::string> get_secret_string(AwsClient& client, std::string secret_id) {
    const boost::json::object body{{"SecretId", secret_id}};
    net::HttpResponse response;
    std::optional<AwsError> failure;
    try {
        response = co_await call("GetSecretValue", client, body);
    } catch (const AwsError& error) {
        failure = error;
    }
    if (failure) {
        if (failure->failure() == AwsFailure::resource_not_found) {
            throw Error(ErrorKind::config, "secret \"" + secret_id +
                                               "\" does not exist in Secrets Manager (check "
                                               "OBSYNC_SECRET_ID and AWS_REGION)");
        }
        throw AwsError(failure->failure(), failure->code(), failure->status(),
                       "secret \"" + secret_id + "\": " + failure->what());
    }
    boost::system::error_code ec;
    const auto reply = boost::json::parse(response.body, ec);
    const auto* object = !ec ? reply.if_object() : nullptr;
    const auto* value = object != nullptr ? object->if_contains("SecretString") : nullptr;
    if (value == nullptr || !value->is_string()) {
        throw Error(ErrorKind::config, "secret \"" + secret_id +
                                           "\" has no SecretString (store the credentials JSON "
                                           "as a text secret)");
    }
    co_return std::string(value->as_string());
}

boost::asio::awaitable<std::vector<SecretListEntry>> list_secret_names(AwsClient& client,
                                                                       std::string name_prefix,
                                                                       int page_size) {
    constexpr int k_max_page = 100;
    if (page_size < 1 || page_size > k_max_page) {
        throw Error(ErrorKind::bad_input, "Secrets Manager ListSecrets: page size " +
                                              std::to_string(page_size) + " is not within 1..100");
    }
    boost::json::object body{{"MaxResults", page_size}};
    if (!name_prefix.empty()) {
        body["Filters"] = boost::json::array{
            boost::json::object{{"Key", "name"}, {"Values", boost::json::array{name_prefix}}}};
    }
    std::vector<SecretListEntry> secrets;
    for (;;) {
        const net::HttpResponse response = co_await call("ListSecrets", client, body);
        const std::string context = "Secrets Manager ListSecrets reply";
        const boost::json::object reply = json::parse_object(response.body, context);
        if (const auto* list = reply.if_contains("SecretList");
            list != nullptr && list->is_array()) {
            for (const auto& item : list->as_array()) {
                if (!item.is_object()) {
                    continue;
                }
                std::string name = json::get_string(item.as_object(), "Name", context);
                if (name.rfind(name_prefix, 0) != 0) {
                    continue;
                }
                secrets.push_back(
                    {std::move(name),
                     json::get_optional_string(item.as_object(), "ARN", context).value_or("")});
            }
        }
        const auto next = json::get_optional_string(reply, "NextToken", context);
        if (!next || next->empty()) {
            break;
        }
        body["NextToken"] = *next;
    }
    std::sort(secrets.begin(), secrets.end(),
              [](const SecretListEntry& a, const SecretListEntry& b) { return a.name < b.name; });
    co_return secrets;
}

}  // namespace obsync::aws
