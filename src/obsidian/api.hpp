#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "obsidian/vault.hpp"

namespace obsync::net {
class HttpClient;
}

namespace obsync::obsidian {

inline constexpr std::string_view k_default_api_url = "https://api.obsidian.md";

struct Account {
    std::string token;  // a secret: never log it
    std::string name;
    std::string email;
};

struct UserInfo {
    std::string name;
    std::string email;
};

// The REST API of protocol §1. Every call is a JSON POST; HTTP 200 with an `error` key is a
// failure (§1.1). Errors: `auth` (bad credentials, invalid or expired token, vault password
// rejected), `mfa` (a 2FA code is needed or was wrong), `throttled` (HTTP 429), `network`
// (transport or HTTP 5xx), `protocol` (anything else unexpected).
class Api {
public:
    Api(net::HttpClient& http, std::string base_url = std::string(k_default_api_url));

    boost::asio::awaitable<Account> signin(std::string_view email, std::string_view password,
                                           std::string_view mfa_code);
    boost::asio::awaitable<UserInfo> user_info(std::string_view token);
    // Errors are ignored by the official client; here they are reported and the caller decides.
    boost::asio::awaitable<void> signout(std::string_view token);
    // Own vaults first, then shared ones (VaultInfo::shared).
    boost::asio::awaitable<std::vector<VaultInfo>> list_vaults(std::string_view token);
    // Checks a vault password: the server compares the keyhash (§2 sync-setup).
    boost::asio::awaitable<void> check_access(std::string_view token, const VaultInfo& vault,
                                              std::string_view keyhash);

    const std::string& base_url() const noexcept { return m_base_url; }

private:
    net::HttpClient& m_http;
    std::string m_base_url;
};

}  // namespace obsync::obsidian
