// The engine keeps its lease alive while downloads run, not only at checkpoints: one long file
// (a large upload to S3) must never let the lease expire under a running sync.
#include <chrono>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "sink/local_dir.hpp"
#include "state/sqlite_store.hpp"
#include "support/engine_vault.hpp"
#include "support/fake_server_process.hpp"
#include "support/files.hpp"
#include "support/run_coro.hpp"
#include "sync/engine.hpp"

namespace obsync {
namespace {

namespace asio = boost::asio;

// Counts the lease renewals that happen before the first commit of the run.
class RenewalCounter final : public sync::StateStore {
public:
    explicit RenewalCounter(std::unique_ptr<sync::StateStore> inner) : m_inner(std::move(inner)) {}

    int renewals_before_first_commit = 0;

    asio::awaitable<sync::StateSnapshot> load() override { co_return co_await m_inner->load(); }
    asio::awaitable<void> commit(const sync::Checkpoint& checkpoint) override {
        m_committed = true;
        co_await m_inner->commit(checkpoint);
    }
    asio::awaitable<void> set_vault_name(std::string_view name) override {
        co_await m_inner->set_vault_name(name);
    }
    asio::awaitable<void> record_run(const sync::RunRecord& run) override {
        co_await m_inner->record_run(run);
    }
    asio::awaitable<void> reset() override { co_await m_inner->reset(); }
    asio::awaitable<bool> acquire_lease(std::string_view owner, std::chrono::seconds ttl) override {
        co_return co_await m_inner->acquire_lease(owner, ttl);
    }
    asio::awaitable<void> renew_lease(std::string_view owner, std::chrono::seconds ttl) override {
        if (!m_committed) {
            ++renewals_before_first_commit;
        }
        co_await m_inner->renew_lease(owner, ttl);
    }
    asio::awaitable<void> release_lease(std::string_view owner) override {
        co_await m_inner->release_lease(owner);
    }

private:
    std::unique_ptr<sync::StateStore> m_inner;
    bool m_committed = false;
};

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
    RenewalCounter state(state::open_sqlite_state(work.path() / "state.db",
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
