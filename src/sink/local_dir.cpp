#include "sink/local_dir.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink/unique_fd.hpp"
#include "sync/path_policy.hpp"
#include "util/error.hpp"

namespace obsync::sink {
namespace {

constexpr std::string_view k_temp_marker = ".obsync-tmp-";
constexpr std::size_t k_temp_digits = 16;
// NAME_MAX is 255 bytes: the dot, the marker and the digits must fit next to the name.
constexpr std::size_t k_max_temp_stem = 200;

// An open folder, shared by the sink's cache and the writers that rename into it.
using SharedFd = std::shared_ptr<const UniqueFd>;

// Folders kept open between calls; past this the cache starts over (well under the usual limit
// of 1,024 descriptors, next to at most 16 open writers).
constexpr std::size_t k_max_cached_dirs = 128;

struct DirCloser {
    void operator()(DIR* dir) const noexcept { ::closedir(dir); }
};

[[noreturn]] void fail(ErrorKind kind, const std::string& where, const std::string& what) {
    throw Error(kind, where + ": " + what);
}

[[noreturn]] void fail_errno(const std::string& where, int err) {
    fail(ErrorKind::storage, where, std::generic_category().message(err));
}

// Defence in depth: the engine validates paths already, but this is the last place that can
// stop "../x" or "/etc/x" from being written.
void check_path(std::string_view path) {
    if (const auto reason = sync::unsafe_path_reason(path)) {
        throw Error(ErrorKind::bad_input, "unsafe path \"" + std::string(path) + "\": " + *reason);
    }
}

std::string temp_name(std::string_view leaf) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::size_t stem = std::min(leaf.size(), k_max_temp_stem);
    // Cut at a character boundary, so the temp name stays valid UTF-8 for whoever lists it.
    while (stem < leaf.size() && stem > 0 &&
           (static_cast<unsigned char>(leaf[stem]) & 0xc0) == 0x80) {
        --stem;
    }
    std::string name = ".";
    name += leaf.substr(0, stem);
    name += k_temp_marker;
    std::uint64_t bits = rng();
    constexpr std::string_view k_digits = "0123456789abcdef";
    for (std::size_t i = 0; i < k_temp_digits; ++i) {
        name += k_digits[bits & 0xf];
        bits >>= 4;
    }
    return name;
}

timespec to_timespec(std::int64_t ms) {
    std::int64_t seconds = ms / 1000;
    std::int64_t rest = ms % 1000;
    if (rest < 0) {
        rest += 1000;
        --seconds;
    }
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(seconds);
    ts.tv_nsec = static_cast<long>(rest * 1'000'000);
    return ts;
}

class LocalFileWriter final : public sync::FileWriter {
public:
    LocalFileWriter(SharedFd dir, UniqueFd file, std::string temp, std::string leaf,
                    std::int64_t mtime_ms, std::string where)
        : m_dir(std::move(dir)),
          m_file(std::move(file)),
          m_temp(std::move(temp)),
          m_leaf(std::move(leaf)),
          m_mtime_ms(mtime_ms),
          m_where(std::move(where)) {}

    LocalFileWriter(const LocalFileWriter&) = delete;
    LocalFileWriter& operator=(const LocalFileWriter&) = delete;

    ~LocalFileWriter() override {
        m_file.reset();
        if (!m_committed) {
            ::unlinkat(m_dir->get(), m_temp.c_str(), 0);
        }
    }

    boost::asio::awaitable<void> write(ByteView bytes) override {
        do_write(bytes);
        co_return;
    }

    boost::asio::awaitable<void> commit() override {
        do_commit();
        co_return;
    }

private:
    void do_write(ByteView bytes) {
        if (!m_file.valid()) {
            fail(ErrorKind::storage, m_where, "write after commit");
        }
        while (!bytes.empty()) {
            const ssize_t n = ::write(m_file.get(), bytes.data(), bytes.size());
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                fail_errno(m_where, errno);
            }
            bytes = bytes.subspan(static_cast<std::size_t>(n));
        }
    }

