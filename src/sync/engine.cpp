#include "sync/engine.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "crypto/sha256.hpp"
#include "crypto/vault_cipher.hpp"
#include "sync/deadline.hpp"
#include "sync/ledger.hpp"
#include "sync/path_policy.hpp"
#include "sync/plan.hpp"
#include "sync/portable_names.hpp"
#include "sync/sink.hpp"
#include "sync/state_store.hpp"
#include "util/backoff.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"
#include "util/hex.hpp"
#include "util/log.hpp"

namespace obsync::sync {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto k_nothrow = asio::as_tuple(asio::use_awaitable);

// The content size of a record's blob (its size is never negative: the session refuses that).
std::int64_t plaintext_size(std::int64_t encrypted) {
    return static_cast<std::int64_t>(
        crypto::blob_plaintext_size(static_cast<std::uint64_t>(encrypted)));
}

// All an encrypted backup can check of a blob it cannot decrypt: the size the record announced,
// and a length a blob can have.
bool plausible_blob(std::uint64_t received, std::int64_t announced) {
    return static_cast<std::int64_t>(received) == announced &&
           crypto::plausible_blob_size(received);
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds delay) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(k_nothrow);
}

// Between attempts of one pull: 200 ms doubling to 12.8 s, never under half the ceiling, because
// a session's retries go to the one sync server that just failed it.
constexpr BackoffPolicy k_pull_backoff{std::chrono::milliseconds(200),
                                       std::chrono::milliseconds(12'800), 0.5};

// A file downloaded and verified, waiting for its commit (see Run::download).
struct Finished {
    std::unique_ptr<FileWriter> writer;
    Action action;
    FileState state;
    int attempts = 0;          // attempts used on this action so far, this one included
    std::int64_t counted = 0;  // bytes it added to the progress
};

// One action waiting for a worker, with the attempts already spent on it.
struct Queued {
    Action action;
    int attempts = 0;
};

// What to do about a failed step is util/error.hpp's decision (on_step_failure), for every step
// alike. A retried file gets a fresh sync session (see work()).
bool worth_retrying(const Error& error) {
    return on_step_failure(error.kind()) == StepFailure::retry;
}

bool stops_the_run(const Error& error) {
    return on_step_failure(error.kind()) == StepFailure::stop;
}

}  // namespace

// The state of one run, shared by its workers (all on one io_context thread).
class Run {
public:
    Run(asio::any_io_executor executor, const obsidian::SessionTarget& target,
        const crypto::VaultCipher& cipher, Sink& sink, StateStore& state,
        const EngineOptions& options, Engine::ProgressFn progress, DestinationLock* lock)
        : m_executor(std::move(executor)),
          m_target(target),
          m_cipher(cipher),
          m_sink(sink),
          m_state(state),
          m_options(options),
          m_progress(std::move(progress)),
          m_lock(lock),
          m_deadline(options.stop_at, options.cut_at) {}

    asio::awaitable<EngineResult> execute() {
        if (m_options.dry_run) {
            co_return co_await plan_and_apply();
        }
        start_renewer();
        std::optional<EngineResult> result;
        std::exception_ptr failure;
        try {
            result = co_await plan_and_apply();
        } catch (...) {
            failure = std::current_exception();
        }
        co_await stop_renewer();
        if (failure) {
            std::rethrow_exception(m_claims_lost ? m_renew_failure : failure);
        }
        co_return std::move(*result);
    }

    // When the claims were taken: just before the destination was claimed (its lock's expiry
    // counts from then), not when the run starts.
    void claims_taken_at(Clock::time_point steady, std::chrono::system_clock::time_point wall) {
        m_held_steady = steady;
        m_held_wall = wall;
    }

    // Whether the run lost its claims (then nothing more may be recorded for it).
    bool claims_lost() const noexcept { return m_claims_lost; }

private:
    asio::awaitable<EngineResult> plan_and_apply() {
        const auto started = Clock::now();
        const StateSnapshot snapshot = co_await m_state.load();
        m_result.complete = m_options.full || snapshot.cursor.initial;
        m_ledger.start(snapshot.cursor, m_result.complete);
        m_ledger.known_refusals(snapshot.refused);
        const PathFilter filter(m_options.excludes);
        for (const RefusedRecord& refused : snapshot.refused) {
            if (!refused.path.empty() && filter.excluded(refused.path)) {
                m_ledger.supersede_refusal(refused.path);  // --exclude silences it
            }
        }

        obsidian::ChangeSet changes;
        std::unique_ptr<obsidian::SyncSession> first;
        // A connection cut while the change list arrives is retried like a cut pull. Past stop_at
        // no session is opened; one that cut_at closes ends the run early, as it would a pull.
        bool have_changes = false;
        for (int attempt = 1; !m_deadline.stopping(); ++attempt) {
            try {
                have_changes = co_await list_changes(first, changes, snapshot.cursor);
                break;
            } catch (const Error& e) {
                if (!worth_retrying(e) || attempt >= m_options.attempts) {
                    throw;
                }
                log_retry("change list retried", "", attempt, e);
            }
            first.reset();
            co_await pause(backoff_delay(k_pull_backoff, attempt));
        }
        if (!have_changes) {
            co_return stopped_before_plan(snapshot.cursor, started);
        }
        std::vector<std::int64_t> uids;
        uids.reserve(changes.records.size());
        for (const auto& record : changes.records) {
            uids.push_back(record.uid);
        }
        m_ledger.expect(uids, changes.version);

        PlanInput input;
        input.state = &snapshot;
        input.changes = &changes;
        input.complete = m_result.complete;
        input.keep_deleted = m_options.keep_deleted;
        input.filter = &filter;
        if (m_result.complete && !m_options.dry_run) {
            // What the destination already holds: with --full, files the snapshot lacks are
            // removed; in any complete run, a file whose stored hash matches is not fetched again.
            const auto listed = co_await listed_paths(snapshot, changes);
            m_present.insert(listed.begin(), listed.end());
            if (m_options.full) {
                input.present = m_present;
            }
        } else if (m_options.full) {
            const auto listed = co_await listed_paths(snapshot, changes);
            input.present.emplace(listed.begin(), listed.end());
        }
        Plan plan = make_plan(input);
        if (m_cipher.has_key()) {  // encoded paths are hex: nothing to warn about
            m_result.portability = portability_issues(vault_paths(snapshot, changes, filter));
        }
        // A newer record of a refused path supersedes the refusal; a record refused again
        // replaces it below.
        for (const auto& record : changes.records) {
            if (record.error.empty()) {
                m_ledger.supersede_refusal(record.path, record.uid);
            }
        }
        for (const Refusal& refusal : plan.refused) {
            m_ledger.refuse({refusal.path, refusal.uid, refusal.reason}, {refusal.uid});
        }

        if (m_options.dry_run) {
            describe(plan);
            co_await first->close();
            m_result.cursor = snapshot.cursor;
            m_result.refused = m_ledger.refusals();
            m_result.duration = elapsed(started);
            co_return m_result;
        }

        std::exception_ptr stopped;
        try {
            co_await apply(plan, std::move(first));
            check_claims();
        } catch (const Error&) {
            stopped = std::current_exception();
        }
        if (stopped && !m_claims_lost) {
            // Stopped by a failure that ends the run (a service down, the token revoked): what
            // is done stays done. Best effort; the original error is what counts. A run whose
            // claims are lost writes nothing more: the destination may be another run's now.
            try {
                co_await checkpoint(false, true);
            } catch (const Error&) {
            }
        }
        if (stopped) {
            std::rethrow_exception(stopped);
        }
        m_result.cursor = m_ledger.cursor();
        m_result.refused = m_ledger.refusals();
        m_result.duration = elapsed(started);
        co_return m_result;
    }

private:
    // The destination's files (Sink::list_files) as the vault paths they store. In the encrypted
    // layout an entry's name derives from its path one way: the names of every path the state
    // and the change list know are matched back; the rest keep their stored names (files the
    // vault no longer has, which the sink removes by that name).
    asio::awaitable<std::vector<std::string>> listed_paths(const StateSnapshot& snapshot,
                                                           const obsidian::ChangeSet& changes) {
        std::vector<std::string> listed = co_await m_sink.list_files();
        if (!m_sink.encrypted_layout()) {
            co_return listed;
        }
        std::map<std::string, std::string> paths;  // stored name → path
        const auto add = [&](const std::string& path) {
            if (!path.empty()) {
                try {
                    paths.emplace(m_sink.stored_name(path), path);
                } catch (const Error&) {
                    // Not storable (plan refuses it): nothing of it can be listed either.
                }
            }
        };
        for (const FileState& file : snapshot.files) {
            add(file.path);
        }
        for (const obsidian::RemoteRecord& record : changes.records) {
            add(record.path);
        }
        for (std::string& name : listed) {
            if (const auto it = paths.find(name); it != paths.end()) {
                name = it->second;
            }
        }
        co_return listed;
    }

    // Connects the first session and takes the change list from it. False when the run's
    // deadline cut it (the session is then gone); other failures throw.
    asio::awaitable<bool> list_changes(std::unique_ptr<obsidian::SyncSession>& first,
                                       obsidian::ChangeSet& changes, const Cursor& saved) {
        try {
            first = co_await obsidian::SyncSession::connect(m_executor, m_target, m_cipher,
                                                            session_options());
            changes =
                co_await first->init(m_result.complete ? 0 : saved.version, m_result.complete);
            co_return true;
        } catch (const Error& e) {
            // What cut_at does to a session (see session_options()).
            if (!m_deadline.cut() || e.kind() != ErrorKind::network) {
                throw;
            }
        }
        first.reset();
        co_return false;
    }

    // Retries are worth a record (they explain a slow run); the run goes on.
    void log_retry(std::string_view what, const std::string& path, int attempt,
                   const Error& error) const {
        if (Logger* log = process_logger()) {
            log->warning(what, {{"vault_id", m_target.vault_id},
                                {"path", path},
                                {"attempt", attempt},
                                {"error_kind", std::string(to_string(error.kind()))},
                                {"error", error.what()}});
        }
    }

    // Every session of the run is closed at cut_at, whatever it is doing.
    obsidian::SessionOptions session_options() const {
        obsidian::SessionOptions options = m_options.session;
        options.cut_at = m_deadline.cut_at();
        return options;
    }

    // The deadline came before the change list: nothing was planned, nothing is written.
    EngineResult stopped_before_plan(const Cursor& saved, Clock::time_point started) {
        m_result.stopped_early = true;
        m_result.cursor = saved;
        m_result.refused = m_ledger.refusals();
        m_result.duration = elapsed(started);
        return m_result;
    }

    // A planned action the deadline keeps from being done (the next run does it).
    void not_attempted(std::int64_t count = 1) {
        m_result.not_attempted += count;
        m_result.stopped_early = m_result.stopped_early || count > 0;
    }

    // A pause before a retry, cut short at stop_at (the retry will not happen then).
    asio::awaitable<void> pause(std::chrono::milliseconds delay) {
        co_await sleep_for(std::chrono::ceil<std::chrono::milliseconds>(m_deadline.pause(delay)));
    }

    // Every path the vault holds once this change list is applied (files and folders, without
    // excluded or refused ones): what a restore elsewhere would have to write.
    std::vector<std::string> vault_paths(const StateSnapshot& snapshot,
                                         const obsidian::ChangeSet& changes,
                                         const PathFilter& filter) const {
        std::set<std::string> paths;
        if (!m_result.complete) {
            for (const FileState& file : snapshot.files) {
                paths.insert(file.path);
            }
        }
        for (const auto& record : changes.records) {
            if (!record.error.empty() || filter.excluded(record.path) ||
                unsafe_path_reason(record.path)) {
                continue;
            }
            if (record.deleted) {
                paths.erase(record.path);
            } else {
                paths.insert(record.path);
            }
        }
        return {paths.begin(), paths.end()};
    }

    asio::awaitable<void> apply(Plan& plan, std::unique_ptr<obsidian::SyncSession> first) {
        co_await m_sink.prepare();
        m_result.unchanged = static_cast<std::int64_t>(plan.refreshed.size());
        for (const FileState& file : plan.refreshed) {
            m_ledger.upsert(file);
        }
        m_ledger.settle(plan.settled_uids);
        for (Action& action : plan.removals) {
            if (m_deadline.stopping()) {
                not_attempted();
                continue;
            }
            co_await apply_removal(action);
        }
        for (Action& action : plan.folders) {
            if (m_deadline.stopping()) {
                not_attempted();
                continue;
            }
            co_await apply_folder(action);
        }
        co_await download_all(std::move(plan.downloads), std::move(first));
        for (Action& action : plan.folder_removals) {
            if (m_deadline.stopping()) {
                not_attempted();
                continue;
            }
            co_await apply_removal(action);
        }
        // A run stopped by its deadline did not apply everything: a snapshot run keeps its
        // cursor (the removals it lacks may still be due), an incremental one moves it below the
        // first record left.
        co_await checkpoint(!m_result.stopped_early, true);
    }

    static std::chrono::milliseconds elapsed(Clock::time_point since) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since);
    }

    void describe(const Plan& plan) {
        using Kind = PlannedAction::Kind;
        for (const Action& a : plan.removals) {
            if (a.touch_destination) {
                m_result.plan.push_back({Kind::remove, a.path, 0});
                ++m_result.deleted;
            }
        }
        for (const Action& a : plan.folders) {
            m_result.plan.push_back({Kind::create_folder, a.path, 0});
        }
        for (const Action& a : plan.downloads) {
            m_result.plan.push_back(
                {a.update ? Kind::update : Kind::create, a.path, a.record.size});
            ++(a.update ? m_result.updated : m_result.created);
            // What the run would write: the content, or the blob itself when it keeps those.
            m_result.bytes += m_cipher.has_key() ? plaintext_size(a.record.size) : a.record.size;
        }
        for (const Action& a : plan.folder_removals) {
            if (a.touch_destination) {
                m_result.plan.push_back({Kind::remove_folder, a.path, 0});
            }
        }
        m_result.unchanged = static_cast<std::int64_t>(plan.refreshed.size());
    }

    void fail(const Action& action, const Error& error) {
        if (on_step_failure(error.kind()) == StepFailure::refuse) {
            // The destination cannot hold this name (too long, reserved): retrying cannot help.
            m_ledger.refuse({action.path, action.record.uid, error.what()}, action.uids);
        } else {
            m_result.failures.push_back(
                {action.path, action.record.uid, error.what(), error.kind()});
            // The uids stay unsettled: the cursor will not pass them.
        }
        if (action.kind == Action::Kind::download && action.restore) {
            // The state must not claim a file the destination lacks, or the next run would
            // trust it and never fetch it again.
            m_ledger.remove(action.path);
        }
    }

    asio::awaitable<void> apply_removal(const Action& action) {
        check_claims();
        try {
            if (action.extra && !co_await m_sink.written_by_backup(action.path)) {
                // Not listed in the state and not marked as ours: another program's file (or
                // another backup's). Left alone.
                ++m_result.foreign_kept;
                co_return;
            }
            if (action.touch_destination) {
                if (action.kind == Action::Kind::remove_folder) {
                    if (!co_await m_sink.remove_folder_if_empty(action.path)) {
                        // Not empty: the folder stays (protocol §6.2 step 7), but it is no longer
                        // part of the vault.
                    }
                } else {
                    co_await m_sink.remove_file(action.path);
                }
                ++m_result.deleted;
            }
            m_ledger.remove(action.path);
            m_ledger.settle(action.uids);
        } catch (const Error& e) {
            if (stops_the_run(e)) {
                throw;
            }
            fail(action, e);
        }
        co_await checkpoint(false);
    }

    asio::awaitable<void> apply_folder(const Action& action) {
        check_claims();
        try {
            co_await m_sink.create_folder(action.path);
            FileState state;
            state.path = action.path;
            state.uid = action.record.uid;
            state.mtime = action.record.mtime;
            state.folder = true;
            m_ledger.upsert(state);
            m_ledger.settle(action.uids);
        } catch (const Error& e) {
            if (stops_the_run(e)) {
                throw;
            }
            fail(action, e);
        }
        co_await checkpoint(false);
    }

    // Decrypts and verifies one file while streaming it into the sink; commits only when the GCM
    // tag and the content hash both check out. Throws on failure (the writer then leaves nothing).
    //
    // The sink's work is kept off the round trip: once the pull request is out, the worker
    // commits its previous file (`finished`) and opens this one's writer while the server
    // answers; this file is left in `finished` for the next request (or the worker's end).
    asio::awaitable<void> download(obsidian::SyncSession& session, const Action& action,
                                   int attempts, std::int64_t& counted,
                                   std::optional<Finished>& finished) {
        const obsidian::RemoteRecord& record = action.record;
        if (co_await already_there(action)) {
            co_return;
        }
        const bool keyed = m_cipher.has_key();
        FileMeta meta;
        meta.mtime_ms = record.mtime;
        meta.content_hash = record.hash;
        meta.size = static_cast<std::uint64_t>(keyed ? plaintext_size(record.size) : record.size);
        std::unique_ptr<FileWriter> writer;
        const obsidian::SyncSession::SentHandler on_sent = [&]() -> asio::awaitable<void> {
            co_await commit(finished);
            check_claims();
            writer = co_await m_sink.create_file(action.path, meta);
        };
        // Keyhash only (an encrypted backup): the blob is stored as it comes.
        std::optional<crypto::BlobDecryptor> decryptor;
        if (keyed) {
            decryptor.emplace(m_cipher.content_decryptor());
        }
        crypto::Sha256 hasher;
        std::uint64_t received = 0;
        const obsidian::SyncSession::PieceHandler on_piece =
            [&](ByteView piece) -> asio::awaitable<void> {
            received += piece.size();
            m_progress_state.bytes_done += static_cast<std::int64_t>(piece.size());
            counted += static_cast<std::int64_t>(piece.size());
            report();
            if (!decryptor) {
                co_await writer->write(piece);
                co_return;
            }
            const ByteView plain = decryptor->update(piece);
            hasher.update(plain);
            co_await writer->write(plain);
        };
        co_await session.pull(record.uid, on_piece, on_sent);
        if (decryptor) {
            decryptor->finish();
            if (to_hex(hasher.finish()) != record.hash) {
                throw Error(ErrorKind::crypto,
                            "content does not match its hash (corrupted on the server)");
            }
        } else if (!plausible_blob(received, record.size)) {
            throw Error(ErrorKind::crypto, "the server sent " + std::to_string(received) +
                                               " bytes for a blob of " +
                                               std::to_string(record.size));
        }
        FileState state;
        state.path = action.path;
        state.hash = record.hash;
        state.uid = record.uid;
        state.mtime = record.mtime;
        state.size = static_cast<std::int64_t>(decryptor ? decryptor->bytes_out() : received);
        finished = Finished{std::move(writer), action, std::move(state), attempts, counted};
    }

    // Makes a downloaded and verified file visible; only then does it count (state, cursor).
    // A failure is this file's alone: the worker has moved on to the next one.
    asio::awaitable<void> commit(std::optional<Finished>& finished) {
        if (!finished) {
            co_return;
        }
        Finished file = std::move(*finished);
        finished.reset();
        check_claims();  // a lost claim drops the file: its writer leaves nothing behind
        try {
            co_await file.writer->commit();
        } catch (const Error& e) {
            if (stops_the_run(e)) {
                throw;
            }
            if (worth_retrying(e) && file.attempts < m_options.attempts) {
                // Stored nowhere: fetched and written again, like a file whose upload failed
                // mid-way (a small file's single PutObject and a multipart upload alike).
                m_progress_state.bytes_done -= file.counted;
                --m_progress_state.files_done;
                m_queue.push_back(Queued{std::move(file.action), file.attempts});
                co_return;
            }
            fail(file.action, e);
            co_return;
        }
        m_result.bytes += file.state.size;
        m_ledger.upsert(std::move(file.state));
        ++(file.action.update ? m_result.updated : m_result.created);
        m_ledger.settle(file.action.uids);
    }

    // In a complete run without (matching) state, a destination that keeps content hashes (S3
    // metadata) may already hold this exact file: then it is recorded, not downloaded again.
    asio::awaitable<bool> already_there(const Action& action) {
        const obsidian::RemoteRecord& record = action.record;
        if (!m_present.contains(action.path)) {
            co_return false;
        }
        const auto info = co_await m_sink.stat(action.path);
        if (!info || info->folder || info->content_hash != record.hash) {
            co_return false;
        }
        FileState state;
        state.path = action.path;
        state.hash = record.hash;
        state.uid = record.uid;
        state.mtime = record.mtime;
        state.size = static_cast<std::int64_t>(info->size);
        m_ledger.upsert(state);
        ++m_result.unchanged;
        m_ledger.settle(action.uids);
        co_return true;
    }

    asio::awaitable<std::unique_ptr<obsidian::SyncSession>> open_session() {
        auto session = co_await obsidian::SyncSession::connect(m_executor, m_target, m_cipher,
                                                               session_options());
        // Only `ready`: the first session already holds the change list (protocol §4.2).
        co_await session->init(m_ledger.ready_version(), false);
        co_return session;
    }

    asio::awaitable<void> worker(std::unique_ptr<obsidian::SyncSession> session) {
        std::optional<Finished> finished;
        std::exception_ptr failure;
        for (;;) {
            try {
                co_await work(session, finished);
            } catch (...) {
                failure = std::current_exception();
            }
            // The last file, or the one before a fatal error, was verified: keep it.
            try {
                co_await commit(finished);
            } catch (...) {
                if (!failure) {
                    failure = std::current_exception();
                }
            }
            // A commit that failed may have queued its file again, after the others ended.
            if (failure || m_queue.empty() || m_deadline.stopping()) {
                break;
            }
        }
        if (failure) {
            std::rethrow_exception(failure);
        }
        if (session) {
            co_await session->close();
        }
    }

    asio::awaitable<void> work(std::unique_ptr<obsidian::SyncSession>& session,
                               std::optional<Finished>& finished) {
        // Past stop_at no file is taken and none retried: the queue's rest is not attempted.
        while (!m_queue.empty() && !m_deadline.stopping()) {
            Queued next = std::move(m_queue.front());
            m_queue.pop_front();
            const Action& action = next.action;
            bool abandoned = false;
            for (int attempt = next.attempts + 1;; ++attempt) {
                if (m_deadline.stopping()) {
                    abandoned = true;  // a retry the deadline does not allow
                    break;
                }
                std::int64_t counted = 0;
                try {
                    if (!session) {
                        session = co_await open_session();
                    }
                    co_await download(*session, action, attempt, counted, finished);
                    break;
                } catch (const Error& e) {
                    if (m_claims_lost) {
                        throw;  // not this file's failure: the run stops
                    }
                    if (m_deadline.cut() && e.kind() == ErrorKind::network) {
                        // cut_at closed the session under this pull: not the file's failure.
                        m_progress_state.bytes_done -= counted;
                        session.reset();
                        abandoned = true;
                        break;
                    }
                    // Counted once: a retry downloads the same bytes again.
                    m_progress_state.bytes_done -= counted;
                    const bool retry = worth_retrying(e) && attempt < m_options.attempts;
                    // A refusal of one pull keeps the session in step; anything else may not.
                    if (e.kind() != ErrorKind::not_found && e.kind() != ErrorKind::crypto) {
                        session.reset();
                    }
                    if (stops_the_run(e)) {
                        throw;  // nothing else will succeed: the run stops (checkpointed)
                    }
                    if (!retry) {
                        fail(action, e);
                        break;
                    }
                    log_retry("file download retried on a new session", action.path, attempt, e);
                }
                co_await pause(backoff_delay(k_pull_backoff, attempt));
            }
            if (abandoned) {
                not_attempted();
                continue;
            }
            ++m_progress_state.files_done;
            report();
            co_await checkpoint(false);
        }
    }

    asio::awaitable<void> download_all(std::vector<Action> downloads,
                                       std::unique_ptr<obsidian::SyncSession> first) {
        for (const Action& action : downloads) {
            m_progress_state.bytes_total += action.record.size;
        }
        m_progress_state.files_total = static_cast<std::int64_t>(downloads.size());
        report();
        for (Action& action : downloads) {
            m_queue.push_back(Queued{std::move(action), 0});
        }
        const int workers = std::clamp(m_options.concurrency, 1, 16);
        const int count =
            std::min<int>(workers, std::max<int>(1, static_cast<int>(m_queue.size())));
        // Structured concurrency by hand: wait for every worker, rethrow the first failure.
        int running = count;
        std::exception_ptr failure;
        asio::steady_timer all_done(m_executor, asio::steady_timer::time_point::max());
        for (int i = 0; i < count; ++i) {
            asio::co_spawn(m_executor, worker(i == 0 ? std::move(first) : nullptr),
                           [&](const std::exception_ptr& error) {
                               if (error && !failure) {
                                   failure = error;
                                   m_queue.clear();  // the others finish what they hold
                               }
                               if (--running == 0) {
                                   all_done.cancel();
                               }
                           });
        }
        co_await all_done.async_wait(k_nothrow);
        if (failure) {
            std::rethrow_exception(failure);
        }
        // Left by the deadline (a commit that failed may also have queued its file again).
        not_attempted(static_cast<std::int64_t>(m_queue.size()));
        m_queue.clear();
    }

    // Renews the lease and the destination's lock from the start of the run to its end, every
    // ttl/3, so that no step (a long listing, one large upload) outlasts them. A renewal that
    // fails means this run may no longer own the destination: it stops and writes nothing more.
    void start_renewer() {
        m_renewing = true;
        m_renewer_running = true;
        m_renewer_done.expires_at(asio::steady_timer::time_point::max());
        asio::co_spawn(m_executor, keep_claims(), [this](const std::exception_ptr& error) {
            if (error) {
                m_renew_failure = error;
                m_claims_lost = true;
                m_queue.clear();
            }
            m_renewer_running = false;
            m_renewer_done.cancel();
        });
    }

    asio::awaitable<void> keep_claims() {
        const auto period =
            std::chrono::duration_cast<std::chrono::milliseconds>(m_options.lease_ttl / 3);
        while (m_renewing) {
            m_lease_timer.expires_after(period);
            co_await m_lease_timer.async_wait(k_nothrow);
            if (m_renewing && Clock::now() - m_last_renewal >= period) {
                co_await renew_claims();
            }
        }
    }

    // Nothing of the run may outlive it (a renewal left running would write after the answer).
    asio::awaitable<void> stop_renewer() {
        m_renewing = false;
        m_lease_timer.cancel();
        if (m_renewer_running) {
            co_await m_renewer_done.async_wait(k_nothrow);
        }
    }

    // Throws the renewal's failure once the claims are lost: every write checks this first.
    // Claims not known to be held for a whole lease ttl count as lost too: a process that was
    // paused (a frozen Lambda environment, a stopped process, a suspended laptop) wakes up with
    // timers and writes due at once, in any order, and another run may have taken the expired
    // lease over in between. Both clocks count, as a freeze may stop one of them.
    void check_claims() {
        // A tenth of the ttl spare: other hosts judge the expiry with their own clocks.
        const auto limit = m_options.lease_ttl - m_options.lease_ttl / 10;
        if (!m_claims_lost && m_renewing &&
            (Clock::now() - m_held_steady >= limit ||
             std::chrono::system_clock::now() - m_held_wall >= limit)) {
            m_renew_failure = std::make_exception_ptr(
                Error(ErrorKind::busy, "the run was paused for longer than its lease (" +
                                           std::to_string(m_options.lease_ttl.count()) +
                                           " s) and may no longer own the vault: it writes nothing "
                                           "more; the next run resumes"));
            m_claims_lost = true;
            m_queue.clear();
        }
        if (m_claims_lost) {
            std::rethrow_exception(m_renew_failure);
        }
    }

    void report() {
        if (m_progress) {
            m_progress(m_progress_state);
        }
    }

    // Renews the state's lease and the destination's lock together: the run holds both or stops.
    asio::awaitable<void> renew_claims() {
        check_claims();  // a renewal after a long pause must not revive a lease another run took
        m_last_renewal = Clock::now();
        const auto wall = std::chrono::system_clock::now();
        co_await m_state.renew_lease(m_options.lease_owner, m_options.lease_ttl);
        if (m_lock != nullptr) {
            co_await m_lock->renew(m_options.lease_ttl);
        }
        // Held from when the renewal started (the stores count the new ttl from a later time).
        m_held_steady = m_last_renewal;
        m_held_wall = wall;
    }

    // `now`: regardless of how much is pending (the run is stopping). A batch that could not be
    // stored goes back to the ledger: a later checkpoint stores it, or its cursor never moves.
    asio::awaitable<void> checkpoint(bool final, bool now = false) {
        const bool due = now || m_ledger.pending() >= m_options.checkpoint_files ||
                         Clock::now() - m_last_checkpoint >= m_options.checkpoint_interval;
        if (m_committing || (!final && !due)) {
            co_return;
        }
        check_claims();
        m_committing = true;
        Checkpoint batch = m_ledger.take(final);
        std::exception_ptr failure;
        try {
            co_await m_sink.flush();
            check_claims();
            co_await m_state.commit(batch);
        } catch (const Error& e) {
            failure = std::current_exception();
            if (e.kind() == ErrorKind::busy) {
                // The store refused because the lease is another run's now (a thawed run):
                // as when a renewal fails, the run writes nothing more.
                m_renew_failure = failure;
                m_claims_lost = true;
                m_queue.clear();
            }
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            m_ledger.put_back(std::move(batch));
            m_committing = false;
            std::rethrow_exception(failure);
        }
        m_ledger.stored(batch);
        m_last_checkpoint = Clock::now();
        m_committing = false;
        if (final && m_ledger.pending() > 0) {
            co_await checkpoint(true);
        }
    }

    asio::any_io_executor m_executor;
    const obsidian::SessionTarget& m_target;
    const crypto::VaultCipher& m_cipher;
    Sink& m_sink;
    StateStore& m_state;
    const EngineOptions& m_options;
    Engine::ProgressFn m_progress;

    DestinationLock* m_lock;  // null in dry runs
    Deadline m_deadline;

    EngineResult m_result;
    Ledger m_ledger;
    std::deque<Queued> m_queue;
    bool m_committing = false;
    Clock::time_point m_last_checkpoint = Clock::now();
    Clock::time_point m_last_renewal = Clock::now();
    // When the claims were last known to be this run's (taken just before the run, or renewed).
    Clock::time_point m_held_steady = Clock::now();
    std::chrono::system_clock::time_point m_held_wall = std::chrono::system_clock::now();
    Progress m_progress_state;
    std::set<std::string> m_present;  // destination files, listed at the start of complete runs
    asio::steady_timer m_lease_timer{m_executor};
    asio::steady_timer m_renewer_done{m_executor};
    bool m_renewing = false;
    bool m_renewer_running = false;
    bool m_claims_lost = false;
    std::exception_ptr m_renew_failure;
};

