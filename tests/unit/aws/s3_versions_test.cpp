// A versioned prefix at a moment (aws/s3_versions): the cases where point-in-time views of other
// tools went wrong (rclone, s3-pit-restore): a key deleted and created again, a key deleted before
// the moment, a key created after it, and versions within one second.
#include "aws/s3_versions.hpp"

#include <gtest/gtest.h>

namespace obsync::aws {
namespace {

constexpr std::int64_t k_t0 = 1'796'000'000'000;  // whole seconds, as S3 reports them
constexpr std::int64_t s(int seconds) {
    return k_t0 + std::int64_t{seconds} * 1000;
}

ObjectVersion object(std::string key, std::string id, std::int64_t at, bool latest = false) {
    ObjectVersion v;
    v.key = std::move(key);
    v.version_id = std::move(id);
    v.last_modified_ms = at;
    v.is_latest = latest;
    v.size = 10;
    v.etag = "\"e\"";
    return v;
}

ObjectVersion marker(std::string key, std::string id, std::int64_t at, bool latest = false) {
    ObjectVersion v = object(std::move(key), std::move(id), at, latest);
    v.delete_marker = true;
    v.size = 0;
    v.etag.clear();
    return v;
}

// What each key is at `at`: its version id, or nothing.
std::map<std::string, std::string> ids(const std::map<std::string, ObjectVersion>& view) {
    std::map<std::string, std::string> out;
    for (const auto& [key, version] : view) {
        out[key] = version.version_id;
    }
    return out;
}

// S3's order: keys ascending, each key newest first.
const std::vector<ObjectVersion> k_history = {
    // a.md: written at 10, deleted at 20, written again at 30 (deleted and created again)
    object("a.md", "a3", s(30), true),
    marker("a.md", "a2", s(20)),
    object("a.md", "a1", s(10)),
    // b.md: written at 10, deleted at 15 (deleted before the later moments)
    marker("b.md", "b2", s(15), true),
    object("b.md", "b1", s(10)),
    // c.md: created at 25 (after the earlier moments)
    object("c.md", "c1", s(25), true),
    // d.md: two writes within one second (S3's order decides), then nothing
    object("d.md", "d2", s(12), true),
    object("d.md", "d1", s(12)),
};

TEST(S3Versions, EachMomentSeesWhatExistedThen) {
    EXPECT_EQ(ids(versions_at(k_history, s(5))), (std::map<std::string, std::string>{}));
    EXPECT_EQ(ids(versions_at(k_history, s(10))),
              (std::map<std::string, std::string>{{"a.md", "a1"}, {"b.md", "b1"}}));
    EXPECT_EQ(ids(versions_at(k_history, s(12))),
              (std::map<std::string, std::string>{{"a.md", "a1"}, {"b.md", "b1"}, {"d.md", "d2"}}));
    EXPECT_EQ(ids(versions_at(k_history, s(15))),
              (std::map<std::string, std::string>{{"a.md", "a1"}, {"d.md", "d2"}}));
    EXPECT_EQ(ids(versions_at(k_history, s(22))),
              (std::map<std::string, std::string>{{"d.md", "d2"}}));
    EXPECT_EQ(ids(versions_at(k_history, s(26))),
              (std::map<std::string, std::string>{{"c.md", "c1"}, {"d.md", "d2"}}));
    EXPECT_EQ(ids(versions_at(k_history, s(30))),
              (std::map<std::string, std::string>{{"a.md", "a3"}, {"c.md", "c1"}, {"d.md", "d2"}}));
}

TEST(S3Versions, TheMomentIsInclusiveToTheMillisecond) {
    EXPECT_EQ(ids(versions_at(k_history, s(20) - 1)).count("a.md"), 1U);  // just before the delete
    EXPECT_EQ(ids(versions_at(k_history, s(20))).count("a.md"), 0U);      // the delete itself
}

TEST(S3Versions, TheOrderOfTheListingDoesNotMatterAcrossSeconds) {
    // moto lists every version before every delete marker; keys in any order.
    std::vector<ObjectVersion> grouped;
    for (const bool markers : {false, true}) {
        for (auto it = k_history.rbegin(); it != k_history.rend(); ++it) {
            if (it->delete_marker == markers) {
                grouped.push_back(*it);
            }
        }
    }
    for (const int at : {5, 10, 12, 15, 20, 22, 26, 30}) {
        EXPECT_EQ(ids(versions_at(grouped, s(at))), ids(versions_at(k_history, s(at)))) << at;
    }
}

TEST(S3Versions, WithinOneSecondTheLatestThenTheListingDecides) {
    // A delete within the second of the write: the marker is the latest.
    const std::vector<ObjectVersion> same_second = {object("k", "v1", s(1)),
                                                    marker("k", "m1", s(1), true)};
    EXPECT_TRUE(versions_at(same_second, s(1)).empty());
    EXPECT_TRUE(versions_at(same_second, std::nullopt).empty());
    // Neither marked: as listed, first is newest.
    const std::vector<ObjectVersion> listed = {object("k", "v2", s(1)), object("k", "v1", s(1))};
    EXPECT_EQ(versions_at(listed, s(1)).at("k").version_id, "v2");
}

TEST(S3Versions, NowIsEachKeysLatestUnlessItIsADeleteMarker) {
    EXPECT_EQ(ids(versions_at(k_history, std::nullopt)),
              (std::map<std::string, std::string>{{"a.md", "a3"}, {"c.md", "c1"}, {"d.md", "d2"}}));
    // A server that sends no IsLatest: the first listed of each key.
    std::vector<ObjectVersion> unmarked = k_history;
    for (ObjectVersion& v : unmarked) {
        v.is_latest = false;
    }
    EXPECT_EQ(ids(versions_at(unmarked, std::nullopt)), ids(versions_at(k_history, std::nullopt)));
    // Keeps the chosen version's details.
    const auto view = versions_at(k_history, s(10));
    EXPECT_EQ(view.at("a.md").size, 10U);
    EXPECT_EQ(view.at("a.md").etag, "\"e\"");
    EXPECT_FALSE(view.at("a.md").delete_marker);
}

}  // namespace
}  // namespace obsync::aws
