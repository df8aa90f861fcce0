// The DynamoDB state store against moto_server: the behaviours the SQLite store is held to, plus
// what only DynamoDB has (per-file items for large vaults, ttl, stale items, state-init).

#include "state/dynamodb_store.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include "aws/client.hpp"
#include "aws/dynamodb.hpp"
#include "support/moto_server.hpp"
#include "support/run_coro.hpp"
#include "support/scripted_servers.hpp"
#include "support/test_util.hpp"
#include "util/error.hpp"

namespace obsync::state {
namespace {

namespace bj = boost::json;
using boost::asio::awaitable;
using test::MotoServer;

const std::string k_table = "obsync-state";

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

const sync::FileState* find_path(const sync::StateSnapshot& s, const std::string& path) {
    const auto it = std::find_if(s.files.begin(), s.files.end(),
                                 [&](const sync::FileState& f) { return f.path == path; });
    return it == s.files.end() ? nullptr : &*it;
}

bj::object key(const std::string& vault, const std::string& item) {
    bj::object out;
    out["vault_id"] = aws::attr_s(vault);
    out["item"] = aws::attr_s(item);
    return out;
}

class DynamoStore : public ::testing::Test {
protected:
    static void SetUpTestSuite() { s_moto = new MotoServer(); }
    static void TearDownTestSuite() {
        delete s_moto;
        s_moto = nullptr;
    }

    void SetUp() override {
        s_moto->reset();
        s_moto->export_environment();
        m_client = std::make_unique<aws::AwsClient>(m_io.get_executor(),
                                                    aws::AwsEnvironment::from_environment());
        run(create_dynamodb_state_table(*m_client, k_table));
    }

    template <typename T>
    T run(awaitable<T> op) {
        return test::run_coro_value(m_io, std::move(op), std::chrono::seconds(600));
    }

    void run(awaitable<void> op) { test::run_coro(m_io, std::move(op), std::chrono::seconds(600)); }

    std::unique_ptr<sync::StateStore> open(const std::string& vault = "vault-1",
                                           const std::string& destination = "/backup/a",
                                           std::function<std::int64_t()> now = {}) {
        DynamoStateOptions options;
        options.table = k_table;
        options.scope = sync::StateScope{vault, destination};
        options.now_ms = std::move(now);
        return open_dynamodb_state(*m_client, std::move(options));
    }

    // A raw DynamoDB call behind the store's back.
    bj::object call(const std::string& operation, bj::object request) {
        aws::DynamoDb db(*m_client);
        return run(db.call(operation, std::move(request)));
    }

    bj::object get_item(const std::string& vault, const std::string& item) {
        bj::object request;
        request["TableName"] = k_table;
        request["Key"] = key(vault, item);
        request["ConsistentRead"] = true;
        bj::object reply = call("GetItem", std::move(request));
        auto* found = reply.if_contains("Item");
        return found != nullptr ? found->as_object() : bj::object{};
    }

