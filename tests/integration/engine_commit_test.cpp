// The engine commits a downloaded file while its next pull travels (and opens the next file's
// writer there too). Whatever the sink refuses there fails that file alone, is never recorded,
// and is downloaded again by the next run.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "sink/local_dir.hpp"
#include "state/sqlite_store.hpp"
#include "support/engine_vault.hpp"
#include "support/fake_server_process.hpp"
#include "support/files.hpp"
#include "support/run_coro.hpp"
#include "sync/engine.hpp"
#include "util/error.hpp"

namespace obsync {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

class FailingCommit final : public sync::FileWriter {
public:
    FailingCommit(std::unique_ptr<sync::FileWriter> inner, ErrorKind kind, std::string message)
        : m_inner(std::move(inner)), m_kind(kind), m_message(std::move(message)) {}
    asio::awaitable<void> write(ByteView bytes) override { co_await m_inner->write(bytes); }
    asio::awaitable<void> commit() override {
        throw Error(m_kind, m_message);
        co_return;
    }

private:
    std::unique_ptr<sync::FileWriter> m_inner;
    ErrorKind m_kind;
    std::string m_message;
};

// How the test sink misbehaves on commit.
struct CommitFaults {
    std::set<std::string> refuse;      // "disk full": storage, for good
    std::map<std::string, int> flaky;  // fails this many times with a network error, then works
    std::optional<int> down_after;     // commits after this many fail: the service is down
    ErrorKind down_kind = ErrorKind::unavailable;  // ... or refuses us (denied)
};

// A local folder that refuses to open or to commit the files it is told to.
class RefusingSink final : public sync::Sink {
public:
    RefusingSink(std::unique_ptr<sync::Sink> inner, std::set<std::string> refuse_create,
                 CommitFaults faults)
        : m_inner(std::move(inner)),
          m_refuse_create(std::move(refuse_create)),
          m_faults(std::move(faults)) {}

    int commits_attempted() const { return m_commits; }

    std::string describe() const override { return m_inner->describe(); }
    asio::awaitable<std::unique_ptr<sync::DestinationLock>> claim(
        const sync::BackupIdentity& backup, std::chrono::seconds ttl) override {
        co_return co_await m_inner->claim(backup, ttl);
    }
    asio::awaitable<void> prepare() override { co_await m_inner->prepare(); }
    asio::awaitable<bool> written_by_backup(std::string_view path) override {
        co_return co_await m_inner->written_by_backup(path);
    }
    asio::awaitable<std::unique_ptr<sync::FileWriter>> create_file(std::string_view path,
                                                                   sync::FileMeta meta) override {
        if (m_refuse_create.contains(std::string(path))) {
            throw Error(ErrorKind::storage, "cannot create (test)");
        }
        auto writer = co_await m_inner->create_file(path, meta);
        const std::string name(path);
        ++m_commits;  // one writer per commit: the engine commits every writer it completes
        if (m_faults.down_after && m_commits > *m_faults.down_after) {
            co_return std::make_unique<FailingCommit>(std::move(writer), m_faults.down_kind,
                                                      "S3 looks down or says no (test)");
        }
        if (m_faults.refuse.contains(name)) {
            co_return std::make_unique<FailingCommit>(std::move(writer), ErrorKind::storage,
                                                      "disk full (test)");
        }
        if (auto it = m_faults.flaky.find(name); it != m_faults.flaky.end() && it->second > 0) {
            --it->second;
            co_return std::make_unique<FailingCommit>(std::move(writer), ErrorKind::network,
                                                      "connection reset (test)");
        }
        co_return writer;
    }
    asio::awaitable<void> create_folder(std::string_view path) override {
        co_await m_inner->create_folder(path);
    }
    asio::awaitable<void> remove_file(std::string_view path) override {
        co_await m_inner->remove_file(path);
    }
    asio::awaitable<bool> remove_folder_if_empty(std::string_view path) override {
        co_return co_await m_inner->remove_folder_if_empty(path);
    }
    asio::awaitable<std::optional<sync::EntryInfo>> stat(std::string_view path) override {
        co_return co_await m_inner->stat(path);
    }
    asio::awaitable<std::vector<std::string>> list_files() override {
        co_return co_await m_inner->list_files();
    }
    asio::awaitable<void> flush() override { co_await m_inner->flush(); }

private:
    std::unique_ptr<sync::Sink> m_inner;
    std::set<std::string> m_refuse_create;
    CommitFaults m_faults;
    int m_commits = 0;
};

class EngineCommitTest : public ::testing::Test {
protected:
    static constexpr int k_files = 6;

