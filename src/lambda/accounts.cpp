#include "lambda/accounts.hpp"

#include <algorithm>

#include "util/ascii.hpp"

namespace obsync::lambda {

std::variant<AccountRef, std::string> resolve_account(const std::optional<std::string>& secret_id,
                                                      std::string_view allowed_prefix,
                                                      std::string_view own_secret_id) {
    if (!secret_id || (!own_secret_id.empty() && *secret_id == own_secret_id)) {
        return AccountRef{};
    }
    if (allowed_prefix.empty()) {
        return std::string(
            "field 'secret_id' is refused: this function backs up its own account only "
            "(ALLOWED_SECRET_PREFIX is not set)");
    }
    const std::string& id = *secret_id;
    if (id.size() <= allowed_prefix.size() ||
        id.compare(0, allowed_prefix.size(), allowed_prefix) != 0) {
        return "field 'secret_id' must name a secret under ALLOWED_SECRET_PREFIX (" +
               std::string(allowed_prefix) + "...)";
    }
    const std::string folder = id.substr(allowed_prefix.size());
    const bool chars_ok = std::all_of(folder.begin(), folder.end(), [](char c) {
        return is_ascii_alnum(c) || std::string_view("_+=.@-").find(c) != std::string_view::npos;
    });
    if (!chars_ok || folder.size() > 200 || folder == "." || folder == "..") {
        return "field 'secret_id': the part after ALLOWED_SECRET_PREFIX (" +
               std::string(allowed_prefix) +
               ") must be one folder name of a-z, A-Z, 0-9 and _+=.@- (no '/', not '.' or '..')";
    }
    return AccountRef{id, folder};
}

struct AccountPool::Entry {
    Entry(boost::asio::io_context& io, net::HttpClient& http, const std::string& api_url,
          const std::string& secret_id, const backup::SecretReader& read)
        : credentials(secret_id, read, backup::Credentials{}),
          account(io, http, api_url, credentials, tokens) {}

    backup::CachedSecretCredentials credentials;
    backup::MemoryTokenCache tokens;
    backup::Account account;
};

AccountPool::AccountPool(boost::asio::io_context& io, net::HttpClient& http, std::string api_url,
                         backup::SecretReader read_secret)
    : m_io(io),
      m_http(http),
      m_api_url(std::move(api_url)),
      m_read_secret(std::move(read_secret)) {}

AccountPool::~AccountPool() = default;

backup::Account& AccountPool::get(const AccountRef& ref) {
    auto it = m_entries.find(ref.secret_id);
    if (it == m_entries.end()) {
        if (m_entries.size() >= k_max_accounts) {
            for (const auto& [id, entry] : m_entries) {
                m_forgotten_sign_ins += entry->account.sign_ins();
            }
            m_entries.clear();
        }
        it = m_entries
                 .emplace(ref.secret_id, std::make_unique<Entry>(m_io, m_http, m_api_url,
                                                                 ref.secret_id, m_read_secret))
                 .first;
    }
    return it->second->account;
}

backup::TokenCache* AccountPool::tokens(const AccountRef& ref) {
    const auto it = m_entries.find(ref.secret_id);
    return it == m_entries.end() ? nullptr : &it->second->tokens;
}

int AccountPool::sign_ins() const {
    int n = m_forgotten_sign_ins;
    for (const auto& [id, entry] : m_entries) {
        n += entry->account.sign_ins();
    }
    return n;
}

}  // namespace obsync::lambda
