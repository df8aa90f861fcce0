#include "sink/local_file_writer.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <random>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE (glibc 2.28)
#include <sys/stat.h>
#include <unistd.h>

#include "sink/local_dir.hpp"
#include "util/hex.hpp"

namespace obsync::sink {
namespace {

constexpr std::string_view k_temp_marker = ".obsync-tmp-";
constexpr std::size_t k_temp_digits = 16;
// NAME_MAX is 255 bytes: the dot, the marker and the digits must fit next to the name.
constexpr std::size_t k_max_temp_stem = 200;

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
                    std::int64_t mtime_ms, bool replace, std::string where)
        : m_dir(std::move(dir)),
          m_file(std::move(file)),
          m_temp(std::move(temp)),
          m_leaf(std::move(leaf)),
          m_mtime_ms(mtime_ms),
          m_replace(replace),
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
            fail_at(ErrorKind::storage, m_where, "write after commit");
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
            fail_at(ErrorKind::storage, m_where, "committed twice");
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
        if (!m_replace) {
            rename_without_replacing();
            m_committed = true;
            return;
        }
        // renameat replaces a symbolic link at the target itself, never what it points to.
        if (::renameat(m_dir->get(), m_temp.c_str(), m_dir->get(), m_leaf.c_str()) != 0) {
            fail_errno(m_where, errno);
        }
        m_committed = true;
    }

    // RENAME_NOREPLACE; where the file system lacks it, a hard link (which fails on an existing
    // name too) and the temp name's removal.
    void rename_without_replacing() {
        int result = ::renameat2(m_dir->get(), m_temp.c_str(), m_dir->get(), m_leaf.c_str(),
                                 RENAME_NOREPLACE);
        if (result != 0 && errno == EINVAL) {
            result = ::linkat(m_dir->get(), m_temp.c_str(), m_dir->get(), m_leaf.c_str(), 0);
            if (result == 0) {
                ::unlinkat(m_dir->get(), m_temp.c_str(), 0);
            }
        }
        if (result != 0) {
            if (errno == EEXIST) {
                fail_at(ErrorKind::storage, m_where,
                        "something appeared at this name meanwhile (another program, or a name "
                        "the file system does not tell apart from another): kept, not replaced");
            }
            fail_errno(m_where, errno);
        }
    }

    SharedFd m_dir;
    UniqueFd m_file;
    std::string m_temp;
    std::string m_leaf;
    std::int64_t m_mtime_ms;
    bool m_replace;
    std::string m_where;
    bool m_committed = false;
};

}  // namespace

std::unique_ptr<sync::FileWriter> create_local_file(SharedFd dir, std::string leaf,
                                                    std::int64_t mtime_ms, bool replace,
                                                    std::string location) {
    for (int attempt = 0;; ++attempt) {
        std::string temp = temp_name(leaf);
        const int fd = ::openat(dir->get(), temp.c_str(),
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0) {
            return std::make_unique<LocalFileWriter>(std::move(dir), UniqueFd(fd), std::move(temp),
                                                     std::move(leaf), mtime_ms, replace,
                                                     std::move(location));
        }
        if (errno != EEXIST || attempt == 8) {
            fail_errno(location, errno);
        }
    }
}

bool is_local_dir_temp_name(std::string_view name) noexcept {
    const std::size_t tail = k_temp_marker.size() + k_temp_digits;
    if (name.size() < 1 + tail || name.front() != '.') {
        return false;
    }
    const std::string_view end = name.substr(name.size() - tail);
    if (end.substr(0, k_temp_marker.size()) != k_temp_marker) {
        return false;
    }
    return is_lower_hex(end.substr(k_temp_marker.size()));
}

}  // namespace obsync::sink
