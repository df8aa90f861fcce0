// The protocol layer (obsidian::Api, obsidian::SyncSession) against the real obsync-fake-server
// process: every REST rule and every fault knob the server offers.
#include <ctime>
#include <fstream>
#include <random>
#include <thread>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "crypto/sha256.hpp"
#include "crypto/totp.hpp"
#include "crypto/vault_cipher.hpp"
#include "net/http_client.hpp"
#include "obsidian/api.hpp"
#include "obsidian/sync_session.hpp"
#include "support/fake_server_process.hpp"
#include "support/files.hpp"
#include "support/mini_download.hpp"
#include "support/run_coro.hpp"
#include "support/test_util.hpp"

namespace obsync {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using test::read_file;
using test::write_file;
using namespace std::chrono_literals;

const std::string k_totp_secret = "JBSWY3DPEHPK3PXP";

// A small corpus with the shapes that matter: unicode, nesting, empty file and folder, and a
// file of three 2 MiB pieces.
void make_corpus(const fs::path& root) {
    write_file(root / "Hello.md", "# Hello\n\nWorld, edited\n");
    write_file(root / "Empty.md", "");
    write_file(root / "Folder/Sub/Deep note.md", "deep");
    write_file(root / "Ünïcödé/emoji \xF0\x9F\x98\x80.md", "smile");
    write_file(root / ".obsidian/app.json", "{}");
    fs::create_directories(root / "Empty folder");
    std::mt19937_64 rng(1);
    const Bytes big = test::random_bytes(rng, 5 * 1000 * 1000);
    write_file(root / "Attachments/big.png", as_chars(big));
}

// Asserts that `dest` holds exactly the files and folders of `source`, byte for byte.
void expect_same_tree(const fs::path& source, const fs::path& dest) {
    std::map<std::string, std::string> a;
    std::map<std::string, std::string> b;
    for (const auto& [root, out] : {std::pair{source, &a}, std::pair{dest, &b}}) {
        for (const auto& entry : fs::recursive_directory_iterator(root)) {
            const std::string rel = fs::relative(entry.path(), root).string();
            (*out)[rel] = entry.is_directory() ? "<dir>" : read_file(entry.path());
        }
    }
    EXPECT_EQ(a.size(), b.size());
    for (const auto& [path, content] : a) {
        EXPECT_TRUE(b.contains(path)) << path;
        EXPECT_TRUE(b[path] == content) << path;
    }
}

class ClientVsFakeServer : public ::testing::Test {
public:
    test::TempDir data;
    test::TempDir work;
    asio::io_context io;
    net::HttpClient http{io.get_executor()};

    std::unique_ptr<test::FakeServerProcess> start(std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"--user", "alice@example.com:hunter2", "--user",
                                         "bob@example.com:pw-bob:" + k_totp_secret};
        args.insert(args.end(), extra.begin(), extra.end());
        return std::make_unique<test::FakeServerProcess>(data.path(), args);
    }

    // Runs `body` with Alice's account and the given vault's cipher; returns the error kind the
    // body threw, if any.
    template <typename Body>
    std::optional<ErrorKind> with_vault(test::FakeServerProcess& server, const std::string& name,
                                        const std::string& password, Body body) {
        obsidian::Api api(http, server.api_url());
        std::optional<ErrorKind> kind;
        test::run_coro(io, [&]() -> asio::awaitable<void> {
            try {
                const auto account = co_await api.signin("alice@example.com", "hunter2", "");
                const auto vaults = co_await api.list_vaults(account.token);
                const obsidian::VaultInfo vault = obsidian::find_vault(vaults, name);
                const crypto::VaultCipher cipher = crypto::VaultCipher::from_password(
                    password, vault.salt,
                    crypto::encryption_version_from_int(vault.encryption_version));
                co_await body(api, account, vault, cipher);
            } catch (const Error& e) {
                kind = e.kind();
            }
        }());
        return kind;
    }

    // A session with short timeouts. Arguments of class type stay named variables: g++ 12
    // mishandles class temporaries inside co_await expressions (docs/protocol-client.md).
    asio::awaitable<std::unique_ptr<obsidian::SyncSession>> open_session(
        const obsidian::Account& account, const obsidian::VaultInfo& vault,
        const crypto::VaultCipher& cipher, std::string_view vault_id = {},
        std::string_view token = {}) {
        const obsidian::SessionTarget target{vault.host,
                                             vault_id.empty() ? vault.id : std::string(vault_id),
                                             token.empty() ? account.token : std::string(token)};
        const obsidian::SessionOptions options = quick_options();
        co_return co_await obsidian::SyncSession::connect(io.get_executor(), target, cipher,
                                                          options);
    }

