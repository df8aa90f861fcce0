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

#include <gtest/gtest.h>

#include "support/run_coro.hpp"
#include "support/test_util.hpp"
#include "util/error.hpp"

namespace obsync::state {
namespace {

namespace fs = std::filesystem;
using boost::asio::awaitable;

sync::FileState file(std::string path, std::string hash, std::int64_t uid, std::int64_t size) {
    sync::FileState f;
    f.path = std::move(path);
    f.hash = std::move(hash);
    f.uid = uid;
    f.mtime = 1'700'000'000'000 + uid;
    f.size = size;
    return f;
}

sync::FileState folder(std::string path, std::int64_t uid) {
    sync::FileState f;
    f.path = std::move(path);
    f.uid = uid;
    f.folder = true;
    return f;
}

bool same(const sync::FileState& a, const sync::FileState& b) {
    return a.path == b.path && a.hash == b.hash && a.uid == b.uid && a.mtime == b.mtime &&
           a.size == b.size && a.folder == b.folder;
}

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

TEST_F(SqliteStore, FreshScopeIsEmpty) {
    auto store = open();
    const sync::StateSnapshot s = run(store->load());
    EXPECT_EQ(s.cursor.version, 0);
    EXPECT_TRUE(s.cursor.initial);
    EXPECT_TRUE(s.files.empty());
    EXPECT_FALSE(s.last_run.has_value());
    EXPECT_EQ(s.vault_name, "");
}

TEST_F(SqliteStore, RoundTripsAcrossReopen) {
    const std::vector<sync::FileState> files = {
        file("b/note.md", std::string(64, 'a'), 7, 120),
        file("Ünïcödé/日本語 ノート.md", std::string(64, 'b'), 9, 0),
        folder("b", 3),
        file("a.md", std::string(64, 'c'), 11, 1LL << 40),
    };
    sync::RunRecord run_record;
    run_record.started_ms = 1000;
    run_record.finished_ms = 2500;
    run_record.complete = true;
    run_record.ok = false;
    run_record.created = 4;
    run_record.updated = 5;
    run_record.deleted = 6;
    run_record.failed = 1;
    run_record.bytes = 123456;
    run_record.error = "b/x.md: Permission denied";
    {
        auto store = open();
        const std::string name = "My Vault";
        run(store->set_vault_name(name));
        sync::Checkpoint checkpoint;
        checkpoint.upserts = files;
        checkpoint.cursor = sync::Cursor{42, false};
        run(store->commit(checkpoint));
        run(store->record_run(run_record));
    }
    auto store = open();
    const sync::StateSnapshot s = run(store->load());
    EXPECT_EQ(s.cursor.version, 42);
    EXPECT_FALSE(s.cursor.initial);
    EXPECT_EQ(s.vault_name, "My Vault");
    ASSERT_EQ(s.files.size(), files.size());
    for (const sync::FileState& expected : files) {
        const auto it = std::find_if(s.files.begin(), s.files.end(), [&](const sync::FileState& f) {
            return f.path == expected.path;
        });
        ASSERT_NE(it, s.files.end()) << expected.path;
        EXPECT_TRUE(same(*it, expected)) << expected.path;
    }
    ASSERT_TRUE(s.last_run.has_value());
    EXPECT_EQ(s.last_run->started_ms, 1000);
    EXPECT_EQ(s.last_run->finished_ms, 2500);
    EXPECT_TRUE(s.last_run->complete);
    EXPECT_FALSE(s.last_run->ok);
    EXPECT_EQ(s.last_run->created, 4);
    EXPECT_EQ(s.last_run->updated, 5);
    EXPECT_EQ(s.last_run->deleted, 6);
    EXPECT_EQ(s.last_run->failed, 1);
    EXPECT_EQ(s.last_run->bytes, 123456);
    EXPECT_EQ(s.last_run->error, "b/x.md: Permission denied");
}

TEST_F(SqliteStore, UpsertsReplaceRemovalsForgetAndCursorIsOptional) {
    auto store = open();
    sync::Checkpoint first;
    first.upserts = {file("a.md", "h1", 1, 10), file("b.md", "h2", 2, 20)};
    first.cursor = sync::Cursor{5, true};
    run(store->commit(first));

    sync::Checkpoint second;
    second.upserts = {file("a.md", "h3", 3, 30)};
    second.removals = {"b.md", "never-existed.md"};
    run(store->commit(second));  // no cursor: it stays where it was

    const sync::StateSnapshot s = run(store->load());
    EXPECT_EQ(s.cursor.version, 5);
    EXPECT_TRUE(s.cursor.initial);
    ASSERT_EQ(s.files.size(), 1U);
    EXPECT_TRUE(same(s.files[0], file("a.md", "h3", 3, 30)));
}

TEST_F(SqliteStore, CursorNeverMovesBackwards) {
    auto store = open();
    sync::Checkpoint ahead;
    ahead.cursor = sync::Cursor{100, false};
    run(store->commit(ahead));
    sync::Checkpoint behind;
    behind.upserts = {file("late.md", "h", 50, 1)};
    behind.cursor = sync::Cursor{60, false};
    run(store->commit(behind));  // the files still count; the cursor stays
    sync::StateSnapshot s = run(store->load());
    EXPECT_EQ(s.cursor.version, 100);
    EXPECT_EQ(s.files.size(), 1U);

    sync::Checkpoint same_version;
    same_version.cursor = sync::Cursor{100, true};  // the same version may change the flag
    run(store->commit(same_version));
    EXPECT_TRUE(run(store->load()).cursor.initial);
    sync::Checkpoint forward;
    forward.cursor = sync::Cursor{101, false};
    run(store->commit(forward));
    s = run(store->load());
    EXPECT_EQ(s.cursor.version, 101);
    EXPECT_FALSE(s.cursor.initial);

    run(store->reset());  // reset is the one way back
    EXPECT_EQ(run(store->load()).cursor.version, 0);
}

TEST_F(SqliteStore, FailedCommitLeavesThePreviousState) {
    {
        auto store = open();
        sync::Checkpoint first;
        first.upserts = {file("keep.md", "h1", 1, 10)};
        first.cursor = sync::Cursor{1, false};
        run(store->commit(first));

        // A fault in the middle of the next commit: the third row of the batch fails.
        exec_sql(m_db,
                 "CREATE TRIGGER poison BEFORE INSERT ON files WHEN NEW.path = 'poison.md' "
                 "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
        sync::Checkpoint second;
        second.upserts = {file("new-1.md", "h2", 2, 20), file("keep.md", "changed", 3, 30),
                          file("poison.md", "h4", 4, 40), file("new-2.md", "h5", 5, 50)};
        second.removals = {"keep.md"};
        second.cursor = sync::Cursor{2, false};
        EXPECT_EQ(test::error_kind_of([&] { run(store->commit(second)); }), ErrorKind::storage);

        const sync::StateSnapshot s = run(store->load());
        EXPECT_EQ(s.cursor.version, 1);
        ASSERT_EQ(s.files.size(), 1U);
        EXPECT_TRUE(same(s.files[0], file("keep.md", "h1", 1, 10)));

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

TEST_F(SqliteStore, ScopesInOneFileAreIndependent) {
    auto a = open("vault-1", "/backup/a");
    auto b = open("vault-1", "s3://bucket/prefix");
    auto c = open("vault-2", "/backup/a");
    sync::Checkpoint ca;
    ca.upserts = {file("only-a.md", "h", 1, 1)};
    ca.cursor = sync::Cursor{10, false};
    run(a->commit(ca));
    sync::Checkpoint cb;
    cb.upserts = {file("only-b.md", "h", 2, 2), file("shared.md", "h", 3, 3)};
    cb.cursor = sync::Cursor{20, false};
    run(b->commit(cb));
    const std::string name_a = "Vault A";
    run(a->set_vault_name(name_a));

    const sync::StateSnapshot sa = run(a->load());
    const sync::StateSnapshot sb = run(b->load());
    const sync::StateSnapshot sc = run(c->load());
    EXPECT_EQ(sa.cursor.version, 10);
    EXPECT_EQ(sb.cursor.version, 20);
    EXPECT_EQ(sc.cursor.version, 0);
    EXPECT_EQ(sa.files.size(), 1U);
    EXPECT_EQ(sb.files.size(), 2U);
    EXPECT_TRUE(sc.files.empty());
    EXPECT_EQ(sa.vault_name, "Vault A");
    EXPECT_EQ(sb.vault_name, "");

    run(b->reset());
    EXPECT_EQ(run(a->load()).files.size(), 1U);
    EXPECT_EQ(run(a->load()).cursor.version, 10);

    const std::string owner = "run-a";
    EXPECT_TRUE(run(a->acquire_lease(owner, std::chrono::seconds(60))));
    const std::string other = "run-b";
    EXPECT_TRUE(run(b->acquire_lease(other, std::chrono::seconds(60))));
    EXPECT_TRUE(run(c->acquire_lease(other, std::chrono::seconds(60))));
}

TEST_F(SqliteStore, ResetForgetsCursorAndFilesOnly) {
    auto store = open();
    const std::string name = "Kept";
    run(store->set_vault_name(name));
    sync::RunRecord record;
    record.started_ms = 1;
    record.ok = true;
    run(store->record_run(record));
    sync::Checkpoint checkpoint;
    checkpoint.upserts = {file("a.md", "h", 1, 1), folder("f", 2)};
    checkpoint.cursor = sync::Cursor{99, false};
    run(store->commit(checkpoint));

    run(store->reset());
    auto reopened = open();
    const sync::StateSnapshot s = run(reopened->load());
    EXPECT_EQ(s.cursor.version, 0);
    EXPECT_TRUE(s.cursor.initial);
    EXPECT_TRUE(s.files.empty());
    EXPECT_EQ(s.vault_name, "Kept");
    EXPECT_TRUE(s.last_run.has_value());
}

TEST_F(SqliteStore, LeaseExcludesOtherOwnersUntilItExpires) {
    std::int64_t now = 1'000'000;
    SqliteStateOptions options;
    options.now_ms = [&now] { return now; };
    auto first = open_sqlite_state(m_db, sync::StateScope{"v", "/d"}, options);
    auto second = open_sqlite_state(m_db, sync::StateScope{"v", "/d"}, options);
    const std::string a = "host-a:123";
    const std::string b = "host-b:456";
    const std::chrono::seconds ttl(10);

    EXPECT_TRUE(run(first->acquire_lease(a, ttl)));
    EXPECT_FALSE(run(second->acquire_lease(b, ttl)));
    EXPECT_TRUE(run(first->acquire_lease(a, ttl)));  // already ours
    EXPECT_EQ(test::error_kind_of([&] { run(second->renew_lease(b, ttl)); }), ErrorKind::storage);

    now += 9'000;
    run(first->renew_lease(a, ttl));  // now valid until +19 s
    now += 9'000;
    EXPECT_FALSE(run(second->acquire_lease(b, ttl)));

    now += 1'001;  // expired: taken over
    EXPECT_TRUE(run(second->acquire_lease(b, ttl)));
    try {
        run(first->renew_lease(a, ttl));
        FAIL() << "renewing a lost lease succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::storage);
        EXPECT_NE(std::string(e.what()).find("lease lost"), std::string::npos) << e.what();
    }

    run(first->release_lease(a));  // not ours any more: no effect
    EXPECT_FALSE(run(first->acquire_lease(a, ttl)));
    run(second->release_lease(b));
    EXPECT_TRUE(run(first->acquire_lease(a, ttl)));
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

TEST_F(SqliteStore, CreatesPrivateFoldersAndFile) {
    const fs::path db = m_dir / "x" / "y" / "state.db";
    auto store = open_sqlite_state(db, sync::StateScope{"v", "/d"});
    sync::Checkpoint checkpoint;
    checkpoint.upserts = {file("a.md", "h", 1, 1)};
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
            file("folder-" + std::to_string(i % 100) + "/note-" + std::to_string(i) + ".md",
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
        checkpoint.upserts = {file("x.md", "h", 1, 100), file("y.md", "h", 2, 23), folder("f", 3)};
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
