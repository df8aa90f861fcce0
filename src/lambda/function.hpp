#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "backup/account.hpp"
#include "backup/credentials.hpp"
#include "backup/key_cache.hpp"
#include "backup/token_cache.hpp"
#include "lambda/config.hpp"
#include "lambda/response.hpp"
#include "lambda/runtime_client.hpp"
#include "net/http_client.hpp"
#include "util/env.hpp"
#include "util/log.hpp"

namespace obsync::aws {
class AwsClient;
}

namespace obsync::lambda {

// What the runtime loop posts for one invocation: a response document, or a function error
// (Lambda retries asynchronous invocations that end in one).
struct Reply {
    std::string body;  // the response (JSON text), when not an error
    std::optional<FunctionError> error;
};

// The function: everything that lives from one invocation to the next in a warm execution
// environment (HTTP connections, the AWS client, the Obsidian token, the credentials secret,
// derived vault keys), and the handling of one invocation: decode the event, check it against
// the configuration, back up, log, emit metrics, answer (docs/lambda.md).
class Function {
public:
    // Throws Error{config} when the AWS environment is incomplete.
    Function(boost::asio::io_context& io, LambdaConfig config, Logger& log,
             const EnvLookup& lookup);
    ~Function();

    // Never throws obsync::Error: failures are answers. Other exceptions are bugs; the runtime
    // loop reports them as a function error and goes on.
    Reply handle(const Invocation& invocation, bool cold);

private:
    std::string read_secret(const std::string& secret_id);
    // Registers the credentials' secrets with the logger (it masks them if they reach a record).
    void mask_secrets(const backup::Credentials& credentials);

    boost::asio::io_context& m_io;
    LambdaConfig m_config;
    Logger& m_log;
    bool m_test_hooks = false;
    net::HttpClient m_http;
    std::unique_ptr<aws::AwsClient> m_aws;
    std::unique_ptr<backup::CredentialSource> m_credentials;
    backup::MemoryTokenCache m_tokens;
    std::unique_ptr<backup::Account> m_account;
    backup::KeyCache m_keys;
    int m_secret_reads = 0;  // logged with each invocation, as are sign-ins and derivations
};

}  // namespace obsync::lambda
