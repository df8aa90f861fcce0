#include "archive/reader.hpp"

#include <algorithm>
#include <set>

#include <boost/json.hpp>

#include "sync/sink.hpp"

namespace obsync::archive {

std::optional<std::string> marker_vault_id(std::string_view document) {
    boost::system::error_code ec;
    const boost::json::value parsed = boost::json::parse(document, ec);
    if (ec || !parsed.is_object()) {
        return std::nullopt;
    }
    const auto* id = parsed.as_object().if_contains("vault_id");
    if (id == nullptr || !id->is_string()) {
        return std::nullopt;
    }
    return std::string(id->as_string());
}

void finish_listing(std::vector<ArchivedEntry>& entries) {
    std::sort(entries.begin(), entries.end(),
              [](const ArchivedEntry& a, const ArchivedEntry& b) { return a.path < b.path; });
    const std::string meta = "/" + std::string(sync::k_backup_meta_dir);
    const std::string marker = meta + "/backup.json";
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
