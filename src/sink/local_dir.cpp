#include "sink/local_dir.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink/local_claim.hpp"
#include "sink/local_file_writer.hpp"
#include "sink/posix_dir.hpp"
#include "sync/path_policy.hpp"
#include "util/display.hpp"
#include "util/error.hpp"

namespace obsync::sink {
namespace {

// Folders kept open between calls; past this the cache starts over (well under the usual limit
// of 1,024 descriptors, next to at most 16 open writers).
constexpr std::size_t k_max_cached_dirs = 128;

// Defence in depth: the engine validates paths already, but this is the last place that can
// stop "../x" or "/etc/x" from being written.
void check_path(std::string_view path) {
    if (const auto reason = sync::unsafe_path_reason(path)) {
        throw Error(ErrorKind::bad_input, "unsafe path \"" + shorten(path) + "\": " + *reason);
    }
}

// A vault path split at its last '/': the folder above ("" for the root) and the last name.
struct PathSplit {
    std::string_view above;
    std::string_view name;
};

// The lock and marker of local_claim.hpp, at the root only.
bool is_backup_meta(std::string_view path) {
    return path.starts_with(sync::k_backup_meta_dir) &&
           path.size() > sync::k_backup_meta_dir.size() &&
           path[sync::k_backup_meta_dir.size()] == '/';
}

PathSplit split_last(std::string_view path) {
    const std::size_t slash = path.rfind('/');
    if (slash == std::string_view::npos) {
        return {std::string_view(), path};
    }
    return {path.substr(0, slash), path.substr(slash + 1)};
}

class LocalDirSink final : public sync::Sink {
public:
    explicit LocalDirSink(std::string root) : m_root(std::move(root)) {}

    std::string describe() const override { return m_root; }

    boost::asio::awaitable<std::unique_ptr<sync::DestinationLock>> claim(
        const sync::BackupIdentity& backup, std::chrono::seconds) override {
        co_return claim_local_dir(m_root, backup);
    }

    // A folder keeps no record of who wrote a file: only the state can say.
    boost::asio::awaitable<bool> written_by_backup(std::string_view) override { co_return false; }

    boost::asio::awaitable<void> prepare() override {
        // A new run: folders are opened afresh, whatever happened to them in between.
        m_dirs.clear();
        m_root_dir.reset();
        UniqueFd root = open_root(true);
        walk_files(
            std::move(root), "",
            [this](int dir, const std::string& name, const std::string& path) {
                if (is_local_dir_temp_name(name) && ::unlinkat(dir, name.c_str(), 0) != 0 &&
                    errno != ENOENT) {
                    fail_errno(where(path), errno);
                }
            },
            [this](std::string_view path) { return where(path); });
        co_return;
    }

    boost::asio::awaitable<void> flush() override {
        const SharedFd root = root_dir(false);
        if (!root) {
            fail_at(ErrorKind::storage, m_root, "the destination folder does not exist");
        }
        if (::syncfs(root->get()) != 0) {
            fail_errno(where(""), errno);
        }
        co_return;
    }

    boost::asio::awaitable<std::unique_ptr<sync::FileWriter>> create_file(
        std::string_view path, sync::FileMeta meta) override {
        co_return do_create_file(path, meta);
    }

    boost::asio::awaitable<void> create_folder(std::string_view path) override {
        check_path(path);
        folder(path, true);
        co_return;
    }

    boost::asio::awaitable<void> remove_file(std::string_view path) override {
        do_remove_file(path);
        co_return;
    }

    boost::asio::awaitable<bool> remove_folder_if_empty(std::string_view path) override {
        co_return do_remove_folder_if_empty(path);
    }

    boost::asio::awaitable<std::optional<sync::EntryInfo>> stat(std::string_view path) override {
        co_return do_stat(path);
    }

    boost::asio::awaitable<std::vector<std::string>> list_files() override {
        std::vector<std::string> files;
        UniqueFd root = open_root(false);
        if (root.valid()) {
            walk_files(
                std::move(root), "",
                [&files](int, const std::string& name, const std::string& path) {
                    if (!is_local_dir_temp_name(name) && !is_backup_meta(path)) {
                        files.push_back(path);
                    }
                },
                [this](std::string_view path) { return where(path); });
        }
        std::sort(files.begin(), files.end());
        co_return files;
    }

private:
    // The parent folder of a vault path, opened, and the last component.
    struct Parent {
        SharedFd dir;
        std::string leaf;
    };

    std::string where(std::string_view path) const {
        std::string out = m_root;
        if (out.back() != '/') {
            out += '/';
        }
        out += path;
        return out;
    }

    // The root itself is the user's choice and may be (or lie below) a symbolic link; only what
    // is below it is walked without following links. Without `create`, a missing root gives an
    // invalid descriptor.
    UniqueFd open_root(bool create) const {
        if (create) {
            std::error_code ec;
            std::filesystem::create_directories(m_root, ec);
            if (ec && ec != std::errc::file_exists) {
                fail_at(ErrorKind::storage, m_root, ec.message());
            }
        }
        const int fd = ::open(m_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT && !create) {
                return {};
            }
            fail_errno(m_root, errno);
        }
        return UniqueFd(fd);
    }

    // The root, opened once and kept (see open_root); null when it is missing and not `create`.
    SharedFd root_dir(bool create) {
        if (!m_root_dir) {
            UniqueFd fd = open_root(create);
            if (!fd.valid()) {
                return nullptr;
            }
            m_root_dir = std::make_shared<const UniqueFd>(std::move(fd));
        }
        return m_root_dir;
    }

