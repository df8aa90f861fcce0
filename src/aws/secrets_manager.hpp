#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>

#include "aws/client.hpp"

namespace obsync::aws {

// Secrets Manager GetSecretValue: the secret's SecretString (name or ARN, current version).
// A missing secret or a binary-only one is Error{config} naming the secret id; the value itself
// never appears in an error or a log line.
boost::asio::awaitable<std::string> get_secret_string(AwsClient& client, std::string secret_id);

}  // namespace obsync::aws
