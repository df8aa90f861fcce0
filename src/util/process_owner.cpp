#include "util/process_owner.hpp"

#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>

#include <unistd.h>

namespace obsync {
namespace {

std::string host_name() {
    std::array<char, 256> host{};
    ::gethostname(host.data(), host.size() - 1);
    return host.data();
}

}  // namespace

std::string local_process_owner() {
    return host_name() + ":" + std::to_string(::getpid());
}

bool is_dead_local_owner(std::string_view owner) {
    const auto colon = owner.rfind(':');
    if (colon == std::string_view::npos || owner.substr(0, colon) != host_name()) {
        return false;
    }
    const std::string_view digits = owner.substr(colon + 1);
    pid_t pid = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
    if (ec != std::errc() || end != digits.data() + digits.size() || pid <= 0) {
        return false;
    }
    return ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace obsync
