#include "archive/reader.hpp"

#include <algorithm>
#include <set>

#include "crypto/sha256.hpp"
#include "sink/backup_marker.hpp"
#include "sync/sink.hpp"
#include "util/hex.hpp"

namespace obsync::archive {

namespace asio = boost::asio;

asio::awaitable<HashedRead> read_hashed(BackupReader& reader, const ArchivedEntry& entry) {
    crypto::Sha256 hasher;
    HashedRead out;
    // Named, as every std::function handed to a coroutine here: g++ 12 destroys a temporary
    // inside a co_await expression twice.
    const ByteHandler on_bytes = [&](ByteView bytes) -> asio::awaitable<void> {
        hasher.update(bytes);
        out.bytes += bytes.size();
        co_return;
    };
    out.recorded = co_await reader.read(entry, on_bytes);
    out.hash = to_hex(hasher.finish());
    co_return out;
}

void finish_listing(std::vector<ArchivedEntry>& entries) {
    std::sort(entries.begin(), entries.end(),
              [](const ArchivedEntry& a, const ArchivedEntry& b) { return a.path < b.path; });
    const std::string meta = "/" + std::string(sync::k_backup_meta_dir);
    const std::string marker = meta + "/" + sink::k_backup_marker_name;
    std::set<std::string> folders;  // "P/.obsync"
    for (const ArchivedEntry& entry : entries) {
        if (!entry.folder && entry.path.ends_with(marker)) {
            folders.insert(entry.path.substr(0, entry.path.size() - marker.size()) + meta);
        }
    }
    if (folders.empty()) {
        return;
    }
    std::erase_if(entries, [&](const ArchivedEntry& entry) {
        return std::any_of(folders.begin(), folders.end(), [&](const std::string& folder) {
            return entry.path == folder ||
                   (entry.path.starts_with(folder) && entry.path[folder.size()] == '/');
        });
    });
}

}  // namespace obsync::archive
