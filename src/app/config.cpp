#include "app/config.hpp"

#include <fstream>
#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/run_coro.hpp"
#include "aws/client.hpp"
#include "aws/secrets_manager.hpp"
#include "util/env.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace obsync::app {

namespace fs = std::filesystem;
namespace asio = boost::asio;

namespace {

fs::path xdg(const char* variable, const char* fallback) {
    if (auto value = env_var(variable)) {
        return {*value};
    }
    const auto home = env_var("HOME");
    if (!home) {
        throw Error(ErrorKind::config, std::string("neither ") + variable + " nor HOME is set");
    }
    return fs::path(*home) / fallback;
}

std::string read_text(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw Error(ErrorKind::config, "cannot read " + file.string());
    }
    return {std::istreambuf_iterator<char>(in), {}};
}

void make_private_dir(const fs::path& dir) {
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
}

}  // namespace

Paths Paths::from_environment() {
    return {xdg("XDG_CONFIG_HOME", ".config") / "obsync",
            xdg("XDG_STATE_HOME", ".local/state") / "obsync"};
}

namespace {

// The credentials JSON (a file or a secret). Error messages name the source and the field, never
// a value.
void apply_credentials_document(Credentials& c, const std::string& text,
                                const std::string& context) {
    const auto doc = json::parse_object(text, context);
    c.email = json::get_optional_string(doc, "email", context);
    c.password = json::get_optional_string(doc, "password", context);
    c.totp_secret = json::get_optional_string(doc, "totp_secret", context);
    if (const auto* vaults = doc.if_contains("vaults"); vaults != nullptr && vaults->is_object()) {
        for (const auto& [key, entry] : vaults->as_object()) {
            if (entry.is_object()) {
                if (auto pw = json::get_optional_string(entry.as_object(), "password", context)) {
                    c.vault_passwords[std::string(key)] = *pw;
                }
            }
        }
    }
}

std::string fetch_secret(const std::string& secret_id) {
    asio::io_context io;
    aws::AwsClient client(io.get_executor(), aws::AwsEnvironment::from_environment());
    std::string value;
    run_coro(io, [&]() -> asio::awaitable<void> {
        value = co_await aws::get_secret_string(client, secret_id);
    }());
    return value;
}

}  // namespace

Credentials Credentials::from_environment() {
    Credentials c;
    const auto file = env_var("OBSYNC_CREDENTIALS");
    const auto secret_id = env_var("OBSYNC_SECRET_ID");
    if (file && secret_id) {
        throw Error(ErrorKind::config,
                    "OBSYNC_CREDENTIALS and OBSYNC_SECRET_ID are both set: keep one of them");
    }
    if (file) {
        apply_credentials_document(c, read_text(*file), "credentials file " + *file);
    }
    if (secret_id) {
        apply_credentials_document(c, fetch_secret(*secret_id), "credentials secret " + *secret_id);
    }
    Credentials from_env;
    from_env.email = env_var("OBSIDIAN_EMAIL");
    from_env.password = env_var("OBSIDIAN_PASSWORD");
    from_env.totp_secret = env_var("OBSIDIAN_TOTP_SECRET");
    from_env.vault_password = env_var("OBSIDIAN_VAULT_PASSWORD");
    c.override_with(from_env);
    return c;
}

void Credentials::override_with(const Credentials& flags) {
    if (flags.email) {
        email = flags.email;
    }
    if (flags.password) {
        password = flags.password;
    }
    if (flags.totp_secret) {
        totp_secret = flags.totp_secret;
    }
    if (flags.vault_password) {
        vault_password = flags.vault_password;
    }
}

std::optional<std::string> Credentials::password_for_vault(const std::string& id,
                                                           const std::string& name) const {
    if (vault_password) {
        return vault_password;
    }
    for (const std::string& key : {id, name}) {
        if (const auto it = vault_passwords.find(key); it != vault_passwords.end()) {
            return it->second;
        }
    }
    return std::nullopt;
}

void write_private_file(const fs::path& file, const std::string& content) {
    make_private_dir(file.parent_path());
    const fs::path temp = file.string() + ".tmp";
    const int fd =
        ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        throw Error(ErrorKind::storage, "cannot write " + file.string());
    }
    const bool ok =
        ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
        ::fchmod(fd, 0600) == 0;
    ::close(fd);
    if (!ok) {
        fs::remove(temp);
        throw Error(ErrorKind::storage, "cannot write " + file.string());
    }
    fs::rename(temp, file);
}

std::optional<SavedLogin> load_login(const Paths& paths) {
    const fs::path file = paths.token_file();
    if (!fs::exists(file)) {
        return std::nullopt;
    }
    try {
        const auto doc = json::parse_object(read_text(file), "saved login");
        SavedLogin login;
        login.token = json::get_string(doc, "token", "saved login");
        login.api_url = json::get_optional_string(doc, "api", "saved login").value_or("");
        login.email = json::get_optional_string(doc, "email", "saved login").value_or("");
        if (login.token.empty()) {
            throw Error(ErrorKind::bad_input, "saved login: the token is empty");
        }
        return login;
    } catch (const Error& e) {
        // A half-written or hand-edited file must not lock the user out: a fresh sign-in (or
        // logout) replaces it. The message names the file, never its content.
        std::cerr << "obsync: warning: ignoring " << file.string() << " (" << e.what()
                  << "): treating it as no saved login" << std::endl;
        return std::nullopt;
    }
}

void save_login(const Paths& paths, const SavedLogin& login) {
    boost::json::object doc;
    doc["token"] = login.token;
    doc["api"] = login.api_url;
    doc["email"] = login.email;
    write_private_file(paths.token_file(), boost::json::serialize(doc));
}

void forget_login(const Paths& paths) {
    fs::remove(paths.token_file());
}

}  // namespace obsync::app
