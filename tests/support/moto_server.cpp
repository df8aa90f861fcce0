#include "support/moto_server.hpp"

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/env.hpp"

extern char** environ;

namespace obsync::test {
namespace {

// The keys every moto test uses while signature checks are off (moto accepts any).
constexpr const char* k_test_key_id = "AKIAOBSYNCTESTKEY000";
constexpr const char* k_test_secret = "obsync-test-secret-not-a-real-key";

int connect_loopback(std::uint16_t port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// A port the kernel just handed out: free now, and very likely still free a moment later.
std::uint16_t free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        throw std::runtime_error("cannot find a free loopback port");
    }
    close(fd);
    return ntohs(addr.sin_port);
}

std::uint16_t port_of(const std::string& endpoint) {
    return static_cast<std::uint16_t>(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
}

std::string moto_binary() {
    return env_var("OBSYNC_MOTO_SERVER").value_or("moto_server");
}

std::string form_encode(const std::string& text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (const unsigned char c : text) {
        if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string xml_value(const std::string& xml, const std::string& tag) {
    const auto start = xml.find("<" + tag + ">");
    const auto end = xml.find("</" + tag + ">");
    if (start == std::string::npos || end == std::string::npos) {
        throw std::runtime_error("moto reply has no <" + tag + ">: " + xml);
    }
    return xml.substr(start + tag.size() + 2, end - start - tag.size() - 2);
}

}  // namespace

int loopback_http(const std::string& endpoint, const std::string& method, const std::string& target,
                  const std::string& body, std::string& response_body,
                  const std::vector<std::pair<std::string, std::string>>& headers) {
    const int fd = connect_loopback(port_of(endpoint));
    if (fd < 0) {
        throw std::runtime_error("cannot connect to " + endpoint);
    }
    std::string request =
        method + " " + target + " HTTP/1.1\r\nHost: " + endpoint.substr(endpoint.find("//") + 2) +
        "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    for (const auto& [name, value] : headers) {
        request += name + ": " + value + "\r\n";
    }
    request += "\r\n" + body;
    std::size_t sent = 0;
    while (sent < request.size()) {
        const ssize_t n = write(fd, request.data() + sent, request.size() - sent);
        if (n <= 0) {
            close(fd);
            throw std::runtime_error("write to " + endpoint + " failed");
        }
        sent += static_cast<std::size_t>(n);
    }
    std::string reply;
    char buffer[8192];
    for (;;) {
        const ssize_t n = read(fd, buffer, sizeof buffer);
        if (n <= 0) {
            break;
        }
        reply.append(buffer, static_cast<std::size_t>(n));
    }
    close(fd);
    const auto header_end = reply.find("\r\n\r\n");
    if (reply.size() < 12 || header_end == std::string::npos) {
        throw std::runtime_error("no HTTP reply from " + endpoint);
    }
    response_body = reply.substr(header_end + 4);
    // Chunked replies (Werkzeug streams some): join the chunks.
    if (reply.substr(0, header_end).find("chunked") != std::string::npos) {
        std::string joined;
        std::size_t pos = 0;
        while (pos < response_body.size()) {
            const auto line_end = response_body.find("\r\n", pos);
            const std::size_t size =
                std::stoul(response_body.substr(pos, line_end - pos), nullptr, 16);
            if (size == 0) {
                break;
            }
            joined += response_body.substr(line_end + 2, size);
            pos = line_end + 2 + size + 2;
        }
        response_body = joined;
    }
    return std::stoi(reply.substr(9, 3));
}

MotoServer::MotoServer() {
    const std::uint16_t port = free_port();
    const std::string binary = moto_binary();
    const std::string port_text = std::to_string(port);
    std::vector<std::string> argv = {binary, "-H", "127.0.0.1", "-p", port_text};
    std::vector<char*> args;
    for (auto& a : argv) {
        args.push_back(a.data());
    }
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // moto logs every request on stderr: keep test output readable.
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    const int rc = posix_spawnp(&m_pid, binary.c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        m_pid = -1;
        throw std::runtime_error("cannot start " + binary +
                                 ": install moto with `pip install 'moto[server]'` or point "
                                 "OBSYNC_MOTO_SERVER at moto_server");
    }
    m_endpoint = "http://127.0.0.1:" + port_text;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
            m_pid = -1;
            throw std::runtime_error(binary + " exited at start (is moto[server] installed?)");
        }
        if (const int fd = connect_loopback(port); fd >= 0) {
            close(fd);
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(m_pid, SIGKILL);
    waitpid(m_pid, nullptr, 0);
    m_pid = -1;
    throw std::runtime_error(binary + " did not listen on " + m_endpoint + " within 60 s");
}

MotoServer::~MotoServer() {
    if (m_pid > 0) {
        kill(m_pid, SIGTERM);
        waitpid(m_pid, nullptr, 0);
    }
}

void MotoServer::reset() {
    std::string body;
    if (loopback_http(m_endpoint, "POST", "/moto-api/reset-auth", "inf", body) != 200 ||
        loopback_http(m_endpoint, "POST", "/moto-api/reset", "", body) != 200) {
        throw std::runtime_error("moto reset failed: " + body);
    }
}

AwsTestKeys MotoServer::enable_auth(const std::vector<std::string>& actions) {
    std::string body;
    // Three unauthenticated IAM calls set up the user; every request after them is checked.
    if (loopback_http(m_endpoint, "POST", "/moto-api/reset-auth", "3", body) != 200) {
        throw std::runtime_error("moto reset-auth failed: " + body);
    }
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/x-www-form-urlencoded"},
        // Unchecked while the three free calls last; the scope routes the call to IAM.
        {"Authorization",
         "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/iam/aws4_request, "
         "SignedHeaders=host, Signature=0"},
    };
    std::string statements;
    for (const auto& action : actions) {
        statements += (statements.empty() ? "" : ",") + std::string("\"") + action + "\"";
    }
    const std::string policy =
        R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[)" + statements +
        R"(],"Resource":"*"}]})";
    const std::vector<std::string> calls = {
        "Action=CreateUser&Version=2010-05-08&UserName=obsync-test",
        "Action=PutUserPolicy&Version=2010-05-08&UserName=obsync-test&PolicyName=obsync&"
        "PolicyDocument=" +
            form_encode(policy),
        "Action=CreateAccessKey&Version=2010-05-08&UserName=obsync-test",
    };
    for (const auto& call : calls) {
        if (loopback_http(m_endpoint, "POST", "/", call, body, headers) != 200) {
            throw std::runtime_error("moto IAM call failed: " + body);
        }
    }
    return {xml_value(body, "AccessKeyId"), xml_value(body, "SecretAccessKey")};
}

std::vector<std::pair<std::string, std::string>> MotoServer::environment(
    const AwsTestKeys& keys) const {
    const bool fixed = keys.access_key_id.empty();
    return {
        {"AWS_ACCESS_KEY_ID", fixed ? k_test_key_id : keys.access_key_id},
        {"AWS_SECRET_ACCESS_KEY", fixed ? k_test_secret : keys.secret_access_key},
        {"AWS_REGION", "us-east-1"},
        {"AWS_ENDPOINT_URL", m_endpoint},
    };
}

void MotoServer::export_environment(const AwsTestKeys& keys) const {
    for (const auto& [name, value] : environment(keys)) {
        setenv(name.c_str(), value.c_str(), 1);
    }
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_ENDPOINT_URL_S3");
    unsetenv("AWS_ENDPOINT_URL_DYNAMODB");
    unsetenv("AWS_ENDPOINT_URL_SECRETS_MANAGER");
    unsetenv("AWS_ENDPOINT_URL_SQS");
    unsetenv("AWS_DEFAULT_REGION");
}

}  // namespace obsync::test
