#include "rest_api.hpp"

#include <functional>
#include <map>
#include <stdexcept>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "crypto/totp.hpp"
#include "crypto/vault_cipher.hpp"
#include "json_fields.hpp"
#include "util/error.hpp"

namespace obsync::fake {
namespace {

namespace json = boost::json;

// An answer of the form {"error": message}. The official client only matches substrings, so
// the wording follows §1.3 and §7 where it matters.
struct ApiError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

constexpr std::string_view k_not_logged_in = "Not logged in.";
constexpr std::string_view k_login_failed =
    "Login failed, please double check your email and password.";
constexpr std::string_view k_mfa_required = "Please enter your 2FA code.";
constexpr std::string_view k_mfa_incorrect = "2FA code is incorrect.";
constexpr std::string_view k_vault_not_found = "Vault not found.";
constexpr std::string_view k_region = "local";
// A TOTP step is 30 s; one step either side absorbs clock skew, as authenticator apps expect.
constexpr std::int64_t k_totp_step = 30;

std::string field(const json::object& request, std::string_view key) {
    return get_string(request, key).value_or("");
}

bool totp_matches(std::string_view secret, std::string_view code) {
    const std::int64_t now = now_ms() / 1000;
    for (std::int64_t skew = -1; skew <= 1; ++skew) {
        if (crypto::totp_from_base32(secret, now + skew * k_totp_step) == code) {
            return true;
        }
    }
    return false;
}

std::string lower_hex(std::string text) {
    for (char& c : text) {
        if (c >= 'A' && c <= 'F') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return text;
}

class Handlers {
public:
    Handlers(Store& store, const ServerOptions& options, const std::string& host)
        : m_store(store), m_options(options), m_host(host) {}

    json::object signin(const json::object& request) {
        const auto user = m_store.find_user(field(request, "email"));
        if (!user || !m_store.check_password(user->id, field(request, "password"))) {
            throw ApiError(std::string(k_login_failed));
        }
        if (!user->totp_secret.empty()) {
            const std::string code = field(request, "mfa");
            if (code.empty()) {
                throw ApiError(std::string(k_mfa_required));
            }
            if (!totp_matches(user->totp_secret, code)) {
                throw ApiError(std::string(k_mfa_incorrect));
            }
        }
        return {{"token", m_store.create_token(user->id)},
                {"name", user->name},
                {"email", user->email}};
    }

    json::object info(const json::object& request) {
        const User user = authenticate(request);
        return {{"name", user.name}, {"email", user.email}};
    }

    json::object signout(const json::object& request) {
        m_store.delete_token(field(request, "token"));
        return {};
    }

    json::object list(const json::object& request) {
        const User user = authenticate(request);
        json::array owned;
        for (const Vault& vault : m_store.owned_vaults(user.id)) {
            owned.push_back(entry(vault));
        }
        json::array shared;
        for (const Vault& vault : m_store.shared_vaults(user.id)) {
            shared.push_back(entry(vault));
        }
        return {{"vaults", std::move(owned)}, {"shared", std::move(shared)}};
    }

    json::object access(const json::object& request) {
        const User user = authenticate(request);
        const auto vault = m_store.find_vault(field(request, "vault_uid"));
        if (!vault || !m_store.can_access(*vault, user.id)) {
            throw ApiError(std::string(k_vault_not_found));
        }
        if (lower_hex(field(request, "keyhash")) != vault->keyhash) {
            throw ApiError("Invalid encryption key.");
        }
        return {};
    }

    json::object create(const json::object& request) {
        const User user = authenticate(request);
        Vault vault;
        vault.owner_id = user.id;
        vault.name = field(request, "name");
        if (vault.name.empty()) {
            throw ApiError("Vault name is required.");
        }
        if (m_store.owner_has_vault_named(user.id, vault.name)) {
            throw ApiError("You already have a vault with this name.");
        }
        vault.region = field(request, "region");
        if (vault.region.empty()) {
            vault.region = k_region;  // "" means automatic (§1.2)
        } else if (vault.region != k_region) {
            throw ApiError("Invalid region.");
        }
        const std::int64_t version = get_int(request, "encryption_version").value_or(3);
        if (version != 0 && version != 2 && version != 3) {
            throw ApiError("Unsupported encryption version.");
        }
        vault.encryption_version = static_cast<int>(version);
        if (is_null(request, "keyhash")) {
            // Managed ("standard") encryption, §2: the server picks salt and password, and
            // must know the keyhash to check /vault/access and init.
            vault.salt = random_hex(16);
            vault.password = random_hex(16);
            vault.keyhash =
                crypto::VaultCipher::from_password(*vault.password, vault.salt,
                                                   crypto::encryption_version_from_int(version))
                    .keyhash();
        } else {
            vault.keyhash = lower_hex(field(request, "keyhash"));
            vault.salt = field(request, "salt");
            if (vault.keyhash.empty() || vault.salt.empty()) {
                throw ApiError("keyhash and salt are required.");
            }
        }
        vault = m_store.create_vault(std::move(vault));
        return {{"id", vault.id}, {"name", vault.name}, {"region", vault.region}};
    }

    json::object regions(const json::object& request) {
        authenticate(request);
        return {{"regions", json::array{json::object{{"value", k_region}, {"name", "Local"}}}}};
    }

private:
    User authenticate(const json::object& request) {
        const auto user =
            m_store.user_for_token(field(request, "token"), m_options.token_ttl_seconds);
        if (!user) {
            throw ApiError(std::string(k_not_logged_in));
        }
        return *user;
    }

    // §2: the client reads id, name, region, host, salt, encryption_version and password.
    json::object entry(const Vault& vault) {
        json::object out{{"id", vault.id},
                         {"name", vault.name},
                         {"host", m_host},
                         {"salt", vault.salt},
                         {"encryption_version", vault.encryption_version},
                         {"region", vault.region},
                         {"size", m_store.vault_size(vault.id)},
                         {"created", vault.created_ms}};
        if (vault.password) {
            out["password"] = *vault.password;
        }
        return out;
    }

    Store& m_store;
    const ServerOptions& m_options;
    const std::string& m_host;
};

}  // namespace

RestApi::RestApi(Store& store, const ServerOptions& options, std::string host)
    : m_store(store), m_options(options), m_host(std::move(host)) {}

RestReply RestApi::handle(std::string_view path, std::string_view body) {
    using Handler = json::object (Handlers::*)(const json::object&);
    static const std::map<std::string_view, Handler> k_routes = {
        {"/user/signin", &Handlers::signin},    {"/user/info", &Handlers::info},
        {"/user/signout", &Handlers::signout},  {"/vault/list", &Handlers::list},
        {"/vault/access", &Handlers::access},   {"/vault/create", &Handlers::create},
        {"/vault/regions", &Handlers::regions},
    };
    std::string error;
    try {
        const auto route = k_routes.find(path.substr(0, path.find('?')));
        if (route == k_routes.end()) {
            throw ApiError("Not found");
        }
        const auto request = parse_object(body);
        if (!request) {
            throw ApiError("Invalid request: the body must be a JSON object.");
        }
        Handlers handlers(m_store, m_options, m_host);
        return {json::serialize((handlers.*(route->second))(*request)), {}};
    } catch (const ApiError& e) {
        error = e.what();
    } catch (const std::exception& e) {
        // Storage or crypto failures: report them without taking the server down.
        error = std::string("Internal error: ") + e.what();
    }
    return {json::serialize(json::object{{"error", error}}), error};
}

}  // namespace obsync::fake
