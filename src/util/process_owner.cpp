#include "util/process_owner.hpp"

#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdint>

#include <sys/random.h>
#include <unistd.h>

#include "util/error.hpp"
#include "util/hex.hpp"

namespace obsync {
namespace {

std::string host_name() {
    std::array<char, 256> host{};
    ::gethostname(host.data(), host.size() - 1);
    return host.data();
}

// A "<pid>" that is all decimal digits and fits a pid_t.
bool parse_pid(std::string_view digits, pid_t& pid) {
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
    return ec == std::errc() && end == digits.data() + digits.size() && pid > 0;
}

constexpr std::size_t k_random_bytes = 8;

bool is_random_part(std::string_view text) {
    return text.size() == 2 * k_random_bytes &&
           text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

std::string local_process_owner() {
    return host_name() + ":" + std::to_string(::getpid());
}

std::string unique_run_owner() {
    std::array<std::uint8_t, k_random_bytes> random{};
    std::size_t filled = 0;
    while (filled < random.size()) {
        const ssize_t got = ::getrandom(random.data() + filled, random.size() - filled, 0);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw Error(ErrorKind::storage, "cannot read random bytes from the kernel (getrandom)");
        }
        filled += static_cast<std::size_t>(got);
    }
    return local_process_owner() + ":" + to_hex(ByteView(random.data(), random.size()));
}

bool is_dead_local_owner(std::string_view owner) {
    auto colon = owner.rfind(':');
    if (colon == std::string_view::npos) {
        return false;
    }
    std::string_view process = owner;
    // "<host>:<pid>:<random>" names a run; its process is "<host>:<pid>".
    if (is_random_part(owner.substr(colon + 1)) && colon > 0 &&
        owner.rfind(':', colon - 1) != std::string_view::npos) {
        process = owner.substr(0, colon);
        colon = process.rfind(':');
    }
    pid_t pid = 0;
    if (process.substr(0, colon) != host_name() || !parse_pid(process.substr(colon + 1), pid)) {
        return false;
    }
    return ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace obsync