    EngineCommitTest()
        : m_server(m_work.path() / "data",
                   {"--user", "alice@example.com:pw", "--latency-ms", "5"}) {
        for (int i = 0; i < k_files; ++i) {
            test::write_file(m_work.path() / "corpus" / name(i), "note " + std::to_string(i));
        }
        m_server.seed({"--owner", "alice@example.com", "--vault", "Vault", "--password", "vault-pw",
                       "--encryption-version", "3", (m_work.path() / "corpus").string()});
    }

    static std::string name(int i) { return "n" + std::to_string(i) + ".md"; }

    // One run on one session (so every file goes through the same worker's pipeline).
    sync::EngineResult run(std::set<std::string> refuse_create, std::set<std::string> refuse_commit,
                           bool full = false) {
        return run_with(
            {std::move(refuse_create), CommitFaults{std::move(refuse_commit), {}, {}}, full});
    }

    struct Setup {
        std::set<std::string> refuse_create;
        CommitFaults faults;
        bool full = false;
    };

    sync::EngineResult run_with(Setup setup) {
        asio::io_context io;
        const test::EngineVault vault = test::open_engine_vault(
            io, m_server.api_url(), "alice@example.com", "pw", "Vault", "vault-pw");
        RefusingSink sink(sink::open_local_dir(dest()), std::move(setup.refuse_create),
                          std::move(setup.faults));
        auto state = state::open_sqlite_state(m_work.path() / "state.db",
                                              {vault.target.vault_id, sink.describe()});
        sync::EngineOptions options;
        options.concurrency = 1;
        options.lease_owner = "test-owner";
        options.full = setup.full;
        sync::Engine engine(io.get_executor(), vault.target, vault.cipher, sink, *state, options);
        m_progress = {};
        const sync::Engine::ProgressFn progress = [this](const sync::Progress& p) {
            m_progress.bytes_total = p.bytes_total;
            m_progress.bytes_done = std::max(m_progress.bytes_done, p.bytes_done);
            m_progress.files_done = std::max(m_progress.files_done, p.files_done);
            m_progress.files_total = p.files_total;
        };
        struct Counted {
            RefusingSink* sink;
            int* commits;
            ~Counted() { *commits = sink->commits_attempted(); }
        } count{&sink, &m_commits};
        return test::run_coro_value(io, engine.run(progress), std::chrono::seconds(60));
    }

    fs::path dest() const { return m_work.path() / "dest"; }

    static std::set<std::string> failed_paths(const sync::EngineResult& result) {
        std::set<std::string> paths;
        for (const auto& failure : result.failures) {
            paths.insert(failure.path);
        }
        return paths;
    }