Engine::Engine(asio::any_io_executor executor, obsidian::SessionTarget target,
               const crypto::VaultCipher& cipher, Sink& sink, StateStore& state,
               EngineOptions options)
    : m_executor(std::move(executor)),
      m_target(std::move(target)),
      m_cipher(cipher),
      m_sink(sink),
      m_state(state),
      m_options(std::move(options)) {}

asio::awaitable<EngineResult> Engine::run(ProgressFn progress) {
    // An encrypted backup holds the server's blobs under their encoded paths, a plaintext one
    // decrypted files: the cipher, the sink and the options must agree on which this is.
    const bool encrypted = m_options.encrypted.has_value();
    if (encrypted != !m_cipher.has_key() || encrypted != m_sink.encrypted_layout()) {
        throw Error(ErrorKind::config,
                    encrypted || !m_cipher.has_key()
                        ? "an encrypted backup needs the keyhash-only cipher and the encrypted "
                          "layout together (sync --encrypted)"
                        : "a plaintext backup cannot be written into the encrypted layout");
    }
    if (encrypted && !m_options.excludes.empty()) {
        throw Error(ErrorKind::config,
                    "--exclude cannot apply to an encrypted backup: its paths "
                    "stay encrypted, so no pattern can match them");
    }
    if (m_options.dry_run) {
        Run run(m_executor, m_target, m_cipher, m_sink, m_state, m_options, std::move(progress),
                nullptr);
        co_return co_await run.execute();
    }
    // The destination first: it is what two runs must never share, whatever state store each
    // of them uses.
    const BackupIdentity backup{m_target.vault_id, m_options.vault_name, m_options.lease_owner,
                                m_options.encrypted};
    const auto claimed_steady = Clock::now();
    const auto claimed_wall = std::chrono::system_clock::now();
    std::unique_ptr<DestinationLock> lock = co_await m_sink.claim(backup, m_options.lease_ttl);
    bool leased = false;
    std::exception_ptr lease_failure;
    try {
        leased = co_await m_state.acquire_lease(m_options.lease_owner, m_options.lease_ttl);
    } catch (const Error&) {
        lease_failure = std::current_exception();
    }
    if (!leased) {
        try {
            co_await lock->release();
        } catch (const Error&) {
            // It expires on its own.
        }
        if (lease_failure) {
            std::rethrow_exception(lease_failure);
        }
        throw Error(ErrorKind::busy,
                    "vault is being synced by another run (its lease expires within " +
                        std::to_string(m_options.lease_ttl.count()) + " s); try again later");
    }
    // From here to "vault releasing" this run alone may write the destination and its state (the
    // Lambda tests check from these lines that no vault ever runs twice at once).
    if (Logger* log = process_logger()) {
        log->debug("vault claimed", {{"vault_id", m_target.vault_id}});
    }
    RunRecord record;
    record.started_ms = epoch_ms();
    std::exception_ptr failure;
    std::optional<EngineResult> result;
    Run run(m_executor, m_target, m_cipher, m_sink, m_state, m_options, std::move(progress),
            lock.get());
    run.claims_taken_at(claimed_steady, claimed_wall);
    try {
        // Under the lease: the state's first write may repair what an interrupted reset or an
        // expired scope left (state/dynamodb_store.hpp).
        co_await m_state.set_vault_name(m_options.vault_name);
        result = co_await run.execute();
    } catch (const Error& e) {
        failure = std::current_exception();
        record.error = e.what();
    }
    record.finished_ms = epoch_ms();
    if (result) {
        record.complete = result->complete;
        record.ok = result->ok();
        record.created = result->created;
        record.updated = result->updated;
        record.deleted = result->deleted;
        record.failed = result->failed();
        record.bytes = result->bytes;
        if (!result->failures.empty()) {
            record.error = result->failures.front().message;
        } else if (!result->refused.empty()) {
            record.error = std::to_string(result->refused.size()) +
                           " record(s) refused: " + result->refused.front().reason;
        } else if (result->stopped_early) {
            record.error = "stopped at the deadline with " + std::to_string(result->not_attempted) +
                           " action(s) left";
        }
    }
    // co_await is not allowed in a handler, so the bookkeeping happens here, each step on its
    // own: one failing must not keep the others from releasing. After a failure it is best
    // effort (the lease and an S3 lock expire on their own). A run that lost its claims records
    // nothing: the scope may be another run's by now.
    std::exception_ptr bookkeeping;
    const auto keep_first = [&bookkeeping](std::exception_ptr error) {
        if (!bookkeeping) {
            bookkeeping = std::move(error);
        }
    };
    if (!run.claims_lost()) {
        try {
            co_await m_state.record_run(record);
        } catch (const Error&) {
            keep_first(std::current_exception());
        }
    }
    if (Logger* log = process_logger()) {
        log->debug("vault releasing", {{"vault_id", m_target.vault_id}});
    }
    try {
        co_await m_state.release_lease(m_options.lease_owner);
    } catch (const Error&) {
        keep_first(std::current_exception());
    }
    try {
        co_await lock->release();
    } catch (const Error&) {
        keep_first(std::current_exception());
    }
    if (bookkeeping && !failure) {
        std::rethrow_exception(bookkeeping);
    }
    if (failure) {
        std::rethrow_exception(failure);
    }
    co_return std::move(*result);
}

}  // namespace obsync::sync
