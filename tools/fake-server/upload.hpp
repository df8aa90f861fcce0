#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>

#include "store.hpp"
#include "util/bytes.hpp"

namespace obsync::fake {

// A file push in progress (§4.6 "Upload"): the pieces go straight to a temporary file so memory
// stays bounded by one piece. Destroying an unfinished upload deletes the file, which is how a
// client that disconnects mid-upload leaves no trace (§7 WebSocket 5).
class PendingUpload {
public:
    // Throws Error{storage} when the temporary file cannot be created.
    PendingUpload(std::filesystem::path temp_file, Record record, std::int64_t pieces,
                  std::uint64_t max_bytes);
    PendingUpload(const PendingUpload&) = delete;
    PendingUpload& operator=(const PendingUpload&) = delete;
    ~PendingUpload();

    // Throws Error{bad_input} past `max_bytes` and Error{storage} when the disk write fails.
    void append(ByteView piece);
    bool complete() const noexcept { return m_received >= m_pieces; }
    std::int64_t pieces_received() const noexcept { return m_received; }

    // Closes the file; `size` of the returned record is the bytes received. The caller then moves
    // file() into the store; whatever is left at file() on destruction is deleted.
    Record finish();
    const std::filesystem::path& file() const noexcept { return m_file; }

private:
    std::filesystem::path m_file;
    std::FILE* m_handle = nullptr;
    Record m_record;
    std::int64_t m_pieces;
    std::int64_t m_received = 0;
    std::uint64_t m_bytes = 0;
    std::uint64_t m_max_bytes;
};

}  // namespace obsync::fake
