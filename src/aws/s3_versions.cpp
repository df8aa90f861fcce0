#include "aws/s3_versions.hpp"

#include <algorithm>

namespace obsync::aws {

bool newer_version(const ObjectVersion& a, const ObjectVersion& b) noexcept {
    if (a.last_modified_ms != b.last_modified_ms) {
        return a.last_modified_ms > b.last_modified_ms;
    }
    return a.is_latest && !b.is_latest;
}

std::map<std::string, ObjectVersion> versions_at(const std::vector<ObjectVersion>& versions,
                                                 std::optional<std::int64_t> at_ms) {
    // Each key's history, newest first. S3 lists it so, but not every server that speaks its API
    // interleaves delete markers with versions (moto lists all versions, then all markers), so
    // the order is made here: by LastModified, then IsLatest, then as listed (a stable sort), so
    // that within one second (S3's grain) the listing's order still decides.
    std::map<std::string, std::vector<const ObjectVersion*>> history;
    for (const ObjectVersion& version : versions) {
        history[version.key].push_back(&version);
    }
    std::map<std::string, ObjectVersion> out;
    for (auto& [key, list] : history) {
        std::stable_sort(
            list.begin(), list.end(),
            [](const ObjectVersion* a, const ObjectVersion* b) { return newer_version(*a, *b); });
        const auto fits = [&](const ObjectVersion* v) {
            return !at_ms || v->last_modified_ms <= *at_ms;
        };
        const auto chosen = std::find_if(list.begin(), list.end(), fits);
        if (chosen != list.end() && !(*chosen)->delete_marker) {
            out.emplace(key, **chosen);
        }
    }
    return out;
}

}  // namespace obsync::aws
