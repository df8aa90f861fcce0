#include "state/sqlite_store.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/run_coro.hpp"
#include "support/state_store_contract.hpp"
#include "support/test_util.hpp"
#include "util/error.hpp"
#include "util/process_owner.hpp"

namespace obsync::state {
namespace {

namespace fs = std::filesystem;
using boost::asio::awaitable;

using test::same_state;
using test::state_file;
using test::state_folder;

// Runs SQL on the database behind the store's back, as another process (or a fault) would.
void exec_sql(const fs::path& db_file, const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_file.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    const std::string error = message != nullptr ? message : "";
    sqlite3_free(message);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << error;
}

class SqliteStore : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "obsync-state-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        m_dir = pattern;
        m_db = m_dir / "state.db";
    }

    void TearDown() override {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }

    template <typename T>
    T run(awaitable<T> op) {
        return test::run_coro_value(m_io, std::move(op));
    }

    void run(awaitable<void> op) { test::run_coro(m_io, std::move(op)); }

    std::unique_ptr<sync::StateStore> open(const std::string& vault_id = "vault-1",
                                           const std::string& destination = "/backup/a") {
        return open_sqlite_state(m_db, sync::StateScope{vault_id, destination});
    }

    boost::asio::io_context m_io;
    fs::path m_dir;
    fs::path m_db;
};

// The StateStoreContract backend: a fresh database file per test.
class SqliteBackend {
public:
    static void set_up_suite() {}
    static void tear_down_suite() {}

    void set_up() {
        std::string pattern = (fs::temp_directory_path() / "obsync-state-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        m_dir = pattern;
    }
    void tear_down() {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }
    boost::asio::io_context& io() { return m_io; }
    std::unique_ptr<sync::StateStore> open(const std::string& vault, const std::string& destination,
                                           std::function<std::int64_t()> now_ms) {
        SqliteStateOptions options;
        if (now_ms) {
            options.now_ms = std::move(now_ms);
        }
        return open_sqlite_state(m_dir / "state.db", sync::StateScope{vault, destination}, options);
    }

private:
    boost::asio::io_context m_io;
    fs::path m_dir;
};

}  // namespace
}  // namespace obsync::state

namespace obsync::test {
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StateStoreContract, state::SqliteBackend);
}  // namespace obsync::test

