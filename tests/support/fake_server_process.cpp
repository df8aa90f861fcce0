#include "support/fake_server_process.hpp"

#include <chrono>
#include <random>
#include <stdexcept>

#include <boost/json/parse.hpp>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace obsync::test {
namespace {

struct Spawned {
    pid_t pid;
    int stdout_fd;
};

Spawned spawn(const std::vector<std::string>& argv) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe2 failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        throw std::runtime_error("cannot start " + argv[0]);
    }
    return {pid, fds[0]};
}

// Reads until `stop` returns true for what was read, EOF, or the deadline.
std::string read_until(int fd, std::chrono::seconds limit, bool (*stop)(const std::string&)) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buffer[4096];
    while (!stop(out) && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        const ssize_t n = read(fd, buffer, sizeof buffer);
        if (n <= 0) {
            break;
        }
        out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
}

}  // namespace

std::string run_command(const std::vector<std::string>& argv) {
    const Spawned child = spawn(argv);
    std::string out = read_until(child.stdout_fd, std::chrono::seconds(120),
                                 [](const std::string&) { return false; });
    close(child.stdout_fd);
    int status = 0;
    waitpid(child.pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::string command;
        for (const auto& a : argv) {
            command += a + " ";
        }
        throw std::runtime_error("command failed: " + command);
    }
    return out;
}

std::string fake_server_binary() {
    return OBSYNC_FAKE_SERVER;
}

TempDir::TempDir() {
    std::random_device rd;
    m_path = std::filesystem::temp_directory_path() /
             ("obsync-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(m_path);
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(m_path, ignored);
}

FakeServerProcess::FakeServerProcess(const std::filesystem::path& data_dir,
                                     const std::vector<std::string>& args)
    : m_data_dir(data_dir) {
    std::vector<std::string> argv = {fake_server_binary(), "serve", "--data", data_dir.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    const Spawned child = spawn(argv);
    m_pid = child.pid;
    m_stdout_fd = child.stdout_fd;
    const std::string line =
        read_until(m_stdout_fd, std::chrono::seconds(30),
                   [](const std::string& s) { return s.find('\n') != std::string::npos; });
    try {
        const auto ready = boost::json::parse(line.substr(0, line.find('\n'))).as_object();
        m_api = std::string(ready.at("api").as_string());
        m_host = std::string(ready.at("host").as_string());
    } catch (const std::exception&) {
        kill(m_pid, SIGKILL);
        waitpid(m_pid, nullptr, 0);
        close(m_stdout_fd);
        throw std::runtime_error("obsync-fake-server did not print its ready line: " + line);
    }
}

FakeServerProcess::~FakeServerProcess() {
    if (m_pid > 0) {
        kill(m_pid, SIGTERM);
        int status = 0;
        waitpid(m_pid, &status, 0);
    }
    if (m_stdout_fd >= 0) {
        close(m_stdout_fd);
    }
}

std::string FakeServerProcess::seed(const std::vector<std::string>& args) const {
    std::string out = admin("seed", args);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
        out.pop_back();
    }
    return out;
}

std::string FakeServerProcess::admin(const std::string& subcommand,
                                     const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {fake_server_binary(), subcommand, "--data",
                                     m_data_dir.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
}

}  // namespace obsync::test
