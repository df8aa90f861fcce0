#include "obsidian/api.hpp"

#include <boost/json/serialize.hpp>

#include "net/http_client.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace obsync::obsidian {

namespace asio = boost::asio;

namespace {

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

// The `error` value as text: usually a string, but anything is possible.
std::string error_text(const boost::json::value& error) {
    if (error.is_string()) {
        return std::string(error.get_string());
    }
    return boost::json::serialize(error);
}

VaultInfo parse_vault(const boost::json::value& entry, bool shared) {
    constexpr std::string_view k_context = "vault list entry";
    if (!entry.is_object()) {
        throw Error(ErrorKind::protocol, "vault list entry is not an object");
    }
    const auto& obj = entry.as_object();
    VaultInfo vault;
    vault.id = json::get_string(obj, "id", k_context);
    vault.name = json::get_optional_string(obj, "name", k_context).value_or(vault.id);
    vault.host = json::get_string(obj, "host", k_context);
    vault.salt = json::get_optional_string(obj, "salt", k_context).value_or("");
    vault.region = json::get_optional_string(obj, "region", k_context).value_or("");
    vault.encryption_version =
        static_cast<int>(json::get_optional_int(obj, "encryption_version", k_context).value_or(0));
    vault.managed_password = json::get_optional_string(obj, "password", k_context);
    vault.shared = shared;
    return vault;
}

}  // namespace

Api::Api(net::HttpClient& http, std::string base_url)
    : m_http(http), m_base_url(std::move(base_url)) {
    while (!m_base_url.empty() && m_base_url.back() == '/') {
        m_base_url.pop_back();
    }
}

// POSTs `body` to `path` and applies §1.1: non-2xx fails, the body must be a JSON object, and
// an `error` key (whatever its value) fails with that text. `on_error` turns the server's text
// into a typed error for this endpoint.
template <typename OnError>
static asio::awaitable<boost::json::object> post(net::HttpClient& http, const std::string& base,
                                                 std::string_view path, boost::json::object body,
                                                 OnError on_error, bool with_origin = false) {
    net::HttpRequest request;
    request.method = "POST";
    request.url = base + std::string(path);
    request.headers.emplace_back("Content-Type", "application/json");
    if (with_origin) {
        request.headers.emplace_back("Origin", "https://obsidian.md");
    }
    request.body = boost::json::serialize(body);
    const net::HttpResponse response = co_await http.send(std::move(request));
    const std::string context = "reply of " + std::string(path);
    if (response.status == 429) {
        throw Error(ErrorKind::throttled, std::string(path) + ": HTTP 429, too many requests");
    }
    if (response.status < 200 || response.status > 299) {
        throw Error(response.status >= 500 ? ErrorKind::network : ErrorKind::protocol,
                    std::string(path) + ": HTTP Error " + std::to_string(response.status));
    }
    boost::json::object reply = json::parse_object(response.body, context);
    if (const auto* error = reply.if_contains("error")) {
        on_error(error_text(*error));
    }
    co_return reply;
}

asio::awaitable<Account> Api::signin(std::string_view email, std::string_view password,
                                     std::string_view mfa_code) {
    boost::json::object body;
    body["email"] = email;
    body["password"] = password;
    body["mfa"] = mfa_code;
    const auto reply = co_await post(
        m_http, m_base_url, "/user/signin", std::move(body),
        [&](const std::string& message) {
            // The official client matches these substrings (§1.3).
            if (contains(message, "2FA code is incorrect")) {
                throw Error(ErrorKind::mfa,
                            "sign-in failed: the 2FA code is incorrect (" + message + ")");
            }
            if (contains(message, "2FA code")) {
                throw Error(ErrorKind::mfa,
                            "sign-in failed: this account needs a 2FA code; give --mfa CODE or "
                            "--totp-secret (" +
                                message + ")");
            }
            throw Error(ErrorKind::auth, "sign-in failed: " + message);
        },
        true);
    Account account;
    account.token = json::get_string(reply, "token", "reply of /user/signin");
    account.name = json::get_optional_string(reply, "name", "reply of /user/signin").value_or("");
    account.email = json::get_optional_string(reply, "email", "reply of /user/signin")
                        .value_or(std::string(email));
    co_return account;
}

asio::awaitable<UserInfo> Api::user_info(std::string_view token) {
    boost::json::object body;
    body["token"] = token;
    const auto reply = co_await post(
        m_http, m_base_url, "/user/info", std::move(body), [](const std::string& message) {
            throw Error(ErrorKind::auth, "the saved login is no longer valid: " + message);
        });
    co_return UserInfo{
        json::get_optional_string(reply, "name", "reply of /user/info").value_or(""),
        json::get_optional_string(reply, "email", "reply of /user/info").value_or("")};
}

asio::awaitable<void> Api::signout(std::string_view token) {
    boost::json::object body;
    body["token"] = token;
    co_await post(m_http, m_base_url, "/user/signout", std::move(body),
                  [](const std::string& message) {
                      throw Error(ErrorKind::auth, "sign-out failed: " + message);
                  });
}

asio::awaitable<std::vector<VaultInfo>> Api::list_vaults(std::string_view token) {
    boost::json::object body;
    body["token"] = token;
    body["supported_encryption_version"] = 3;
    const auto reply = co_await post(
        m_http, m_base_url, "/vault/list", std::move(body), [](const std::string& message) {
            throw Error(ErrorKind::auth, "cannot list vaults: " + message);
        });
    std::vector<VaultInfo> vaults;
    for (const auto& [key, shared] : {std::pair{"vaults", false}, std::pair{"shared", true}}) {
        const auto* list = reply.if_contains(key);
        if (list == nullptr || list->is_null()) {
            continue;
        }
        if (!list->is_array()) {
            throw Error(ErrorKind::protocol,
                        std::string("reply of /vault/list: '") + key + "' is not an array");
        }
        for (const auto& entry : list->as_array()) {
            vaults.push_back(parse_vault(entry, shared));
        }
    }
    co_return vaults;
}

asio::awaitable<void> Api::check_access(std::string_view token, const VaultInfo& vault,
                                        std::string_view keyhash) {
    boost::json::object body;
    body["token"] = token;
    body["vault_uid"] = vault.id;
    body["keyhash"] = keyhash;
    body["host"] = vault.host;
    body["encryption_version"] = vault.encryption_version;
    co_await post(m_http, m_base_url, "/vault/access", std::move(body),
                  [&](const std::string& message) {
                      throw Error(ErrorKind::auth, "the password of vault \"" + vault.name +
                                                       "\" was not accepted: " + message);
                  });
}

}  // namespace obsync::obsidian
