#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace obsync::backup {

// A sign-in's token and whom it belongs to: {"token":…, "api":…, "email":…}.
struct SavedLogin {
    std::string token;
    std::string api_url;
    std::string email;
};

// Where the account token is kept between runs. The CLI keeps it in a file; a Lambda function
// keeps it in memory for its warm invocations and writes nothing.
class TokenCache {
public:
    virtual ~TokenCache() = default;
    virtual std::optional<SavedLogin> load() = 0;
    virtual void save(const SavedLogin& login) = 0;
    virtual void forget() = 0;
};

class MemoryTokenCache final : public TokenCache {
public:
    std::optional<SavedLogin> load() override { return m_login; }
    void save(const SavedLogin& login) override { m_login = login; }
    void forget() override { m_login.reset(); }

private:
    std::optional<SavedLogin> m_login;
};

// A JSON file, mode 0600 in a 0700 folder, replaced atomically. An unreadable or malformed file
// counts as no saved login (a fresh sign-in or a logout replaces it); `warn` is told why, with
// the file's name and never its content.
class FileTokenCache final : public TokenCache {
public:
    using Warn = std::function<void(const std::string&)>;

    FileTokenCache(std::filesystem::path file, Warn warn);
    std::optional<SavedLogin> load() override;
    void save(const SavedLogin& login) override;
    void forget() override;

private:
    std::filesystem::path m_file;
    Warn m_warn;
};

// Writes `content` to `file` with mode 0600 (atomically, via a temp file), creating the parent
// directory with mode 0700.
void write_private_file(const std::filesystem::path& file, const std::string& content);

}  // namespace obsync::backup
