#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "obsidian/sync_session.hpp"
#include "sync/file_state.hpp"
#include "sync/path_filter.hpp"

namespace obsync::sync {

// One thing to do at the destination. `uids` are every record this action settles (a path's
// older records are settled by its newest): the cursor may pass them once the action is done.
struct Action {
    enum class Kind { download, remove_file, create_folder, remove_folder, forget };
    Kind kind = Kind::download;
    std::string path;
    obsidian::RemoteRecord record;  // download and create_folder
    bool update = false;            // download over a file the state already knows
    bool restore = false;  // download of a file the state lists but the destination lacks (--full)
    bool touch_destination = true;  // false: change the state only (--keep-deleted)
    // A --full removal of a file the state does not list: removed only if the sink says this
    // backup wrote it (Sink::written_by_backup), never another program's file.
    bool extra = false;
    std::vector<std::int64_t> uids;
};

struct Refusal {
    std::int64_t uid = 0;
    std::string path;
    std::string reason;
};

struct Plan {
    // In execution order: file removals (longest path first), folders to create (shortest
    // first), downloads (ascending uid), folders to remove (longest first).
    std::vector<Action> removals;
    std::vector<Action> folders;
    std::vector<Action> downloads;
    std::vector<Action> folder_removals;
    // Files already up to date whose state only needs the newer record (no I/O).
    std::vector<FileState> refreshed;
    std::vector<std::int64_t> settled_uids;  // records needing no action (unchanged, excluded)
    std::vector<Refusal> refused;            // undecodable or unsafe: reported, never applied
};

struct PlanInput {
    const StateSnapshot* state = nullptr;
    const obsidian::ChangeSet* changes = nullptr;
    bool complete = false;      // the changes are a snapshot (initial:true)
    bool keep_deleted = false;  // never remove anything from the destination
    const PathFilter* filter = nullptr;
    // Files present at the destination, for --full: those the snapshot lacks are removed, and a
    // known file is downloaded again if it is missing.
    std::optional<std::set<std::string>> present;
};

Plan make_plan(const PlanInput& input);

}  // namespace obsync::sync
