// unlock_vault's rules: which secret opens a vault for a plaintext or an encrypted backup, what
// the server is asked, and the errors when nothing fits. The server is scripted: it accepts one
// keyhash on /vault/access.
#include "backup/vault_choice.hpp"

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "backup/token_cache.hpp"
#include "support/scripted_servers.hpp"
#include "util/error.hpp"

namespace obsync::backup {
namespace {

namespace asio = boost::asio;
using test::ScriptedHttpServer;

const std::string k_vault_password = "vault-pw-secret";

class UnlockVaultTest : public ::testing::Test {
public:
    UnlockVaultTest() {
        vault.id = "v-1";
        vault.name = "Notes";
        vault.host = "127.0.0.1:1";
        vault.salt = "the-salt";
        vault.encryption_version = 3;
        right_keyhash = crypto::VaultCipher::from_password(k_vault_password, vault.salt,
                                                           crypto::EncryptionVersion::v3)
                            .keyhash();
        // unlock_vault runs its request with obsync::run_coro, which runs `io` until it has no
        // work: the server, always accepting, lives on an io_context and a thread of its own.
        server = std::make_unique<ScriptedHttpServer>(
            server_io, [this](const ScriptedHttpServer::Request& r) {
                const auto body = boost::json::parse(r.body).as_object();
                const std::string keyhash(body.at("keyhash").as_string());
                {
                    const std::lock_guard lock(mutex);
                    seen.push_back(keyhash);
                }
                return ScriptedHttpServer::json_response(
                    keyhash == right_keyhash ? "{}" : R"({"error":"Access denied."})");
            });
        server_thread = std::thread([this] { server_io.run(); });
    }

    ~UnlockVaultTest() override {
        server_io.stop();
        server_thread.join();
    }

    // unlock_vault with these credentials; the cipher's keyhash and whether it holds the key.
    struct Unlocked {
        std::string keyhash;
        bool has_key = false;
    };
    Unlocked unlock(const Credentials& credentials, bool encrypted) {
        FixedCredentials source(credentials);
        MemoryTokenCache tokens;
        net::HttpClient http(io.get_executor());
        Account account(io, http, server->url(), source, tokens);
        const crypto::VaultCipher& cipher =
            unlock_vault(io, http, account, keys, vault, "token", encrypted);
        return {cipher.keyhash(), cipher.has_key()};
    }

    // The Error unlock_vault throws (fails the test when it throws none).
    Error error_of(const Credentials& credentials, bool encrypted) {
        try {
            (void)unlock(credentials, encrypted);
        } catch (const Error& e) {
            return e;
        }
        ADD_FAILURE() << "unlock_vault threw nothing";
        return Error(ErrorKind::protocol, "none");
    }

    std::vector<std::string> keyhashes_seen() {
        const std::lock_guard lock(mutex);
        return seen;
    }

    asio::io_context server_io;
    std::unique_ptr<ScriptedHttpServer> server;
    std::thread server_thread;
    std::mutex mutex;
    std::vector<std::string> seen;

