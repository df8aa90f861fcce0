#include "upload.hpp"

#include <system_error>
#include <utility>

#include "util/error.hpp"

namespace obsync::fake {

PendingUpload::PendingUpload(std::filesystem::path temp_file, Record record, std::int64_t pieces,
                             std::uint64_t max_bytes)
    : m_file(std::move(temp_file)),
      m_record(std::move(record)),
      m_pieces(pieces),
      m_max_bytes(max_bytes) {
    m_handle = std::fopen(m_file.c_str(), "wb");
    if (m_handle == nullptr) {
        throw Error(ErrorKind::storage, "cannot create " + m_file.string());
    }
}

PendingUpload::~PendingUpload() {
    if (m_handle != nullptr) {
        std::fclose(m_handle);
    }
    std::error_code ignored;
    std::filesystem::remove(m_file, ignored);
}

void PendingUpload::append(ByteView piece) {
    m_bytes += piece.size();
    if (m_bytes > m_max_bytes) {
        throw Error(ErrorKind::bad_input, "File too large.");
    }
    if (!piece.empty() && std::fwrite(piece.data(), 1, piece.size(), m_handle) != piece.size()) {
        throw Error(ErrorKind::storage, "cannot write the uploaded file");
    }
    ++m_received;
}

Record PendingUpload::finish() {
    const int rc = std::fclose(m_handle);
    m_handle = nullptr;
    if (rc != 0) {
        throw Error(ErrorKind::storage, "cannot write the uploaded file");
    }
    m_record.size = static_cast<std::int64_t>(m_bytes);
    return m_record;
}

}  // namespace obsync::fake