    // The folder at vault path `path` ("" is the root), opened one component at a time from the
    // root and kept, so that a file costs one lookup of its own name instead of one per folder
    // above it. Null when a component is missing (or a file) and not `create`.
    SharedFd folder(std::string_view path, bool create) {
        if (path.empty()) {
            return root_dir(create);
        }
        if (const auto hit = m_dirs.find(std::string(path)); hit != m_dirs.end()) {
            return hit->second;
        }
        const PathSplit split = split_last(path);
        const SharedFd parent = folder(split.above, create);
        if (!parent) {
            return nullptr;
        }
        UniqueFd fd = open_dir(parent->get(), std::string(split.name), create, where(path));
        if (!fd.valid()) {
            return nullptr;
        }
        if (m_dirs.size() >= k_max_cached_dirs) {
            m_dirs.clear();
        }
        auto opened = std::make_shared<const UniqueFd>(std::move(fd));
        m_dirs.emplace(std::string(path), opened);
        return opened;
    }

    // Forgets `path` and every folder below it (after it was removed).
    void forget_folder(std::string_view path) {
        std::erase_if(m_dirs, [path](const auto& entry) {
            const std::string& cached = entry.first;
            return cached.starts_with(path) &&
                   (cached.size() == path.size() || cached[path.size()] == '/');
        });
    }

    std::optional<Parent> open_parent(std::string_view path, bool create) {
        check_path(path);
        const PathSplit split = split_last(path);
        SharedFd dir = folder(split.above, create);
        if (!dir) {
            return std::nullopt;
        }
        return Parent{std::move(dir), std::string(split.name)};
    }

    std::unique_ptr<sync::FileWriter> do_create_file(std::string_view path,
                                                     const sync::FileMeta& meta) {
        std::optional<Parent> parent = open_parent(path, true);  // checks the path
        if (!parent) {
            fail_at(ErrorKind::storage, where(path), "cannot open the parent folder");
        }
        // A vault file named like our temp files would be listed as nothing and deleted by the
        // next prepare(): refuse it up front instead.
        if (is_local_dir_temp_name(parent->leaf)) {
            fail_at(ErrorKind::bad_input, where(path), "the name is reserved for temp files");
        }
        struct stat st {};
        if (::fstatat(parent->dir->get(), parent->leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode)) {
            fail_at(ErrorKind::storage, where(path), "a folder is in the way");
        }
        return create_local_file(std::move(parent->dir), std::move(parent->leaf), meta.mtime_ms,
                                 meta.replace, where(path));
    }

    void do_remove_file(std::string_view path) {
        const std::optional<Parent> parent = open_parent(path, false);
        if (!parent) {
            return;
        }
        if (::unlinkat(parent->dir->get(), parent->leaf.c_str(), 0) == 0 || errno == ENOENT) {
            return;
        }
        if (errno == EISDIR) {
            fail_at(ErrorKind::storage, where(path), "is a folder, not a file");
        }
        fail_errno(where(path), errno);
    }

    bool do_remove_folder_if_empty(std::string_view path) {
        const std::optional<Parent> parent = open_parent(path, false);
        if (!parent) {
            return true;
        }
        if (::unlinkat(parent->dir->get(), parent->leaf.c_str(), AT_REMOVEDIR) == 0 ||
            errno == ENOENT) {
            forget_folder(path);
            return true;
        }
        if (errno == ENOTEMPTY || errno == EEXIST) {
            return false;
        }
        if (errno == ENOTDIR) {
            fail_at(ErrorKind::storage, where(path), "is a file, not a folder");
        }
        fail_errno(where(path), errno);
    }

    std::optional<sync::EntryInfo> do_stat(std::string_view path) {
        const std::optional<Parent> parent = open_parent(path, false);
        if (!parent) {
            return std::nullopt;
        }
        struct stat st {};
        if (::fstatat(parent->dir->get(), parent->leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT || errno == ENOTDIR) {
                return std::nullopt;
            }
            fail_errno(where(path), errno);
        }
        if (S_ISDIR(st.st_mode)) {
            return sync::EntryInfo{.folder = true, .size = 0, .content_hash = std::nullopt};
        }
        if (S_ISREG(st.st_mode)) {
            return sync::EntryInfo{.folder = false,
                                   .size = static_cast<std::uint64_t>(st.st_size),
                                   .content_hash = std::nullopt};
        }
        return std::nullopt;
    }

    std::string m_root;
    SharedFd m_root_dir;
    std::unordered_map<std::string, SharedFd> m_dirs;  // by vault path, without the root
};

}  // namespace

std::unique_ptr<sync::Sink> open_local_dir(const std::filesystem::path& root) {
    if (root.empty()) {
        throw Error(ErrorKind::config, "the destination folder is empty");
    }
    return std::make_unique<LocalDirSink>(local_root_name(root));
}

std::string local_root_name(const std::filesystem::path& root) {
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(root, ec);
    if (ec) {
        throw Error(ErrorKind::config, root.string() + ": " + ec.message());
    }
    std::string normal = absolute.lexically_normal().string();
    while (normal.size() > 1 && normal.back() == '/') {
        normal.pop_back();
    }
    return normal;
}

}  // namespace obsync::sink