    static MotoServer* s_moto;
    boost::asio::io_context m_io;
    std::unique_ptr<aws::AwsClient> m_client;
};

MotoServer* DynamoStore::s_moto = nullptr;

TEST_F(DynamoStore, StateInitIsIdempotentAndEnablesTtl) {
    run(create_dynamodb_state_table(*m_client, k_table));  // SetUp made it already
    bj::object request;
    request["TableName"] = k_table;
    const bj::object ttl = call("DescribeTimeToLive", request);
    const auto& description = ttl.at("TimeToLiveDescription").as_object();
    EXPECT_EQ(description.at("TimeToLiveStatus").as_string(), "ENABLED");
    EXPECT_EQ(description.at("AttributeName").as_string(), "ttl");
    const bj::object table = call("DescribeTable", request);
    EXPECT_EQ(table.at("Table").at("TableStatus").as_string(), "ACTIVE");
    EXPECT_EQ(table.at("Table").at("BillingModeSummary").at("BillingMode").as_string(),
              "PAY_PER_REQUEST");
}

TEST_F(DynamoStore, FreshScopeIsEmpty) {
    auto store = open();
    const sync::StateSnapshot s = run(store->load());
    EXPECT_EQ(s.cursor.version, 0);
    EXPECT_TRUE(s.cursor.initial);
    EXPECT_TRUE(s.files.empty());
    EXPECT_FALSE(s.last_run.has_value());
    EXPECT_EQ(s.vault_name, "");
}

TEST_F(DynamoStore, RoundTripsEveryFieldAcrossStores) {
    const std::vector<sync::FileState> files = {
        file("b/note.md", std::string(64, 'a'), 7, 120),
        file("Ünïcödé/日本語 ノート#1.md", std::string(64, 'b'), 9, 0),
        folder("b", 3),
        file("a.md", std::string(64, 'c'), 11, 1LL << 40),
    };
    sync::RunRecord record;
    record.started_ms = 1000;
    record.finished_ms = 2500;
    record.complete = true;
    record.created = 4;
    record.updated = 5;
    record.deleted = 6;
    record.failed = 1;
    record.bytes = 123456;
    record.error = "b/x.md: Permission denied";
    {
        auto store = open();
        const std::string name = "My Vault";
        run(store->set_vault_name(name));  // before any commit, as on a fresh SQLite scope
        sync::Checkpoint checkpoint;
        checkpoint.upserts = files;
        checkpoint.upserts.push_back(file("gone.md", "h", 12, 1));
        checkpoint.cursor = sync::Cursor{42, false};
        run(store->commit(checkpoint));
        sync::Checkpoint second;
        second.removals = {"gone.md", "never-existed.md"};
        run(store->commit(second));  // no cursor: it stays where it was
        run(store->record_run(record));
    }
    auto store = open();
    const sync::StateSnapshot s = run(store->load());
    EXPECT_EQ(s.cursor.version, 42);
    EXPECT_FALSE(s.cursor.initial);
    EXPECT_EQ(s.vault_name, "My Vault");
    ASSERT_EQ(s.files.size(), files.size());
    for (const sync::FileState& expected : files) {
        const sync::FileState* got = find_path(s, expected.path);
        ASSERT_NE(got, nullptr) << expected.path;
        EXPECT_TRUE(same(*got, expected)) << expected.path;
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

TEST_F(DynamoStore, UpsertsReplaceAndRemovalsWinInOneCheckpoint) {
    auto store = open();
    sync::Checkpoint first;
    first.upserts = {file("a.md", "h1", 1, 10), file("b.md", "h2", 2, 20)};
    first.cursor = sync::Cursor{5, true};
    run(store->commit(first));
    sync::Checkpoint second;
    second.upserts = {file("a.md", "h3", 3, 30), file("c.md", "h4", 4, 40),
                      file("c.md", "h5", 5, 50)};
    second.removals = {"b.md", "c.md"};
    run(store->commit(second));
    const sync::StateSnapshot s = run(store->load());
    EXPECT_EQ(s.cursor.version, 5);
    EXPECT_TRUE(s.cursor.initial);
    ASSERT_EQ(s.files.size(), 1U);
    EXPECT_TRUE(same(s.files[0], file("a.md", "h3", 3, 30)));
}

TEST_F(DynamoStore, MetaCarriesTheOnlyTtlAndItIsRefreshed) {
    std::int64_t now = 1'800'000'000'000;
    auto store = open("v", "/d", [&now] { return now; });
    sync::Checkpoint checkpoint;
    checkpoint.upserts = {file("a.md", "h", 1, 1)};
    checkpoint.cursor = sync::Cursor{1, false};
    run(store->commit(checkpoint));
    const std::int64_t thirty_days = 30LL * 24 * 3600;
    bj::object meta = get_item("v", "META#/d");
    EXPECT_EQ(meta.at("ttl").at("N").as_string(), std::to_string(now / 1000 + thirty_days));
    EXPECT_EQ(meta.at("lu").at("N").as_string(), std::to_string(now));
    EXPECT_FALSE(get_item("v", "FILE#/d#a.md").contains("ttl"));

    now += 5'000'000;
    sync::RunRecord record;
    record.ok = true;
    run(store->record_run(record));
    meta = get_item("v", "META#/d");
    EXPECT_EQ(meta.at("ttl").at("N").as_string(), std::to_string(now / 1000 + thirty_days));
}

TEST_F(DynamoStore, ScopesOfOneVaultAreIndependent) {
    auto a = open("vault-1", "/backup/a");
    auto b = open("vault-1", "s3://bucket/prefix#x");
    auto prefix = open("vault-1", "/backup");  // "/backup" must not see "/backup/a"'s items
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
    EXPECT_EQ(sa.cursor.version, 10);
    EXPECT_EQ(sb.cursor.version, 20);
    EXPECT_EQ(sa.files.size(), 1U);
    EXPECT_EQ(sb.files.size(), 2U);
    EXPECT_EQ(sa.vault_name, "Vault A");
    EXPECT_EQ(sb.vault_name, "");
    EXPECT_TRUE(run(prefix->load()).files.empty());
    EXPECT_TRUE(run(c->load()).files.empty());

    run(b->reset());
    EXPECT_EQ(run(a->load()).files.size(), 1U);
    EXPECT_EQ(run(a->load()).cursor.version, 10);

    const std::string owner = "run-a";
    const std::string other = "run-b";
    EXPECT_TRUE(run(a->acquire_lease(owner, std::chrono::seconds(60))));
    EXPECT_TRUE(run(b->acquire_lease(other, std::chrono::seconds(60))));
    EXPECT_TRUE(run(c->acquire_lease(other, std::chrono::seconds(60))));
}

TEST_F(DynamoStore, CursorNeverMovesBackwards) {
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
    same_version.cursor = sync::Cursor{100, true};
    run(store->commit(same_version));
    sync::Checkpoint forward;
    forward.cursor = sync::Cursor{101, false};
    run(store->commit(forward));
    s = run(store->load());
    EXPECT_EQ(s.cursor.version, 101);
    EXPECT_FALSE(s.cursor.initial);
}

TEST_F(DynamoStore, CommitsAndReloadsThirtyThousandFilesInCheckpointsOf500) {
    constexpr int k_count = 30'000;
    constexpr int k_batch = 500;
    const auto start = std::chrono::steady_clock::now();
    {
        auto store = open();
        for (int first = 0; first < k_count; first += k_batch) {
            sync::Checkpoint checkpoint;
            for (int i = first; i < first + k_batch; ++i) {
                checkpoint.upserts.push_back(
                    file("folder-" + std::to_string(i % 100) + "/note-" + std::to_string(i) + ".md",
                         std::string(64, 'f'), i + 1, i));
            }
            if (first + k_batch == k_count) {
                checkpoint.cursor = sync::Cursor{k_count, false};
            }
            run(store->commit(checkpoint));
        }
    }
    const auto committed = std::chrono::steady_clock::now();
    auto store = open();
    const auto requests_before = m_client->stats().requests;
    const sync::StateSnapshot s = run(store->load());
    const auto loaded = std::chrono::steady_clock::now();
    const auto load_requests = m_client->stats().requests - requests_before;
    ASSERT_EQ(s.files.size(), static_cast<std::size_t>(k_count));
    EXPECT_EQ(s.cursor.version, k_count);
    EXPECT_FALSE(s.cursor.initial);
    for (const sync::FileState& f : s.files) {
        ASSERT_EQ(f.hash, std::string(64, 'f'));
        ASSERT_EQ(f.size, f.uid - 1);
        ASSERT_EQ(f.mtime, 1'700'000'000'000 + f.uid);
    }
    const sync::FileState* last = find_path(s, "folder-99/note-29999.md");
    ASSERT_NE(last, nullptr);
    EXPECT_EQ(last->uid, 30'000);
    const auto ms = [](auto d) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    std::cout << "30,000 files against moto: commit (60 checkpoints) " << ms(committed - start)
              << " ms, load " << ms(loaded - committed) << " ms in " << load_requests
              << " requests\n";
}

TEST_F(DynamoStore, FileItemsWithoutMetaAreStaleAndDeletedByLoad) {
    auto store = open("v", "/d");
    sync::Checkpoint checkpoint;
    checkpoint.upserts = {file("a.md", "h", 1, 1), file("b.md", "h", 2, 2)};
    checkpoint.cursor = sync::Cursor{7, false};
    run(store->commit(checkpoint));
    bj::object del;
    del["TableName"] = k_table;
    del["Key"] = key("v", "META#/d");
    call("DeleteItem", std::move(del));  // as TTL expiry does

    auto reopened = open("v", "/d");
    const sync::StateSnapshot s = run(reopened->load());
    EXPECT_TRUE(s.cursor.initial);
    EXPECT_EQ(s.cursor.version, 0);
    EXPECT_TRUE(s.files.empty());
    EXPECT_TRUE(get_item("v", "FILE#/d#a.md").empty());
    EXPECT_TRUE(get_item("v", "FILE#/d#b.md").empty());

    // A name recorded now does not bring old items back either.
    const std::string name = "N";
    run(reopened->set_vault_name(name));
    EXPECT_TRUE(run(reopened->load()).files.empty());
}

TEST_F(DynamoStore, ResetForgetsCursorAndFilesOnlyAndFinishesWhenInterrupted) {
    auto store = open("v", "/d");
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
    const std::string owner = "me";
    EXPECT_TRUE(run(store->acquire_lease(owner, std::chrono::seconds(60))));

    run(store->reset());
    auto reopened = open("v", "/d");
    sync::StateSnapshot s = run(reopened->load());
    EXPECT_EQ(s.cursor.version, 0);
    EXPECT_TRUE(s.cursor.initial);
    EXPECT_TRUE(s.files.empty());
    EXPECT_EQ(s.vault_name, "Kept");
    EXPECT_TRUE(s.last_run.has_value());
    const std::string other = "other";
    EXPECT_FALSE(run(reopened->acquire_lease(other, std::chrono::seconds(60))));  // lease kept

    // A reset interrupted after marking META: the next load finishes it.
    run(reopened->commit(checkpoint));
    bj::object mark;
    mark["TableName"] = k_table;
    mark["Key"] = key("v", "META#/d");
    mark["UpdateExpression"] = "SET rp = :t";
    bj::object values;
    values[":t"] = aws::attr_bool(true);
    mark["ExpressionAttributeValues"] = std::move(values);
    call("UpdateItem", std::move(mark));
    s = run(open("v", "/d")->load());
    EXPECT_TRUE(s.files.empty());
    EXPECT_EQ(s.vault_name, "Kept");
    EXPECT_TRUE(get_item("v", "FILE#/d#a.md").empty());
    EXPECT_FALSE(get_item("v", "META#/d").contains("rp"));
}

TEST_F(DynamoStore, LeaseExcludesOtherOwnersUntilItExpires) {
    std::int64_t now = 1'000'000;
    const auto clock = [&now] { return now; };
    auto first = open("v", "/d", clock);
    auto second = open("v", "/d", clock);
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

TEST_F(DynamoStore, MissingTableSaysToRunStateInit) {
    DynamoStateOptions options;
    options.table = "no-such-table";
    options.scope = sync::StateScope{"v", "/d"};
    auto store = open_dynamodb_state(*m_client, std::move(options));
    try {
        run(store->load());
        FAIL() << "load on a missing table succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config);
        EXPECT_NE(std::string(e.what()).find("obsync state-init --state dynamodb://no-such-table"),
                  std::string::npos)
            << e.what();
    }
    const std::string owner = "x";
    EXPECT_EQ(
        test::error_kind_of([&] { run(store->acquire_lease(owner, std::chrono::seconds(10))); }),
        ErrorKind::config);
}

// moto never leaves items unprocessed: a scripted DynamoDB does, for the first two rounds of
// every chunk (or for ever).
struct UnprocessedScript {
    int calls = 0;
    int unprocessed_rounds = 0;  // per chunk; -1 = always
    std::vector<std::size_t> batch_sizes;
};

std::string batch_reply(UnprocessedScript& script, const std::string& body) {
    ++script.calls;
    const bj::object request = bj::parse(body).as_object();
    const bj::array& writes = request.at("RequestItems").at("t1").as_array();
    script.batch_sizes.push_back(writes.size());
    bj::object reply;
    bj::object& unprocessed = reply["UnprocessedItems"].emplace_object();
    const bool refuse = script.unprocessed_rounds < 0 || script.batch_sizes.size() % 3 != 0;
    if (refuse && script.unprocessed_rounds != 0) {
        unprocessed["t1"] = bj::array{writes.back()};  // the last one stays unprocessed
    }
    const std::string text = bj::serialize(reply);
    return "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: " +
           std::to_string(text.size()) + "\r\n\r\n" + text;
}

std::optional<std::string> scripted_env(const test::ScriptedHttpServer& server, const char* name) {
    const std::string n = name;
    if (n == "AWS_ACCESS_KEY_ID")
        return "AKID";
    if (n == "AWS_SECRET_ACCESS_KEY")
        return "secret";
    if (n == "AWS_REGION")
        return "eu-west-1";
    if (n == "AWS_ENDPOINT_URL_DYNAMODB")
        return server.url();
    return std::nullopt;
}

bj::array puts(int count) {
    bj::array out;
    for (int i = 0; i < count; ++i) {
        bj::object item = key("v", "FILE#/d#" + std::to_string(i));
        bj::object request;
        request["PutRequest"].emplace_object()["Item"] = std::move(item);
        out.push_back(std::move(request));
    }
    return out;
}

TEST(DynamoBatchWrite, ChunksOf25AndResendsUnprocessedItems) {
    boost::asio::io_context io;
    UnprocessedScript script;
    script.unprocessed_rounds = 2;
    test::ScriptedHttpServer server(io, [&](const test::ScriptedHttpServer::Request& r) {
        return batch_reply(script, r.body);
    });
    aws::AwsClient client(io.get_executor(), aws::AwsEnvironment::from_lookup([&](const char* n) {
                              return scripted_env(server, n);
                          }));
    aws::DynamoDb::BatchPolicy fast;
    fast.base_delay = std::chrono::milliseconds(1);
    fast.max_delay = std::chrono::milliseconds(2);
    aws::DynamoDb db(client, fast);
    test::run_coro(io, db.batch_write("t1", puts(30)));
    // 25 → 1 → 1 (accepted), then 5 → 1 → 1 (accepted).
    EXPECT_EQ(script.batch_sizes, (std::vector<std::size_t>{25, 1, 1, 5, 1, 1}));
}

TEST(DynamoBatchWrite, GivesUpWithAThrottledErrorAfterBoundedRounds) {
    boost::asio::io_context io;
    UnprocessedScript script;
    script.unprocessed_rounds = -1;
    test::ScriptedHttpServer server(io, [&](const test::ScriptedHttpServer::Request& r) {
        return batch_reply(script, r.body);
    });
    aws::AwsClient client(io.get_executor(), aws::AwsEnvironment::from_lookup([&](const char* n) {
                              return scripted_env(server, n);
                          }));
    aws::DynamoDb::BatchPolicy fast;
    fast.max_rounds = 4;
    fast.base_delay = std::chrono::milliseconds(1);
    fast.max_delay = std::chrono::milliseconds(2);
    aws::DynamoDb db(client, fast);
    EXPECT_EQ(test::error_kind_of([&] { test::run_coro(io, db.batch_write("t1", puts(3))); }),
              ErrorKind::throttled);
    EXPECT_EQ(script.calls, 4);
}

}  // namespace
}  // namespace obsync::state