namespace obsync::state {
namespace {

TEST_F(SqliteStore, FailedCommitLeavesThePreviousState) {
    {
        auto store = open();
        sync::Checkpoint first;
        first.upserts = {state_file("keep.md", "h1", 1, 10)};
        first.cursor = sync::Cursor{1, false};
        run(store->commit(first));

        // A fault in the middle of the next commit: the third row of the batch fails.
        exec_sql(m_db,
                 "CREATE TRIGGER poison BEFORE INSERT ON files WHEN NEW.path = 'poison.md' "
                 "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
        sync::Checkpoint second;
        second.upserts = {
            state_file("new-1.md", "h2", 2, 20), state_file("keep.md", "changed", 3, 30),
            state_file("poison.md", "h4", 4, 40), state_file("new-2.md", "h5", 5, 50)};
        second.removals = {"keep.md"};
        second.cursor = sync::Cursor{2, false};
        EXPECT_EQ(test::error_kind_of([&] { run(store->commit(second)); }), ErrorKind::storage);

        const sync::StateSnapshot s = run(store->load());
        EXPECT_EQ(s.cursor.version, 1);
        ASSERT_EQ(s.files.size(), 1U);
        EXPECT_TRUE(same_state(s.files[0], state_file("keep.md", "h1", 1, 10)));

        // The connection is still usable after the rollback.
        exec_sql(m_db, "DROP TRIGGER poison");
        run(store->commit(second));
    }
    auto store = open();
    const sync::StateSnapshot s = run(store->load());
    EXPECT_EQ(s.cursor.version, 2);
    // Removals apply after upserts: keep.md is gone, the three new files are there.
    ASSERT_EQ(s.files.size(), 3U);
    EXPECT_EQ(s.files[0].path, "new-1.md");
    EXPECT_EQ(s.files[1].path, "new-2.md");
    EXPECT_EQ(s.files[2].path, "poison.md");
}

TEST_F(SqliteStore, LeaseExpiresOnTheSystemClock) {
    auto first = open();
    auto second = open();
    const std::string a = "a";
    const std::string b = "b";
    EXPECT_TRUE(run(first->acquire_lease(a, std::chrono::seconds(1))));
    EXPECT_FALSE(run(second->acquire_lease(b, std::chrono::seconds(1))));
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    EXPECT_TRUE(run(second->acquire_lease(b, std::chrono::seconds(60))));
}

// Local state lives on this host, so a pid proves something here (unlike DynamoDB): a run killed
// with SIGKILL does not block its rerun until its lease expires, in the run owner format too.
TEST_F(SqliteStore, ALeaseOfADeadProcessOfThisHostIsTakenOverAtOnce) {
    const pid_t child = ::fork();
    if (child == 0) {
        ::_exit(0);
    }
    ::waitpid(child, nullptr, 0);
    const std::string process = local_process_owner();
    const std::string dead =
        process.substr(0, process.rfind(':')) + ":" + std::to_string(child) + ":0123456789abcdef";
    auto killed = open();
    auto rerun = open();
    ASSERT_TRUE(run(killed->acquire_lease(dead, std::chrono::seconds(60))));
    const std::string owner = unique_run_owner();
    EXPECT_TRUE(run(rerun->acquire_lease(owner, std::chrono::seconds(60))));
    const std::string live = unique_run_owner();
    EXPECT_FALSE(run(killed->acquire_lease(live, std::chrono::seconds(60))));
}

TEST_F(SqliteStore, CreatesPrivateFoldersAndFile) {
    const fs::path db = m_dir / "x" / "y" / "state.db";
    auto store = open_sqlite_state(db, sync::StateScope{"v", "/d"});
    sync::Checkpoint checkpoint;
    checkpoint.upserts = {state_file("a.md", "h", 1, 1)};
    run(store->commit(checkpoint));

    const auto mode = [](const fs::path& p) {
        struct stat st {};
        EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
        return st.st_mode & 07777;
    };
    EXPECT_EQ(mode(m_dir / "x"), 0700U);
    EXPECT_EQ(mode(m_dir / "x" / "y"), 0700U);
    EXPECT_EQ(mode(db), 0600U);
    if (fs::exists(db.string() + "-wal")) {
        EXPECT_EQ(mode(db.string() + "-wal"), 0600U);
    }
}

TEST_F(SqliteStore, UsesWriteAheadLogging) {
    auto store = open();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(m_db.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

TEST_F(SqliteStore, CommitsAndReloadsThirtyThousandFiles) {
    constexpr int k_count = 30'000;
    sync::Checkpoint checkpoint;
    checkpoint.upserts.reserve(k_count);
    for (int i = 0; i < k_count; ++i) {
        checkpoint.upserts.push_back(
            state_file("folder-" + std::to_string(i % 100) + "/note-" + std::to_string(i) + ".md",
                       std::string(64, 'f'), i + 1, i));
    }
    checkpoint.cursor = sync::Cursor{k_count, false};
    const auto start = std::chrono::steady_clock::now();
    {
        auto store = open();
        run(store->commit(checkpoint));
    }
    auto store = open();
    const sync::StateSnapshot s = run(store->load());
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(s.files.size(), static_cast<std::size_t>(k_count));
    EXPECT_EQ(s.cursor.version, k_count);
    for (const sync::FileState& f : s.files) {
        ASSERT_EQ(f.hash, std::string(64, 'f'));
        ASSERT_EQ(f.size, f.uid - 1);
    }
    std::cout << "30,000-file commit + reload: "
              << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms\n";

    const auto scopes = list_sqlite_scopes(m_db);
    ASSERT_EQ(scopes.size(), 1U);
    EXPECT_EQ(scopes[0].file_count, k_count);
    EXPECT_EQ(scopes[0].total_bytes, static_cast<std::int64_t>(k_count) * (k_count - 1) / 2);
}

TEST_F(SqliteStore, ListsNothingForAMissingFileAndCreatesNothing) {
    EXPECT_TRUE(list_sqlite_scopes(m_dir / "missing" / "state.db").empty());
    EXPECT_FALSE(fs::exists(m_dir / "missing"));
    EXPECT_TRUE(list_sqlite_scopes(m_db).empty());
    EXPECT_FALSE(fs::exists(m_db));
}

TEST_F(SqliteStore, ListsEveryScopeWithItsSummary) {
    {
        auto a = open("vault-1", "/backup/a");
        auto b = open("vault-0", "s3://bucket/p");
        const std::string name = "Notes";
        run(a->set_vault_name(name));
        sync::Checkpoint checkpoint;
        checkpoint.upserts = {state_file("x.md", "h", 1, 100), state_file("y.md", "h", 2, 23),
                              state_folder("f", 3)};
        checkpoint.cursor = sync::Cursor{77, false};
        run(a->commit(checkpoint));
        sync::RunRecord record;
        record.started_ms = 5;
        record.finished_ms = 6;
        record.ok = true;
        run(a->record_run(record));
    }
    const auto scopes = list_sqlite_scopes(m_db);
    ASSERT_EQ(scopes.size(), 2U);
    EXPECT_EQ(scopes[0].vault_id, "vault-0");
    EXPECT_EQ(scopes[0].destination, "s3://bucket/p");
    EXPECT_EQ(scopes[0].file_count, 0);
    EXPECT_TRUE(scopes[0].cursor.initial);
    EXPECT_FALSE(scopes[0].last_run.has_value());

    EXPECT_EQ(scopes[1].vault_id, "vault-1");
    EXPECT_EQ(scopes[1].vault_name, "Notes");
    EXPECT_EQ(scopes[1].destination, "/backup/a");
    EXPECT_EQ(scopes[1].cursor.version, 77);
    EXPECT_FALSE(scopes[1].cursor.initial);
    EXPECT_EQ(scopes[1].file_count, 2);  // the folder is not a file
    EXPECT_EQ(scopes[1].total_bytes, 123);
    ASSERT_TRUE(scopes[1].last_run.has_value());
    EXPECT_EQ(scopes[1].last_run->finished_ms, 6);
    EXPECT_TRUE(scopes[1].last_run->ok);
}

TEST_F(SqliteStore, ListsTheRefusalsOfEachScopeForStatus) {
    {
        auto a = open("vault-1", "/backup/a");
        auto b = open("vault-1", "/backup/b");
        sync::Checkpoint checkpoint;
        checkpoint.refusals = {test::refused_record("z\xff.md", 2, "not UTF-8"),
                               test::refused_record("", 9, "could not be decrypted")};
        run(a->commit(checkpoint));
    }
    const auto scopes = list_sqlite_scopes(m_db);
    ASSERT_EQ(scopes.size(), 2U);
    ASSERT_EQ(scopes[0].refused.size(), 2U);
    EXPECT_EQ(scopes[0].refused[0].path, "");  // ordered by key: "#9" before "/z\xff.md"
    EXPECT_EQ(scopes[0].refused[0].uid, 9);
    EXPECT_EQ(scopes[0].refused[1].path, "z\xff.md");
    EXPECT_EQ(scopes[0].refused[1].reason, "not UTF-8");
    EXPECT_TRUE(scopes[1].refused.empty());
}

TEST_F(SqliteStore, ADatabaseFromBeforeRefusalsIsReadAsIsAndGainsTheTableOnTheFirstWrite) {
    open();
    exec_sql(m_db, "DROP TABLE refusals");
    const auto scopes = list_sqlite_scopes(m_db);
    ASSERT_EQ(scopes.size(), 1U);
    EXPECT_TRUE(scopes[0].refused.empty());
    auto store = open();
    EXPECT_TRUE(run(store->load()).refused.empty());
    // Opening and loading (a dry run) did not change the schema.
    exec_sql(m_db, "CREATE TABLE refusals (x)");
    exec_sql(m_db, "DROP TABLE refusals");
    sync::Checkpoint checkpoint;
    checkpoint.refusals = {test::refused_record("a", 1, "r")};
    run(store->commit(checkpoint));
    EXPECT_EQ(run(store->load()).refused.size(), 1U);
}

TEST_F(SqliteStore, RefusesAFileThatIsNotADatabase) {
    {
        std::ofstream out(m_db);
        out << std::string(4096, 'x');
    }
    EXPECT_EQ(test::error_kind_of([&] { open(); }), ErrorKind::config);
    EXPECT_EQ(test::error_kind_of([&] { list_sqlite_scopes(m_db); }), ErrorKind::config);
}

TEST_F(SqliteStore, RefusesANewerSchema) {
    open();
    exec_sql(m_db, "UPDATE meta SET value = '999' WHERE key = 'schema_version'");
    EXPECT_EQ(test::error_kind_of([&] { open(); }), ErrorKind::config);
    EXPECT_EQ(test::error_kind_of([&] { list_sqlite_scopes(m_db); }), ErrorKind::config);
}

TEST_F(SqliteStore, UnusableLocationIsAStorageError) {
    // A file where a parent folder should be: fails the same way for root and for users.
    { std::ofstream out(m_dir / "file"); }
    EXPECT_EQ(
        test::error_kind_of([&] {
            open_sqlite_state(m_dir / "file" / "sub" / "state.db", sync::StateScope{"v", "/d"});
        }),
        ErrorKind::storage);
}

}  // namespace
}  // namespace obsync::state
