#include "aws/secrets_manager.hpp"

#include <boost/json.hpp>

namespace obsync::aws {

boost::asio::awaitable<std::string> get_secret_string(AwsClient& client, std::string secret_id) {
    AwsRequest request;
    request.service = Service::secrets_manager;
    request.operation = "GetSecretValue";
    request.method = "POST";
    request.headers = {{"content-type", "application/x-amz-json-1.1"},
                       {"x-amz-target", "secretsmanager.GetSecretValue"}};
    request.body = boost::json::serialize(boost::json::object{{"SecretId", secret_id}});
    net::HttpResponse response;
    std::optional<AwsError> failure;
    try {
        response = co_await client.send(std::move(request));
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

}  // namespace obsync::aws
