#pragma once

// What every sync::StateStore promises (src/sync/state_store.hpp), as one typed test suite that
// each store's test file instantiates with its own backend:
//
//   struct Backend {
//       static void set_up_suite();  static void tear_down_suite();
//       void set_up();  void tear_down();
//       boost::asio::io_context& io();
//       std::unique_ptr<sync::StateStore> open(const std::string& vault,
//                                              const std::string& destination,
//                                              std::function<std::int64_t()> now_ms);
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StateStoreContract, SqliteBackend);
//
// `now_ms` replaces the store's clock when set (lease expiry). Store-specific behaviour (SQLite's
// file permissions, DynamoDB's items and ttl) stays in the store's own tests.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "support/run_coro.hpp"
#include "support/test_util.hpp"
#include "sync/state_store.hpp"
#include "util/error.hpp"

namespace obsync::test {

inline sync::FileState state_file(std::string path, std::string hash, std::int64_t uid,
                                  std::int64_t size) {
    sync::FileState f;
    f.path = std::move(path);
    f.hash = std::move(hash);
    f.uid = uid;
    f.mtime = 1'700'000'000'000 + uid;
    f.size = size;
    return f;
}

inline sync::FileState state_folder(std::string path, std::int64_t uid) {
    sync::FileState f;
    f.path = std::move(path);
    f.uid = uid;
    f.folder = true;
    return f;
}

inline bool same_state(const sync::FileState& a, const sync::FileState& b) {
    return a.path == b.path && a.hash == b.hash && a.uid == b.uid && a.mtime == b.mtime &&
           a.size == b.size && a.folder == b.folder;
}

inline const sync::FileState* find_state(const sync::StateSnapshot& s, const std::string& path) {
    const auto it = std::find_if(s.files.begin(), s.files.end(),
                                 [&](const sync::FileState& f) { return f.path == path; });
    return it == s.files.end() ? nullptr : &*it;
}

inline sync::RefusedRecord refused_record(std::string path, std::int64_t uid, std::string reason) {
    sync::RefusedRecord r;
    r.path = std::move(path);
    r.uid = uid;
    r.reason = std::move(reason);
    return r;
}

// The refusals of a snapshot by refusal_key(), as "path|uid|reason" (stores return any order).
inline std::map<std::string, std::string> refusals_of(const sync::StateSnapshot& s) {
    std::map<std::string, std::string> out;
    for (const sync::RefusedRecord& r : s.refused) {
        out[sync::refusal_key(r)] = r.path + "|" + std::to_string(r.uid) + "|" + r.reason;
    }
    return out;
}

template <typename Backend>
class StateStoreContract : public ::testing::Test {
protected:
    static void SetUpTestSuite() { Backend::set_up_suite(); }
    static void TearDownTestSuite() { Backend::tear_down_suite(); }
    void SetUp() override { m_backend.set_up(); }
    void TearDown() override { m_backend.tear_down(); }

    std::unique_ptr<sync::StateStore> open(const std::string& vault = "vault-1",
                                           const std::string& destination = "/backup/a",
                                           std::function<std::int64_t()> now_ms = {}) {
        return m_backend.open(vault, destination, std::move(now_ms));
    }

    template <typename T>
    T run(boost::asio::awaitable<T> op) {
        return run_coro_value(m_backend.io(), std::move(op), std::chrono::seconds(120));
    }
    void run(boost::asio::awaitable<void> op) {
        run_coro(m_backend.io(), std::move(op), std::chrono::seconds(120));
    }

