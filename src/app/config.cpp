#include "app/config.hpp"

#include "util/env.hpp"
#include "util/error.hpp"

namespace obsync::app {

namespace fs = std::filesystem;

namespace {

fs::path xdg(const char* variable, const char* fallback) {
    if (auto value = env_var(variable)) {
        return {*value};
    }
    const auto home = env_var("HOME");
    if (!home) {
        throw Error(ErrorKind::config, std::string("neither ") + variable + " nor HOME is set");
    }
    return fs::path(*home) / fallback;
}

}  // namespace

Paths Paths::from_environment() {
    return {xdg("XDG_CONFIG_HOME", ".config") / "obsync",
            xdg("XDG_STATE_HOME", ".local/state") / "obsync"};
}

}  // namespace obsync::app
