#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace obsync::fake {

// A prepared statement. Text is bound and read with explicit lengths, so hostile paths that
// carry NUL bytes (see `inject`) survive the round trip.
class Statement {
public:
    Statement(sqlite3* db, std::string_view sql);
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    ~Statement();

    // Parameters are numbered from 1, as in SQLite.
    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, std::string_view value);
    Statement& bind_null(int index);

    // True while a row is available; false once the statement is done.
    bool step();

    std::int64_t column_int(int index) const;
    std::string column_text(int index) const;
    bool column_is_null(int index) const;

private:
    sqlite3* m_db;
    sqlite3_stmt* m_stmt = nullptr;
};

class Database {
public:
    // Opens (creating if needed) in WAL mode with a busy timeout, because `seed`, `inject` and
    // `corrupt` write to the same file while `serve` runs.
    explicit Database(const std::filesystem::path& file);
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    ~Database();

    void exec(std::string_view sql);
    Statement prepare(std::string_view sql) { return {m_db, sql}; }

private:
    sqlite3* m_db = nullptr;
};

// BEGIN IMMEDIATE takes the write lock up front: uid allocation (read max, then insert) can then
// never fail half-way with SQLITE_BUSY when another process writes at the same time.
class Transaction {
public:
    explicit Transaction(Database& db);
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();

    void commit();

private:
    Database& m_db;
    bool m_done = false;
};

}  // namespace obsync::fake
