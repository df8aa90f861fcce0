#include "archive/drift.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "sync/path_policy.hpp"

namespace obsync::archive {

namespace {

// Enough of a SHA-256 to tell two apart in a message.
std::string short_hash(std::string_view hash) {
    return std::string(hash.substr(0, 12));
}

// The folders above `path` ("a/b/c.md" → "a", "a/b").
void add_parents(std::string_view path, std::set<std::string>& out) {
    for (std::size_t slash = path.find('/'); slash != std::string_view::npos;
         slash = path.find('/', slash + 1)) {
        out.emplace(path.substr(0, slash));
    }
}

bool excluded(const DriftInput& input, std::string_view path) {
    return input.filter != nullptr && input.filter->excluded(path);
}

// Why a backed-up file is corrupt, or nothing.
std::optional<std::string> corruption(const DriftInput& input, const MeasuredEntry& measured,
                                      const sync::FileState* state) {
    const Recorded& recorded = measured.entry.recorded;
    if (measured.read_error) {
        return "cannot be read: " + *measured.read_error;
    }
    if (input.destination_records_hash && !recorded.content_hash) {
        return "has no content-hash metadata";
    }
    if (measured.actual_hash) {
        if (recorded.content_hash && *recorded.content_hash != *measured.actual_hash) {
            return "the bytes hash to " + short_hash(*measured.actual_hash) + ", recorded " +
                   short_hash(*recorded.content_hash);
        }
        return std::nullopt;
    }
    if (state != nullptr && !state->folder &&
        static_cast<std::uint64_t>(state->size) != measured.entry.size) {
        return "size " + std::to_string(measured.entry.size) + ", the state recorded " +
               std::to_string(state->size);
    }
    return std::nullopt;
}

}  // namespace

std::string_view to_string(DriftKind kind) noexcept {
    switch (kind) {
        case DriftKind::missing:
            return "missing";
        case DriftKind::extra:
            return "extra";
        case DriftKind::stale:
            return "stale";
        case DriftKind::corrupt:
            return "corrupt";
    }
    return "unknown";
}

std::int64_t DriftResult::count(DriftKind kind) const {
    return std::count_if(drift.begin(), drift.end(),
                         [kind](const Drift& d) { return d.kind == kind; });
}

std::int64_t DriftResult::pending() const {
    return std::count_if(drift.begin(), drift.end(), [](const Drift& d) { return d.pending; });
}

DriftResult compare(const DriftInput& input) {
    DriftResult result;

    // The server: the newest record of each path (records may come in any order here).
    std::map<std::string, const obsidian::RemoteRecord*> newest;
    for (const obsidian::RemoteRecord& record : *input.server) {
        if (!record.error.empty()) {
            ++result.undecryptable;
            continue;
        }
        if (excluded(input, record.path)) {
            ++result.excluded;
            continue;
        }
        if (sync::unsafe_path_reason(record.path)) {
            ++result.unsafe;
            continue;
        }
        const obsidian::RemoteRecord*& slot = newest[record.path];
        if (slot == nullptr || slot->uid < record.uid) {
            slot = &record;
        }
    }
    std::set<std::string> refused_paths;
    if (input.refused != nullptr) {
        for (const sync::RefusedRecord& refused : *input.refused) {
            if (!refused.path.empty()) {  // an undecryptable one is counted as such above
                refused_paths.insert(refused.path);
            }
        }
    }
    std::map<std::string, const obsidian::RemoteRecord*> server;
    std::set<std::string> server_parents;  // folders implied by a live server path
    std::set<std::string> refused_live;    // live server paths the backup refused
    for (const auto& [path, record] : newest) {
        if (record->deleted) {
            continue;
        }
        if (refused_paths.contains(path)) {
            ++result.refused;
            refused_live.insert(path);
            add_parents(path, server_parents);
            continue;
        }
        server.emplace(path, record);
        add_parents(path, server_parents);
        ++(record->folder ? result.server_folders : result.server_files);
    }

    std::map<std::string, const sync::FileState*> state;
    for (const sync::FileState& file : *input.state) {
        state.emplace(file.path, &file);
    }

    std::map<std::string, const MeasuredEntry*> backup;
    std::set<std::string> backup_parents;  // folders implied by a backed-up path
    for (const MeasuredEntry& measured : *input.backup) {
        if (excluded(input, measured.entry.path)) {
            continue;
        }
        backup.emplace(measured.entry.path, &measured);
        add_parents(measured.entry.path, backup_parents);
    }

    auto report = [&](const std::string& path, DriftKind kind, std::string detail) {
        result.drift.push_back({path, kind, std::move(detail)});
    };

    for (const auto& [path, record] : server) {
        const auto found = backup.find(path);
        const MeasuredEntry* measured = found == backup.end() ? nullptr : found->second;
        if (record->folder) {
            if (measured != nullptr && !measured->entry.folder) {
                report(path, DriftKind::stale, "a file where the server has a folder");
            } else if (measured == nullptr && !backup_parents.contains(path)) {
                report(path, DriftKind::missing, "folder not in the backup");
            }
            continue;
        }
        if (measured == nullptr) {
            report(path, DriftKind::missing, "not in the backup");
            continue;
        }
        if (measured->entry.folder) {
            report(path, DriftKind::missing, "a folder where the server has a file");
            continue;
        }
        const auto known = state.find(path);
        if (const auto why =
                corruption(input, *measured, known == state.end() ? nullptr : known->second)) {
            report(path, DriftKind::corrupt, *why);
            continue;
        }
        const std::optional<std::string>& version =
            measured->actual_hash ? measured->actual_hash : measured->entry.recorded.content_hash;
        if (version && !record->hash.empty() && *version != record->hash) {
            report(
                path, DriftKind::stale,
                "backup has " + short_hash(*version) + ", the server " + short_hash(record->hash));
        } else if (input.server_sizes &&
                   measured->entry.size != static_cast<std::uint64_t>(record->size)) {
            report(path, DriftKind::corrupt,
                   "size " + std::to_string(measured->entry.size) + ", the server's blob has " +
                       std::to_string(record->size));
        }
    }

    for (const auto& [path, measured] : backup) {
        if (server.contains(path) || refused_live.contains(path)) {
            continue;
        }
        if (measured->entry.folder) {
            if (!server_parents.contains(path)) {
                report(path, DriftKind::extra, "folder not on the server");
            }
            continue;
        }
        report(path, DriftKind::extra, "not on the server");
    }

    if (input.since_backup != nullptr) {
        std::set<std::string_view> changed;
        for (const obsidian::RemoteRecord& record : *input.since_backup) {
            if (record.error.empty()) {
                changed.insert(record.path);
            }
        }
        for (Drift& d : result.drift) {
            d.pending = changed.contains(d.path);
        }
    }

    std::sort(result.drift.begin(), result.drift.end(),
              [](const Drift& a, const Drift& b) { return a.path < b.path; });
    return result;
}

}  // namespace obsync::archive
