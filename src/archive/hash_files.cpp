#include "archive/hash_files.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include "crypto/sha256.hpp"
#include "sink/unique_fd.hpp"
#include "util/hex.hpp"

namespace obsync::archive {

namespace {

constexpr std::size_t k_buffer_size = std::size_t{256} << 10;
constexpr unsigned k_max_threads = 8;

FileHash hash_one(const std::string& file, crypto::Sha256& hasher,
                  std::vector<std::uint8_t>& buffer) {
    FileHash result;
    const sink::UniqueFd fd(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
        result.error = std::strerror(errno);
        return result;
    }
    (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            result.error = std::strerror(errno);
            (void)hasher.finish();  // reset for the next file
            return result;
        }
        if (n == 0) {
            break;
        }
        hasher.update(ByteView(buffer.data(), static_cast<std::size_t>(n)));
        result.bytes += static_cast<std::uint64_t>(n);
    }
    result.hash = to_hex(hasher.finish());
    return result;
}

}  // namespace

std::vector<FileHash> hash_files(const std::filesystem::path& root,
                                 const std::vector<std::string>& paths, unsigned threads) {
    std::vector<FileHash> results(paths.size());
    if (threads == 0) {
        threads = std::clamp(std::thread::hardware_concurrency(), 1u, k_max_threads);
    }
    threads =
        std::min<unsigned>(threads, static_cast<unsigned>(std::max<std::size_t>(paths.size(), 1)));
    const std::string base = root.string();
    std::atomic<std::size_t> next{0};
    auto work = [&] {
        crypto::Sha256 hasher;
        std::vector<std::uint8_t> buffer(k_buffer_size);
        for (std::size_t i = next++; i < paths.size(); i = next++) {
            results[i] = hash_one(base + "/" + paths[i], hasher, buffer);
        }
    };
    std::vector<std::jthread> pool;
    for (unsigned t = 1; t < threads; ++t) {
        pool.emplace_back(work);
    }
    work();
    pool.clear();  // joins: every result is written
    return results;
}

}  // namespace obsync::archive
