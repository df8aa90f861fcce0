#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "util/env.hpp"

namespace obsync::backup {

// Account credentials and vault passwords or keyhashes (docs/cli.md, "Credentials"). The JSON
// document of a credentials file or a Secrets Manager secret:
//   {"email":…, "password":…, "totp_secret":…,
//    "vaults": {"<vault id or name>": {"password":…, "keyhash":…}}}
// A keyhash (what `obsync keyhash` prints) opens a vault for encrypted backups only: it lets the
// server serve the vault's ciphertext but decrypts nothing, so a host holding only keyhashes
// cannot read a note.
struct Credentials {
    std::optional<std::string> email;
    std::optional<std::string> password;
    std::optional<std::string> totp_secret;
    std::optional<std::string> vault_password;           // one password for every vault
    std::map<std::string, std::string> vault_passwords;  // by vault id or name
    std::optional<std::string> vault_keyhash;            // one keyhash for every vault
    std::map<std::string, std::string> vault_keyhashes;  // by vault id or name

    // Parses the JSON document; errors name `context` and the field, never a value. A keyhash
    // that is not 64 lowercase hex characters is Error{config}.
    static Credentials from_document(const std::string& text, const std::string& context);
    // OBSIDIAN_EMAIL, OBSIDIAN_PASSWORD, OBSIDIAN_TOTP_SECRET, OBSIDIAN_VAULT_PASSWORD,
    // OBSIDIAN_VAULT_KEYHASH (checked like a document's keyhash).
    static Credentials from_variables(const EnvLookup& lookup);

    // Each field `other` has replaces this one's.
    void override_with(const Credentials& other);
    bool can_sign_in() const { return email.has_value() && password.has_value(); }
    std::optional<std::string> password_for_vault(const std::string& id,
                                                  const std::string& name) const;
    // The same lookup for keyhashes: the one for every vault, else the entry by id, else by name.
    std::optional<std::string> keyhash_for_vault(const std::string& id,
                                                 const std::string& name) const;
};

// Reads a secret's string value (Secrets Manager); throws obsync::Error.
using SecretReader = std::function<std::string(const std::string& secret_id)>;

// Where the credentials of a run come from. `refresh()` is asked after the service rejected
// them: a source that can read them again (a rotated secret) does and says true.
class CredentialSource {
public:
    virtual ~CredentialSource() = default;
    virtual const Credentials& current() = 0;
    virtual bool refresh() = 0;
};

// Credentials fixed for the life of the process (the CLI's: read once at start).
class FixedCredentials final : public CredentialSource {
public:
    explicit FixedCredentials(Credentials credentials) : m_credentials(std::move(credentials)) {}
    const Credentials& current() override { return m_credentials; }
    bool refresh() override { return false; }

private:
    Credentials m_credentials;
};

// The CLI's sources, first match wins: `flags`, then the OBSIDIAN_* variables, then the JSON
// file named by OBSYNC_CREDENTIALS or the secret named by OBSYNC_SECRET_ID (never both: that is
// a config Error). Throws Error{config} for an unreadable or malformed file or secret.
Credentials credentials_from_environment(const EnvLookup& lookup, const SecretReader& read_secret,
                                         const Credentials& flags = {});

// A secret read through `read_secret`, kept for `max_age` (a warm Lambda function does not read
// it on every invocation) and read again when older or when refresh() is asked; `overrides`
// (the OBSIDIAN_* variables) win over the secret's fields.
class CachedSecretCredentials final : public CredentialSource {
public:
    using Clock = std::chrono::steady_clock;

    CachedSecretCredentials(std::string secret_id, SecretReader read_secret, Credentials overrides,
                            std::chrono::seconds max_age = std::chrono::minutes(5));
    const Credentials& current() override;
    bool refresh() override;

    // Secret reads so far (tests and logs).
    int reads() const noexcept { return m_reads; }

private:
    void read();

    std::string m_secret_id;
    SecretReader m_read_secret;
    Credentials m_overrides;
    std::chrono::seconds m_max_age;
    std::optional<Credentials> m_credentials;
    Clock::time_point m_read_at{};
    int m_reads = 0;
};

}  // namespace obsync::backup