    obsidian::SessionOptions quick_options() const {
        obsidian::SessionOptions options;
        options.request_timeout = 5s;
        options.silence_limit = 10s;
        return options;
    }
};

TEST_F(ClientVsFakeServer, SigninRules) {
    auto server = start();
    obsidian::Api api(http, server->api_url());
    auto signin_kind = [&](const std::string& email, const std::string& pw,
                           const std::string& mfa) {
        std::optional<ErrorKind> kind;
        test::run_coro(io, [&]() -> asio::awaitable<void> {
            try {
                const auto account = co_await api.signin(email, pw, mfa);
                EXPECT_FALSE(account.token.empty());
                const auto info = co_await api.user_info(account.token);
                EXPECT_EQ(info.email, email);
                co_await api.signout(account.token);
            } catch (const Error& e) {
                kind = e.kind();
            }
        }());
        return kind;
    };
    EXPECT_EQ(signin_kind("alice@example.com", "hunter2", ""), std::nullopt);
    EXPECT_EQ(signin_kind("alice@example.com", "wrong", ""), ErrorKind::auth);
    EXPECT_EQ(signin_kind("nobody@example.com", "hunter2", ""), ErrorKind::auth);
    EXPECT_EQ(signin_kind("bob@example.com", "pw-bob", ""), ErrorKind::mfa);
    EXPECT_EQ(signin_kind("bob@example.com", "pw-bob", "000000") == ErrorKind::mfa ||
                  crypto::totp_from_base32(k_totp_secret, std::time(nullptr)) == "000000",
              true);
    EXPECT_EQ(signin_kind("bob@example.com", "pw-bob",
                          crypto::totp_from_base32(k_totp_secret, std::time(nullptr))),
              std::nullopt);
}

TEST_F(ClientVsFakeServer, ListsOwnSharedAndManagedVaultsAndChecksAccess) {
    auto server = start();
    make_corpus(work.path() / "corpus");
    const std::string corpus = (work.path() / "corpus").string();
    server->seed({"--owner", "alice@example.com", "--vault", "Mine", "--password", "pw1",
                  "--encryption-version", "3", corpus});
    server->seed({"--owner", "bob@example.com", "--vault", "Bobs", "--password", "pw2",
                  "--encryption-version", "2", "--share-with", "alice@example.com", corpus});
    server->seed({"--owner", "alice@example.com", "--vault", "Managed", "--password",
                  "6113761f8929d1c8527f80414030f6df", "--encryption-version", "3", "--managed",
                  corpus});
    obsidian::Api api(http, server->api_url());
    test::run_coro(io, [&]() -> asio::awaitable<void> {
        const auto account = co_await api.signin("alice@example.com", "hunter2", "");
        const auto vaults = co_await api.list_vaults(account.token);
        EXPECT_EQ(vaults.size(), 3U);
        const auto& bobs = obsidian::find_vault(vaults, "Bobs");
        EXPECT_TRUE(bobs.shared);
        EXPECT_EQ(bobs.encryption_version, 2);
        const auto& managed = obsidian::find_vault(vaults, "Managed");
        EXPECT_EQ(managed.managed_password, "6113761f8929d1c8527f80414030f6df");
        EXPECT_EQ(obsidian::sync_url(managed.host).rfind("ws://127.0.0.1:", 0), 0U);

        const auto right =
            crypto::VaultCipher::from_password("pw2", bobs.salt, crypto::EncryptionVersion::v2);
        co_await api.check_access(account.token, bobs, right.keyhash());
        const auto wrong =
            crypto::VaultCipher::from_password("nope", bobs.salt, crypto::EncryptionVersion::v2);
        try {
            co_await api.check_access(account.token, bobs, wrong.keyhash());
            ADD_FAILURE() << "a wrong vault password was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::auth);
        }
        try {
            co_await api.list_vaults("not-a-token");
            ADD_FAILURE() << "a bad token was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::auth);
        }
    }());
}

TEST_F(ClientVsFakeServer, DownloadsSeededVaultsOfEveryVersion) {
    auto server = start({"--piece-size", "1048576"});
    const fs::path corpus = work.path() / "corpus";
    make_corpus(corpus);
    for (const std::string version : {"0", "2", "3"}) {
        for (const bool managed : {false, true}) {
            const std::string name = "V" + version + (managed ? "m" : "");
            std::vector<std::string> args = {
                "--owner",    "alice@example.com",    "--vault", name, "--password",
                "pw " + name, "--encryption-version", version};
            if (managed) {
                args.push_back("--managed");
            }
            args.push_back(corpus.string());
            server->seed(args);
            test::DownloadRequest request{server->api_url(),
                                          "alice@example.com",
                                          "hunter2",
                                          name,
                                          managed ? std::nullopt : std::optional("pw " + name),
                                          work.path() / ("out-" + name),
                                          std::nullopt};
            const auto result = test::download_vault(request);
            EXPECT_EQ(result.files_written, 6) << name;
            expect_same_tree(corpus, request.dest);
        }
    }
}

