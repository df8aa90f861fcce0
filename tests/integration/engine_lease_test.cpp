// The engine keeps its lease (and the destination's lock) alive for the whole run, not only at
// checkpoints: one long file (a large upload to S3) must never let it expire under a running
// sync. A run that loses them writes nothing more; a checkpoint that failed is not lost.
#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
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
#include "util/clock.hpp"
#include "util/error.hpp"

namespace obsync {
namespace {

namespace asio = boost::asio;

// A state store that watches the run and misbehaves on request.
class WatchedState final : public sync::StateStore {
public:
    explicit WatchedState(std::unique_ptr<sync::StateStore> inner) : m_inner(std::move(inner)) {}

    int renewals_before_first_commit = 0;
    int commits = 0;
    int record_runs = 0;
    int failing_commits = 0;  // the next this-many commits fail with a network error
    int lose_lease_at = 0;    // this renewal (1-based) finds the lease taken over; 0: never
    bool lease_lost = false;
    int writes_after_loss = 0;
    // Before this commit (1-based), `thief` takes the lease over behind the run's back, as a run
    // does after this one was frozen past its expiry: no renewal has told the run yet.
    int steal_lease_at_commit = 0;
    std::unique_ptr<sync::StateStore> thief;

    asio::awaitable<sync::StateSnapshot> load() override { co_return co_await m_inner->load(); }
    asio::awaitable<void> commit(const sync::Checkpoint& checkpoint) override {
        writes_after_loss += lease_lost ? 1 : 0;
        if (failing_commits > 0) {
            --failing_commits;
            throw Error(ErrorKind::network, "DynamoDB BatchWriteItem: connection reset (test)");
        }
        if (++m_commit_calls == steal_lease_at_commit) {
            const std::string owner = "thief";
            if (!co_await thief->acquire_lease(owner, std::chrono::seconds(60))) {
                throw std::logic_error("the thief could not take the lease");
            }
        }
        try {
            co_await m_inner->commit(checkpoint);
        } catch (const Error& e) {
            lease_lost = lease_lost || e.kind() == ErrorKind::busy;
            throw;
        }
        ++commits;
    }
    asio::awaitable<void> set_vault_name(std::string_view name) override {
        co_await m_inner->set_vault_name(name);
    }
    asio::awaitable<void> record_run(const sync::RunRecord& run) override {
        writes_after_loss += lease_lost ? 1 : 0;
        ++record_runs;
        co_await m_inner->record_run(run);
    }
    asio::awaitable<void> reset() override { co_await m_inner->reset(); }
    asio::awaitable<bool> acquire_lease(std::string_view owner, std::chrono::seconds ttl) override {
        co_return co_await m_inner->acquire_lease(owner, ttl);
    }
    asio::awaitable<void> renew_lease(std::string_view owner, std::chrono::seconds ttl) override {
        if (commits == 0) {
            ++renewals_before_first_commit;
        }
        if (++m_renewals == lose_lease_at) {
            lease_lost = true;
        }
        if (lease_lost) {
            throw Error(ErrorKind::busy, "lease lost (test): another run took over the scope");
        }
        co_await m_inner->renew_lease(owner, ttl);
    }
    asio::awaitable<void> release_lease(std::string_view owner) override {
        co_await m_inner->release_lease(owner);
    }

private:
    std::unique_ptr<sync::StateStore> m_inner;
    int m_renewals = 0;
    int m_commit_calls = 0;
};

class EngineClaimsTest : public ::testing::Test {
protected:
    EngineClaimsTest()
        : m_server(m_work.path() / "data",
                   {"--user", "alice@example.com:pw", "--latency-ms", "100"}) {
        for (int i = 0; i < 30; ++i) {
            test::write_file(m_work.path() / "corpus" / ("n" + std::to_string(i) + ".md"), "note");
        }
        m_server.seed({"--owner", "alice@example.com", "--vault", "Vault", "--password", "vault-pw",
                       "--encryption-version", "3", (m_work.path() / "corpus").string()});
        m_vault.emplace(test::open_engine_vault(m_io, m_server.api_url(), "alice@example.com", "pw",
                                                "Vault", "vault-pw"));
    }

    // One run on one session, 30 pulls of ~100 ms: about 3 s.
    sync::EngineResult run(WatchedState& state, sync::Sink& sink, sync::EngineOptions options) {
        options.concurrency = 1;
        options.lease_owner = "test-owner";
        sync::Engine engine(m_io.get_executor(), m_vault->target, m_vault->cipher, sink, state,
                            options);
        return test::run_coro_value(m_io, engine.run(sync::Engine::ProgressFn{}),
                                    std::chrono::seconds(60));
    }

    std::unique_ptr<sync::StateStore> sqlite(const sync::Sink& sink) {
        return state::open_sqlite_state(m_work.path() / "state.db",
                                        {m_vault->target.vault_id, sink.describe()});
    }

    std::size_t files_in(const std::filesystem::path& dir) {
        std::size_t count = 0;
        for (const auto& entry : std::filesystem::directory_iterator(dir)) {
            count += entry.is_regular_file() ? 1 : 0;
        }
        return count;
    }

