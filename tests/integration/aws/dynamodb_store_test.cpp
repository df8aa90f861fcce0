// The DynamoDB state store against moto_server: the StateStore contract that SQLite is held to
// too (support/state_store_contract.hpp), plus what only DynamoDB has (per-file items for large
// vaults, ttl, stale items, interrupted resets, state-init).

#include "state/dynamodb_store.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "aws/client.hpp"
#include "aws/dynamodb.hpp"
#include "support/moto_fixture.hpp"
#include "support/run_coro.hpp"
#include "support/scripted_servers.hpp"
#include "support/state_store_contract.hpp"
#include "support/test_util.hpp"
#include "util/error.hpp"
#include "util/process_owner.hpp"

namespace obsync::state {
namespace {

namespace bj = boost::json;
using boost::asio::awaitable;

const std::string k_table = "obsync-state";

using test::find_state;
using test::state_file;
using test::state_folder;

bj::object key(const std::string& vault, const std::string& item) {
    bj::object out;
    out["vault_id"] = aws::attr_s(vault);
    out["item"] = aws::attr_s(item);
    return out;
}

class DynamoStore : public test::MotoTest {
protected:
    void SetUp() override {
        MotoTest::SetUp();
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

    // Every item of the table, serialized in key order: to compare the table before and after.
    std::string table_dump() {
        std::map<std::string, std::string> items;
        for (const bj::object& item : scan()) {
            items[aws::item_string(item, "vault_id").value_or("") + "|" +
                  aws::item_string(item, "item").value_or("")] = bj::serialize(item);
        }
        std::string out;
        for (const auto& [k, v] : items) {
            out += k + " = " + v + "\n";
        }
        return out;
    }

    std::vector<std::string> item_keys() {
        std::vector<std::string> keys;
        for (const bj::object& item : scan()) {
            keys.push_back(aws::item_string(item, "item").value_or(""));
        }
        return keys;
    }

    std::vector<bj::object> scan() {
        bj::object request;
        request["TableName"] = k_table;
        aws::DynamoDb db(*m_client);
        const std::string operation = "Scan";
        return run(db.query_all(operation, std::move(request)));
    }

    boost::asio::io_context m_io;
    std::unique_ptr<aws::AwsClient> m_client;
};

// The StateStoreContract backend: one moto_server per suite, a fresh table per test.
class DynamoBackend {
public:
    static void set_up_suite() { test::SuiteMoto::start(); }
    static void tear_down_suite() { test::SuiteMoto::stop(); }

