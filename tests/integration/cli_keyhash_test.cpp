// obsync keyhash against the real obsync-fake-server: the keyhash it prints is the one the vault's
// password derives (v0 and v3, own and managed vaults), checked with the server first; failures
// leave stdout empty and never show a password. And what a keyhash in the credentials allows.
#include <filesystem>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "crypto/vault_cipher.hpp"
#include "net/http_client.hpp"
#include "obsidian/api.hpp"
#include "support/cli_fixture.hpp"
#include "support/cli_runner.hpp"
#include "support/files.hpp"
#include "support/run_coro.hpp"

namespace obsync {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using test::CliResult;
using test::k_account_password;
using test::k_vault_password;
using test::shell_quote;
using test::write_file;

const std::string k_other_password = "another vault's own secret";
const std::string k_managed_password = "6113761f8929d1c8527f80414030f6df";

class CliKeyhashTest : public test::CliTest {
public:
    void SetUp() override {
        start();
        write_file(corpus / "Hello.md", "# Hello\n");
        seed_vault("V3", k_vault_password, "3");
        seed_vault("V0", k_vault_password, "0");
        seed_vault("Other", k_other_password, "3");
    }

    std::string seed_vault(const std::string& name, const std::string& password,
                           const std::string& version, bool managed = false) {
        std::vector<std::string> args = {
            "--owner", "alice@example.com",    "--vault", name, "--password",
            password,  "--encryption-version", version};
        if (managed) {
            args.push_back("--managed");
        }
        args.push_back(corpus.string());
        return server->seed(args);
    }

    // The vault as the server lists it (its salt and encryption version).
    obsidian::VaultInfo listed(const std::string& name) {
        asio::io_context io;
        net::HttpClient http(io.get_executor());
        obsidian::Api api(http, server->api_url());
        obsidian::VaultInfo out;
        // Named, not temporaries: g++ 12 mishandles class temporaries inside co_await.
        const std::string email = "alice@example.com";
        const std::string no_mfa;
        test::run_coro(io, [&]() -> asio::awaitable<void> {
            const obsidian::Account account =
                co_await api.signin(email, k_account_password, no_mfa);
            const std::vector<obsidian::VaultInfo> vaults = co_await api.list_vaults(account.token);
            out = obsidian::find_vault(vaults, name);
        }());
        return out;
    }

    // The environment of a run whose credentials hold only `keyhash` for vault V3: no password.
    std::string keyhash_only_env(const std::string& keyhash) {
        const fs::path credentials = work.path() / "credentials.json";
        write_file(credentials, R"({"vaults":{"V3":{"keyhash":")" + keyhash + R"("}}})");
        return "OBSIDIAN_VAULT_PASSWORD= OBSYNC_CREDENTIALS=" + shell_quote(credentials.string());
    }

    std::string expected_keyhash(const std::string& name, const std::string& password) {
        const obsidian::VaultInfo vault = listed(name);
        return crypto::VaultCipher::from_password(
                   password, vault.salt,
                   crypto::encryption_version_from_int(vault.encryption_version))
            .keyhash();
    }
};

TEST_F(CliKeyhashTest, PrintsTheKeyhashThePasswordDerivesForV3AndV0Vaults) {
    for (const char* name : {"V3", "V0"}) {
        const std::string expected = expected_keyhash(name, k_vault_password);
        const CliResult r = obsync(std::string("keyhash ") + name);
        ASSERT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(r.out, expected + "\n");
        EXPECT_TRUE(crypto::is_keyhash(expected));
    }
    EXPECT_NE(expected_keyhash("V3", k_vault_password), expected_keyhash("V0", k_vault_password));
    // By id too.
    const obsidian::VaultInfo v3 = listed("V3");
    const CliResult by_id = obsync("keyhash " + shell_quote(v3.id));
    ASSERT_EQ(by_id.code, 0) << by_id.err;
    EXPECT_EQ(by_id.out, expected_keyhash("V3", k_vault_password) + "\n");
}

TEST_F(CliKeyhashTest, JsonNamesTheVaultAndItsEncryptionVersion) {
    const obsidian::VaultInfo v0 = listed("V0");
    const CliResult r = obsync("keyhash V0 --json");
    ASSERT_EQ(r.code, 0) << r.err;
    const boost::json::object o = r.json();
    EXPECT_EQ(o.size(), 4U);
    EXPECT_EQ(o.at("vault_id").as_string(), v0.id);
    EXPECT_EQ(o.at("vault_name").as_string(), "V0");
    EXPECT_EQ(o.at("encryption_version").as_int64(), 0);
    EXPECT_EQ(o.at("keyhash").as_string(), expected_keyhash("V0", k_vault_password));
    EXPECT_EQ(obsync("keyhash V3 --json").json().at("encryption_version").as_int64(), 3);
}

TEST_F(CliKeyhashTest, PasswordFlagWinsOverTheEnvironment) {
    const CliResult r = obsync("keyhash Other --password " + shell_quote(k_other_password));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, expected_keyhash("Other", k_other_password) + "\n");
    EXPECT_EQ(r.err.find(k_other_password), std::string::npos);
}

TEST_F(CliKeyhashTest, AManagedVaultNeedsNoPassword) {
    seed_vault("Managed", k_managed_password, "3", true);
    const CliResult r = obsync("keyhash Managed", "OBSIDIAN_VAULT_PASSWORD=");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, expected_keyhash("Managed", k_managed_password) + "\n");
}

