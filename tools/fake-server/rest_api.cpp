#include "rest_api.hpp"

#include <map>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "crypto/totp.hpp"
#include "crypto/vault_cipher.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace obsync::fake {
namespace {

// Failures are answered {"error": message} (§1.1). The official client only matches substrings,
// so the wording follows §1.3 and §7 where it matters. Handlers throw Error of a kind the client
// can act on (see is_answer); anything else is reported as an internal error.
constexpr std::string_view k_not_logged_in = "Not logged in.";
constexpr std::string_view k_login_failed =
    "Login failed, please double check your email and password.";
constexpr std::string_view k_mfa_required = "Please enter your 2FA code.";
constexpr std::string_view k_mfa_incorrect = "2FA code is incorrect.";
constexpr std::string_view k_vault_not_found = "Vault not found.";
constexpr std::string_view k_region = "local";
// A TOTP step is 30 s; one step either side absorbs clock skew, as authenticator apps expect.
constexpr std::int64_t k_totp_step = 30;

// Names the request in protocol errors about its fields ("Invalid request: field 'token' is not
// a string"), never the body, which may carry a password.
constexpr std::string_view k_context = "Invalid request";

// A string field; missing or null reads as "", a field of another type is Error{protocol}.
std::string field(const boost::json::object& request, std::string_view key) {
    return json::get_optional_string(request, key, k_context).value_or("");
}

// Errors that answer the client's request, as opposed to the server's own failures.
bool is_answer(ErrorKind kind) noexcept {
    return kind == ErrorKind::auth || kind == ErrorKind::mfa || kind == ErrorKind::not_found ||
           kind == ErrorKind::protocol || kind == ErrorKind::bad_input;
}

bool totp_matches(std::string_view secret, std::string_view code) {
    const std::int64_t now = epoch_ms() / 1000;
    for (std::int64_t skew = -1; skew <= 1; ++skew) {
        if (crypto::totp_from_base32(secret, now + skew * k_totp_step) == code) {
            return true;
        }
    }
    return false;
}

class Handlers {
public:
    Handlers(Store& store, const ServerOptions& options, const std::string& host)
        : m_store(store), m_options(options), m_host(host) {}

    boost::json::object signin(const boost::json::object& request) {
        const auto user = m_store.accounts().find_user(field(request, "email"));
        if (!user || !m_store.accounts().check_password(user->id, field(request, "password"))) {
            throw Error(ErrorKind::auth, std::string(k_login_failed));
        }
        if (!user->totp_secret.empty()) {
            const std::string code = field(request, "mfa");
            if (code.empty()) {
                throw Error(ErrorKind::mfa, std::string(k_mfa_required));
            }
            if (!totp_matches(user->totp_secret, code)) {
                throw Error(ErrorKind::mfa, std::string(k_mfa_incorrect));
            }
        }
        return {{"token", m_store.accounts().create_token(user->id)},
                {"name", user->name},
                {"email", user->email}};
    }

    boost::json::object info(const boost::json::object& request) {
        const User user = authenticate(request);
        return {{"name", user.name}, {"email", user.email}};
    }

    boost::json::object signout(const boost::json::object& request) {
        m_store.accounts().delete_token(field(request, "token"));
        return {};
    }

    boost::json::object list(const boost::json::object& request) {
        const User user = authenticate(request);
        boost::json::array owned;
        for (const Vault& vault : m_store.owned_vaults(user.id)) {
            owned.push_back(entry(vault));
        }
        boost::json::array shared;
        for (const Vault& vault : m_store.shared_vaults(user.id)) {
            shared.push_back(entry(vault));
        }
        return {{"vaults", std::move(owned)}, {"shared", std::move(shared)}};
    }

    boost::json::object access(const boost::json::object& request) {
        const User user = authenticate(request);
        const auto vault = m_store.find_vault(field(request, "vault_uid"));
        if (!vault || !m_store.can_access(*vault, user.id)) {
            throw Error(ErrorKind::not_found, std::string(k_vault_not_found));
        }
        if (!keyhash_matches(*vault, field(request, "keyhash"))) {
            throw Error(ErrorKind::auth, "Invalid encryption key.");
        }
        return {};
    }

    boost::json::object create(const boost::json::object& request) {
        const User user = authenticate(request);
        Vault vault;
        vault.owner_id = user.id;
        vault.name = field(request, "name");
        if (vault.name.empty()) {
            throw Error(ErrorKind::bad_input, "Vault name is required.");
        }
        if (m_store.owner_has_vault_named(user.id, vault.name)) {
            throw Error(ErrorKind::bad_input, "You already have a vault with this name.");
        }
        vault.region = field(request, "region");
        if (vault.region.empty()) {
            vault.region = k_region;  // "" means automatic (§1.2)
        } else if (vault.region != k_region) {
            throw Error(ErrorKind::bad_input, "Invalid region.");
        }
        const std::int64_t version =
            json::get_optional_int(request, "encryption_version", k_context).value_or(3);
        if (version != 0 && version != 2 && version != 3) {
            throw Error(ErrorKind::bad_input, "Unsupported encryption version.");
        }
        vault.encryption_version = static_cast<int>(version);
        const boost::json::value* keyhash = json::find(request, "keyhash");
        if (keyhash != nullptr && keyhash->is_null()) {
            // Managed ("standard") encryption, §2: the server picks salt and password, and
            // must know the keyhash to check /vault/access and init.
            vault.salt = random_hex(16);
            vault.password = random_hex(16);
            vault.keyhash =
                crypto::VaultCipher::from_password(*vault.password, vault.salt,
                                                   crypto::encryption_version_from_int(version))
                    .keyhash();
        } else {
            vault.keyhash = field(request, "keyhash");
            vault.salt = field(request, "salt");
            if (vault.keyhash.empty() || vault.salt.empty()) {
                throw Error(ErrorKind::bad_input, "keyhash and salt are required.");
            }
            vault.keyhash = canonical_keyhash(vault.keyhash);
        }
        vault = m_store.create_vault(std::move(vault));
        return {{"id", vault.id}, {"name", vault.name}, {"region", vault.region}};
    }

    boost::json::object regions(const boost::json::object& request) {
        authenticate(request);
        return {{"regions",
                 boost::json::array{boost::json::object{{"value", k_region}, {"name", "Local"}}}}};
    }

private:
    User authenticate(const boost::json::object& request) {
        const auto user =
            m_store.accounts().user_for_token(field(request, "token"), m_options.token_ttl_seconds);
        if (!user) {
            throw Error(ErrorKind::auth, std::string(k_not_logged_in));
        }
        return *user;
    }

    // §2: the client reads id, name, region, host, salt, encryption_version and password.
    boost::json::object entry(const Vault& vault) {
        boost::json::object out{{"id", vault.id},
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
    using Handler = boost::json::object (Handlers::*)(const boost::json::object&);
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
            throw Error(ErrorKind::not_found, "Not found");
        }
        const boost::json::object request = json::parse_object(body, k_context);
        Handlers handlers(m_store, m_options, m_host);
        return {boost::json::serialize((handlers.*(route->second))(request)), {}};
    } catch (const Error& e) {
        // Storage or crypto failures are reported too, without taking the server down.
        error = is_answer(e.kind()) ? e.what() : std::string("Internal error: ") + e.what();
    } catch (const std::exception& e) {
        error = std::string("Internal error: ") + e.what();
    }
    return {boost::json::serialize(boost::json::object{{"error", error}}), error};
}

}  // namespace obsync::fake
