#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "backup/credentials.hpp"
#include "backup/token_cache.hpp"
#include "net/http_client.hpp"
#include "obsidian/vault.hpp"

namespace obsync::backup {

// The Obsidian account of a run: signs in with the source's credentials (the 2FA code comes from
// the TOTP secret when there is one), keeps the token in the cache and uses a cached token while
// the server accepts it. A cached token counts only for the same API and the same email, so a
// request with other credentials never rides on someone else's token. Blocking calls: each runs
// its requests on `io`.
class Account {
public:
    Account(boost::asio::io_context& io, net::HttpClient& http, std::string api_url,
            CredentialSource& credentials, TokenCache& cache);

    const std::string& api_url() const noexcept { return m_api_url; }
    const Credentials& credentials() { return m_credentials.current(); }

    // A fresh sign-in; saves and returns the token. Throws Error{auth} without credentials.
    std::string sign_in(const std::optional<std::string>& mfa_code = std::nullopt);
    // The cached token, or a fresh sign-in.
    std::string token();
    // The account's vaults (own and shared) and the token that listed them. A rejected token is
    // replaced by a fresh sign-in once; rejected credentials are read again once if their source
    // can (a rotated secret).
    std::pair<std::string, std::vector<obsidian::VaultInfo>> vaults();

    // Sign-in requests made so far (logs and tests).
    int sign_ins() const noexcept { return m_sign_ins; }

private:
    boost::asio::io_context& m_io;
    net::HttpClient& m_http;
    std::string m_api_url;
    CredentialSource& m_credentials;
    TokenCache& m_cache;
    int m_sign_ins = 0;
};

}  // namespace obsync::backup
