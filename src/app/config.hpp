#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace obsync::app {

// Where obsync keeps things (issue #4): the token under $XDG_CONFIG_HOME/obsync/ and the sync
// state under $XDG_STATE_HOME/obsync/, directories 0700, files 0600.
struct Paths {
    std::filesystem::path config_dir;
    std::filesystem::path state_dir;

    static Paths from_environment();
    std::filesystem::path token_file() const { return config_dir / "token.json"; }
    std::filesystem::path state_db() const { return state_dir / "state.db"; }
};

// Account credentials and vault passwords. Sources, first match wins: command-line flags, then
// OBSIDIAN_EMAIL / OBSIDIAN_PASSWORD / OBSIDIAN_TOTP_SECRET / OBSIDIAN_VAULT_PASSWORD, then the
// JSON file named by OBSYNC_CREDENTIALS, or the same JSON as the Secrets Manager secret named by
// OBSYNC_SECRET_ID (name or ARN; read with the AWS_* environment, as on Lambda):
//   {"email":…, "password":…, "totp_secret":…, "vaults": {"<vault id or name>": {"password":…}}}
struct Credentials {
    std::optional<std::string> email;
    std::optional<std::string> password;
    std::optional<std::string> totp_secret;
    std::optional<std::string> vault_password;           // --password / OBSIDIAN_VAULT_PASSWORD
    std::map<std::string, std::string> vault_passwords;  // from the file, by id or name

    // Throws Error{config} if OBSYNC_CREDENTIALS names an unreadable or malformed file, or the
    // secret is missing or malformed; AWS failures reading the secret propagate as aws::AwsError.
    static Credentials from_environment();
    // Flags override what the environment gave.
    void override_with(const Credentials& flags);
    std::optional<std::string> password_for_vault(const std::string& id,
                                                  const std::string& name) const;
};

// The saved login: {"token":…, "api":…, "email":…}.
struct SavedLogin {
    std::string token;
    std::string api_url;
    std::string email;
};

std::optional<SavedLogin> load_login(const Paths& paths);
void save_login(const Paths& paths, const SavedLogin& login);
void forget_login(const Paths& paths);

// Writes `content` to `file` with mode 0600 (atomically, via a temp file), creating the parent
// directory with mode 0700.
void write_private_file(const std::filesystem::path& file, const std::string& content);

}  // namespace obsync::app
