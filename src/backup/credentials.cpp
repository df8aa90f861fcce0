#include "backup/credentials.hpp"

#include <fstream>

#include <boost/json.hpp>

#include "crypto/vault_cipher.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace obsync::backup {

namespace {

std::string read_text(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw Error(ErrorKind::config, "cannot read " + file);
    }
    return {std::istreambuf_iterator<char>(in), {}};
}

// An empty field is an absent one: a secret built by CloudFormation from parameters writes "" for
// every parameter left unset, and an environment variable set to "" is not a credential.
std::optional<std::string> non_empty(std::optional<std::string> value) {
    if (value && value->empty()) {
        return std::nullopt;
    }
    return value;
}

// A keyhash is checked where it is read, so that a mistyped one is a configuration error naming
// its place (`where`), not a refusal by the server much later. The value is never in the
// message: a keyhash lets anyone with the account's token download the vault's ciphertext.
std::optional<std::string> checked_keyhash(std::optional<std::string> value,
                                           const std::string& where) {
    value = non_empty(std::move(value));
    if (value && !crypto::is_keyhash(*value)) {
        throw Error(ErrorKind::config, where +
                                           " is not a keyhash: 64 lowercase hex characters, as "
                                           "obsync keyhash prints them");
    }
    return value;
}

// Finds a vault's entry in `by_vault` (keyed by vault id or name), the id first.
std::optional<std::string> find_for_vault(const std::map<std::string, std::string>& by_vault,
                                          const std::string& id, const std::string& name) {
    for (const std::string& key : {id, name}) {
        if (const auto it = by_vault.find(key); it != by_vault.end()) {
            return it->second;
        }
    }
    return std::nullopt;
}

}  // namespace

Credentials Credentials::from_document(const std::string& text, const std::string& context) {
    Credentials c;
    const auto doc = json::parse_object(text, context);
    c.email = non_empty(json::get_optional_string(doc, "email", context));
    c.password = non_empty(json::get_optional_string(doc, "password", context));
    c.totp_secret = non_empty(json::get_optional_string(doc, "totp_secret", context));
    if (const auto* vaults = doc.if_contains("vaults"); vaults != nullptr && vaults->is_object()) {
        for (const auto& [key, entry] : vaults->as_object()) {
            if (entry.is_object()) {
                if (auto pw = non_empty(
                        json::get_optional_string(entry.as_object(), "password", context))) {
                    c.vault_passwords[std::string(key)] = *pw;
                }
                const std::string where =
                    context + ": \"keyhash\" of vault entry \"" + std::string(key) + "\"";
                if (auto keyhash = checked_keyhash(
                        json::get_optional_string(entry.as_object(), "keyhash", context), where)) {
                    c.vault_keyhashes[std::string(key)] = *keyhash;
                }
            }
        }
    }
    return c;
}

Credentials Credentials::from_variables(const EnvLookup& lookup) {
    Credentials c;
    c.email = non_empty(lookup("OBSIDIAN_EMAIL"));
    c.password = non_empty(lookup("OBSIDIAN_PASSWORD"));
    c.totp_secret = non_empty(lookup("OBSIDIAN_TOTP_SECRET"));
    c.vault_password = non_empty(lookup("OBSIDIAN_VAULT_PASSWORD"));
    c.vault_keyhash = checked_keyhash(lookup("OBSIDIAN_VAULT_KEYHASH"), "OBSIDIAN_VAULT_KEYHASH");
    return c;
}

void Credentials::override_with(const Credentials& other) {
    if (other.email) {
        email = other.email;
    }
    if (other.password) {
        password = other.password;
    }
    if (other.totp_secret) {
        totp_secret = other.totp_secret;
    }
    if (other.vault_password) {
        vault_password = other.vault_password;
    }
    for (const auto& [key, value] : other.vault_passwords) {
        vault_passwords[key] = value;
    }
    if (other.vault_keyhash) {
        vault_keyhash = other.vault_keyhash;
    }
    for (const auto& [key, value] : other.vault_keyhashes) {
        vault_keyhashes[key] = value;
    }
}

std::optional<std::string> Credentials::password_for_vault(const std::string& id,
                                                           const std::string& name) const {
    if (vault_password) {
        return vault_password;
    }
    return find_for_vault(vault_passwords, id, name);
}

std::optional<std::string> Credentials::keyhash_for_vault(const std::string& id,
                                                          const std::string& name) const {
    if (vault_keyhash) {
        return vault_keyhash;
    }
    return find_for_vault(vault_keyhashes, id, name);
}

Credentials credentials_from_environment(const EnvLookup& lookup, const SecretReader& read_secret,
                                         const Credentials& flags) {
    Credentials c;
    const auto file = lookup("OBSYNC_CREDENTIALS");
    const auto secret_id = lookup("OBSYNC_SECRET_ID");
    if (file && secret_id) {
        throw Error(ErrorKind::config,
                    "OBSYNC_CREDENTIALS and OBSYNC_SECRET_ID are both set: keep one of them");
    }
    if (file) {
        c = Credentials::from_document(read_text(*file), "credentials file " + *file);
    }
    if (secret_id) {
        c = Credentials::from_document(read_secret(*secret_id), "credentials secret " + *secret_id);
    }
    c.override_with(Credentials::from_variables(lookup));
    c.override_with(flags);
    return c;
}

CachedSecretCredentials::CachedSecretCredentials(std::string secret_id, SecretReader read_secret,
                                                 Credentials overrides,
                                                 std::chrono::seconds max_age)
    : m_secret_id(std::move(secret_id)),
      m_read_secret(std::move(read_secret)),
      m_overrides(std::move(overrides)),
      m_max_age(max_age) {}

const Credentials& CachedSecretCredentials::current() {
    if (!m_credentials || Clock::now() - m_read_at >= m_max_age) {
        read();
    }
    return *m_credentials;
}

bool CachedSecretCredentials::refresh() {
    read();
    return true;
}

void CachedSecretCredentials::read() {
    Credentials c =
        Credentials::from_document(m_read_secret(m_secret_id), "credentials secret " + m_secret_id);
    c.override_with(m_overrides);
    ++m_reads;
    m_credentials = std::move(c);
    m_read_at = Clock::now();
}

}  // namespace obsync::backup
