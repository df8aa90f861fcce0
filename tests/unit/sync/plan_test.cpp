#include "sync/plan.hpp"

#include <algorithm>

#include <gtest/gtest.h>

namespace obsync::sync {
namespace {

obsidian::RemoteRecord file(std::int64_t uid, const std::string& path, const std::string& hash) {
    obsidian::RemoteRecord r;
    r.uid = uid;
    r.path = path;
    r.hash = hash;
    r.size = 100;
    r.mtime = 1000 + uid;
    return r;
}

obsidian::RemoteRecord folder(std::int64_t uid, const std::string& path) {
    obsidian::RemoteRecord r;
    r.uid = uid;
    r.path = path;
    r.folder = true;
    return r;
}

obsidian::RemoteRecord deletion(std::int64_t uid, const std::string& path) {
    obsidian::RemoteRecord r;
    r.uid = uid;
    r.path = path;
    r.deleted = true;
    return r;
}

FileState known(const std::string& path, const std::string& hash, bool is_folder = false) {
    FileState s;
    s.path = path;
    s.hash = hash;
    s.folder = is_folder;
    s.uid = 1;
    return s;
}

std::vector<std::string> paths(const std::vector<Action>& actions) {
    std::vector<std::string> out;
    for (const auto& a : actions) {
        out.push_back(a.path);
    }
    return out;
}

struct Fixture {
    StateSnapshot state;
    obsidian::ChangeSet changes;
    PathFilter filter{{}};