    test::TempDir m_work;
    test::FakeServerProcess m_server;
    sync::Progress m_progress;  // the highest counts the last run reported
    int m_commits = 0;          // writers the last run opened
};

TEST_F(EngineCommitTest, ARefusedCommitFailsThatFileAloneAndTheNextRunFetchesIt) {
    const sync::EngineResult first = run({}, {name(2)});
    EXPECT_EQ(failed_paths(first), std::set<std::string>{name(2)});
    ASSERT_EQ(first.failures.size(), 1U);
    EXPECT_NE(first.failures[0].message.find("disk full"), std::string::npos);
    EXPECT_EQ(first.failures[0].kind, ErrorKind::storage);
    EXPECT_EQ(first.created, k_files - 1);
    EXPECT_FALSE(fs::exists(dest() / name(2)));
    EXPECT_EQ(test::read_file(dest() / name(3)), "note 3");

    const sync::EngineResult second = run({}, {});
    EXPECT_TRUE(second.failures.empty());
    EXPECT_EQ(second.created, 1);
    EXPECT_EQ(test::read_file(dest() / name(2)), "note 2");
}

TEST_F(EngineCommitTest, EveryCommitRefusedIncludingTheLastRecordsNothing) {
    std::set<std::string> all;
    for (int i = 0; i < k_files; ++i) {
        all.insert(name(i));
    }
    const sync::EngineResult first = run({}, all);
    EXPECT_EQ(failed_paths(first), all);
    EXPECT_EQ(first.created, 0);
    for (int i = 0; i < k_files; ++i) {
        EXPECT_FALSE(fs::exists(dest() / name(i))) << name(i);
    }

    const sync::EngineResult second = run({}, {});
    EXPECT_TRUE(second.failures.empty());
    EXPECT_EQ(second.created, k_files);
}

TEST_F(EngineCommitTest, ARefusedCreateFailsThatFileAndTheOthersStillArrive) {
    const sync::EngineResult first = run({name(3)}, {});
    EXPECT_EQ(failed_paths(first), std::set<std::string>{name(3)});
    EXPECT_EQ(first.created, k_files - 1);
    for (int i = 0; i < k_files; ++i) {
        EXPECT_EQ(fs::exists(dest() / name(i)), i != 3) << name(i);
    }

    const sync::EngineResult second = run({}, {});
    EXPECT_TRUE(second.failures.empty());
    EXPECT_EQ(second.created, 1);
    EXPECT_EQ(test::read_file(dest() / name(3)), "note 3");
}

// --full over saved progress restores what the destination lost; when that fails, the cursor
// must not move back (DynamoDB refuses it), and the next plain run must still fetch the file.
TEST_F(EngineCommitTest, AFailedRestoreInAFullRunIsFetchedByTheNextRun) {
    const sync::EngineResult first = run({}, {});
    ASSERT_EQ(first.created, k_files);
    const auto saved = state::list_sqlite_scopes(m_work.path() / "state.db");
    ASSERT_EQ(saved.size(), 1U);
    ASSERT_FALSE(saved[0].cursor.initial);

    fs::remove(dest() / name(2));
    const sync::EngineResult full = run({name(2)}, {}, true);
    EXPECT_EQ(failed_paths(full), std::set<std::string>{name(2)});
    const auto after = state::list_sqlite_scopes(m_work.path() / "state.db");
    ASSERT_EQ(after.size(), 1U);
    EXPECT_EQ(after[0].cursor.version, saved[0].cursor.version);  // not moved back
    EXPECT_TRUE(after[0].cursor.initial);                         // the next run is complete
    EXPECT_EQ(after[0].file_count, k_files - 1);                  // n2.md is not claimed

    const sync::EngineResult next = run({}, {});
    EXPECT_TRUE(next.failures.empty());
    EXPECT_EQ(next.created + next.updated, 1);
    EXPECT_EQ(test::read_file(dest() / name(2)), "note 2");
    const auto final_state = state::list_sqlite_scopes(m_work.path() / "state.db");
    ASSERT_EQ(final_state.size(), 1U);
    EXPECT_FALSE(final_state[0].cursor.initial);
    EXPECT_EQ(final_state[0].file_count, k_files);
}

// A small file's single PutObject that fails on the network is tried again like a multipart
// upload that failed mid-way: the file is fetched and written once more, and counted once.
TEST_F(EngineCommitTest, ACommitThatFailsOnTheNetworkIsTriedAgainAndCountedOnce) {
    const sync::EngineResult result = run_with({{}, CommitFaults{{}, {{name(2), 2}}, {}}, false});
    EXPECT_TRUE(result.failures.empty()) << result.failures.at(0).message;
    EXPECT_EQ(result.created, k_files);
    EXPECT_EQ(test::read_file(dest() / name(2)), "note 2");
    EXPECT_EQ(m_commits, k_files + 2);
    EXPECT_EQ(m_progress.files_done, k_files);
    EXPECT_LE(m_progress.bytes_done, m_progress.bytes_total) << "a retried file counted twice";
}

// A service that is down ends the run at once (the error is retryable), and what was committed
// before stays recorded: the rerun fetches only the rest.
TEST_F(EngineCommitTest, AServiceDownStopsTheRunAndKeepsWhatWasDone) {
    try {
        run_with({{}, CommitFaults{{}, {}, 2}, false});
        ADD_FAILURE() << "the run went on";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::unavailable) << e.what();
        EXPECT_TRUE(e.retryable());
    }
    EXPECT_EQ(m_commits, 3) << "files after the outage were still attempted";
    const auto saved = state::list_sqlite_scopes(m_work.path() / "state.db");
    ASSERT_EQ(saved.size(), 1U);
    EXPECT_EQ(saved[0].file_count, 2);
    EXPECT_TRUE(saved[0].cursor.initial);  // a first snapshot moves the cursor only at its end

    const sync::EngineResult next = run({}, {});
    EXPECT_TRUE(next.failures.empty());
    EXPECT_EQ(next.unchanged, 2);
    EXPECT_EQ(next.created, k_files - 2);
}

// AWS refusing (an IAM or KMS policy) would refuse every other file too: the run stops as for a
// service down, but the error is not retryable, since only a fix of the policy helps.
TEST_F(EngineCommitTest, AnAwsRefusalStopsTheRunForGoodAndKeepsWhatWasDone) {
    try {
        run_with({{}, CommitFaults{{}, {}, 2, ErrorKind::denied}, false});
        ADD_FAILURE() << "the run went on";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::denied) << e.what();
        EXPECT_FALSE(e.retryable());
    }
    EXPECT_EQ(m_commits, 3) << "files after the refusal were still attempted";
    const auto saved = state::list_sqlite_scopes(m_work.path() / "state.db");
    ASSERT_EQ(saved.size(), 1U);
    EXPECT_EQ(saved[0].file_count, 2);
}

}  // namespace
}  // namespace obsync
