#include "app/account.hpp"

#include <ctime>

#include "crypto/totp.hpp"
#include "obsidian/api.hpp"
#include "util/env.hpp"
#include "util/error.hpp"

namespace obsync::app {

namespace asio = boost::asio;

Session::Session(const GlobalOptions& global)
    : m_global(global),
      m_paths(Paths::from_environment()),
      m_credentials(Credentials::from_environment()),
      m_http(m_io.get_executor()) {
    m_credentials.override_with(global.flags);
}

std::string Session::api_url() const {
    if (!m_global.api_url.empty()) {
        return m_global.api_url;
    }
    if (auto url = env_var("OBSIDIAN_API_URL")) {
        return *url;
    }
    return std::string(obsidian::k_default_api_url);
}

asio::awaitable<std::string> Session::sign_in(const std::optional<std::string>& mfa_code) {
    if (!m_credentials.email || !m_credentials.password) {
        throw Error(ErrorKind::auth,
                    "not logged in: run `obsync login`, or set OBSIDIAN_EMAIL and "
                    "OBSIDIAN_PASSWORD (or OBSYNC_CREDENTIALS)");
    }
    std::string code = mfa_code.value_or("");
    if (code.empty() && m_credentials.totp_secret) {
        code = crypto::totp_from_base32(*m_credentials.totp_secret, std::time(nullptr));
    }
    obsidian::Api api(m_http, api_url());
    const obsidian::Account account =
        co_await api.signin(*m_credentials.email, *m_credentials.password, code);
    save_login(m_paths, {account.token, api_url(), account.email});
    co_return account.token;
}

asio::awaitable<std::string> Session::token() {
    if (const auto saved = load_login(m_paths); saved && saved->api_url == api_url()) {
        co_return saved->token;
    }
    co_return co_await sign_in(std::nullopt);
}

asio::awaitable<std::pair<std::string, std::vector<obsidian::VaultInfo>>> Session::vaults() {
    obsidian::Api api(m_http, api_url());
    std::string token = co_await this->token();
    try {
        auto list = co_await api.list_vaults(token);
        co_return std::make_pair(token, std::move(list));
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::auth || !m_credentials.email || !m_credentials.password) {
            throw;
        }
    }
    // Only a rejected token gets here; co_await is not allowed in the handler itself.
    token = co_await sign_in(std::nullopt);
    auto list = co_await api.list_vaults(token);
    co_return std::make_pair(token, std::move(list));
}

}  // namespace obsync::app
