// A run with a deadline (EngineOptions::stop_at, cut_at) stops taking work at stop_at, abandons
// what is still in flight at cut_at, keeps what it verified and returns normally, with its state
// checkpointed and its claims released; the next run downloads only what is left. Nothing of the
// run may wait on the io_context once it returned (a Lambda host freezes the process then).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "sink/local_dir.hpp"
#include "state/sqlite_store.hpp"
#include "support/engine_vault.hpp"
#include "support/fake_server_process.hpp"
#include "support/files.hpp"
#include "support/run_coro.hpp"
#include "support/scripted_servers.hpp"
#include "sync/engine.hpp"
#include "sync/state_store.hpp"

namespace obsync {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long a run may take after cut_at: its last checkpoint, run record and releases (the
// machine running the tests may be busy).
constexpr milliseconds k_bound{2000};

class EngineDeadlineTest : public ::testing::Test {
protected:
    // The fake server with `args` (beyond the user and the pull log), and a vault of `files` notes.
    void start(std::vector<std::string> args, int files) {
        args.insert(args.end(), {"--user", "alice@example.com:pw", "--pull-log", pull_log()});
        m_server.emplace(m_work.path() / "data", args);
        for (int i = 0; i < files; ++i) {
            test::write_file(source() / name(i), "note " + std::to_string(i) + " " +
                                                     std::string(static_cast<std::size_t>(i), 'x'));
        }
        m_server->seed({"--owner", "alice@example.com", "--vault", "Vault", "--password",
                        "vault-pw", "--encryption-version", "3", source().string()});
        m_vault.emplace(test::open_engine_vault(m_io, m_server->api_url(), "alice@example.com",
                                                "pw", "Vault", "vault-pw"));
    }

    static std::string name(int i) { return "n" + std::to_string(i) + ".md"; }
    fs::path source() const { return m_work.path() / "corpus"; }
    fs::path dest() const { return m_work.path() / "dest"; }
    std::string pull_log() const { return (m_work.path() / "pulls.log").string(); }

    sync::EngineResult run(sync::EngineOptions options,
                           std::optional<obsidian::SessionTarget> target = std::nullopt) {
        options.lease_owner = "test-owner";
        auto sink = sink::open_local_dir(dest());
        auto state = state_store(*sink);
        sync::Engine engine(m_io.get_executor(), target.value_or(m_vault->target), m_vault->cipher,
                            *sink, *state, options);
        return test::run_coro_value(m_io, engine.run(sync::Engine::ProgressFn{}),
                                    std::chrono::seconds(60));
    }

    std::unique_ptr<sync::StateStore> state_store(const sync::Sink& sink) {
        return state::open_sqlite_state(m_work.path() / "state.db",
                                        {m_vault->target.vault_id, sink.describe()});
    }

    sync::StateSnapshot saved_state() {
        auto sink = sink::open_local_dir(dest());
        auto state = state_store(*sink);
        return test::run_coro_value(m_io, state->load());
    }

    // The uids the server was asked for, in order.
    std::vector<std::int64_t> pulls() const {
        std::vector<std::int64_t> uids;
        std::ifstream in(pull_log());
        for (std::int64_t uid = 0; in >> uid;) {
            uids.push_back(uid);
        }
        return uids;
    }

    // Every regular file below dest (obsync's own and temp files included), by relative path.
    std::map<std::string, std::string> dest_files() const {
        std::map<std::string, std::string> files;
        if (!fs::exists(dest())) {
            return files;
        }
        for (const auto& entry : fs::recursive_directory_iterator(dest())) {
            const std::string relative = fs::relative(entry.path(), dest()).generic_string();
            if (entry.is_regular_file() && !relative.starts_with(".obsync/")) {
                files[relative] = test::read_file(entry.path());
            }
        }
        return files;
    }

    // Nothing of the run is left on the io_context: no timer armed, no read pending. (The
    // io_context stops only when it has no work at all.)
    bool nothing_left() {
        m_io.restart();
        m_io.poll();
        return m_io.stopped();
    }

    test::TempDir m_work;
    asio::io_context m_io;
    std::optional<test::FakeServerProcess> m_server;
    std::optional<test::EngineVault> m_vault;  // after the seed
};

// (a) and (b): a snapshot run with a deadline a little after its start stops early, keeps what it
// committed, and its cursor does not move; the run without deadline after it fetches only the rest.
TEST_F(EngineDeadlineTest, ARunStopsAtItsDeadlineAndTheNextOneFetchesOnlyTheRest) {
    constexpr int k_files = 80;
    start({"--latency-ms", "40"}, k_files);  // 2 sessions: about 1.7 s for the whole vault

    sync::EngineOptions options;
    options.concurrency = 2;
    const auto t0 = Clock::now();
    options.stop_at = t0 + milliseconds(700);
    options.cut_at = t0 + milliseconds(1000);
    const sync::EngineResult first = run(options);
    const auto returned = Clock::now();

    EXPECT_TRUE(first.stopped_early);
    EXPECT_FALSE(first.ok());
    EXPECT_TRUE(first.failures.empty());
    EXPECT_GT(first.created, 0);
    EXPECT_GT(first.not_attempted, 0);
    EXPECT_EQ(first.created + first.not_attempted, k_files);
    EXPECT_LT(returned, *options.cut_at + k_bound);
    EXPECT_TRUE(nothing_left());

    // What was committed is in the destination and in the state, and nothing else is (no temp
    // file either); a snapshot's cursor moves only once the whole snapshot is applied.
    const sync::StateSnapshot saved = saved_state();
    EXPECT_TRUE(saved.cursor.initial);
    EXPECT_EQ(saved.cursor.version, 0);
    EXPECT_EQ(first.cursor.version, saved.cursor.version);
    std::set<std::int64_t> committed;
    const auto files = dest_files();
    EXPECT_EQ(static_cast<std::int64_t>(files.size()), first.created);
    for (const sync::FileState& file : saved.files) {
        committed.insert(file.uid);
        ASSERT_TRUE(files.contains(file.path)) << file.path;
        EXPECT_EQ(files.at(file.path), test::read_file(source() / file.path));
    }
    EXPECT_EQ(static_cast<std::int64_t>(committed.size()), first.created);

    const std::size_t pulled_first = pulls().size();
    const sync::EngineResult second = run(sync::EngineOptions{});
    EXPECT_FALSE(second.stopped_early);
    EXPECT_EQ(second.not_attempted, 0);
    EXPECT_TRUE(second.ok());
    EXPECT_EQ(second.created, k_files - first.created);
    EXPECT_FALSE(second.cursor.initial);

    const std::vector<std::int64_t> all = pulls();
    const std::vector<std::int64_t> again(all.begin() + static_cast<std::ptrdiff_t>(pulled_first),
                                          all.end());
    EXPECT_EQ(static_cast<std::int64_t>(again.size()), k_files - first.created);
    for (const std::int64_t uid : again) {
        EXPECT_FALSE(committed.contains(uid)) << "record " << uid << " was downloaded again";
    }
    std::map<std::string, std::string> expected;
    for (int i = 0; i < k_files; ++i) {
        expected[name(i)] = test::read_file(source() / name(i));
    }
    EXPECT_EQ(dest_files(), expected);
}

// An incremental run stopped by its deadline moves its cursor, but never past a record it left.
TEST_F(EngineDeadlineTest, TheCursorOfAStoppedIncrementalRunStaysBelowWhatItLeft) {
    start({"--latency-ms", "80"}, 1);
    ASSERT_TRUE(run(sync::EngineOptions{}).ok());
    std::map<std::int64_t, std::string> added;  // uid → path
    for (int i = 1; i <= 20; ++i) {
        const fs::path content = m_work.path() / "content";
        test::write_file(content, "added " + std::to_string(i));
        const std::string out =
            m_server->admin("inject", {"--vault", "Vault", "--password", "vault-pw", "--path",
                                       name(i), "--content-file", content.string()});
        added[std::stoll(out)] = name(i);
    }

    sync::EngineOptions options;
    options.concurrency = 1;  // one file after the other: ~80 ms each, 1.6 s in all
    options.checkpoint_files = 1;
    options.stop_at = Clock::now() + milliseconds(700);
    const sync::EngineResult result = run(options);
    ASSERT_TRUE(result.stopped_early);
    ASSERT_GT(result.not_attempted, 0);
    ASSERT_GT(result.created, 0);

    const sync::StateSnapshot saved = saved_state();
    EXPECT_FALSE(saved.cursor.initial);
    EXPECT_EQ(saved.cursor.version, result.cursor.version);
    const auto files = dest_files();
    std::int64_t first_left = 0;
    for (const auto& [uid, path] : added) {
        if (!files.contains(path)) {
            first_left = first_left == 0 ? uid : first_left;
            EXPECT_LT(saved.cursor.version, uid) << "the cursor passed record " << uid;
        }
    }
    ASSERT_NE(first_left, 0);
    EXPECT_EQ(saved.cursor.version, first_left - 1) << "the cursor moved up to what was applied";

    const sync::EngineResult rest = run(sync::EngineOptions{});
    EXPECT_TRUE(rest.ok());
    EXPECT_EQ(rest.created, result.not_attempted);
    EXPECT_EQ(dest_files().size(), added.size() + 1);
}

// (c) A deadline already past: the run opens no session, writes nothing, returns at once and
// leaves the destination free for the next run.
TEST_F(EngineDeadlineTest, ADeadlinePastAtTheStartDoesNothing) {
    start({}, 5);
    sync::EngineOptions options;
    options.stop_at = Clock::now() - milliseconds(1);
    const auto t0 = Clock::now();
    const sync::EngineResult result = run(options);
    EXPECT_LT(Clock::now() - t0, k_bound);
    EXPECT_TRUE(result.stopped_early);
    EXPECT_EQ(result.not_attempted, 0);  // nothing was planned: no change list
    EXPECT_EQ(result.created, 0);
    EXPECT_TRUE(pulls().empty());
    EXPECT_TRUE(dest_files().empty());
    EXPECT_TRUE(nothing_left());
    const sync::StateSnapshot saved = saved_state();
    EXPECT_TRUE(saved.cursor.initial);
    EXPECT_EQ(saved.cursor.version, 0);
    EXPECT_TRUE(saved.files.empty());

    // Claims and lease released: a run can start at once.
    const sync::EngineResult next = run(sync::EngineOptions{});
    EXPECT_TRUE(next.ok());
    EXPECT_EQ(next.created, 5);
}

// (d) A pull stuck on a slow server is abandoned at cut_at: its writer leaves nothing, and the
// run returns right after, instead of when the server answers.
TEST_F(EngineDeadlineTest, APullStuckOnASlowServerIsCutAtCutAt) {
    start({"--pull-latency-ms", "30000"}, 3);
    sync::EngineOptions options;
    options.concurrency = 2;
    const auto t0 = Clock::now();
    options.stop_at = t0 + milliseconds(300);
    options.cut_at = t0 + milliseconds(1000);
    const sync::EngineResult result = run(options);
    const auto returned = Clock::now();

    EXPECT_GE(returned, *options.cut_at) << "the pulls in flight had until cut_at";
    EXPECT_LT(returned, *options.cut_at + k_bound);
    EXPECT_TRUE(result.stopped_early);
    EXPECT_TRUE(result.failures.empty());
    EXPECT_EQ(result.created, 0);
    EXPECT_EQ(result.not_attempted, 3);
    EXPECT_EQ(pulls().size(), 2U);  // one per session, none after stop_at
    EXPECT_TRUE(dest_files().empty()) << "an abandoned writer left a file";
    EXPECT_TRUE(nothing_left());
    EXPECT_TRUE(saved_state().files.empty());
}

// The change list is bounded by cut_at too: a sync server that accepts the session and never
// answers `init` does not hold the run. The run stops early (it is not a failure of the server's).
TEST_F(EngineDeadlineTest, AChangeListThatNeverArrivesIsCutAtCutAt) {
    start({}, 2);
    test::ScriptedWsServer silent(m_io, [](const std::string&, bool) {
        return std::vector<test::WsAction>{};  // says nothing, keeps the connection
    });
    obsidian::SessionTarget target = m_vault->target;
    target.host = silent.host();
    sync::EngineOptions options;
    const auto t0 = Clock::now();
    options.stop_at = t0 + milliseconds(200);
    options.cut_at = t0 + milliseconds(800);
    const sync::EngineResult result = run(options, target);
    const auto returned = Clock::now();

    EXPECT_GE(returned, *options.cut_at);
    EXPECT_LT(returned, *options.cut_at + k_bound);
    EXPECT_TRUE(result.stopped_early);
    EXPECT_EQ(result.not_attempted, 0);
    EXPECT_TRUE(saved_state().cursor.initial);
    EXPECT_TRUE(dest_files().empty());
    EXPECT_EQ(silent.connections(), 1);
}

// A run that ends before its deadline is an ordinary run.
TEST_F(EngineDeadlineTest, ARunThatEndsBeforeItsDeadlineIsUnchanged) {
    start({}, 4);
    sync::EngineOptions options;
    options.stop_at = Clock::now() + std::chrono::seconds(30);
    const sync::EngineResult result = run(options);
    EXPECT_FALSE(result.stopped_early);
    EXPECT_EQ(result.not_attempted, 0);
    EXPECT_TRUE(result.ok());
    EXPECT_EQ(result.created, 4);
    EXPECT_FALSE(result.cursor.initial);
    EXPECT_TRUE(nothing_left());
}

}  // namespace
}  // namespace obsync
