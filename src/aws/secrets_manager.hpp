#pragma once

#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "aws/client.hpp"

namespace obsync::aws {

// A Secrets Manager request (AWS JSON 1.1: a POST naming `operation` in x-amz-target, `body` as
// JSON), ready for AwsClient::send. The tests create their secrets with it.
AwsRequest secrets_manager_request(std::string operation, const boost::json::object& body);

// Secrets Manager GetSecretValue: the secret's SecretString (name or ARN, current version).
// A missing secret or a binary-only one is Error{config} naming the secret id; the value itself
// never appears in an error or a log line.
boost::asio::awaitable<std::string> get_secret_string(AwsClient& client, std::string secret_id);

struct SecretListEntry {
    std::string name;
    std::string arn;
};

// Secrets Manager ListSecrets with the filter name = `name_prefix`, every page (NextToken),
// `page_size` (1..100) per call: the secrets whose name starts with `name_prefix` exactly (AWS's
// filter may match more loosely: those are dropped), sorted by name. An empty prefix lists all.
// Secrets scheduled for deletion are not listed. Only names and ARNs: no value is read.
boost::asio::awaitable<std::vector<SecretListEntry>> list_secret_names(AwsClient& client,
                                                                       std::string name_prefix,
                                                                       int page_size = 100);

}  // namespace obsync::aws
