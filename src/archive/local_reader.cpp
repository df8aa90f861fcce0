// A local backup folder read back (archive/readers.hpp).
#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <utility>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "archive/readers.hpp"
#include "sink/backup_marker.hpp"
#include "sink/local_dir.hpp"
#include "sink/posix_dir.hpp"
#include "sync/path_policy.hpp"
#include "sync/sink.hpp"
#include "util/display.hpp"
#include "util/error.hpp"

namespace obsync::archive {
namespace {

namespace asio = boost::asio;
using sink::UniqueFd;

constexpr std::size_t k_read_chunk = std::size_t{1} << 20;

std::int64_t mtime_ms_of(const struct stat& st) {
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

struct DirCloser {
    void operator()(DIR* dir) const noexcept { ::closedir(dir); }
};

class LocalReader final : public BackupReader {
public:
    LocalReader(std::filesystem::path root, std::map<std::string, std::string> hashes)
        : m_root(std::move(root)), m_hashes(std::move(hashes)) {}

    std::string describe() const override { return m_root.string(); }

    asio::awaitable<std::optional<std::string>> marker() override {
        try {
            ArchivedEntry marker;
            marker.path = std::string(sync::k_backup_meta_dir) + "/" + sink::k_backup_marker_name;
            co_return read_all(marker);
        } catch (const Error&) {
            co_return std::nullopt;  // no marker: a folder obsync did not write, or an old one
        }
    }

    asio::awaitable<std::vector<ArchivedEntry>> list() override {
        m_skipped.clear();
        std::vector<ArchivedEntry> entries;
        UniqueFd root = open_root();
        walk(std::move(root), "", entries);
        finish_listing(entries);
        co_return entries;
    }

    std::vector<std::string> skipped() const override { return m_skipped; }

    using BackupReader::read;

    asio::awaitable<void> describe(ArchivedEntry& entry) override {
        if (entry.folder) {
            entry.described = true;
            co_return;
        }
        const UniqueFd file = open_file(entry.path);
        struct stat st {};
        if (::fstat(file.get(), &st) != 0) {
            sink::fail_errno(where(entry.path), errno);
        }
        fill(entry, st);
        co_return;
    }

    asio::awaitable<Recorded> read(const ArchivedEntry& entry, const RecordedHandler& on_recorded,
                                   const ByteHandler& on_bytes) override {
        const UniqueFd file = open_file(entry.path);
        struct stat st {};
        if (::fstat(file.get(), &st) != 0) {
            sink::fail_errno(where(entry.path), errno);
        }
        ArchivedEntry now = entry;
        fill(now, st);
        co_await on_recorded(now.recorded);
        std::vector<std::uint8_t> buffer(
            std::min<std::size_t>(k_read_chunk, static_cast<std::size_t>(st.st_size) + 1));
        for (;;) {
            const ssize_t got = ::read(file.get(), buffer.data(), buffer.size());
            if (got < 0) {
                if (errno == EINTR) {
                    continue;
                }
                sink::fail_errno(where(entry.path), errno);
            }
            if (got == 0) {
                break;
            }
            co_await on_bytes(ByteView(buffer.data(), static_cast<std::size_t>(got)));
        }
        co_return now.recorded;
    }

private:
    std::string where(std::string_view path) const {
        return display_name((m_root / std::string(path)).string());
    }

    UniqueFd open_root() const {
        const int fd = ::open(m_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            const int err = errno;
            if (err == ENOENT || err == ENOTDIR) {
                throw Error(ErrorKind::config, display_name(m_root.string()) +
                                                   " is not a folder: give the folder a "
                                                   "backup was written to");
            }
            sink::fail_errno(display_name(m_root.string()), err);
        }
        return UniqueFd(fd);
    }

    // Opens a file below the root one component at a time, never through a symbolic link.
    UniqueFd open_file(std::string_view path) const {
        UniqueFd dir = open_root();
        std::string_view rest = path;
        for (std::size_t slash = rest.find('/'); slash != std::string_view::npos;
             slash = rest.find('/')) {
            UniqueFd next =
                sink::open_dir(dir.get(), std::string(rest.substr(0, slash)), false, where(path));
            if (!next.valid()) {
                throw Error(ErrorKind::not_found, where(path) + ": no such file");
            }
            dir = std::move(next);
            rest.remove_prefix(slash + 1);
        }
        const int fd =
            ::openat(dir.get(), std::string(rest).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            const int err = errno;
            if (err == ENOENT) {
                throw Error(ErrorKind::not_found, where(path) + ": no such file");
            }
            sink::fail_errno(where(path), err);
        }
        UniqueFd file(fd);
        struct stat st {};
        if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
            throw Error(ErrorKind::storage, where(path) + ": not a regular file");
        }
        return file;
    }

    std::string read_all(const ArchivedEntry& entry) const {
        const UniqueFd file = open_file(entry.path);
        std::string out;
        std::array<char, 4096> buffer{};
        for (;;) {
            const ssize_t got = ::read(file.get(), buffer.data(), buffer.size());
            if (got <= 0) {
                break;
            }
            out.append(buffer.data(), static_cast<std::size_t>(got));
        }
        return out;
    }

    void fill(ArchivedEntry& entry, const struct stat& st) const {
        entry.size = static_cast<std::uint64_t>(st.st_size);
        entry.stored_ms = mtime_ms_of(st);
        entry.recorded.mtime_ms = entry.stored_ms;
        if (const auto hash = m_hashes.find(entry.path); hash != m_hashes.end()) {
            entry.recorded.content_hash = hash->second;
        }
        entry.described = true;
    }

    // Depth first; folders as entries of their own, so empty folders come back too.
    void walk(UniqueFd dir, const std::string& prefix, std::vector<ArchivedEntry>& out) {
        const int dup = ::dup(dir.get());
        if (dup < 0) {
            sink::fail_errno(where(prefix), errno);
        }
        std::unique_ptr<DIR, DirCloser> stream(::fdopendir(dup));
        if (!stream) {
            const int err = errno;
            ::close(dup);
            sink::fail_errno(where(prefix), err);
        }
        while (const dirent* item = ::readdir(stream.get())) {
            const std::string name = item->d_name;
            if (name == "." || name == "..") {
                continue;
            }
            const std::string path = prefix.empty() ? name : prefix + "/" + name;
            if (prefix.empty() && name == sync::k_backup_meta_dir) {
                continue;  // the lock and the marker
            }
            if (sink::is_local_dir_temp_name(name)) {
                continue;  // a file an interrupted run was writing
            }
            struct stat st {};
            if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno == ENOENT) {
                    continue;  // gone since the listing
                }
                sink::fail_errno(where(path), errno);
            }
            if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
                m_skipped.push_back(path);  // a link, fifo, socket or device: never followed
                continue;
            }
            if (sync::unsafe_path_reason(path)) {
                m_skipped.push_back(path);
                continue;
            }
            ArchivedEntry entry;
            entry.path = path;
            if (S_ISDIR(st.st_mode)) {
                entry.folder = true;
                entry.described = true;
                entry.stored_ms = mtime_ms_of(st);
                out.push_back(std::move(entry));
                UniqueFd child = sink::open_dir(dir.get(), name, false, where(path));
                if (child.valid()) {
                    walk(std::move(child), path, out);
                }
                continue;
            }
            fill(entry, st);
            out.push_back(std::move(entry));
        }
    }

    std::filesystem::path m_root;
    std::map<std::string, std::string> m_hashes;
    std::vector<std::string> m_skipped;
};

}  // namespace

std::unique_ptr<BackupReader> open_local_reader(const std::filesystem::path& root,
                                                std::map<std::string, std::string> hashes) {
    if (root.empty()) {
        throw Error(ErrorKind::config, "the backup folder is empty: give the folder to read");
    }
    return std::make_unique<LocalReader>(sink::local_root_name(root), std::move(hashes));
}

}  // namespace obsync::archive
