#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "app/commands.hpp"
#include "app/config.hpp"
#include "net/http_client.hpp"
#include "obsidian/vault.hpp"

namespace obsync::app {

// Everything a command needs to talk to the account: the io_context, one HTTP client, the
// resolved credentials and the saved token (replaced by a fresh sign-in when it is missing or
// rejected and credentials allow).
class Session {
public:
    explicit Session(const GlobalOptions& global);

    boost::asio::io_context& io() { return m_io; }
    const Paths& paths() const { return m_paths; }
    const Credentials& credentials() const { return m_credentials; }
    net::HttpClient& http() { return m_http; }

    // --api-url, else OBSIDIAN_API_URL, else https://api.obsidian.md.
    std::string api_url() const;

    // Signs in with the configured credentials (the 2FA code comes from the TOTP secret when
    // there is one) and saves the token.
    boost::asio::awaitable<std::string> sign_in(const std::optional<std::string>& mfa_code);
    // The saved token, or a fresh sign-in when there is none (or it is for another server).
    boost::asio::awaitable<std::string> token();
    // Lists vaults; a rejected token is replaced by a fresh sign-in once, if credentials allow.
    boost::asio::awaitable<std::pair<std::string, std::vector<obsidian::VaultInfo>>> vaults();

private:
    const GlobalOptions& m_global;
    Paths m_paths;
    Credentials m_credentials;
    boost::asio::io_context m_io;
    net::HttpClient m_http;
};

}  // namespace obsync::app
