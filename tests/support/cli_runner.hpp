#pragma once

// Runs the obsync binary (or any command) through the shell for end-to-end tests.

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

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

// Starts every command at once (each through the shell, no stdin) and waits for all of them:
// for races between runs. Results in the order of `commands`.
inline std::vector<CliResult> run_shell_concurrently(const std::vector<std::string>& commands,
                                                     const std::filesystem::path& scratch) {
    std::vector<pid_t> pids;
    for (std::size_t i = 0; i < commands.size(); ++i) {
        const std::string name = (scratch / ("concurrent-" + std::to_string(i))).string();
        const std::string full = "exec " + commands[i] + " >" + shell_quote(name + ".out") + " 2>" +
                                 shell_quote(name + ".err") + " </dev/null";
        const pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/sh", "sh", "-c", full.c_str(), nullptr);
            _exit(127);
        }
        pids.push_back(pid);
    }
    std::vector<CliResult> results;
    for (std::size_t i = 0; i < pids.size(); ++i) {
        int status = 0;
        waitpid(pids[i], &status, 0);
        const std::string name = (scratch / ("concurrent-" + std::to_string(i))).string();
        results.push_back({WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(name + ".out"),
                           read_file(name + ".err")});
    }
    return results;
}

}  // namespace obsync::test