    Plan plan(bool complete, bool keep_deleted = false,
              std::optional<std::set<std::string>> present = std::nullopt) {
        PlanInput input;
        input.state = &state;
        input.changes = &changes;
        input.complete = complete;
        input.keep_deleted = keep_deleted;
        input.filter = &filter;
        input.present = std::move(present);
        return make_plan(input);
    }
};

TEST(Plan, SnapshotIntoAnEmptyDestination) {
    Fixture f;
    f.changes.records = {folder(1, "A"), folder(2, "A/B"), file(3, "A/B/n.md", "h3"),
                         file(4, "top.md", "h4")};
    const Plan plan = f.plan(true);
    EXPECT_EQ(paths(plan.folders), (std::vector<std::string>{"A", "A/B"}));
    EXPECT_EQ(paths(plan.downloads), (std::vector<std::string>{"A/B/n.md", "top.md"}));
    EXPECT_FALSE(plan.downloads[0].update);
    EXPECT_TRUE(plan.removals.empty());
}

TEST(Plan, KnownHashIsNotDownloadedAgain) {
    Fixture f;
    f.state.files = {known("same.md", "h1"), known("changed.md", "old")};
    f.changes.records = {file(5, "same.md", "h1"), file(6, "changed.md", "new")};
    const Plan plan = f.plan(false);
    EXPECT_EQ(paths(plan.downloads), std::vector<std::string>{"changed.md"});
    EXPECT_TRUE(plan.downloads[0].update);
    EXPECT_FALSE(plan.downloads[0].restore);  // a new version, not a lost copy
    EXPECT_EQ(plan.refreshed.size(), 1U);
    EXPECT_EQ(plan.refreshed[0].uid, 5);
    EXPECT_EQ(plan.settled_uids, std::vector<std::int64_t>{5});
}

TEST(Plan, FullSyncDownloadsAKnownFileThatIsMissingFromTheDestination) {
    Fixture f;
    f.state.files = {known("gone-locally.md", "h1")};
    f.changes.records = {file(5, "gone-locally.md", "h1")};
    const Plan plan = f.plan(true, false, std::set<std::string>{});
    EXPECT_EQ(paths(plan.downloads), std::vector<std::string>{"gone-locally.md"});
    EXPECT_TRUE(plan.downloads[0].restore);
}

TEST(Plan, NewestRecordOfAPathDecidesAndSettlesTheOlderOnes) {
    Fixture f;
    f.changes.records = {file(3, "n.md", "v1"), deletion(4, "n.md"), file(7, "n.md", "v2")};
    const Plan plan = f.plan(false);
    ASSERT_EQ(plan.downloads.size(), 1U);
    EXPECT_EQ(plan.downloads[0].record.hash, "v2");
    EXPECT_EQ(plan.downloads[0].uids, (std::vector<std::int64_t>{3, 4, 7}));
}

TEST(Plan, DeletionsRemoveFilesAndFoldersLongestFirst) {
    Fixture f;
    f.state.files = {known("d", "", true), known("d/e", "", true), known("d/e/f.md", "h"),
                     known("x.md", "h")};
    f.changes.records = {deletion(10, "d"), deletion(11, "d/e"), deletion(12, "d/e/f.md"),
                         deletion(13, "x.md"), deletion(14, "never-seen.md")};
    const Plan plan = f.plan(false);
    EXPECT_EQ(paths(plan.removals), (std::vector<std::string>{"d/e/f.md", "x.md"}));
    EXPECT_EQ(paths(plan.folder_removals), (std::vector<std::string>{"d/e", "d"}));
    EXPECT_EQ(plan.settled_uids, std::vector<std::int64_t>{14});
    const Plan kept = f.plan(false, true);
    EXPECT_TRUE(std::none_of(kept.removals.begin(), kept.removals.end(),
                             [](const Action& a) { return a.touch_destination; }));
}

TEST(Plan, SnapshotRemovesWhatTheStateKnowsBeyondItAndFullRemovesExtras) {
    Fixture f;
    f.state.files = {known("kept.md", "h"), known("deleted-remotely.md", "h")};
    f.changes.records = {file(2, "kept.md", "h")};
    const Plan plan = f.plan(true, false, std::set<std::string>{"kept.md", "stray.txt"});
    EXPECT_EQ(paths(plan.removals), (std::vector<std::string>{"deleted-remotely.md", "stray.txt"}));
    const Plan keep = f.plan(true, true, std::set<std::string>{"kept.md", "stray.txt"});
    EXPECT_EQ(paths(keep.removals), std::vector<std::string>{"deleted-remotely.md"});
    EXPECT_FALSE(keep.removals[0].touch_destination);
}

TEST(Plan, UnsafeAndUndecodableRecordsAreRefused) {
    Fixture f;
    obsidian::RemoteRecord broken;
    broken.uid = 9;
    broken.error = "cannot decrypt";
    f.changes.records = {file(1, "../evil.md", "h"), file(2, "/etc/passwd", "h"),
                         file(3, "a//b.md", "h"), broken, file(4, "fine.md", "h")};
    const Plan plan = f.plan(false);
    EXPECT_EQ(plan.refused.size(), 4U);
    EXPECT_EQ(paths(plan.downloads), std::vector<std::string>{"fine.md"});
}

TEST(Plan, ExcludedPathsAreSettledWithoutAction) {
    Fixture f;
    f.filter = PathFilter({".obsidian", "*.pdf", "Archive/2023"});
    f.changes.records = {file(1, ".obsidian/app.json", "h"), file(2, "docs/a.pdf", "h"),
                         file(3, "Archive/2023/old.md", "h"), file(4, "Archive/2024/new.md", "h")};
    const Plan plan = f.plan(false);
    EXPECT_EQ(paths(plan.downloads), std::vector<std::string>{"Archive/2024/new.md"});
    EXPECT_EQ(plan.settled_uids.size(), 3U);
}

TEST(PathFilter, SegmentAndAnchoredGlobs) {
    const PathFilter filter({".obsidian", "*.pdf", "Archive/2023", "Notes/*.tmp"});
    EXPECT_TRUE(filter.excluded(".obsidian"));
    EXPECT_TRUE(filter.excluded(".obsidian/plugins/x/data.json"));
    EXPECT_TRUE(filter.excluded("deep/er/file.pdf"));
    EXPECT_TRUE(filter.excluded("Archive/2023/x/y.md"));
    EXPECT_TRUE(filter.excluded("Notes/a.tmp"));
    EXPECT_FALSE(filter.excluded("Notes/sub/a.tmp"));
    EXPECT_FALSE(filter.excluded("Archive/2024/x.md"));
    EXPECT_FALSE(filter.excluded("my.obsidian.md"));
    EXPECT_FALSE(PathFilter({}).excluded("anything"));
}

}  // namespace
}  // namespace obsync::sync
