#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace obsync::state {

class SqliteDb;

// A prepared statement, reusable: step() resets it once the last row has been read, so a
// statement kept by a store never holds a read transaction open between calls.
class SqliteStatement {
public:
    SqliteStatement(const SqliteDb& db, std::string_view sql);

    SqliteStatement& bind(int index, std::int64_t value);
    SqliteStatement& bind(int index, std::string_view value);
    // Any bytes, stored as a BLOB: SQLite never interprets or converts them (a TEXT value is
    // meant to be UTF-8, and SQL functions on it assume so).
    SqliteStatement& bind_blob(int index, std::string_view bytes);
    SqliteStatement& bind_null(int index);

    // True while a row is available; false (and reset) when done. Throws Error{storage}.
    bool step();
    // Steps to the end, for statements that return no rows.
    void run();
    void reset() noexcept;

    std::int64_t column_int(int index) const;
    std::string column_text(int index) const;
    std::string column_blob(int index) const;
    bool column_is_null(int index) const;

private:
    struct Finalizer {
        void operator()(sqlite3_stmt* stmt) const noexcept;
    };

    const SqliteDb* m_db;
    std::unique_ptr<sqlite3_stmt, Finalizer> m_stmt;
};

// One connection to a state database, with the errors of the project: Error{config} when the
// file is not a database, Error{storage} for every other failure.
class SqliteDb {
public:
    enum class OpenMode {
        create,         // creates missing parent folders (0700) and the file (0600)
        existing_only,  // fails with SQLITE_CANTOPEN if the file is missing
    };

    SqliteDb(const std::filesystem::path& file, OpenMode mode, int busy_timeout_ms);
    SqliteDb(const SqliteDb&) = delete;
    SqliteDb& operator=(const SqliteDb&) = delete;

    void exec(const char* sql);
    std::int64_t changes() const noexcept;
    const std::string& name() const noexcept { return m_name; }
    sqlite3* handle() const noexcept { return m_db.get(); }

    [[noreturn]] void fail(int code) const;

private:
    struct Closer {
        void operator()(sqlite3* db) const noexcept;
    };

    std::string m_name;
    std::unique_ptr<sqlite3, Closer> m_db;
};

// BEGIN … COMMIT, rolled back unless commit() ran. A write transaction takes the write lock up
// front (BEGIN IMMEDIATE), so two writers wait on the busy timeout instead of failing when a read
// transaction tries to upgrade.
class SqliteTransaction {
public:
    enum class Lock { read, write };

    explicit SqliteTransaction(SqliteDb& db, Lock lock = Lock::write);
    SqliteTransaction(const SqliteTransaction&) = delete;
    SqliteTransaction& operator=(const SqliteTransaction&) = delete;
    ~SqliteTransaction();

    void commit();

private:
    SqliteDb& m_db;
    bool m_done = false;
};

}  // namespace obsync::state
