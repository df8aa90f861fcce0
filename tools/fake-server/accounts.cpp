#include "accounts.hpp"

#include <algorithm>
#include <cctype>

#include "crypto/gcm.hpp"
#include "crypto/secure_memory.hpp"
#include "crypto/sha256.hpp"
#include "util/bytes.hpp"
#include "util/clock.hpp"
#include "util/hex.hpp"

namespace obsync::fake {
namespace {

constexpr std::string_view k_schema = R"sql(
CREATE TABLE IF NOT EXISTS users(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_salt TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    totp_secret TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS tokens(
    token TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    created_ms INTEGER NOT NULL);
)sql";

constexpr std::string_view k_user_columns = "SELECT id, email, name, totp_secret FROM users ";

// Emails are the account key; the official service treats them case-insensitively.
std::string lowercase(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

User read_user(const Statement& s) {
    return {s.column_int(0), s.column_text(1), s.column_text(2), s.column_text(3)};
}

// A salted SHA-256 is enough for a loopback test server; it keeps passwords out of the file.
std::string password_digest(std::string_view salt, std::string_view password) {
    std::string input(salt);
    input += ':';
    input += password;
    return crypto::sha256_hex(as_bytes(input));
}

}  // namespace

std::string random_hex(std::size_t bytes) {
    Bytes buffer(bytes);
    crypto::random_bytes(buffer);
    return to_hex(buffer);
}

Accounts::Accounts(Database& db) : m_db(db) {
    m_db.exec(k_schema);
}

User Accounts::ensure_user(std::string_view email) {
    const std::string key = lowercase(email);
    const std::string name = key.substr(0, key.find('@'));
    m_db.prepare("INSERT OR IGNORE INTO users(email, name) VALUES(?1, ?2)")
        .bind(1, key)
        .bind(2, name)
        .step();
    return *find_user(key);
}

User Accounts::set_credentials(std::string_view email, std::string_view password,
                               std::string_view totp_secret) {
    const User user = ensure_user(email);
    const std::string salt = random_hex(16);
    m_db.prepare(
            "UPDATE users SET password_salt = ?1, password_hash = ?2, totp_secret = ?3 "
            "WHERE id = ?4")
        .bind(1, salt)
        .bind(2, password_digest(salt, password))
        .bind(3, totp_secret)
        .bind(4, user.id)
        .step();
    return *find_user(user.id);
}

std::optional<User> Accounts::find_user(std::string_view email) {
    auto s = m_db.prepare(std::string(k_user_columns) + "WHERE email = ?1");
    s.bind(1, lowercase(email));
    return s.step() ? std::optional(read_user(s)) : std::nullopt;
}

std::optional<User> Accounts::find_user(std::int64_t id) {
    auto s = m_db.prepare(std::string(k_user_columns) + "WHERE id = ?1");
    s.bind(1, id);
    return s.step() ? std::optional(read_user(s)) : std::nullopt;
}

bool Accounts::check_password(std::int64_t user_id, std::string_view password) {
    auto s = m_db.prepare("SELECT password_salt, password_hash FROM users WHERE id = ?1");
    s.bind(1, user_id);
    if (!s.step()) {
        return false;
    }
    const std::string expected = s.column_text(1);
    // Users created by `seed` have no password until `serve --user` gives them one.
    if (expected.empty()) {
        return false;
    }
    const std::string actual = password_digest(s.column_text(0), password);
    return crypto::secure_equal(as_bytes(actual), as_bytes(expected));
}

std::string Accounts::create_token(std::int64_t user_id) {
    std::string token = random_hex(16);
    m_db.prepare("INSERT INTO tokens(token, user_id, created_ms) VALUES(?1, ?2, ?3)")
        .bind(1, token)
        .bind(2, user_id)
        .bind(3, epoch_ms())
        .step();
    return token;
}

std::optional<User> Accounts::user_for_token(std::string_view token, std::int64_t ttl_seconds) {
    auto s = m_db.prepare("SELECT user_id, created_ms FROM tokens WHERE token = ?1");
    s.bind(1, token);
    if (!s.step()) {
        return std::nullopt;
    }
    if (ttl_seconds > 0 && epoch_ms() - s.column_int(1) >= ttl_seconds * 1000) {
        return std::nullopt;
    }
    return find_user(s.column_int(0));
}

void Accounts::delete_token(std::string_view token) {
    m_db.prepare("DELETE FROM tokens WHERE token = ?1").bind(1, token).step();
}

}  // namespace obsync::fake
