#pragma once

// Runs the real obsync-fake-server binary (built in this tree) for integration tests.

#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

namespace obsync::test {

// Runs a command to completion; returns its stdout. Throws std::runtime_error on a non-zero exit.
std::string run_command(const std::vector<std::string>& argv);

// The path of build/obsync-fake-server (compiled in as OBSYNC_FAKE_SERVER).
std::string fake_server_binary();

// A fresh temporary directory, removed by the destructor.
class TempDir {
public:
    TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir();
    const std::filesystem::path& path() const noexcept { return m_path; }

private:
    std::filesystem::path m_path;
};

// `obsync-fake-server serve --data DIR ARGS...`, stopped with SIGTERM by the destructor.
class FakeServerProcess {
public:
    FakeServerProcess(const std::filesystem::path& data_dir, const std::vector<std::string>& args);
    FakeServerProcess(const FakeServerProcess&) = delete;
    FakeServerProcess& operator=(const FakeServerProcess&) = delete;
    ~FakeServerProcess();

    const std::string& api_url() const noexcept { return m_api; }  // http://127.0.0.1:P
    const std::string& host() const noexcept { return m_host; }    // 127.0.0.1:Q

    // `obsync-fake-server seed --data DIR ...`: returns the vault id it prints.
    std::string seed(const std::vector<std::string>& args) const;
    // Any other subcommand on the same data directory (inject, corrupt).
    std::string admin(const std::string& subcommand, const std::vector<std::string>& args) const;

private:
    std::filesystem::path m_data_dir;
    pid_t m_pid = -1;
    int m_stdout_fd = -1;  // kept open: a closed pipe would kill the server on its next write
    std::string m_api;
    std::string m_host;
};

}  // namespace obsync::test
