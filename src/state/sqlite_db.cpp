#include "state/sqlite_db.hpp"

#include <algorithm>
#include <cerrno>
#include <limits>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.hpp"

namespace obsync::state {
namespace {

[[noreturn]] void fail_errno(const std::filesystem::path& path, int err) {
    throw Error(ErrorKind::storage,
                "state database " + path.string() + ": " + std::generic_category().message(err));
}

// The state holds which vaults a user backs up: private to the user, like ~/.ssh. Only the
// folders we create get 0700; existing ones are the user's business.
void create_private_parents(const std::filesystem::path& file) {
    const std::filesystem::path parent = file.parent_path();
    if (parent.empty()) {
        return;
    }
    std::vector<std::filesystem::path> missing;
    for (std::filesystem::path p = parent; !p.empty(); p = p.parent_path()) {
        struct stat st {};
        if (::stat(p.c_str(), &st) == 0) {
            break;
        }
        missing.push_back(p);
        if (p == p.parent_path()) {
            break;
        }
    }
    std::reverse(missing.begin(), missing.end());  // outermost first
    for (const std::filesystem::path& p : missing) {
        if (::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST) {
            fail_errno(p, errno);
        }
    }
}

// SQLite would create the file with 0644 & umask; creating it first fixes the mode, and SQLite
// gives its -wal and -shm files the mode of the database file.
void create_private_file(const std::filesystem::path& file) {
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        fail_errno(file, errno);
    }
    ::close(fd);
}

}  // namespace

void SqliteStatement::Finalizer::operator()(sqlite3_stmt* stmt) const noexcept {
    sqlite3_finalize(stmt);
}

SqliteStatement::SqliteStatement(const SqliteDb& db, std::string_view sql) : m_db(&db) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    m_stmt.reset(stmt);
    if (rc != SQLITE_OK) {
        db.fail(rc);
    }
}

SqliteStatement& SqliteStatement::bind(int index, std::int64_t value) {
    const int rc = sqlite3_bind_int64(m_stmt.get(), index, value);
    if (rc != SQLITE_OK) {
        m_db->fail(rc);
    }
    return *this;
}

SqliteStatement& SqliteStatement::bind(int index, std::string_view value) {
    if (value.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
        m_db->fail(SQLITE_TOOBIG);
    }
    // Never empty-pointer: SQLite binds NULL for a null data pointer, and "" is not NULL.
    const char* data = value.data() != nullptr ? value.data() : "";
    const int rc = sqlite3_bind_text(m_stmt.get(), index, data, static_cast<int>(value.size()),
                                     SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) {
        m_db->fail(rc);
    }
    return *this;
}

SqliteStatement& SqliteStatement::bind_blob(int index, std::string_view bytes) {
    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
        m_db->fail(SQLITE_TOOBIG);
    }
    // Never a null pointer: SQLite would bind NULL, and an empty blob is not NULL.
    const char* data = bytes.data() != nullptr ? bytes.data() : "";
    const int rc = sqlite3_bind_blob(m_stmt.get(), index, data, static_cast<int>(bytes.size()),
                                     SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) {
        m_db->fail(rc);
    }
    return *this;
}

SqliteStatement& SqliteStatement::bind_null(int index) {
    const int rc = sqlite3_bind_null(m_stmt.get(), index);
    if (rc != SQLITE_OK) {
        m_db->fail(rc);
    }
    return *this;
}

bool SqliteStatement::step() {
    const int rc = sqlite3_step(m_stmt.get());
    if (rc == SQLITE_ROW) {
        return true;
    }
    reset();
    if (rc != SQLITE_DONE) {
        m_db->fail(rc);
    }
    return false;
}

void SqliteStatement::run() {
    while (step()) {
    }
}

void SqliteStatement::reset() noexcept {
    sqlite3_reset(m_stmt.get());
    sqlite3_clear_bindings(m_stmt.get());
}

std::int64_t SqliteStatement::column_int(int index) const {
    return sqlite3_column_int64(m_stmt.get(), index);
}

std::string SqliteStatement::column_text(int index) const {
    const auto* text = sqlite3_column_text(m_stmt.get(), index);
    const int size = sqlite3_column_bytes(m_stmt.get(), index);
    if (text == nullptr) {
        return {};
    }
    return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)};
}

std::string SqliteStatement::column_blob(int index) const {
    const void* data = sqlite3_column_blob(m_stmt.get(), index);
    const int size = sqlite3_column_bytes(m_stmt.get(), index);
    if (data == nullptr) {
        return {};
    }
    return {static_cast<const char*>(data), static_cast<std::size_t>(size)};
}

bool SqliteStatement::column_is_null(int index) const {
    return sqlite3_column_type(m_stmt.get(), index) == SQLITE_NULL;
}

void SqliteDb::Closer::operator()(sqlite3* db) const noexcept {
    sqlite3_close_v2(db);
}

SqliteDb::SqliteDb(const std::filesystem::path& file, OpenMode mode, int busy_timeout_ms)
    : m_name(file.string()) {
    int flags = SQLITE_OPEN_READWRITE;
    if (mode == OpenMode::create) {
        create_private_parents(file);
        create_private_file(file);
        flags |= SQLITE_OPEN_CREATE;
    }
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(file.c_str(), &db, flags, nullptr);
    m_db.reset(db);
    if (rc != SQLITE_OK) {
        fail(rc);
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, busy_timeout_ms);
}

void SqliteDb::exec(const char* sql) {
    const int rc = sqlite3_exec(m_db.get(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        fail(rc);
    }
}

std::int64_t SqliteDb::changes() const noexcept {
    return sqlite3_changes64(m_db.get());
}

void SqliteDb::fail(int code) const {
    // A file that is not a database (or a damaged one) will not fix itself on retry: the user has
    // to point us elsewhere.
    const int primary = code & 0xff;
    const ErrorKind kind = primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT
                               ? ErrorKind::config
                               : ErrorKind::storage;
    const char* detail = m_db != nullptr && sqlite3_errcode(m_db.get()) == code
                             ? sqlite3_errmsg(m_db.get())
                             : sqlite3_errstr(code);
    throw Error(kind, "state database " + m_name + ": " + detail);
}

SqliteTransaction::SqliteTransaction(SqliteDb& db, Lock lock) : m_db(db) {
    m_db.exec(lock == Lock::write ? "BEGIN IMMEDIATE" : "BEGIN");
}

SqliteTransaction::~SqliteTransaction() {
    if (!m_done) {
        // Nothing to report from a destructor: if ROLLBACK fails the connection is gone anyway,
        // and SQLite rolls back an unfinished transaction on the next open.
        sqlite3_exec(m_db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

void SqliteTransaction::commit() {
    m_db.exec("COMMIT");
    m_done = true;
}

}  // namespace obsync::state