    void set_up() {
        test::SuiteMoto::fresh();
        m_client = std::make_unique<aws::AwsClient>(m_io.get_executor(),
                                                    aws::AwsEnvironment::from_environment());
        test::run_coro(m_io, create_dynamodb_state_table(*m_client, k_table));
    }
    void tear_down() {}
    boost::asio::io_context& io() { return m_io; }
    std::unique_ptr<sync::StateStore> open(const std::string& vault, const std::string& destination,
                                           std::function<std::int64_t()> now_ms) {
        DynamoStateOptions options;
        options.table = k_table;
        options.scope = sync::StateScope{vault, destination};
        options.now_ms = std::move(now_ms);
        return open_dynamodb_state(*m_client, std::move(options));
    }

private:
    boost::asio::io_context m_io;
    std::unique_ptr<aws::AwsClient> m_client;
};

}  // namespace
}  // namespace obsync::state

namespace obsync::test {
INSTANTIATE_TYPED_TEST_SUITE_P(DynamoDb, StateStoreContract, state::DynamoBackend);
}  // namespace obsync::test

namespace obsync::state {
namespace {

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

TEST_F(DynamoStore, MetaCarriesTheOnlyTtlAndItIsRefreshed) {
    std::int64_t now = 1'800'000'000'000;
    auto store = open("v", "/d", [&now] { return now; });
    sync::Checkpoint checkpoint;
    checkpoint.upserts = {state_file("a.md", "h", 1, 1)};
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

TEST_F(DynamoStore, CommitsAndReloadsThirtyThousandFilesInCheckpointsOf500) {
    constexpr int k_count = 30'000;
    constexpr int k_batch = 500;
    const auto start = std::chrono::steady_clock::now();
    {
        auto store = open();
        for (int first = 0; first < k_count; first += k_batch) {
            sync::Checkpoint checkpoint;
            for (int i = first; i < first + k_batch; ++i) {
                checkpoint.upserts.push_back(state_file(
                    "folder-" + std::to_string(i % 100) + "/note-" + std::to_string(i) + ".md",
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
    const sync::FileState* last = find_state(s, "folder-99/note-29999.md");
    ASSERT_NE(last, nullptr);
    EXPECT_EQ(last->uid, 30'000);
    const auto ms = [](auto d) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    std::cout << "30,000 files against moto: commit (60 checkpoints) " << ms(committed - start)
              << " ms, load " << ms(loaded - committed) << " ms in " << load_requests
              << " requests\n";
}

TEST_F(DynamoStore, FileItemsWithoutMetaAreStaleNotReportedAndDeletedByTheFirstWrite) {
    auto store = open("v", "/d");
    sync::Checkpoint checkpoint;
    checkpoint.upserts = {state_file("a.md", "h", 1, 1), state_file("b.md", "h", 2, 2)};
    checkpoint.refusals = {test::refused_record("bad\xff", 3, "r")};
    checkpoint.cursor = sync::Cursor{7, false};
    run(store->commit(checkpoint));
    bj::object del;
    del["TableName"] = k_table;
    del["Key"] = key("v", "META#/d");
    call("DeleteItem", std::move(del));  // as TTL expiry does

    // load() is read-only (a dry run writes nothing): stale items are only not reported.
    const std::string before = table_dump();
    auto reopened = open("v", "/d");
    const sync::StateSnapshot s = run(reopened->load());
    EXPECT_TRUE(s.cursor.initial);
    EXPECT_EQ(s.cursor.version, 0);
    EXPECT_TRUE(s.files.empty());
    EXPECT_TRUE(s.refused.empty());
    EXPECT_EQ(table_dump(), before);

    // The first write removes them, and a name recorded now does not bring them back.
    const std::string name = "N";
    run(reopened->set_vault_name(name));
    EXPECT_TRUE(get_item("v", "FILE#/d#a.md").empty());
    EXPECT_TRUE(get_item("v", "FILE#/d#b.md").empty());
    const sync::StateSnapshot after = run(reopened->load());
    EXPECT_TRUE(after.files.empty());
    EXPECT_TRUE(after.refused.empty());
    EXPECT_EQ(table_dump().find("REFUSED#"), std::string::npos);
}

TEST_F(DynamoStore, AResetInterruptedAfterMarkingMetaReportsNothingAndIsFinishedByTheFirstWrite) {
    const std::string name = "Kept";
    sync::Checkpoint checkpoint;
    checkpoint.upserts = {state_file("a.md", "h", 1, 1), state_folder("f", 2)};
    checkpoint.cursor = sync::Cursor{99, false};
    auto store = open("v", "/d");
    run(store->set_vault_name(name));
    run(store->commit(checkpoint));
    // A reset interrupted after marking META (and before the FILE items went).
    bj::object mark;
    mark["TableName"] = k_table;
    mark["Key"] = key("v", "META#/d");
    mark["UpdateExpression"] = "SET rp = :t, v = :z, i = :t";  // what reset() writes first
    bj::object values;
    values[":t"] = aws::attr_bool(true);
    values[":z"] = aws::attr_n(0);
    mark["ExpressionAttributeValues"] = std::move(values);
    call("UpdateItem", std::move(mark));
    const std::string before = table_dump();
    auto reopened = open("v", "/d");
    const sync::StateSnapshot s = run(reopened->load());
    EXPECT_TRUE(s.files.empty());
    EXPECT_EQ(s.cursor.version, 0);
    EXPECT_TRUE(s.cursor.initial);
    EXPECT_EQ(s.vault_name, "Kept");
    EXPECT_EQ(table_dump(), before) << "load() wrote to the table";

    sync::Checkpoint next;
    next.upserts = {state_file("new.md", "h", 5, 5)};
    run(reopened->commit(next));
    EXPECT_TRUE(get_item("v", "FILE#/d#a.md").empty());
    EXPECT_FALSE(get_item("v", "META#/d").contains("rp"));
    const sync::StateSnapshot after = run(reopened->load());
    ASSERT_EQ(after.files.size(), 1U);
    EXPECT_EQ(after.files[0].path, "new.md");
}

TEST_F(DynamoStore, PathsAndDestinationsPastTheSortKeyLimitAreHashedAndRoundTrip) {
    // S3 takes keys of up to 1,024 bytes: a 1,000-byte vault path under a short prefix.
    std::string long_path = "notes/";
    while (long_path.size() < 990) {
        long_path += "ünïcödé-";
    }
    long_path.resize(996);
    long_path += ".md";
    ASSERT_LE(long_path.size(), 1000U);
    const std::string long_destination = "s3://bucket/" + std::string(1500, 'p');
    for (const std::string& destination : {std::string("/d"), long_destination}) {
        SCOPED_TRACE(destination.substr(0, 20));
        {
            auto store = open("v", destination);
            sync::Checkpoint checkpoint;
            checkpoint.upserts = {state_file(long_path, "h1", 1, 10),
                                  state_file("short.md", "h2", 2, 20)};
            checkpoint.cursor = sync::Cursor{5, false};
            run(store->commit(checkpoint));
        }
        auto store = open("v", destination);
        sync::StateSnapshot s = run(store->load());
        EXPECT_EQ(s.cursor.version, 5);
        ASSERT_EQ(s.files.size(), 2U);
        const sync::FileState* got = find_state(s, long_path);
        ASSERT_NE(got, nullptr);
        EXPECT_TRUE(test::same_state(*got, state_file(long_path, "h1", 1, 10)));

        sync::Checkpoint update;
        update.upserts = {state_file(long_path, "h3", 3, 30)};
        run(store->commit(update));
        s = run(store->load());
        ASSERT_EQ(s.files.size(), 2U);
        EXPECT_EQ(find_state(s, long_path)->hash, "h3");

        sync::Checkpoint removal;
        removal.removals = {long_path};
        run(store->commit(removal));
        s = run(store->load());
        ASSERT_EQ(s.files.size(), 1U);
        EXPECT_EQ(s.files[0].path, "short.md");
    }
    // Short keys stay what earlier versions wrote (their items stay readable).
    EXPECT_FALSE(get_item("v", "FILE#/d#short.md").empty());
    EXPECT_TRUE(get_item("v", "FILE#/d#" + long_path).empty());
    // Every key of the table fits DynamoDB's limit (moto does not enforce it).
    for (const std::string& item_key : item_keys()) {
        EXPECT_LE(item_key.size(), 1024U) << item_key.substr(0, 40);
    }
}

TEST_F(DynamoStore, RefusalsAreBinaryItemsKeyedByAHash) {
    auto store = open("v", "/d");
    sync::Checkpoint checkpoint;
    checkpoint.refusals = {test::refused_record(std::string("a\0\xff", 3), 1, "r")};
    run(store->commit(checkpoint));
    bool found = false;
    for (const std::string& item_key : item_keys()) {
        if (item_key.rfind("REFUSED#/d#", 0) == 0) {
            EXPECT_EQ(item_key.size(), std::string("REFUSED#/d#").size() + 64);
            found = true;
        }
    }
    EXPECT_TRUE(found);
}

// The brief of issue #11: run A takes the lease and is frozen past its expiry, run B takes it
// over and checkpoints; A's checkpoint with a higher cursor is refused (busy) by the lease check
// in the cursor's transaction, and the stored cursor stays B's.
TEST_F(DynamoStore, AThawedRunsCursorIsRefusedOnceItsLeaseWasTakenOver) {
    std::int64_t now = 1'800'000'000'000;
    const auto clock = [&now] { return now; };
    auto run_a = open("v", "/d", clock);
    auto run_b = open("v", "/d", clock);
    const std::string a = unique_run_owner();
    const std::string b = unique_run_owner();
    ASSERT_TRUE(run(run_a->acquire_lease(a, std::chrono::seconds(2))));
    sync::Checkpoint early;
    early.cursor = sync::Cursor{3, false};
    run(run_a->commit(early));

    now += 2'001;
    ASSERT_TRUE(run(run_b->acquire_lease(b, std::chrono::seconds(2))));
    sync::Checkpoint newer;
    newer.upserts = {state_file("b.md", "hb", 7, 7)};
    newer.cursor = sync::Cursor{7, false};
    run(run_b->commit(newer));

    // The stale run's file records are refused with its cursor: B's record of b.md stays, and
    // nothing of A's lands.
    sync::Checkpoint stale;
    stale.upserts = {state_file("b.md", "stale-hash", 5, 5), state_file("a.md", "ha", 9, 9)};
    stale.cursor = sync::Cursor{9, false};
    EXPECT_EQ(test::error_kind_of([&] { run(run_a->commit(stale)); }), ErrorKind::busy);
    EXPECT_EQ(get_item("v", "META#/d").at("v").at("N").as_string(), "7");
    const auto files = run(run_b->load()).files;
    ASSERT_EQ(files.size(), 1U);
    EXPECT_EQ(files.front().path, "b.md");
    EXPECT_EQ(files.front().hash, "hb");
    EXPECT_EQ(get_item("v", "LEASE#/d").at("owner").at("S").as_string(), b);
    // B's own checkpoints go on: the lease check is B's as much as A's.
    sync::Checkpoint further;
    further.cursor = sync::Cursor{8, false};
    run(run_b->commit(further));
    EXPECT_EQ(get_item("v", "META#/d").at("v").at("N").as_string(), "8");
}

// A table is shared by hosts: a lease whose owner looks like a dead process of this host may be
// a live run elsewhere (another Lambda container with the same host name and pid).
TEST_F(DynamoStore, ALeaseIsTakenOverWhenItExpiresNotWhenItsPidLooksDead) {
    const pid_t child = ::fork();
    if (child == 0) {
        ::_exit(0);
    }
    ::waitpid(child, nullptr, 0);
    const std::string dead = local_process_owner().substr(0, local_process_owner().rfind(':')) +
                             ":" + std::to_string(child) + ":0123456789abcdef";
    ASSERT_TRUE(is_dead_local_owner(dead));
    std::int64_t now = 1'800'000'000'000;
    const auto clock = [&now] { return now; };
    auto killed = open("v", "/d", clock);
    auto rerun = open("v", "/d", clock);
    ASSERT_TRUE(run(killed->acquire_lease(dead, std::chrono::seconds(60))));
    const std::string owner = unique_run_owner();
    EXPECT_FALSE(run(rerun->acquire_lease(owner, std::chrono::seconds(60))));
    now += 60'001;
    EXPECT_TRUE(run(rerun->acquire_lease(owner, std::chrono::seconds(60))));
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
