#pragma once

// The obsync binary against obsync-fake-server and moto_server: a fixture that starts the fake
// server, seeds a corpus, runs the binary with the AWS_* of moto and checks no secret in its
// output; and a probe that reads what landed in moto through our own (tested) AWS client.

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "aws/client.hpp"
#include "aws/s3.hpp"
#include "aws/secrets_manager.hpp"
#include "aws/xml.hpp"
#include "crypto/sha256.hpp"
#include "support/cli_runner.hpp"
#include "support/fake_server_process.hpp"
#include "support/files.hpp"
#include "support/moto_fixture.hpp"
#include "support/run_coro.hpp"
#include "support/test_util.hpp"

#ifndef OBSYNC_BINARY
#error "OBSYNC_BINARY must name the obsync binary under test"
#endif

namespace obsync::cli_aws {

namespace fs = std::filesystem;
using test::CliResult;
using test::read_file;
using test::shell_quote;
using test::write_file;

inline const std::string k_account_password = "hunter2-account-secret";
inline const std::string k_vault_password = "correct horse vault secret";
inline const std::string k_bucket = "obsync-backups";
inline const std::string k_table = "obsync-state";

struct S3Object {
    std::string body;
    std::map<std::string, std::string> headers;  // lowercase names
};

// Reads what landed in moto, through our own (already tested) AWS client.
class AwsProbe {
public:
    explicit AwsProbe(const test::AwsTestKeys& keys = {}) {
        test::SuiteMoto::server().export_environment(keys);
        m_client = std::make_unique<aws::AwsClient>(m_io.get_executor(),
                                                    aws::AwsEnvironment::from_environment());
    }

    net::HttpResponse call(aws::AwsRequest request) {
        return test::run_coro_value(m_io, m_client->send(std::move(request)));
    }

    void create_bucket(const std::string& bucket) {
        aws::AwsRequest r;
        r.operation = "CreateBucket";
        r.method = "PUT";
        r.path = "/" + bucket;
        call(r);
    }

