#include "sync/plan.hpp"

#include <algorithm>
#include <map>

#include "sync/path_policy.hpp"

namespace obsync::sync {

namespace {

bool longer_first(const Action& a, const Action& b) {
    return a.path.size() != b.path.size() ? a.path.size() > b.path.size() : a.path > b.path;
}

bool shorter_first(const Action& a, const Action& b) {
    return a.path.size() != b.path.size() ? a.path.size() < b.path.size() : a.path < b.path;
}

}  // namespace

Plan make_plan(const PlanInput& input) {
    Plan plan;
    std::map<std::string, const FileState*> known;
    for (const FileState& file : input.state->files) {
        known[file.path] = &file;
    }

    // The newest record of each path decides; the older ones are settled with it. Records arrive
    // in ascending uid order, so the last one seen is the newest.
    std::map<std::string, std::vector<const obsidian::RemoteRecord*>> by_path;
    for (const auto& record : input.changes->records) {
        if (!record.error.empty()) {
            plan.refused.push_back({record.uid, "", record.error});
            continue;
        }
        // An excluded path is not this backup's business, even when it is unsafe.
        if (input.filter != nullptr && input.filter->excluded(record.path)) {
            plan.settled_uids.push_back(record.uid);
            continue;
        }
        if (const auto reason = unsafe_path_reason(record.path)) {
            plan.refused.push_back({record.uid, record.path, "refused: " + *reason});
            continue;
        }
        by_path[record.path].push_back(&record);
    }

    for (const auto& [path, records] : by_path) {
        const obsidian::RemoteRecord& newest = *records.back();
        std::vector<std::int64_t> uids;
        for (const auto* r : records) {
            uids.push_back(r->uid);
        }
        const auto it = known.find(path);
        const FileState* state = it == known.end() ? nullptr : it->second;
        Action action;
        action.path = path;
        action.uids = uids;
        if (newest.deleted) {
            if (state == nullptr || input.complete) {
                plan.settled_uids.insert(plan.settled_uids.end(), uids.begin(), uids.end());
                continue;
            }
            action.kind = state->folder ? Action::Kind::remove_folder : Action::Kind::remove_file;
            action.touch_destination = !input.keep_deleted;
            (state->folder ? plan.folder_removals : plan.removals).push_back(std::move(action));
            continue;
        }
        if (newest.folder) {
            action.kind = Action::Kind::create_folder;
            action.record = newest;
            plan.folders.push_back(std::move(action));
            continue;
        }
        const bool present = !input.present || input.present->contains(path);
        if (state != nullptr && !state->folder && state->hash == newest.hash && present) {
            FileState refreshed = *state;
            refreshed.uid = newest.uid;
            refreshed.mtime = newest.mtime;
            plan.refreshed.push_back(refreshed);
            plan.settled_uids.insert(plan.settled_uids.end(), uids.begin(), uids.end());
            continue;
        }
        action.kind = Action::Kind::download;
        action.record = newest;
        action.update = state != nullptr || (input.present && input.present->contains(path));
        action.restore = state != nullptr && !state->folder && state->hash == newest.hash;
        plan.downloads.push_back(std::move(action));
    }

    if (input.complete) {
        // A snapshot lists everything the vault has: what the state knows beyond it is gone.
        for (const FileState& file : input.state->files) {
            if (by_path.contains(file.path) ||
                (input.filter != nullptr && input.filter->excluded(file.path))) {
                continue;
            }
            Action action;
            action.kind = file.folder ? Action::Kind::remove_folder : Action::Kind::remove_file;
            action.path = file.path;
            action.touch_destination = !input.keep_deleted;
            (file.folder ? plan.folder_removals : plan.removals).push_back(std::move(action));
        }
        if (input.present) {
            for (const std::string& path : *input.present) {
                if (by_path.contains(path) || known.contains(path) ||
                    (input.filter != nullptr && input.filter->excluded(path))) {
                    continue;
                }
                Action action;
                action.kind = Action::Kind::remove_file;
                action.path = path;
                action.touch_destination = !input.keep_deleted;
                action.extra = true;
                if (action.touch_destination) {
                    plan.removals.push_back(std::move(action));
                }
            }
        }
    }

    std::sort(plan.removals.begin(), plan.removals.end(), longer_first);
    std::sort(plan.folders.begin(), plan.folders.end(), shorter_first);
    std::sort(plan.folder_removals.begin(), plan.folder_removals.end(), longer_first);
    std::sort(plan.downloads.begin(), plan.downloads.end(),
              [](const Action& a, const Action& b) { return a.record.uid < b.record.uid; });
    return plan;
}

}  // namespace obsync::sync
