#include "app/account.hpp"

#include <iostream>

#include "aws/client.hpp"
#include "aws/secrets_manager.hpp"
#include "obsidian/api.hpp"
#include "util/env.hpp"
#include "util/run_coro.hpp"

namespace obsync::app {

namespace asio = boost::asio;

namespace {

std::string fetch_secret(const std::string& secret_id) {
    asio::io_context io;
    aws::AwsClient client(io.get_executor(), aws::AwsEnvironment::from_environment());
    std::string value;
    run_coro(io, [&]() -> asio::awaitable<void> {
        value = co_await aws::get_secret_string(client, secret_id);
    }());
    return value;
}

void warn(const std::string& message) {
    std::cerr << "obsync: warning: " << message << std::endl;
}

}  // namespace

std::string api_url(const GlobalOptions& global) {
    if (!global.api_url.empty()) {
        return global.api_url;
    }
    if (auto url = env_var("OBSIDIAN_API_URL")) {
        return *url;
    }
    return std::string(obsidian::k_default_api_url);
}

backup::Credentials cli_credentials(const GlobalOptions& global) {
    return backup::credentials_from_environment(env_var, fetch_secret, global.flags);
}

Session::Session(const GlobalOptions& global)
    : m_paths(Paths::from_environment()),
      m_http(m_io.get_executor()),
      m_credentials(cli_credentials(global)),
      m_tokens(m_paths.token_file(), warn),
      m_account(m_io, m_http, api_url(global), m_credentials, m_tokens) {}

}  // namespace obsync::app
