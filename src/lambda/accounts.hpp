#pragma once

// The Obsidian accounts one deployment backs up (docs/lambda.md, "Scale out"): the function's own
// account (OBSYNC_SECRET_ID or the OBSIDIAN_* variables) and every account whose credentials are
// a secret under ALLOWED_SECRET_PREFIX. Each has its own folder under the destination prefix and
// its own token, kept while the execution environment is warm.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <boost/asio/io_context.hpp>

#include "backup/account.hpp"
#include "backup/credentials.hpp"
#include "backup/token_cache.hpp"
#include "net/http_client.hpp"

namespace obsync::lambda {

// One account of the deployment.
struct AccountRef {
    std::string secret_id;  // empty: the function's own account
    // Its folder under the destination prefix: the secret's name after ALLOWED_SECRET_PREFIX;
    // empty for the own account, whose vaults stay at <prefix>/<vault> as before.
    std::string folder;

    bool own() const noexcept { return secret_id.empty(); }
    // Names the account in logs and slot items: the secret id, or "default".
    std::string key() const { return own() ? "default" : secret_id; }
};

// The account `secret_id` names, or why it may not be used (a message naming the field, not
// quoting the value beyond the prefix rule). No secret_id, or the function's own secret
// (`own_secret_id`, when not empty), is the own account. Any other must be a secret name starting
// with `allowed_prefix` (an empty prefix allows none) whose rest is one folder name: no '/', not
// "." or "..", at most 200 bytes of a-z A-Z 0-9 _+=.@-.
std::variant<AccountRef, std::string> resolve_account(const std::optional<std::string>& secret_id,
                                                      std::string_view allowed_prefix,
                                                      std::string_view own_secret_id);

// The signed-in accounts of a warm execution environment, other than the own one: each with its
// credentials (read from its secret, re-read after 5 minutes or when the service refuses them)
// and its token. At most k_max_accounts are kept (then all are forgotten: tokens are cheap to get
// again, and memory stays bounded however many accounts one environment serves).
class AccountPool {
public:
    static constexpr std::size_t k_max_accounts = 64;

    AccountPool(boost::asio::io_context& io, net::HttpClient& http, std::string api_url,
                backup::SecretReader read_secret);
    ~AccountPool();

    // The account of `ref` (not the own one).
    backup::Account& get(const AccountRef& ref);
    // Its token cache (to mask the token in logs); null when it was never used.
    backup::TokenCache* tokens(const AccountRef& ref);
    int sign_ins() const;

private:
    struct Entry;

    boost::asio::io_context& m_io;
    net::HttpClient& m_http;
    std::string m_api_url;
    backup::SecretReader m_read_secret;
    std::map<std::string, std::unique_ptr<Entry>> m_entries;
    int m_forgotten_sign_ins = 0;
};

}  // namespace obsync::lambda
