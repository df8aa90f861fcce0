#pragma once

#include <string>

#include <boost/asio/io_context.hpp>

#include "app/commands.hpp"
#include "app/config.hpp"
#include "backup/account.hpp"
#include "backup/credentials.hpp"
#include "backup/token_cache.hpp"
#include "net/http_client.hpp"

namespace obsync::app {

// What a command needs to talk to the account, made the CLI's way: credentials from the flags,
// the environment, OBSYNC_CREDENTIALS or OBSYNC_SECRET_ID (read once), and the token kept in a
// file under the config folder.
class Session {
public:
    explicit Session(const GlobalOptions& global);

    boost::asio::io_context& io() { return m_io; }
    const Paths& paths() const { return m_paths; }
    net::HttpClient& http() { return m_http; }
    backup::Account& account() { return m_account; }
    backup::TokenCache& tokens() { return m_tokens; }
    const backup::Credentials& credentials() { return m_credentials.current(); }

private:
    Paths m_paths;
    boost::asio::io_context m_io;
    net::HttpClient m_http;
    backup::FixedCredentials m_credentials;
    backup::FileTokenCache m_tokens;
    backup::Account m_account;
};

// --api-url, else OBSIDIAN_API_URL, else https://api.obsidian.md.
std::string api_url(const GlobalOptions& global);

// The CLI's credentials (flags first; see backup::credentials_from_environment). A secret named
// by OBSYNC_SECRET_ID is read here, with the AWS_* environment.
backup::Credentials cli_credentials(const GlobalOptions& global);

}  // namespace obsync::app
