#pragma once

// Runs the obsync binary (or any command) through the shell for end-to-end tests.

#include <cstdlib>
#include <filesystem>
#include <string>

#include <boost/json.hpp>
#include <sys/wait.h>

#include "support/files.hpp"

namespace obsync::test {

inline std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (const char c : s) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
}

struct CliResult {
    int code = -1;
    std::string out;
    std::string err;
    boost::json::object json() const { return boost::json::parse(out).as_object(); }
};

// Runs `command` with no stdin, capturing stdout and stderr through files in `scratch`.
inline CliResult run_shell(const std::string& command, const std::filesystem::path& scratch) {
    const std::filesystem::path out = scratch / "stdout";
    const std::filesystem::path err = scratch / "stderr";
    const std::string full = command + " >" + shell_quote(out.string()) + " 2>" +
                             shell_quote(err.string()) + " </dev/null";
    const int status = std::system(full.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(out), read_file(err)};
}

}  // namespace obsync::test