    test::TempDir m_work;
    test::FakeServerProcess m_server;
    asio::io_context m_io;
    std::optional<test::EngineVault> m_vault;  // after the seed
};

// A checkpoint the state store refused (DynamoDB down past its retries) ends the run; the stop's
// last checkpoint must store that batch too, or the state would lack files the destination has
// (and an incremental cursor would pass them).
TEST_F(EngineClaimsTest, ACheckpointThatFailedIsStoredByTheStopCheckpoint) {
    auto sink = sink::open_local_dir(m_work.path() / "dest");
    WatchedState state(sqlite(*sink));
    state.failing_commits = 1;
    sync::EngineOptions options;
    options.checkpoint_files = 5;
    options.checkpoint_interval = std::chrono::hours(1);
    EXPECT_THROW(run(state, *sink, options), Error);
    const auto saved = state::list_sqlite_scopes(m_work.path() / "state.db");
    ASSERT_EQ(saved.size(), 1U);
    EXPECT_EQ(static_cast<std::size_t>(saved[0].file_count), files_in(m_work.path() / "dest"))
        << "the destination holds files the state does not list";
    EXPECT_GE(saved[0].file_count, 5);
}

// Another run took the lease over: this one stops and writes nothing more, neither files nor
// state, not even its run record (the scope is the other run's now).
TEST_F(EngineClaimsTest, ARunThatLostItsLeaseWritesNothingMore) {
    auto sink = sink::open_local_dir(m_work.path() / "dest");
    WatchedState state(sqlite(*sink));
    state.lose_lease_at = 2;
    sync::EngineOptions options;
    options.lease_ttl = std::chrono::seconds(3);  // renewed every second
    options.checkpoint_interval = std::chrono::hours(1);
    options.checkpoint_files = 100000;
    try {
        run(state, *sink, options);
        ADD_FAILURE() << "the run went on without its lease";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::busy) << e.what();
    }
    EXPECT_TRUE(state.lease_lost);
    EXPECT_EQ(state.writes_after_loss, 0);
    EXPECT_EQ(state.record_runs, 0);
    const std::size_t written = files_in(m_work.path() / "dest");
    EXPECT_GT(written, 0U);
    EXPECT_LT(written, 30U);
    // No file appears after the answer: nothing of the run is left running.
    m_io.restart();
    m_io.run_for(std::chrono::milliseconds(300));
    EXPECT_EQ(files_in(m_work.path() / "dest"), written);
}

// A run frozen past its lease while another took it over learns it from the state store at its
// next checkpoint (no renewal came first): the checkpoint is refused (busy), and the run then
// writes nothing more, as when a renewal finds the lease lost.
TEST_F(EngineClaimsTest, ARunWhoseCheckpointFindsTheLeaseTakenOverWritesNothingMore) {
    auto sink = sink::open_local_dir(m_work.path() / "dest");
    WatchedState state(sqlite(*sink));
    state::SqliteStateOptions later;
    later.now_ms = [] { return epoch_ms() + 3'600'000; };  // past this run's lease
    state.thief = state::open_sqlite_state(m_work.path() / "state.db",
                                           {m_vault->target.vault_id, sink->describe()}, later);
    state.steal_lease_at_commit = 2;
    sync::EngineOptions options;
    options.checkpoint_files = 5;
    options.checkpoint_interval = std::chrono::hours(1);
    try {
        run(state, *sink, options);
        ADD_FAILURE() << "the run went on without its lease";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::busy) << e.what();
        EXPECT_NE(std::string(e.what()).find("taken over"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(state.lease_lost);
    EXPECT_EQ(state.commits, 1);
    EXPECT_EQ(state.writes_after_loss, 0);
    EXPECT_EQ(state.record_runs, 0);
    const auto saved = state::list_sqlite_scopes(m_work.path() / "state.db");
    ASSERT_EQ(saved.size(), 1U);
    EXPECT_GE(saved[0].file_count, 5);  // the first checkpoint
    EXPECT_LT(saved[0].file_count, 10) << "the refused checkpoint was stored";
}

TEST(EngineLeaseTest, TheLeaseIsRenewedWhileDownloadsRunBetweenCheckpoints) {
    test::TempDir work;
    // 30 pulls of ~100 ms each on one session: about 3 s of downloading.
    test::FakeServerProcess server(work.path() / "data",
                                   {"--user", "alice@example.com:pw", "--latency-ms", "100"});
    for (int i = 0; i < 30; ++i) {
        test::write_file(work.path() / "corpus" / ("n" + std::to_string(i) + ".md"), "note");
    }
    server.seed({"--owner", "alice@example.com", "--vault", "Vault", "--password", "vault-pw",
                 "--encryption-version", "3", (work.path() / "corpus").string()});

    asio::io_context io;
    const test::EngineVault vault = test::open_engine_vault(
        io, server.api_url(), "alice@example.com", "pw", "Vault", "vault-pw");

    auto sink = sink::open_local_dir(work.path() / "dest");
    WatchedState state(state::open_sqlite_state(work.path() / "state.db",
                                                {vault.target.vault_id, sink->describe()}));
    sync::EngineOptions options;
    options.concurrency = 1;
    options.lease_owner = "test-owner";
    options.lease_ttl = std::chrono::seconds(3);  // renewed every second
    // No checkpoint before the end: only the lease keeper can renew while files download.
    options.checkpoint_interval = std::chrono::hours(1);
    options.checkpoint_files = 100000;
    sync::Engine engine(io.get_executor(), vault.target, vault.cipher, *sink, state, options);
    const sync::EngineResult result =
        test::run_coro_value(io, engine.run(sync::Engine::ProgressFn{}), std::chrono::seconds(60));
    EXPECT_EQ(result.created, 30);
    EXPECT_TRUE(result.failures.empty());
    EXPECT_GE(state.renewals_before_first_commit, 2);
}

}  // namespace
}  // namespace obsync
