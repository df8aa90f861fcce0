#pragma once

// The fixture of the obsync binary end to end against obsync-fake-server with a local folder as
// the destination: cli_test.cpp and cli_verify_test.cpp. Include it from one translation unit per
// executable that defines OBSYNC_BINARY.

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/cli_runner.hpp"
#include "support/fake_server_process.hpp"
#include "support/files.hpp"
#include "support/test_util.hpp"

namespace obsync::test {

namespace fs = std::filesystem;

const std::string k_account_password = "hunter2-account-secret";
const std::string k_vault_password = "correct horse vault secret";

class CliTest : public ::testing::Test {
public:
    TempDir work;
    fs::path corpus = work.path() / "corpus";
    fs::path dest = work.path() / "dest";
    std::unique_ptr<FakeServerProcess> server;

    void start(std::vector<std::string> knobs = {}) {
        std::vector<std::string> args = {"--user", "alice@example.com:" + k_account_password};
        args.insert(args.end(), knobs.begin(), knobs.end());
        server = std::make_unique<FakeServerProcess>(work.path() / "data", args);
    }

    void make_corpus(int notes = 5) {
        write_file(corpus / "Hello.md", "# Hello\n");
        write_file(corpus / "Empty.md", "");
        write_file(corpus / "Deep/er/still/note ünï 😀.md", "deep");
        write_file(corpus / ".obsidian/app.json", "{}");
        fs::create_directories(corpus / "Empty folder");
        std::mt19937_64 rng(3);
        write_file(corpus / "Attachments/big.bin", as_chars(random_bytes(rng, 3 << 20)));
        for (int i = 0; i < notes; ++i) {
            write_file(corpus / ("Notes/n" + std::to_string(i) + ".md"), std::string(200 + i, 'n'));
        }
    }

    void seed(const std::string& vault = "Vault") {
        server->seed({"--owner", "alice@example.com", "--vault", vault, "--password",
                      k_vault_password, "--encryption-version", "3", corpus.string()});
    }

    std::string env() const {
        return "XDG_CONFIG_HOME=" + shell_quote((work.path() / "config").string()) +
               " XDG_STATE_HOME=" + shell_quote((work.path() / "state").string()) +
               " OBSIDIAN_API_URL=" + shell_quote(server->api_url()) +
               " OBSIDIAN_EMAIL=alice@example.com OBSIDIAN_PASSWORD=" +
               shell_quote(k_account_password) +
               " OBSIDIAN_VAULT_PASSWORD=" + shell_quote(k_vault_password);
    }

    CliResult obsync(const std::string& args, const std::string& extra_env = "") {
        const CliResult result = run_shell(
            "env " + env() + " " + extra_env + " " + OBSYNC_BINARY + " " + args, work.path());
        // No secret in any output, whatever happened.
        for (const std::string& secret : {k_account_password, k_vault_password}) {
            EXPECT_EQ(result.out.find(secret), std::string::npos) << args;
            EXPECT_EQ(result.err.find(secret), std::string::npos) << args;
        }
        return result;
    }

    std::string sync_args(const std::string& extra = "") const {
        return "sync Vault --dest " + shell_quote(dest.string()) + " --json " + extra;
    }
};

}  // namespace obsync::test
