#include "backup/token_cache.hpp"

#include <fstream>

#include <boost/json.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.hpp"
#include "util/json.hpp"

namespace obsync::backup {

namespace fs = std::filesystem;

FileTokenCache::FileTokenCache(fs::path file, Warn warn)
    : m_file(std::move(file)), m_warn(std::move(warn)) {}

std::optional<SavedLogin> FileTokenCache::load() {
    if (!fs::exists(m_file)) {
        return std::nullopt;
    }
    try {
        std::ifstream in(m_file, std::ios::binary);
        if (!in) {
            throw Error(ErrorKind::config, "cannot read it");
        }
        const std::string text{std::istreambuf_iterator<char>(in), {}};
        const auto doc = json::parse_object(text, "saved login");
        SavedLogin login;
        login.token = json::get_string(doc, "token", "saved login");
        login.api_url = json::get_optional_string(doc, "api", "saved login").value_or("");
        login.email = json::get_optional_string(doc, "email", "saved login").value_or("");
        if (login.token.empty()) {
            throw Error(ErrorKind::bad_input, "saved login: the token is empty");
        }
        return login;
    } catch (const Error& e) {
        if (m_warn) {
            m_warn("ignoring " + m_file.string() + " (" + e.what() +
                   "): treating it as no saved login");
        }
        return std::nullopt;
    }
}

void FileTokenCache::save(const SavedLogin& login) {
    boost::json::object doc;
    doc["token"] = login.token;
    doc["api"] = login.api_url;
    doc["email"] = login.email;
    write_private_file(m_file, boost::json::serialize(doc));
}

void FileTokenCache::forget() {
    fs::remove(m_file);
}

void write_private_file(const fs::path& file, const std::string& content) {
    fs::create_directories(file.parent_path());
    fs::permissions(file.parent_path(), fs::perms::owner_all, fs::perm_options::replace);
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

}  // namespace obsync::backup