    // Every key below `prefix` (without it), folder markers included; obsync's own (the lock, the
    // backup marker, upload records under .obsync/) only with `with_meta`.
    std::vector<std::string> keys(const std::string& prefix, bool with_meta = false) {
        std::vector<std::string> out;
        aws::AwsRequest r;
        r.operation = "ListObjectsV2";
        r.path = "/" + k_bucket;
        r.query = {{"list-type", "2"}, {"max-keys", "1000"}};
        if (!prefix.empty()) {
            r.query.emplace_back("prefix", prefix + "/");
        }
        const auto response = call(r);
        for (const auto block : aws::xml_blocks(response.body, "Contents")) {
            const std::string key = aws::xml_text(block, "Key").value();
            std::string relative = prefix.empty() ? key : key.substr(prefix.size() + 1);
            if (with_meta || !relative.starts_with(".obsync/")) {
                out.push_back(std::move(relative));
            }
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    void enable_versioning(const std::string& bucket) {
        aws::AwsRequest r;
        r.operation = "PutBucketVersioning";
        r.method = "PUT";
        r.path = "/" + bucket;
        r.query = {{"versioning", ""}};
        r.body = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
        call(r);
    }

    S3Object get(const std::string& key) {
        aws::AwsRequest r;
        r.operation = "GetObject";
        r.path = "/" + k_bucket + "/" + key;
        auto response = call(r);
        S3Object object{std::move(response.body), {}};
        for (auto& [name, value] : response.headers) {
            std::string lower = name;
            std::transform(lower.begin(), lower.end(), lower.begin(),
                           [](unsigned char c) { return std::tolower(c); });
            object.headers[lower] = value;
        }
        return object;
    }

    void put(const std::string& key, std::string body, net::Headers headers = {}) {
        aws::AwsRequest r;
        r.operation = "PutObject";
        r.method = "PUT";
        r.path = "/" + k_bucket + "/" + key;
        r.headers = std::move(headers);
        r.body = std::move(body);
        call(r);
    }

    boost::json::object dynamodb(const std::string& operation, const boost::json::object& body) {
        aws::AwsRequest r;
        r.service = aws::Service::dynamodb;
        r.operation = operation;
        r.method = "POST";
        r.headers = {{"content-type", "application/x-amz-json-1.0"},
                     {"x-amz-target", "DynamoDB_20120810." + operation}};
        r.body = boost::json::serialize(body);
        return boost::json::parse(call(r).body).as_object();
    }

    void create_secret(const std::string& name, const std::string& value) {
        call(aws::secrets_manager_request(
            "CreateSecret", boost::json::object{{"Name", name}, {"SecretString", value}}));
    }

private:
    boost::asio::io_context m_io;
    std::unique_ptr<aws::AwsClient> m_client;
};

class CliAwsTest : public test::MotoTest {
public:
    test::TempDir work;
    fs::path corpus = work.path() / "corpus";
    std::unique_ptr<test::FakeServerProcess> server;
    test::AwsTestKeys keys;  // empty: moto's checks are off and any key goes

    void start(std::vector<std::string> knobs = {}) {
        std::vector<std::string> args = {"--user", "alice@example.com:" + k_account_password};
        args.insert(args.end(), knobs.begin(), knobs.end());
        server = std::make_unique<test::FakeServerProcess>(work.path() / "data", args);
    }

    // `ascii_only`: moto's signature checker mishandles non-ASCII keys (see aws_client_test).
    void make_corpus(bool ascii_only = false, int notes = 5) {
        write_file(corpus / "Hello.md", "# Hello\n");
        write_file(corpus / "Empty.md", "");
        write_file(corpus / (ascii_only ? "Deep/er/note with spaces.md" : "Deep/er/note ünï 😀.md"),
                   "deep");
        write_file(corpus / ".obsidian/app.json", "{}");
        write_file(corpus / "Board.canvas", R"({"nodes":[]})");
        fs::create_directories(corpus / "Empty folder");
        std::mt19937_64 rng(5);
        write_file(corpus / "Attachments/photo.png", as_chars(test::random_bytes(rng, 70000)));
        for (int i = 0; i < notes; ++i) {
            write_file(corpus / ("Notes/n" + std::to_string(i) + ".md"), std::string(300 + i, 'n'));
        }
    }

    void seed(const std::string& vault = "Vault") {
        server->seed({"--owner", "alice@example.com", "--vault", vault, "--password",
                      k_vault_password, "--encryption-version", "3", corpus.string()});
    }

    std::string aws_env(const test::AwsTestKeys& with) const {
        std::string out;
        for (const auto& [name, value] : moto().environment(with)) {
            out += " " + name + "=" + shell_quote(value);
        }
        return out;
    }

    std::string env(bool obsidian_credentials = true) const {
        std::string out = "XDG_CONFIG_HOME=" + shell_quote((work.path() / "config").string()) +
                          " XDG_STATE_HOME=" + shell_quote((work.path() / "state").string()) +
                          " OBSIDIAN_API_URL=" + shell_quote(server->api_url()) + aws_env(keys);
        if (obsidian_credentials) {
            out += " OBSIDIAN_EMAIL=alice@example.com OBSIDIAN_PASSWORD=" +
                   shell_quote(k_account_password) +
                   " OBSIDIAN_VAULT_PASSWORD=" + shell_quote(k_vault_password);
        }
        return out;
    }

    CliResult obsync(const std::string& args, const std::string& extra_env = "",
                     bool obsidian_credentials = true) {
        const CliResult result =
            test::run_shell("env -u AWS_SESSION_TOKEN " + env(obsidian_credentials) + " " +
                                extra_env + " " + OBSYNC_BINARY + " " + args,
                            work.path());
        for (const std::string& secret :
             {k_account_password, k_vault_password, keys.secret_access_key}) {
            if (secret.empty()) {
                continue;
            }
            EXPECT_EQ(result.out.find(secret), std::string::npos) << args;
            EXPECT_EQ(result.err.find(secret), std::string::npos) << args;
        }
        return result;
    }

    static std::string s3_sync(const std::string& extra = "",
                               const std::string& prefix = "/backup") {
        return "sync Vault --dest s3://" + k_bucket + prefix + " --state dynamodb://" + k_table +
               " --json " + extra;
    }

    // Every file of the corpus is an object with the same bytes, its hash and its content type;
    // every folder has a marker; nothing else is there.
    void expect_s3_mirrors_corpus(AwsProbe& probe, const std::string& prefix = "backup") {
        const std::string key_prefix = prefix.empty() ? "" : prefix + "/";
        std::vector<std::string> expected;
        for (const auto& entry : fs::recursive_directory_iterator(corpus)) {
            const std::string rel = fs::relative(entry.path(), corpus).string();
            expected.push_back(entry.is_directory() ? rel + "/" : rel);
        }
        std::sort(expected.begin(), expected.end());
        ASSERT_EQ(probe.keys(prefix), expected);
        for (const auto& entry : fs::recursive_directory_iterator(corpus)) {
            if (entry.is_directory()) {
                continue;
            }
            const std::string rel = fs::relative(entry.path(), corpus).string();
            S3Object object = probe.get(key_prefix + rel);
            const std::string content = read_file(entry.path());
            EXPECT_EQ(object.body, content) << rel;
            EXPECT_EQ(object.headers["x-amz-meta-content-hash"],
                      crypto::sha256_hex(as_bytes(content)))
                << rel;
            EXPECT_FALSE(object.headers["x-amz-meta-mtime"].empty()) << rel;
        }
    }

    void init_table(const std::string& table = k_table) {
        const CliResult init = obsync("state-init --state dynamodb://" + table);
        ASSERT_EQ(init.code, 0) << init.err;
    }

    std::string vault_id(const std::string& name = "Vault") {
        const boost::json::object listed = obsync("vaults --json").json();
        for (const auto& v : listed.at("vaults").as_array()) {
            if (v.at("name").as_string() == name) {
                return std::string(v.at("id").as_string());
            }
        }
        ADD_FAILURE() << "no vault " << name;
        return "";
    }
};

}  // namespace obsync::cli_aws