TEST_F(ClientVsFakeServer, IncrementalInitSendsOnlyNewRecordsIncludingDeletions) {
    auto server = start();
    const fs::path corpus = work.path() / "corpus";
    make_corpus(corpus);
    server->seed({"--owner", "alice@example.com", "--vault", "Inc", "--password", "pw",
                  "--encryption-version", "3", corpus.string()});
    const auto kind = with_vault(
        *server, "Inc", "pw",
        [&](obsidian::Api&, const obsidian::Account& account, const obsidian::VaultInfo& vault,
            const crypto::VaultCipher& cipher) -> asio::awaitable<void> {
            auto first = co_await open_session(account, vault, cipher);
            const auto snapshot = co_await first->init(0, true);
            co_await first->close();
            EXPECT_GE(snapshot.records.size(), 9U);  // 6 files and 3+ folders

            server->admin("inject", {"--vault", "Inc", "--password", "pw", "--path", "Hello.md",
                                     "--deleted"});
            server->admin("inject", {"--vault", "Inc", "--password", "pw", "--path", "New.md"});
            auto second = co_await open_session(account, vault, cipher);
            const auto changes = co_await second->init(snapshot.version, false);
            EXPECT_EQ(changes.records.size(), 2U);
            if (changes.records.size() == 2) {
                EXPECT_EQ(changes.records[0].path, "Hello.md");
                EXPECT_TRUE(changes.records[0].deleted);
                EXPECT_EQ(changes.records[1].path, "New.md");
                EXPECT_EQ(changes.records[1].hash, crypto::sha256_hex({}));
            }
            EXPECT_EQ(changes.version, snapshot.version + 2);
            // Up to date: ok, then an immediate ready with the same version.
            auto third = co_await open_session(account, vault, cipher);
            const auto none = co_await third->init(changes.version, false);
            EXPECT_TRUE(none.records.empty());
            EXPECT_EQ(none.version, changes.version);
        });
    EXPECT_EQ(kind, std::nullopt);
}

// One session attempt against a vault; returns the error kind of init or of the first pull.
std::optional<ErrorKind> session_kind(ClientVsFakeServer& t, test::FakeServerProcess& server,
                                      const std::string& password,
                                      const std::string& vault_id_override = "",
                                      const std::string& token_override = "") {
    return t.with_vault(
        server, "Faults", password,
        [&](obsidian::Api&, const obsidian::Account& account, const obsidian::VaultInfo& vault,
            const crypto::VaultCipher& cipher) -> asio::awaitable<void> {
            auto session =
                co_await t.open_session(account, vault, cipher, vault_id_override, token_override);
            const auto changes = co_await session->init(0, true);
            for (const auto& record : changes.records) {
                if (!record.folder) {
                    crypto::BlobDecryptor decryptor = cipher.content_decryptor();
                    co_await session->pull(record.uid, [&](ByteView p) -> asio::awaitable<void> {
                        decryptor.update(p);
                        co_return;
                    });
                    decryptor.finish();
                }
            }
        });
}

class FaultyServer : public ClientVsFakeServer {
public:
    std::unique_ptr<test::FakeServerProcess> seeded(std::vector<std::string> knobs) {
        auto server = start(std::move(knobs));
        const fs::path corpus = work.path() / "corpus";
        make_corpus(corpus);
        server->seed({"--owner", "alice@example.com", "--vault", "Faults", "--password", "pw",
                      "--encryption-version", "3", corpus.string()});
        return server;
    }
};

TEST_F(FaultyServer, WrongKeyhashUnknownVaultAndBadTokenAreRefusedAtInit) {
    auto server = seeded({});
    EXPECT_EQ(session_kind(*this, *server, "pw"), std::nullopt);
    EXPECT_EQ(session_kind(*this, *server, "wrong password"), ErrorKind::auth);
    EXPECT_EQ(session_kind(*this, *server, "pw", "0123456789abcdef0123456789abcdef"),
              ErrorKind::not_found);
    EXPECT_EQ(session_kind(*this, *server, "pw", "", "forged-token"), ErrorKind::auth);
}

