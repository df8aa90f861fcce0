#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sqlite.hpp"

namespace obsync::fake {

struct User {
    std::int64_t id = 0;
    std::string email;
    std::string name;
    std::string totp_secret;  // base32; empty when the account has no 2FA
};

// The accounts of the fake server: users, their credentials and their session tokens, in the
// `users` and `tokens` tables of the store's database. Emails are case-insensitive.
class Accounts {
public:
    // Creates the tables if needed.
    explicit Accounts(Database& db);

    // `set_credentials` creates the user if needed (name = the part before '@').
    User ensure_user(std::string_view email);
    User set_credentials(std::string_view email, std::string_view password,
                         std::string_view totp_secret);
    std::optional<User> find_user(std::string_view email);
    std::optional<User> find_user(std::int64_t id);
    bool check_password(std::int64_t user_id, std::string_view password);

    // Tokens: 32 random hex characters. `ttl_seconds` 0 means tokens never expire.
    std::string create_token(std::int64_t user_id);
    std::optional<User> user_for_token(std::string_view token, std::int64_t ttl_seconds);
    void delete_token(std::string_view token);

private:
    Database& m_db;
};

// Shared by the whole server; it lives here because accounts are the lowest layer needing it.
// 2n lowercase hex characters from the OS CSPRNG: ids, salts, tokens, managed passwords.
std::string random_hex(std::size_t bytes);

}  // namespace obsync::fake
