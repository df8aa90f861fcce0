#include "state/sqlite_store.hpp"

#include <algorithm>
#include <string>
#include <system_error>
#include <utility>

#include "state/sqlite_db.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"
#include "util/process_owner.hpp"

namespace obsync::state {
namespace {

constexpr std::int64_t k_schema_version = 1;

// Files are keyed by (scope, path) without a rowid: the primary key is the only index we need
// and a 30,000-file vault stays one compact B-tree per database.
constexpr const char* k_schema = R"sql(
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scopes (
    id INTEGER PRIMARY KEY,
    vault_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    vault_name TEXT NOT NULL DEFAULT '',
    cursor_version INTEGER NOT NULL DEFAULT 0,
    cursor_initial INTEGER NOT NULL DEFAULT 1,
    UNIQUE (vault_id, destination)
);
CREATE TABLE IF NOT EXISTS files (
    scope_id INTEGER NOT NULL,
    path TEXT NOT NULL,
    hash TEXT NOT NULL,
    uid INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    size INTEGER NOT NULL,
    folder INTEGER NOT NULL,
    PRIMARY KEY (scope_id, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    scope_id INTEGER PRIMARY KEY,
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    error TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    scope_id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
)sql";

// Added after schema version 1 without changing it: an older obsync ignores the table, and this
// one creates it in a version-1 database that lacks it on the first write (commit, reset), never
// on open or load, so a dry run writes nothing. Paths and reasons are BLOBs: a refused path is any
// bytes the server sent (invalid UTF-8, NUL, control characters).
constexpr const char* k_refusals_schema = R"sql(
CREATE TABLE IF NOT EXISTS refusals (
    scope_id INTEGER NOT NULL,
    refusal_key BLOB NOT NULL,
    path BLOB NOT NULL,
    uid INTEGER NOT NULL,
    reason BLOB NOT NULL,
    PRIMARY KEY (scope_id, refusal_key)
) WITHOUT ROWID;
)sql";

constexpr const char* k_run_columns =
    "started_ms, finished_ms, complete, ok, created, updated, deleted, failed, bytes, error";

int to_int_ms(std::chrono::milliseconds ms) {
    return static_cast<int>(std::min<std::int64_t>(ms.count(), 0x7fffffff));
}

bool has_table(const SqliteDb& db, std::string_view table) {
    SqliteStatement st(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
    st.bind(1, table);
    bool found = false;
    while (st.step()) {
        found = true;
    }
    return found;
}

// The version recorded in `meta`, or nothing for a database without one.
std::optional<std::int64_t> schema_version(const SqliteDb& db) {
    if (!has_table(db, "meta")) {
        return std::nullopt;
    }
    SqliteStatement st(db, "SELECT value FROM meta WHERE key = 'schema_version'");
    std::optional<std::int64_t> version;
    while (st.step()) {
        try {
            version = std::stoll(st.column_text(0));
        } catch (const std::exception&) {
            version = -1;
        }
    }
    return version;
}

void check_version(const SqliteDb& db, std::int64_t version) {
    if (version != k_schema_version) {
        throw Error(ErrorKind::config, "state database " + db.name() + " has schema version " +
                                           std::to_string(version) + ", this obsync reads " +
                                           std::to_string(k_schema_version) +
                                           " (written by a different obsync version?)");
    }
}

void ensure_schema(SqliteDb& db) {
    SqliteTransaction tx(db);
    if (const auto version = schema_version(db)) {
        check_version(db, *version);
        return;
    }
    db.exec(k_schema);
    db.exec(k_refusals_schema);
    SqliteStatement st(db, "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)");
    st.bind(1, std::to_string(k_schema_version)).run();
    tx.commit();
}

sync::RunRecord read_run(const SqliteStatement& st, int first) {
    sync::RunRecord run;
    run.started_ms = st.column_int(first);
    run.finished_ms = st.column_int(first + 1);
    run.complete = st.column_int(first + 2) != 0;
    run.ok = st.column_int(first + 3) != 0;
    run.created = st.column_int(first + 4);
    run.updated = st.column_int(first + 5);
    run.deleted = st.column_int(first + 6);
    run.failed = st.column_int(first + 7);
    run.bytes = st.column_int(first + 8);
    run.error = st.column_text(first + 9);
    return run;
}

// The refusals of a scope, ordered by key.
std::vector<sync::RefusedRecord> read_refusals(const SqliteDb& db, std::int64_t scope_id) {
    SqliteStatement st(db,
                       "SELECT path, uid, reason FROM refusals WHERE scope_id = ?1 "
                       "ORDER BY refusal_key");
    st.bind(1, scope_id);
    std::vector<sync::RefusedRecord> out;
    while (st.step()) {
        sync::RefusedRecord& r = out.emplace_back();
        r.path = st.column_blob(0);
        r.uid = st.column_int(1);
        r.reason = st.column_blob(2);
    }
    return out;
}

class SqliteStateStore final : public sync::StateStore {
public:
    SqliteStateStore(const std::filesystem::path& db_file, sync::StateScope scope,
                     SqliteStateOptions options)
        : m_db(db_file, SqliteDb::OpenMode::create, to_int_ms(options.busy_timeout)),
          m_scope(std::move(scope)),
          m_now(options.now_ms ? std::move(options.now_ms) : epoch_ms) {
        // WAL: readers (`obsync status`) never block a running sync, and a commit is one fsync.
        // NORMAL synchronous keeps every commit atomic; a power cut may lose the last one, which
        // only makes the next run fetch those files again.
        m_db.exec("PRAGMA journal_mode = WAL");
        m_db.exec("PRAGMA synchronous = NORMAL");
        ensure_schema(m_db);
        m_scope_id = scope_id();
    }

    boost::asio::awaitable<sync::StateSnapshot> load() override { co_return do_load(); }

    boost::asio::awaitable<void> commit(const sync::Checkpoint& checkpoint) override {
        do_commit(checkpoint);
        co_return;
    }

    boost::asio::awaitable<void> set_vault_name(std::string_view name) override {
        SqliteStatement st(m_db, "UPDATE scopes SET vault_name = ?1 WHERE id = ?2");
        st.bind(1, name).bind(2, m_scope_id).run();
        co_return;
    }

    boost::asio::awaitable<void> record_run(const sync::RunRecord& run) override {
        do_record_run(run);
        co_return;
    }

    boost::asio::awaitable<void> reset() override {
        do_reset();
        co_return;
    }

    boost::asio::awaitable<bool> acquire_lease(std::string_view owner,
                                               std::chrono::seconds ttl) override {
        const bool taken = do_acquire_lease(owner, ttl);
        if (taken) {
            m_owner = owner;  // from now on a checkpoint is stored only while the lease is ours
        }
        co_return taken;
    }

    boost::asio::awaitable<void> renew_lease(std::string_view owner,
                                             std::chrono::seconds ttl) override {
        do_renew_lease(owner, ttl);
        co_return;
    }

    boost::asio::awaitable<void> release_lease(std::string_view owner) override {
        SqliteStatement st(m_db, "DELETE FROM leases WHERE scope_id = ?1 AND owner = ?2");
        st.bind(1, m_scope_id).bind(2, owner).run();
        // m_owner stays: a checkpoint after the release is refused (the lease is gone), never
        // stored unconditionally.
        co_return;
    }

private:
    std::int64_t scope_id() {
        SqliteTransaction tx(m_db);
        SqliteStatement insert(
            m_db, "INSERT OR IGNORE INTO scopes (vault_id, destination) VALUES (?1, ?2)");
        insert.bind(1, m_scope.vault_id).bind(2, m_scope.destination).run();
        SqliteStatement select(m_db,
                               "SELECT id FROM scopes WHERE vault_id = ?1 AND destination = ?2");
        select.bind(1, m_scope.vault_id).bind(2, m_scope.destination);
        std::int64_t id = 0;
        while (select.step()) {
            id = select.column_int(0);
        }
        tx.commit();
        return id;
    }

    sync::StateSnapshot do_load() {
        sync::StateSnapshot snapshot;
        // One read transaction, so the cursor and the files are of the same commit.
        SqliteTransaction tx(m_db, SqliteTransaction::Lock::read);
        SqliteStatement scope(
            m_db, "SELECT cursor_version, cursor_initial, vault_name FROM scopes WHERE id = ?1");
        scope.bind(1, m_scope_id);
        while (scope.step()) {
            snapshot.cursor.version = scope.column_int(0);
            snapshot.cursor.initial = scope.column_int(1) != 0;
            snapshot.vault_name = scope.column_text(2);
        }
        SqliteStatement files(m_db,
                              "SELECT path, hash, uid, mtime, size, folder FROM files "
                              "WHERE scope_id = ?1 ORDER BY path");
        files.bind(1, m_scope_id);
        while (files.step()) {
            sync::FileState& f = snapshot.files.emplace_back();
            f.path = files.column_text(0);
            f.hash = files.column_text(1);
            f.uid = files.column_int(2);
            f.mtime = files.column_int(3);
            f.size = files.column_int(4);
            f.folder = files.column_int(5) != 0;
        }
        SqliteStatement run(
            m_db, std::string("SELECT ") + k_run_columns + " FROM runs WHERE scope_id = ?1");
        run.bind(1, m_scope_id);
        while (run.step()) {
            snapshot.last_run = read_run(run, 0);
        }
        if (has_table(m_db, "refusals")) {
            snapshot.refused = read_refusals(m_db, m_scope_id);
        }
        tx.commit();
        return snapshot;
    }

    // The lease this store took still names it: checked inside the checkpoint's transaction, so
    // a run that was suspended while another took its expired lease over stores nothing (its
    // cursor would overwrite the newer run's). Owners are unique per run (unique_run_owner()).
    void check_lease_is_ours() {
        if (m_owner.empty()) {
            return;  // no lease taken through this store (tools, tests)
        }
        SqliteStatement st(m_db, "SELECT 1 FROM leases WHERE scope_id = ?1 AND owner = ?2");
        st.bind(1, m_scope_id).bind(2, m_owner);
        if (!st.step()) {
            throw Error(ErrorKind::busy, "state database " + m_db.name() +
                                             ": the lease was taken over by another run; this "
                                             "run's progress is not recorded");
        }
    }

    void do_commit(const sync::Checkpoint& checkpoint) {
        SqliteTransaction tx(m_db);
        check_lease_is_ours();
        m_db.exec(k_refusals_schema);
        if (!checkpoint.upserts.empty()) {
            SqliteStatement upsert(m_db,
                                   "INSERT OR REPLACE INTO files "
                                   "(scope_id, path, hash, uid, mtime, size, folder) "
                                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
            for (const sync::FileState& f : checkpoint.upserts) {
                upsert.bind(1, m_scope_id)
                    .bind(2, f.path)
                    .bind(3, f.hash)
                    .bind(4, f.uid)
                    .bind(5, f.mtime)
                    .bind(6, f.size)
                    .bind(7, std::int64_t{f.folder ? 1 : 0})
                    .run();
            }
        }
        // Removals after upserts: should a path be in both, forgetting it is the safe side (the
        // next run fetches it again rather than trusting a file that may not be there).
        if (!checkpoint.removals.empty()) {
            SqliteStatement remove(m_db, "DELETE FROM files WHERE scope_id = ?1 AND path = ?2");
            for (const std::string& path : checkpoint.removals) {
                remove.bind(1, m_scope_id).bind(2, path).run();
            }
        }
        // Refusals in the same transaction; a key both recorded and cleared ends up cleared, as
        // removals win over upserts.
        if (!checkpoint.refusals.empty()) {
            SqliteStatement upsert(m_db,
                                   "INSERT OR REPLACE INTO refusals "
                                   "(scope_id, refusal_key, path, uid, reason) "
                                   "VALUES (?1, ?2, ?3, ?4, ?5)");
            for (const sync::RefusedRecord& r : checkpoint.refusals) {
                upsert.bind(1, m_scope_id)
                    .bind_blob(2, sync::refusal_key(r))
                    .bind_blob(3, r.path)
                    .bind(4, r.uid)
                    .bind_blob(5, r.reason)
                    .run();
            }
        }
        if (!checkpoint.cleared_refusals.empty()) {
            SqliteStatement clear(m_db,
                                  "DELETE FROM refusals WHERE scope_id = ?1 AND refusal_key = ?2");
            for (const std::string& key : checkpoint.cleared_refusals) {
                clear.bind(1, m_scope_id).bind_blob(2, key).run();
            }
        }
        if (checkpoint.cursor) {
            // Only forwards, as in DynamoDB: a stale run must not undo a newer one's progress.
            SqliteStatement cursor(m_db,
                                   "UPDATE scopes SET cursor_version = ?1, cursor_initial = ?2 "
                                   "WHERE id = ?3 AND cursor_version <= ?1");
            cursor.bind(1, checkpoint.cursor->version)
                .bind(2, std::int64_t{checkpoint.cursor->initial ? 1 : 0})
                .bind(3, m_scope_id)
                .run();
        }
        tx.commit();
    }

    void do_record_run(const sync::RunRecord& run) {
        SqliteStatement st(m_db, std::string("INSERT OR REPLACE INTO runs (scope_id, ") +
                                     k_run_columns +
                                     ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
        st.bind(1, m_scope_id)
            .bind(2, run.started_ms)
            .bind(3, run.finished_ms)
            .bind(4, std::int64_t{run.complete ? 1 : 0})
            .bind(5, std::int64_t{run.ok ? 1 : 0})
            .bind(6, run.created)
            .bind(7, run.updated)
            .bind(8, run.deleted)
            .bind(9, run.failed)
            .bind(10, run.bytes)
            .bind(11, run.error)
            .run();
    }

    void do_reset() {
        // The vault name, the last run and the lease describe the scope, not its progress: kept.
        SqliteTransaction tx(m_db);
        m_db.exec(k_refusals_schema);
        SqliteStatement files(m_db, "DELETE FROM files WHERE scope_id = ?1");
        files.bind(1, m_scope_id).run();
        SqliteStatement refusals(m_db, "DELETE FROM refusals WHERE scope_id = ?1");
        refusals.bind(1, m_scope_id).run();
        SqliteStatement cursor(
            m_db, "UPDATE scopes SET cursor_version = 0, cursor_initial = 1 WHERE id = ?1");
        cursor.bind(1, m_scope_id).run();
        tx.commit();
    }

    // One statement, so two processes racing for the lease cannot both win.
    bool holder_is_dead() {
        SqliteStatement st(m_db, "SELECT owner FROM leases WHERE scope_id = ?1");
        st.bind(1, m_scope_id);
        std::string holder;
        while (st.step()) {
            holder = st.column_text(0);
        }
        return is_dead_local_owner(holder);
    }

    // A lease held by a process of this host that no longer exists is taken over at once: a run
    // killed with SIGKILL must not block the rerun until its lease expires.
    bool do_acquire_lease(std::string_view owner, std::chrono::seconds ttl) {
        if (try_acquire_lease(owner, ttl)) {
            return true;
        }
        if (!holder_is_dead()) {
            return false;
        }
        SqliteStatement st(m_db, "DELETE FROM leases WHERE scope_id = ?1");
        st.bind(1, m_scope_id).run();
        return try_acquire_lease(owner, ttl);
    }

    bool try_acquire_lease(std::string_view owner, std::chrono::seconds ttl) {
        const std::int64_t now = m_now();
        SqliteStatement st(m_db,
                           "INSERT INTO leases (scope_id, owner, expires_ms) VALUES (?1, ?2, ?3) "
                           "ON CONFLICT (scope_id) DO UPDATE SET owner = excluded.owner, "
                           "expires_ms = excluded.expires_ms "
                           "WHERE leases.owner = excluded.owner OR leases.expires_ms <= ?4");
        st.bind(1, m_scope_id).bind(2, owner).bind(3, expiry(now, ttl)).bind(4, now).run();
        return m_db.changes() > 0;
    }

    // Extends the lease while it is still ours, even past its expiry if nobody took it over: the
    // run never overlapped another.
    void do_renew_lease(std::string_view owner, std::chrono::seconds ttl) {
        const std::int64_t now = m_now();
        SqliteStatement st(m_db,
                           "UPDATE leases SET expires_ms = ?1 WHERE scope_id = ?2 AND owner = ?3");
        st.bind(1, expiry(now, ttl)).bind(2, m_scope_id).bind(3, owner).run();
        if (m_db.changes() == 0) {
            throw Error(ErrorKind::busy, "state database " + m_db.name() +
                                             ": lease lost (another run took over the scope)");
        }
    }

    static std::int64_t expiry(std::int64_t now, std::chrono::seconds ttl) {
        return now + std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
    }

    SqliteDb m_db;
    sync::StateScope m_scope;
    std::function<std::int64_t()> m_now;
    std::string m_owner;  // the lease this store took, empty when none
    std::int64_t m_scope_id = 0;
};

}  // namespace

std::unique_ptr<sync::StateStore> open_sqlite_state(const std::filesystem::path& db_file,
                                                    sync::StateScope scope) {
    return open_sqlite_state(db_file, std::move(scope), SqliteStateOptions{});
}

std::unique_ptr<sync::StateStore> open_sqlite_state(const std::filesystem::path& db_file,
                                                    sync::StateScope scope,
                                                    SqliteStateOptions options) {
    return std::make_unique<SqliteStateStore>(db_file, std::move(scope), std::move(options));
}

std::vector<ScopeSummary> list_sqlite_scopes(const std::filesystem::path& db_file) {
    std::error_code ec;
    if (!std::filesystem::exists(db_file, ec)) {
        return {};
    }
    SqliteDb db(db_file, SqliteDb::OpenMode::existing_only,
                to_int_ms(SqliteStateOptions{}.busy_timeout));
    const auto version = schema_version(db);
    if (!version) {
        return {};
    }
    check_version(db, *version);
    SqliteStatement st(db, std::string("SELECT s.vault_id, s.vault_name, s.destination, "
                                       "s.cursor_version, s.cursor_initial, "
                                       "(SELECT count(*) FROM files f "
                                       " WHERE f.scope_id = s.id AND f.folder = 0), "
                                       "(SELECT coalesce(sum(f.size), 0) FROM files f "
                                       " WHERE f.scope_id = s.id AND f.folder = 0), "
                                       "r.scope_id, ") +
                               "r.started_ms, r.finished_ms, r.complete, r.ok, r.created, "
                               "r.updated, r.deleted, r.failed, r.bytes, r.error, s.id "
                               "FROM scopes s LEFT JOIN runs r ON r.scope_id = s.id "
                               "ORDER BY s.vault_id, s.destination");
    std::vector<ScopeSummary> out;
    std::vector<std::int64_t> scope_ids;
    while (st.step()) {
        ScopeSummary& s = out.emplace_back();
        s.vault_id = st.column_text(0);
        s.vault_name = st.column_text(1);
        s.destination = st.column_text(2);
        s.cursor.version = st.column_int(3);
        s.cursor.initial = st.column_int(4) != 0;
        s.file_count = st.column_int(5);
        s.total_bytes = st.column_int(6);
        if (!st.column_is_null(7)) {
            s.last_run = read_run(st, 8);
        }
        scope_ids.push_back(st.column_int(18));
    }
    // A database written before refusals were recorded has no table for them: nothing refused.
    if (has_table(db, "refusals")) {
        for (std::size_t i = 0; i < out.size(); ++i) {
            out[i].refused = read_refusals(db, scope_ids[i]);
        }
    }
    return out;
}

}  // namespace obsync::state