// The environment's password is not Other's: the server refuses the keyhash, and nothing that
// could pass for a keyhash reaches stdout, with or without --json.
TEST_F(CliKeyhashTest, AWrongPasswordIsExit2WithEmptyStdout) {
    for (const char* json : {"", " --json"}) {
        const CliResult r = obsync(std::string("keyhash Other") + json);
        EXPECT_EQ(r.code, 2) << r.err;
        EXPECT_EQ(r.out, "");
        EXPECT_NE(r.err.find("Other"), std::string::npos) << r.err;
    }
    const std::string wrong = "wrong horse battery";
    const CliResult flag = obsync("keyhash V3 --password " + shell_quote(wrong));
    EXPECT_EQ(flag.code, 2) << flag.err;
    EXPECT_EQ(flag.out, "");
    EXPECT_EQ(flag.err.find(wrong), std::string::npos) << flag.err;
}

TEST_F(CliKeyhashTest, NoPasswordIsExit2WithEmptyStdout) {
    const CliResult r = obsync("keyhash V3 --json", "OBSIDIAN_VAULT_PASSWORD=");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("--password"), std::string::npos) << r.err;
}

TEST_F(CliKeyhashTest, AnUnknownVaultIsExit3WithEmptyStdout) {
    for (const char* json : {"", " --json"}) {
        const CliResult r = obsync(std::string("keyhash Nope") + json);
        EXPECT_EQ(r.code, 3) << r.err;
        EXPECT_EQ(r.out, "");
    }
}

TEST_F(CliKeyhashTest, AVaultIsRequired) {
    const CliResult r = obsync("keyhash");
    EXPECT_EQ(r.code, 4);
    EXPECT_EQ(r.out, "");
}

// A keyhash in the credentials instead of the password: a plaintext backup is impossible, said
// plainly before anything is written.
TEST_F(CliKeyhashTest, AKeyhashAloneInTheCredentialsRefusesAPlaintextSync) {
    const std::string keyhash = obsync("keyhash V3").out.substr(0, 64);
    ASSERT_TRUE(crypto::is_keyhash(keyhash));
    const std::string env = keyhash_only_env(keyhash);
    const CliResult r = obsync("sync V3 --dest " + shell_quote(dest.string()), env);
    EXPECT_EQ(r.code, 4) << r.err;
    EXPECT_NE(r.err.find("has only a keyhash in the credentials: only encrypted backups "
                         "(--encrypted) are possible"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(dest));
}

// The keyhash alone is enough for an encrypted backup: no password anywhere in the run.
TEST_F(CliKeyhashTest, AKeyhashAloneInTheCredentialsBacksUpEncrypted) {
    const std::string keyhash = obsync("keyhash V3").out.substr(0, 64);
    ASSERT_TRUE(crypto::is_keyhash(keyhash));
    const std::string env = keyhash_only_env(keyhash);
    const CliResult r =
        obsync("sync V3 --encrypted --json --dest " + shell_quote(dest.string()), env);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find(R"("created":1)"), std::string::npos) << r.out;
    EXPECT_TRUE(fs::exists(dest / ".obsync" / "backup.json"));
    EXPECT_FALSE(fs::exists(dest / "Hello.md"));
    EXPECT_EQ(r.out.find(keyhash), std::string::npos);
    EXPECT_EQ(r.err.find(keyhash), std::string::npos);
    // An incremental run with the same keyhash takes the change.
    const fs::path file = work.path() / "inject.tmp";
    write_file(file, "# Hello again\n");
    server->admin("inject", {"--vault", "V3", "--password", k_vault_password, "--path", "Hello.md",
                             "--content-file", file.string()});
    const CliResult again =
        obsync("sync V3 --encrypted --json --dest " + shell_quote(dest.string()), env);
    ASSERT_EQ(again.code, 0) << again.err;
    EXPECT_NE(again.out.find(R"("updated":1)"), std::string::npos) << again.out;
    EXPECT_NE(again.out.find(R"("complete":false)"), std::string::npos) << again.out;
}

// A keyhash of the right form that is not the vault's: the server refuses it, which is the
// password problem it stands for (exit 2), and nothing is written.
TEST_F(CliKeyhashTest, AWrongKeyhashIsExit2AndWritesNothing) {
    const std::string wrong =
        obsync("keyhash Other --password " + shell_quote(k_other_password)).out.substr(0, 64);
    ASSERT_TRUE(crypto::is_keyhash(wrong));
    const std::string env = keyhash_only_env(wrong);
    const CliResult r = obsync("sync V3 --encrypted --dest " + shell_quote(dest.string()), env);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("keyhash"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(wrong), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dest));
}

TEST_F(CliKeyhashTest, AMalformedKeyhashIsAConfigErrorThatHidesIt) {
    const std::string bad = std::string(63, 'a') + "Z";
    const CliResult r = obsync("vaults", "OBSIDIAN_VAULT_KEYHASH=" + bad);
    EXPECT_EQ(r.code, 4) << r.err;
    EXPECT_NE(r.err.find("OBSIDIAN_VAULT_KEYHASH"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(bad), std::string::npos) << r.err;
}

}  // namespace
}  // namespace obsync
