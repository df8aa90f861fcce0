#include "backup/account.hpp"

#include <ctime>

#include "crypto/totp.hpp"
#include "obsidian/api.hpp"
#include "util/error.hpp"
#include "util/run_coro.hpp"

namespace obsync::backup {

namespace asio = boost::asio;

Account::Account(asio::io_context& io, net::HttpClient& http, std::string api_url,
                 CredentialSource& credentials, TokenCache& cache)
    : m_io(io),
      m_http(http),
      m_api_url(std::move(api_url)),
      m_credentials(credentials),
      m_cache(cache) {}

std::string Account::sign_in(const std::optional<std::string>& mfa_code) {
    const Credentials& c = m_credentials.current();
    if (!c.can_sign_in()) {
        throw Error(ErrorKind::auth,
                    "no Obsidian credentials: sign in (`obsync login`), or set OBSIDIAN_EMAIL "
                    "and OBSIDIAN_PASSWORD, or OBSYNC_CREDENTIALS or OBSYNC_SECRET_ID");
    }
    std::string code = mfa_code.value_or("");
    if (code.empty() && c.totp_secret) {
        code = crypto::totp_from_base32(*c.totp_secret, std::time(nullptr));
    }
    obsidian::Api api(m_http, m_api_url);
    obsidian::Account account;
    ++m_sign_ins;
    run_coro(m_io, [&]() -> asio::awaitable<void> {
        account = co_await api.signin(*c.email, *c.password, code);
    }());
    m_cache.save({account.token, m_api_url, account.email.empty() ? *c.email : account.email});
    return account.token;
}

std::string Account::token() {
    const Credentials& c = m_credentials.current();
    if (const auto saved = m_cache.load(); saved && saved->api_url == m_api_url) {
        // Credentials for another account must not use this one's token.
        if (!c.email || saved->email.empty() || saved->email == *c.email) {
            return saved->token;
        }
    }
    return sign_in();
}

std::pair<std::string, std::vector<obsidian::VaultInfo>> Account::vaults() {
    obsidian::Api api(m_http, m_api_url);
    const auto list = [&](const std::string& token) {
        std::vector<obsidian::VaultInfo> vaults;
        run_coro(m_io,
                 [&]() -> asio::awaitable<void> { vaults = co_await api.list_vaults(token); }());
        return vaults;
    };
    std::string token = this->token();
    try {
        return {token, list(token)};
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::auth || !m_credentials.current().can_sign_in()) {
            throw;
        }
    }
    // The token was rejected (expired, signed out elsewhere): sign in again.
    try {
        token = sign_in();
    } catch (const Error& e) {
        // The credentials themselves were refused: a rotated secret is read again, once.
        if (e.kind() != ErrorKind::auth || !m_credentials.refresh()) {
            throw;
        }
        token = sign_in();
    }
    return {token, list(token)};
}

}  // namespace obsync::backup