    asio::io_context io;
    KeyCache keys;
    obsidian::VaultInfo vault;
    std::string right_keyhash;
};

Credentials with_password(const std::string& password) {
    Credentials c;
    c.vault_passwords["Notes"] = password;
    return c;
}

Credentials with_keyhash(const std::string& keyhash) {
    Credentials c;
    c.vault_keyhashes["v-1"] = keyhash;
    return c;
}

TEST_F(UnlockVaultTest, APlaintextBackupGetsTheKeyThePasswordDerives) {
    const Unlocked u = unlock(with_password(k_vault_password), false);
    EXPECT_TRUE(u.has_key);
    EXPECT_EQ(u.keyhash, right_keyhash);
    EXPECT_EQ(keyhashes_seen(), std::vector<std::string>{right_keyhash});
}

TEST_F(UnlockVaultTest, AnEncryptedBackupWithAKeyhashRunsNoScryptAndHoldsNoKey) {
    const Unlocked u = unlock(with_keyhash(right_keyhash), true);
    EXPECT_FALSE(u.has_key);
    EXPECT_EQ(u.keyhash, right_keyhash);
    EXPECT_EQ(keys.derivations(), 0);
    EXPECT_EQ(keyhashes_seen(), std::vector<std::string>{right_keyhash});
}

TEST_F(UnlockVaultTest, AnEncryptedBackupWithAPasswordIsHandedOnlyTheKeyhash) {
    const Unlocked u = unlock(with_password(k_vault_password), true);
    EXPECT_FALSE(u.has_key);
    EXPECT_EQ(u.keyhash, right_keyhash);
    EXPECT_EQ(keys.derivations(), 1);
    EXPECT_EQ(keyhashes_seen(), std::vector<std::string>{right_keyhash});
}

TEST_F(UnlockVaultTest, AnEncryptedBackupPrefersTheKeyhashToThePassword) {
    Credentials both = with_keyhash(right_keyhash);
    both.vault_password = "a password that would be wrong";
    const Unlocked u = unlock(both, true);
    EXPECT_FALSE(u.has_key);
    EXPECT_EQ(keys.derivations(), 0);
}

TEST_F(UnlockVaultTest, AManagedVaultsPasswordServesAnEncryptedBackup) {
    vault.managed_password = k_vault_password;
    const Unlocked u = unlock(Credentials{}, true);
    EXPECT_FALSE(u.has_key);
    EXPECT_EQ(u.keyhash, right_keyhash);
}

TEST_F(UnlockVaultTest, AWrongKeyhashIsRefusedByTheServerAsAnAuthError) {
    const std::string wrong(64, 'e');
    const Error e = error_of(with_keyhash(wrong), true);
    EXPECT_EQ(e.kind(), ErrorKind::auth);
    const std::string message = e.what();
    EXPECT_NE(message.find("keyhash"), std::string::npos) << message;
    EXPECT_EQ(message.find(wrong), std::string::npos) << message;
    EXPECT_EQ(keyhashes_seen(), std::vector<std::string>{wrong});
}

TEST_F(UnlockVaultTest, AWrongPasswordIsAnAuthErrorInBothModes) {
    EXPECT_EQ(error_of(with_password("wrong"), false).kind(), ErrorKind::auth);
    EXPECT_EQ(error_of(with_password("wrong"), true).kind(), ErrorKind::auth);
    EXPECT_EQ(keyhashes_seen().size(), 2U);
}

TEST_F(UnlockVaultTest, OnlyAKeyhashAllowsOnlyEncryptedBackups) {
    const Error e = error_of(with_keyhash(right_keyhash), false);
    EXPECT_EQ(e.kind(), ErrorKind::config);
    EXPECT_STREQ(e.what(),
                 "vault \"Notes\" has only a keyhash in the credentials: only encrypted backups "
                 "(--encrypted) are possible");
    EXPECT_TRUE(keyhashes_seen().empty());
}

TEST_F(UnlockVaultTest, NeitherPasswordNorKeyhashIsAnAuthErrorNamingBothWays) {
    const Error encrypted = error_of(Credentials{}, true);
    EXPECT_EQ(encrypted.kind(), ErrorKind::auth);
    const std::string message = encrypted.what();
    EXPECT_NE(message.find("--password"), std::string::npos) << message;
    EXPECT_NE(message.find("OBSIDIAN_VAULT_KEYHASH"), std::string::npos) << message;
    EXPECT_NE(message.find("\"keyhash\""), std::string::npos) << message;

    const Error plain = error_of(Credentials{}, false);
    EXPECT_EQ(plain.kind(), ErrorKind::auth);
    EXPECT_NE(std::string(plain.what()).find("--password"), std::string::npos);
    EXPECT_TRUE(keyhashes_seen().empty());
}

}  // namespace
}  // namespace obsync::backup