    Backend m_backend;
};

TYPED_TEST_SUITE_P(StateStoreContract);

TYPED_TEST_P(StateStoreContract, FreshScopeIsEmpty) {
    auto store = this->open();
    const sync::StateSnapshot s = this->run(store->load());
    EXPECT_EQ(s.cursor.version, 0);
    EXPECT_TRUE(s.cursor.initial);
    EXPECT_TRUE(s.files.empty());
    EXPECT_FALSE(s.last_run.has_value());
    EXPECT_EQ(s.vault_name, "");
}

TYPED_TEST_P(StateStoreContract, RoundTripsEveryFieldAcrossReopen) {
    const std::vector<sync::FileState> files = {
        state_file("b/note.md", std::string(64, 'a'), 7, 120),
        state_file("Ünïcödé/日本語 ノート#1.md", std::string(64, 'b'), 9, 0),
        state_folder("b", 3),
        state_file("a.md", std::string(64, 'c'), 11, 1LL << 40),
    };
    sync::RunRecord record;
    record.started_ms = 1000;
    record.finished_ms = 2500;
    record.complete = true;
    record.ok = false;
    record.created = 4;
    record.updated = 5;
    record.deleted = 6;
    record.failed = 1;
    record.bytes = 123456;
    record.error = "b/x.md: Permission denied";
    {
        auto store = this->open();
        const std::string name = "My Vault";
        this->run(store->set_vault_name(name));  // before any commit
        sync::Checkpoint checkpoint;
        checkpoint.upserts = files;
        checkpoint.upserts.push_back(state_file("gone.md", "h", 12, 1));
        checkpoint.cursor = sync::Cursor{42, false};
        this->run(store->commit(checkpoint));
        sync::Checkpoint second;
        second.removals = {"gone.md", "never-existed.md"};
        this->run(store->commit(second));  // no cursor: it stays where it was
        this->run(store->record_run(record));
    }
    auto store = this->open();
    const sync::StateSnapshot s = this->run(store->load());
    EXPECT_EQ(s.cursor.version, 42);
    EXPECT_FALSE(s.cursor.initial);
    EXPECT_EQ(s.vault_name, "My Vault");
    ASSERT_EQ(s.files.size(), files.size());
    for (const sync::FileState& expected : files) {
        const sync::FileState* got = find_state(s, expected.path);
        ASSERT_NE(got, nullptr) << expected.path;
        EXPECT_TRUE(same_state(*got, expected)) << expected.path;
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

TYPED_TEST_P(StateStoreContract, UpsertsReplaceAndRemovalsWinInOneCheckpoint) {
    auto store = this->open();
    sync::Checkpoint first;
    first.upserts = {state_file("a.md", "h1", 1, 10), state_file("b.md", "h2", 2, 20)};
    first.cursor = sync::Cursor{5, true};
    this->run(store->commit(first));
    sync::Checkpoint second;
    second.upserts = {state_file("a.md", "h3", 3, 30), state_file("c.md", "h4", 4, 40),
                      state_file("c.md", "h5", 5, 50)};
    second.removals = {"b.md", "c.md"};
    this->run(store->commit(second));
    const sync::StateSnapshot s = this->run(store->load());
    EXPECT_EQ(s.cursor.version, 5);
    EXPECT_TRUE(s.cursor.initial);
    ASSERT_EQ(s.files.size(), 1U);
    EXPECT_TRUE(same_state(s.files[0], state_file("a.md", "h3", 3, 30)));
}

TYPED_TEST_P(StateStoreContract, CursorNeverMovesBackwards) {
    auto store = this->open();
    sync::Checkpoint ahead;
    ahead.cursor = sync::Cursor{100, false};
    this->run(store->commit(ahead));
    sync::Checkpoint behind;
    behind.upserts = {state_file("late.md", "h", 50, 1)};
    behind.cursor = sync::Cursor{60, false};
    this->run(store->commit(behind));  // the files still count; the cursor stays
    sync::StateSnapshot s = this->run(store->load());
    EXPECT_EQ(s.cursor.version, 100);
    EXPECT_EQ(s.files.size(), 1U);

    sync::Checkpoint same_version;
    same_version.cursor = sync::Cursor{100, true};  // the same version may change the flag
    this->run(store->commit(same_version));
    EXPECT_TRUE(this->run(store->load()).cursor.initial);
    sync::Checkpoint forward;
    forward.cursor = sync::Cursor{101, false};
    this->run(store->commit(forward));
    s = this->run(store->load());
    EXPECT_EQ(s.cursor.version, 101);
    EXPECT_FALSE(s.cursor.initial);
}

TYPED_TEST_P(StateStoreContract, ScopesAreIndependent) {
    auto a = this->open("vault-1", "/backup/a");
    auto b = this->open("vault-1", "s3://bucket/prefix#x");
    auto prefix = this->open("vault-1", "/backup");  // must not see "/backup/a"
    auto c = this->open("vault-2", "/backup/a");
    sync::Checkpoint ca;
    ca.upserts = {state_file("only-a.md", "h", 1, 1)};
    ca.cursor = sync::Cursor{10, false};
    this->run(a->commit(ca));
    sync::Checkpoint cb;
    cb.upserts = {state_file("only-b.md", "h", 2, 2), state_file("shared.md", "h", 3, 3)};
    cb.cursor = sync::Cursor{20, false};
    this->run(b->commit(cb));
    const std::string name_a = "Vault A";
    this->run(a->set_vault_name(name_a));

    const sync::StateSnapshot sa = this->run(a->load());
    const sync::StateSnapshot sb = this->run(b->load());
    EXPECT_EQ(sa.cursor.version, 10);
    EXPECT_EQ(sb.cursor.version, 20);
    EXPECT_EQ(sa.files.size(), 1U);
    EXPECT_EQ(sb.files.size(), 2U);
    EXPECT_EQ(sa.vault_name, "Vault A");
    EXPECT_EQ(sb.vault_name, "");
    EXPECT_TRUE(this->run(prefix->load()).files.empty());
    EXPECT_EQ(this->run(c->load()).cursor.version, 0);
    EXPECT_TRUE(this->run(c->load()).files.empty());

    this->run(b->reset());
    EXPECT_EQ(this->run(a->load()).files.size(), 1U);
    EXPECT_EQ(this->run(a->load()).cursor.version, 10);

    const std::string owner = "run-a";
    const std::string other = "run-b";
    EXPECT_TRUE(this->run(a->acquire_lease(owner, std::chrono::seconds(60))));
    EXPECT_TRUE(this->run(b->acquire_lease(other, std::chrono::seconds(60))));
    EXPECT_TRUE(this->run(c->acquire_lease(other, std::chrono::seconds(60))));
}

TYPED_TEST_P(StateStoreContract, ResetForgetsCursorAndFilesOnly) {
    auto store = this->open();
    const std::string name = "Kept";
    this->run(store->set_vault_name(name));
    sync::RunRecord record;
    record.started_ms = 1;
    record.ok = true;
    this->run(store->record_run(record));
    sync::Checkpoint checkpoint;
    checkpoint.upserts = {state_file("a.md", "h", 1, 1), state_folder("f", 2)};
    checkpoint.cursor = sync::Cursor{99, false};
    this->run(store->commit(checkpoint));
    const std::string owner = "me";
    EXPECT_TRUE(this->run(store->acquire_lease(owner, std::chrono::seconds(60))));

    this->run(store->reset());
    auto reopened = this->open();
    const sync::StateSnapshot s = this->run(reopened->load());
    EXPECT_EQ(s.cursor.version, 0);  // the one way back
    EXPECT_TRUE(s.cursor.initial);
    EXPECT_TRUE(s.files.empty());
    EXPECT_EQ(s.vault_name, "Kept");
    EXPECT_TRUE(s.last_run.has_value());
    const std::string other = "other";
    EXPECT_FALSE(this->run(reopened->acquire_lease(other, std::chrono::seconds(60))));  // kept
}

TYPED_TEST_P(StateStoreContract, LeaseExcludesOtherOwnersUntilItExpires) {
    std::int64_t now = 1'000'000;
    const auto clock = [&now] { return now; };
    auto first = this->open("v", "/d", clock);
    auto second = this->open("v", "/d", clock);
    const std::string a = "host-a:123";
    const std::string b = "host-b:456";
    const std::chrono::seconds ttl(10);

    EXPECT_TRUE(this->run(first->acquire_lease(a, ttl)));
    EXPECT_FALSE(this->run(second->acquire_lease(b, ttl)));
    EXPECT_TRUE(this->run(first->acquire_lease(a, ttl)));  // already ours
    EXPECT_EQ(error_kind_of([&] { this->run(second->renew_lease(b, ttl)); }), ErrorKind::busy);

    now += 9'000;
    this->run(first->renew_lease(a, ttl));  // now valid until +19 s
    now += 9'000;
    EXPECT_FALSE(this->run(second->acquire_lease(b, ttl)));

    now += 1'001;  // expired: taken over
    EXPECT_TRUE(this->run(second->acquire_lease(b, ttl)));
    try {
        this->run(first->renew_lease(a, ttl));
        FAIL() << "renewing a lost lease succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::busy);
        EXPECT_NE(std::string(e.what()).find("lease lost"), std::string::npos) << e.what();
    }

    this->run(first->release_lease(a));  // not ours any more: no effect
    EXPECT_FALSE(this->run(first->acquire_lease(a, ttl)));
    this->run(second->release_lease(b));
    EXPECT_TRUE(this->run(first->acquire_lease(a, ttl)));
}

TYPED_TEST_P(StateStoreContract, RefusalsRoundTripWithAnyBytesInTheSameCommitAsTheFiles) {
    const std::vector<sync::RefusedRecord> refused = {
        refused_record("bad\xff\xfe utf-8.md", 10, "the name is not valid UTF-8"),
        refused_record(std::string("nul\0byte.md", 12), 11, "the path has a NUL byte"),
        refused_record("ctl\x01\x1b[31m.md", 12, "control characters"),
        refused_record("../escape.md", 13, "the path has a \"..\" segment"),
        refused_record(std::string(2000, 'x') + "\xc3", 14, "too long, \xe2\x80 cut"),
        refused_record("", 15, "could not be decrypted"),  // undecryptable: keyed by uid
    };
    {
        auto store = this->open();
        sync::Checkpoint checkpoint;
        checkpoint.upserts = {state_file("ok.md", "h", 1, 1)};
        checkpoint.refusals = refused;
        checkpoint.cursor = sync::Cursor{20, false};
        this->run(store->commit(checkpoint));
    }
    const sync::StateSnapshot s = this->run(this->open()->load());
    EXPECT_EQ(s.files.size(), 1U);
    EXPECT_EQ(s.cursor.version, 20);
    std::map<std::string, std::string> expected;
    for (const sync::RefusedRecord& r : refused) {
        expected[sync::refusal_key(r)] = r.path + "|" + std::to_string(r.uid) + "|" + r.reason;
    }
    EXPECT_EQ(refusals_of(s), expected);
    EXPECT_EQ(s.refused.size(), refused.size());
    EXPECT_EQ(refusals_of(this->run(this->open("vault-1", "/backup/other")->load())).size(), 0U)
        << "refusals belong to their scope";
}

TYPED_TEST_P(StateStoreContract, RefusalsAreReplacedByKeyAndCleared) {
    auto store = this->open();
    sync::Checkpoint first;
    first.refusals = {refused_record("a\xff.md", 1, "old reason"),
                      refused_record("", 5, "undecryptable"),
                      refused_record("", 6, "undecryptable too")};
    this->run(store->commit(first));
    sync::Checkpoint second;
    second.refusals = {refused_record("a\xff.md", 2, "new reason")};  // same path: replaced
    second.cleared_refusals = {"#5"};                                 // undecryptable uid 5
    this->run(store->commit(second));
    std::map<std::string, std::string> expected = {
        {"/a\xff.md", "a\xff.md|2|new reason"},
        {"#6", "|6|undecryptable too"},
    };
    EXPECT_EQ(refusals_of(this->run(store->load())), expected);

    sync::Checkpoint third;
    third.cleared_refusals = {"/a\xff.md", "/never-refused.md"};
    third.refusals = {refused_record("", 7, "x")};
    third.cleared_refusals.push_back("#7");  // recorded and cleared at once: cleared
    this->run(store->commit(third));
    expected.erase("/a\xff.md");
    EXPECT_EQ(refusals_of(this->run(this->open()->load())), expected);
}

TYPED_TEST_P(StateStoreContract, ResetForgetsRefusals) {
    auto store = this->open();
    sync::Checkpoint checkpoint;
    checkpoint.refusals = {refused_record("a\x01.md", 1, "r"), refused_record("", 2, "r")};
    checkpoint.cursor = sync::Cursor{3, false};
    this->run(store->commit(checkpoint));
    ASSERT_EQ(this->run(store->load()).refused.size(), 2U);
    this->run(store->reset());
    EXPECT_TRUE(this->run(this->open()->load()).refused.empty());
}

// A run frozen past its lease's expiry (a suspended laptop, a thawed Lambda container) while
// another run took the lease over must not write its cursor over the newer run's.
TYPED_TEST_P(StateStoreContract, ARunWhoseLeaseWasTakenOverCannotMoveTheCursor) {
    std::int64_t now = 1'000'000;
    const auto clock = [&now] { return now; };
    auto thawed = this->open("v", "/d", clock);
    auto newer = this->open("v", "/d", clock);
    const std::string a = "host-a:10:0123456789abcdef";
    const std::string b = "host-b:20:fedcba9876543210";
    const std::chrono::seconds ttl(10);

    ASSERT_TRUE(this->run(thawed->acquire_lease(a, ttl)));
    sync::Checkpoint first;
    first.cursor = sync::Cursor{5, false};
    this->run(thawed->commit(first));
    sync::Checkpoint behind;  // under the lease, a cursor behind is still ignored, not an error
    behind.cursor = sync::Cursor{4, false};
    this->run(thawed->commit(behind));
    EXPECT_EQ(this->run(thawed->load()).cursor.version, 5);

    now += 10'001;  // expired while frozen: taken over
    ASSERT_TRUE(this->run(newer->acquire_lease(b, ttl)));
    sync::Checkpoint progress;
    progress.upserts = {state_file("b.md", "hb", 9, 9)};
    progress.cursor = sync::Cursor{10, false};
    this->run(newer->commit(progress));

    sync::Checkpoint stale;  // the thawed run, further along its own change list
    stale.cursor = sync::Cursor{20, false};
    try {
        this->run(thawed->commit(stale));
        FAIL() << "a run whose lease was taken over moved the cursor";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::busy);
        EXPECT_NE(std::string(e.what()).find("taken over"), std::string::npos) << e.what();
    }
    EXPECT_EQ(this->run(newer->load()).cursor.version, 10);

    // Once released, the lease is nobody's: still not the thawed run's.
    this->run(newer->release_lease(b));
    EXPECT_EQ(error_kind_of([&] { this->run(thawed->commit(stale)); }), ErrorKind::busy);
    EXPECT_EQ(this->run(newer->load()).cursor.version, 10);
}

REGISTER_TYPED_TEST_SUITE_P(StateStoreContract, FreshScopeIsEmpty, RoundTripsEveryFieldAcrossReopen,
                            UpsertsReplaceAndRemovalsWinInOneCheckpoint, CursorNeverMovesBackwards,
                            ScopesAreIndependent, ResetForgetsCursorAndFilesOnly,
                            LeaseExcludesOtherOwnersUntilItExpires,
                            RefusalsRoundTripWithAnyBytesInTheSameCommitAsTheFiles,
                            RefusalsAreReplacedByKeyAndCleared, ResetForgetsRefusals,
                            ARunWhoseLeaseWasTakenOverCannotMoveTheCursor);

}  // namespace obsync::test