    void do_commit() {
        if (!m_file.valid()) {
            fail(ErrorKind::storage, m_where, "committed twice");
        }
        const std::array<timespec, 2> times = {timespec{0, UTIME_OMIT}, to_timespec(m_mtime_ms)};
        if (::futimens(m_file.get(), times.data()) != 0) {
            fail_errno(m_where, errno);
        }
        // No fsync here: the engine flushes the sink (syncfs) before any checkpoint records this
        // file, which makes a whole batch durable at the cost of one call.
        if (::close(m_file.release()) != 0) {
            fail_errno(m_where, errno);
        }
        // renameat replaces a symbolic link at the target itself, never what it points to.
        if (::renameat(m_dir->get(), m_temp.c_str(), m_dir->get(), m_leaf.c_str()) != 0) {
            fail_errno(m_where, errno);
        }
        m_committed = true;
    }

    SharedFd m_dir;
    UniqueFd m_file;
    std::string m_temp;
    std::string m_leaf;
    std::int64_t m_mtime_ms;
    std::string m_where;
    bool m_committed = false;
};

class LocalDirSink final : public sync::Sink {
public:
    explicit LocalDirSink(std::string root) : m_root(std::move(root)) {}

    std::string describe() const override { return m_root; }

    boost::asio::awaitable<void> prepare() override {
        // A new run: folders are opened afresh, whatever happened to them in between.
        m_dirs.clear();
        m_root_dir.reset();
        UniqueFd root = open_root(true);
        walk_tree(std::move(root), "",
                  [this](int dir, const std::string& name, const std::string& path) {
                      if (is_local_dir_temp_name(name) && ::unlinkat(dir, name.c_str(), 0) != 0 &&
                          errno != ENOENT) {
                          fail_errno(where(path), errno);
                      }
                  });
        co_return;
    }

    boost::asio::awaitable<void> flush() override {
        const SharedFd root = root_dir(false);
        if (!root) {
            fail(ErrorKind::storage, m_root, "the destination folder does not exist");
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
            walk_tree(std::move(root), "",
                      [&files](int, const std::string& name, const std::string& path) {
                          if (!is_local_dir_temp_name(name)) {
                              files.push_back(path);
                          }
                      });
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

    using FileVisitor =
        std::function<void(int dir, const std::string& name, const std::string& path)>;

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
                fail(ErrorKind::storage, m_root, ec.message());
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

    // Opens `name` below `dir` as a folder, never through a symbolic link. Without `create`, a
    // missing folder or a file in its place gives an invalid descriptor.
    static UniqueFd open_dir(int dir, const std::string& name, bool create,
                             const std::string& location) {
        for (;;) {
            const int fd =
                ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0) {
                return UniqueFd(fd);
            }
            const int err = errno;
            if (err == EINTR) {
                continue;
            }
            if (err == ENOENT) {
                if (!create) {
                    return {};
                }
                if (::mkdirat(dir, name.c_str(), 0777) != 0 && errno != EEXIST) {
                    fail_errno(location, errno);
                }
                continue;
            }
            if (err == ELOOP || err == ENOTDIR) {
                struct stat st {};
                if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                    fail_errno(location, errno);
                }
                if (S_ISLNK(st.st_mode)) {
                    fail(ErrorKind::bad_input, location,
                         "is a symbolic link, refusing to write through it");
                }
                if (!create) {
                    return {};
                }
                fail(ErrorKind::storage, location, "not a folder");
            }
            fail_errno(location, err);
        }
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
        const std::size_t slash = path.rfind('/');
        const std::string_view above =
            slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
        const SharedFd parent = folder(above, create);
        if (!parent) {
            return nullptr;
        }
        const std::string name(slash == std::string_view::npos ? path : path.substr(slash + 1));
        UniqueFd fd = open_dir(parent->get(), name, create, where(path));
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
        const std::size_t slash = path.rfind('/');
        const std::string_view above =
            slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
        SharedFd dir = folder(above, create);
        if (!dir) {
            return std::nullopt;
        }
        return Parent{std::move(dir),
                      std::string(slash == std::string_view::npos ? path : path.substr(slash + 1))};
    }

