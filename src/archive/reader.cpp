#include "archive/reader.hpp"

#include <algorithm>
#include <set>

#include "sink/backup_marker.hpp"
#include "sync/sink.hpp"

namespace obsync::archive {

std::optional<std::string> marker_vault_id(std::string_view document) {
    std::string id = sink::parse_backup_marker(document).vault_id;
    return id.empty() ? std::nullopt : std::optional<std::string>(std::move(id));
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
