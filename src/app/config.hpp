#pragma once

#include <filesystem>

namespace obsync::app {

// Where obsync keeps things (issue #4): the token under $XDG_CONFIG_HOME/obsync/ and the sync
// state under $XDG_STATE_HOME/obsync/, directories 0700, files 0600.
struct Paths {
    std::filesystem::path config_dir;
    std::filesystem::path state_dir;

    static Paths from_environment();
    std::filesystem::path token_file() const { return config_dir / "token.json"; }
    std::filesystem::path state_db() const { return state_dir / "state.db"; }
};

}  // namespace obsync::app
