#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "util/bytes.hpp"

namespace obsync::sync {

struct FileMeta {
    std::int64_t mtime_ms = 0;
    std::string content_hash;  // lowercase hex SHA-256 of the plaintext
    std::uint64_t size = 0;    // plaintext bytes
};

// One file being written. Nothing is visible at the destination until commit() returns; a
// writer destroyed without commit() leaves no trace (no partial file, no orphaned upload).
class FileWriter {
public:
    virtual ~FileWriter() = default;
    virtual boost::asio::awaitable<void> write(ByteView bytes) = 0;
    virtual boost::asio::awaitable<void> commit() = 0;
};

struct EntryInfo {
    bool folder = false;
    std::uint64_t size = 0;
    std::optional<std::string> content_hash;  // when the destination keeps it (S3 metadata)
};

// A destination for vault files: a local folder or an S3 prefix. Paths are vault paths
// ('/'-separated, relative); the engine validates them first, and implementations refuse anything
// that would land outside their root (Error{bad_input}), symlinks included. I/O failures are
// Error{storage}.
class Sink {
public:
    virtual ~Sink() = default;

    // "/abs/path" or "s3://bucket/prefix": shown to users and used as the state scope.
    virtual std::string describe() const = 0;

    // Called once before a run: creates the root if it is missing and removes the leftovers of an
    // interrupted run (temp files; for S3, incomplete multipart uploads under the prefix).
    virtual boost::asio::awaitable<void> prepare() = 0;

    virtual boost::asio::awaitable<std::unique_ptr<FileWriter>> create_file(std::string_view path,
                                                                            FileMeta meta) = 0;
    virtual boost::asio::awaitable<void> create_folder(std::string_view path) = 0;
    // A missing file is not an error.
    virtual boost::asio::awaitable<void> remove_file(std::string_view path) = 0;
    // Removes the folder only if it is empty; returns whether it is gone.
    virtual boost::asio::awaitable<bool> remove_folder_if_empty(std::string_view path) = 0;
    virtual boost::asio::awaitable<std::optional<EntryInfo>> stat(std::string_view path) = 0;
    // Every file below the root, as vault paths (for --full clean-up).
    virtual boost::asio::awaitable<std::vector<std::string>> list_files() = 0;

    // Makes every committed file durable. The engine calls it before each state checkpoint, so the
    // state never records a file whose bytes a crash could still lose; one flush per checkpoint
    // instead of one per file keeps small-file backups fast.
    virtual boost::asio::awaitable<void> flush() = 0;
};

}  // namespace obsync::sync