TEST_F(FaultyServer, ExpiredTokenIsRefused) {
    auto server = seeded({"--token-ttl", "1"});
    const auto kind = with_vault(
        *server, "Faults", "pw",
        [&](obsidian::Api& api, const obsidian::Account& account, const obsidian::VaultInfo& vault,
            const crypto::VaultCipher& cipher) -> asio::awaitable<void> {
            std::this_thread::sleep_for(2100ms);
            try {
                auto session = co_await open_session(account, vault, cipher);
                co_await session->init(0, true);
                ADD_FAILURE() << "an expired token opened a session";
            } catch (const Error& e) {
                EXPECT_EQ(e.kind(), ErrorKind::auth);
            }
            co_await api.list_vaults(account.token);  // throws auth: the REST side agrees
        });
    EXPECT_EQ(kind, ErrorKind::auth);
}

TEST_F(FaultyServer, RefusedInitIsAuth) {
    auto server = seeded({"--refuse-init", "Your subscription to Obsidian Sync has expired"});
    EXPECT_EQ(session_kind(*this, *server, "pw"), ErrorKind::auth);
}

TEST_F(FaultyServer, DroppedConnectionIsANetworkErrorAndTheNextSessionWorks) {
    auto server = seeded({"--drop-after", "20", "--piece-size", "65536"});
    const auto start_time = std::chrono::steady_clock::now();
    EXPECT_EQ(session_kind(*this, *server, "pw"), ErrorKind::network);
    EXPECT_LT(std::chrono::steady_clock::now() - start_time, 5s);
    EXPECT_EQ(session_kind(*this, *server, "pw"), std::nullopt);
}

TEST_F(FaultyServer, CorruptedBlobFailsItsTagOnly) {
    auto server = seeded({});
    server->admin("corrupt",
                  {"--vault", "Faults", "--password", "pw", "--path", "Folder/Sub/Deep note.md"});
    std::vector<std::string> failed;
    int ok = 0;
    const auto kind = with_vault(
        *server, "Faults", "pw",
        [&](obsidian::Api&, const obsidian::Account& account, const obsidian::VaultInfo& vault,
            const crypto::VaultCipher& cipher) -> asio::awaitable<void> {
            auto session = co_await open_session(account, vault, cipher);
            const auto changes = co_await session->init(0, true);
            for (const auto& record : changes.records) {
                if (record.folder) {
                    continue;
                }
                crypto::BlobDecryptor decryptor = cipher.content_decryptor();
                co_await session->pull(record.uid, [&](ByteView p) -> asio::awaitable<void> {
                    decryptor.update(p);
                    co_return;
                });
                try {
                    decryptor.finish();
                    ++ok;
                } catch (const Error& e) {
                    EXPECT_EQ(e.kind(), ErrorKind::crypto);
                    failed.push_back(record.path);
                }
            }
        });
    EXPECT_EQ(kind, std::nullopt);
    EXPECT_EQ(failed, std::vector<std::string>{"Folder/Sub/Deep note.md"});
    EXPECT_EQ(ok, 5);
}

TEST_F(FaultyServer, HostilePathsArriveDecodedAndTheDownloaderRefusesThem) {
    auto server = seeded({});
    server->admin("inject", {"--vault", "Faults", "--password", "pw", "--path", "../evil.md"});
    std::vector<std::string> paths;
    const auto kind = with_vault(
        *server, "Faults", "pw",
        [&](obsidian::Api&, const obsidian::Account& account, const obsidian::VaultInfo& vault,
            const crypto::VaultCipher& cipher) -> asio::awaitable<void> {
            auto session = co_await open_session(account, vault, cipher);
            for (const auto& record : (co_await session->init(0, true)).records) {
                paths.push_back(record.path);
            }
        });
    EXPECT_EQ(kind, std::nullopt);
    EXPECT_NE(std::find(paths.begin(), paths.end(), "../evil.md"), paths.end());
    test::DownloadRequest request{
        server->api_url(),   "alice@example.com", "hunter2", "Faults", "pw",
        work.path() / "out", std::nullopt};
    EXPECT_EQ(test::error_kind_of([&] { test::download_vault(request); }), ErrorKind::bad_input);
    EXPECT_FALSE(fs::exists(work.path() / "evil.md"));
}

TEST_F(FaultyServer, LatencyIsHonouredWithoutBreakingTheProtocol) {
    auto server = seeded({"--latency-ms", "50"});
    const auto start_time = std::chrono::steady_clock::now();
    EXPECT_EQ(session_kind(*this, *server, "pw"), std::nullopt);
    // signin, list, init and 6 pulls: at least 9 delayed replies.
    EXPECT_GE(std::chrono::steady_clock::now() - start_time, 450ms);
}

}  // namespace
}  // namespace obsync
