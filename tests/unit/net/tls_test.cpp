// TLS of the HTTP client against a loopback HTTPS server with certificates made by a test CA:
// trust comes from SSL_CERT_FILE, names are verified, SNI is sent. Each test runs in its own
// process (gtest_discover_tests), so each may set SSL_CERT_FILE before the client's TLS context
// is first built.
#include "net/tls.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>
#include <unistd.h>

#include <gtest/gtest.h>

#include "net/http_client.hpp"
#include "support/run_coro.hpp"
#include "support/scripted_servers.hpp"
#include "util/error.hpp"

namespace obsync::net {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using test::ScriptedHttpServer;

void openssl(const std::string& args) {
    const std::string command = "openssl " + args + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

// A CA, a server certificate for `names` (subjectAltName syntax) signed by it, and an unrelated
// second CA.
class TlsTest : public ::testing::Test {
public:
    fs::path dir = fs::temp_directory_path() / ("obsync-tls-" + std::to_string(::getpid()));
    asio::io_context io;

    void SetUp() override {
        fs::create_directories(dir);
        for (const char* ca : {"ca", "other-ca"}) {
            openssl(
                "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=" +
                std::string(ca) + " -keyout " + path(std::string(ca) + ".key") + " -out " +
                path(std::string(ca) + ".pem"));
        }
    }
    void TearDown() override { fs::remove_all(dir); }

    std::string path(const std::string& name) const { return (dir / name).string(); }

    ScriptedHttpServer::Tls server_certificate(const std::string& names) {
        std::ofstream(path("ext.cnf")) << "subjectAltName=" << names << "\n";
        openssl("req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=server -keyout " +
                path("server.key") + " -out " + path("server.csr"));
        openssl("x509 -req -days 2 -in " + path("server.csr") + " -CA " + path("ca.pem") +
                " -CAkey " + path("ca.key") + " -CAcreateserial -extfile " + path("ext.cnf") +
                " -out " + path("server.pem"));
        return {path("server.pem"), path("server.key")};
    }

    // GET `url`; returns the error kind and message, or nothing on success.
    std::optional<std::pair<ErrorKind, std::string>> get(const std::string& url) {
        HttpClient client(io.get_executor());
        std::optional<std::pair<ErrorKind, std::string>> failure;
        test::run_coro(io, [&]() -> asio::awaitable<void> {
            try {
                HttpRequest request;
                request.url = url;
                const HttpResponse response = co_await client.send(std::move(request));
                EXPECT_EQ(response.status, 200U);
                EXPECT_EQ(response.body, "{}");
            } catch (const Error& e) {
                failure.emplace(e.kind(), e.what());
            }
        }());
        return failure;
    }

    static std::string ok(const ScriptedHttpServer::Request&) {
        return ScriptedHttpServer::json_response("{}");
    }
};

TEST_F(TlsTest, TrustsTheCaNamedBySslCertFileAndSendsSni) {
    setenv("SSL_CERT_FILE", path("ca.pem").c_str(), 1);
    ScriptedHttpServer server(io, ok, server_certificate("DNS:localhost,IP:127.0.0.1"));
    const std::string port = std::to_string(server.port());
    EXPECT_EQ(get("https://localhost:" + port + "/"), std::nullopt);
    EXPECT_EQ(server.last_sni(), "localhost");
    // An address is verified against the IP entries, and SNI carries no addresses.
    EXPECT_EQ(get("https://127.0.0.1:" + port + "/"), std::nullopt);
    EXPECT_EQ(server.last_sni(), "");
}

TEST_F(TlsTest, UntrustedIssuerIsAConfigErrorThatNamesTheBundle) {
    setenv("SSL_CERT_FILE", path("other-ca.pem").c_str(), 1);
    ScriptedHttpServer server(io, ok, server_certificate("DNS:localhost"));
    const auto failure = get("https://localhost:" + std::to_string(server.port()) + "/");
    ASSERT_TRUE(failure.has_value());
    EXPECT_EQ(failure->first, ErrorKind::config);
    EXPECT_NE(failure->second.find("certificate verify failed"), std::string::npos)
        << failure->second;
    EXPECT_NE(failure->second.find("SSL_CERT_FILE"), std::string::npos) << failure->second;
}

TEST_F(TlsTest, CertificateForAnotherNameIsRefused) {
    setenv("SSL_CERT_FILE", path("ca.pem").c_str(), 1);
    ScriptedHttpServer server(io, ok, server_certificate("DNS:sync-1.obsidian.md"));
    const auto failure = get("https://localhost:" + std::to_string(server.port()) + "/");
    ASSERT_TRUE(failure.has_value());
    EXPECT_EQ(failure->first, ErrorKind::config);
}

// The CA bundle choice: SSL_CERT_FILE alone when set; otherwise OpenSSL's default paths and the
// first system bundle that exists, Amazon Linux's (AWS Lambda) first.
class CaBundleChoiceTest : public ::testing::Test {
public:
    std::map<std::string, std::string> vars;
    std::set<std::string> files;

    detail::CaBundleChoice choose() const {
        return detail::choose_ca_bundle(
            [this](const char* name) -> std::optional<std::string> {
                const auto it = vars.find(name);
                return it == vars.end() ? std::nullopt : std::optional(it->second);
            },
            [this](const std::string& path) { return files.count(path) > 0; });
    }
};

TEST_F(CaBundleChoiceTest, SslCertFileWinsAndStandsAlone) {
    vars["SSL_CERT_FILE"] = "/opt/test-ca.pem";
    files = {"/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt"};
    const auto choice = choose();
    EXPECT_EQ(choice.file, "/opt/test-ca.pem");
    EXPECT_TRUE(choice.from_env);
    EXPECT_FALSE(choice.default_paths);
    EXPECT_NE(choice.describe().find("SSL_CERT_FILE: /opt/test-ca.pem"), std::string::npos)
        << choice.describe();
}

TEST_F(CaBundleChoiceTest, AmazonLinuxBundleComesFirst) {
    files = {"/etc/ssl/cert.pem", "/etc/ssl/certs/ca-certificates.crt",
             "/etc/pki/tls/certs/ca-bundle.crt"};
    const auto choice = choose();
    EXPECT_EQ(choice.file, "/etc/pki/tls/certs/ca-bundle.crt");
    EXPECT_FALSE(choice.from_env);
    EXPECT_TRUE(choice.default_paths);
    EXPECT_NE(choice.describe().find("/etc/pki/tls/certs/ca-bundle.crt"), std::string::npos);
}

TEST_F(CaBundleChoiceTest, DebianThenAlpineBundles) {
    files = {"/etc/ssl/cert.pem", "/etc/ssl/certs/ca-certificates.crt"};
    EXPECT_EQ(choose().file, "/etc/ssl/certs/ca-certificates.crt");
    files = {"/etc/ssl/cert.pem"};
    EXPECT_EQ(choose().file, "/etc/ssl/cert.pem");
}

TEST_F(CaBundleChoiceTest, NoBundleLeavesOpenSslDefaultsAndSaysWhereItLooked) {
    vars["SSL_CERT_DIR"] = "/etc/certs";  // honoured by OpenSSL's default paths, not by us
    const auto choice = choose();
    EXPECT_EQ(choice.file, std::nullopt);
    EXPECT_TRUE(choice.default_paths);
    const std::string text = choice.describe();
    EXPECT_NE(text.find("no CA bundle found"), std::string::npos) << text;
    EXPECT_NE(text.find("/etc/pki/tls/certs/ca-bundle.crt"), std::string::npos) << text;
    EXPECT_NE(text.find("SSL_CERT_FILE"), std::string::npos) << text;
}

}  // namespace
}  // namespace obsync::net