    std::unique_ptr<sync::FileWriter> do_create_file(std::string_view path,
                                                     const sync::FileMeta& meta) {
        check_path(path);
        std::optional<Parent> parent = open_parent(path, true);
        if (!parent) {
            fail(ErrorKind::storage, where(path), "cannot open the parent folder");
        }
        // A vault file named like our temp files would be listed as nothing and deleted by the
        // next prepare(): refuse it up front instead.
        if (is_local_dir_temp_name(parent->leaf)) {
            fail(ErrorKind::bad_input, where(path), "the name is reserved for temp files");
        }
        struct stat st {};
        if (::fstatat(parent->dir->get(), parent->leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode)) {
            fail(ErrorKind::storage, where(path), "a folder is in the way");
        }
        for (int attempt = 0;; ++attempt) {
            std::string temp = temp_name(parent->leaf);
            const int fd = ::openat(parent->dir->get(), temp.c_str(),
                                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
            if (fd >= 0) {
                return std::make_unique<LocalFileWriter>(std::move(parent->dir), UniqueFd(fd),
                                                         std::move(temp), std::move(parent->leaf),
                                                         meta.mtime_ms, where(path));
            }
            if (errno != EEXIST || attempt == 8) {
                fail_errno(where(path), errno);
            }
        }
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
            fail(ErrorKind::storage, where(path), "is a folder, not a file");
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
            fail(ErrorKind::storage, where(path), "is a file, not a folder");
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

    // Calls `visit` for every regular file below `dir`, depth first, without following links.
    void walk_tree(UniqueFd dir, const std::string& prefix, const FileVisitor& visit) const {
        std::unique_ptr<DIR, DirCloser> listing(::fdopendir(dir.get()));
        if (!listing) {
            fail_errno(where(prefix), errno);
        }
        dir.release();  // owned by `listing` now
        const int fd = ::dirfd(listing.get());
        for (;;) {
            errno = 0;
            const dirent* entry = ::readdir(listing.get());
            if (entry == nullptr) {
                if (errno != 0) {
                    fail_errno(where(prefix), errno);
                }
                return;
            }
            const std::string name = entry->d_name;
            if (name == "." || name == "..") {
                continue;
            }
            unsigned char type = entry->d_type;
            if (type == DT_UNKNOWN) {
                struct stat st {};
                if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                    continue;  // gone since readdir
                }
                type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
            }
            const std::string path = prefix + name;
            if (type == DT_DIR) {
                const int child =
                    ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (child < 0) {
                    if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) {
                        continue;  // replaced since readdir
                    }
                    fail_errno(where(path), errno);
                }
                walk_tree(UniqueFd(child), path + "/", visit);
            } else if (type == DT_REG) {
                visit(fd, name, path);
            }
        }
    }

    std::string m_root;
    SharedFd m_root_dir;
    std::unordered_map<std::string, SharedFd> m_dirs;  // by vault path, without the root
};

}  // namespace

bool is_local_dir_temp_name(std::string_view name) noexcept {
    const std::size_t tail = k_temp_marker.size() + k_temp_digits;
    if (name.size() < 1 + tail || name.front() != '.') {
        return false;
    }
    const std::string_view end = name.substr(name.size() - tail);
    if (end.substr(0, k_temp_marker.size()) != k_temp_marker) {
        return false;
    }
    return std::all_of(end.begin() + static_cast<std::ptrdiff_t>(k_temp_marker.size()), end.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::unique_ptr<sync::Sink> open_local_dir(const std::filesystem::path& root) {
    if (root.empty()) {
        throw Error(ErrorKind::config, "the destination folder is empty");
    }
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(root, ec);
    if (ec) {
        throw Error(ErrorKind::config, root.string() + ": " + ec.message());
    }
    std::string normal = absolute.lexically_normal().string();
    while (normal.size() > 1 && normal.back() == '/') {
        normal.pop_back();
    }
    return std::make_unique<LocalDirSink>(std::move(normal));
}

}  // namespace obsync::sink
