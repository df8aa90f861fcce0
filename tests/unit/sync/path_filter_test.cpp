#include "sync/path_filter.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "util/error.hpp"

namespace obsync::sync {
namespace {

ErrorKind kind_of_check(const std::string& glob) {
    try {
        PathFilter::check_globs({glob});
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(glob.empty() ? "empty" : glob), std::string::npos)
            << e.what();
        return e.kind();
    }
    ADD_FAILURE() << "accepted: " << glob;
    return ErrorKind::bad_input;
}

TEST(PathFilterGlobs, AMalformedGlobIsAConfigurationError) {
    for (const std::string glob : {"[", "notes/[a-z", "*.[!md", "[]", "trailing\\", ""}) {
        EXPECT_EQ(kind_of_check(glob), ErrorKind::config) << glob;
    }
    EXPECT_THROW(PathFilter({"ok", "["}), Error);
}

TEST(PathFilterGlobs, WellFormedGlobsPass) {
    EXPECT_NO_THROW(PathFilter::check_globs(
        {"*.md", "[abc]*", "[!x].md", "[]]", "[!]]x", "a\\[b", "Archive/2023", ".obsidian", "?"}));
    EXPECT_TRUE(PathFilter({"a\\[b"}).excluded("a[b"));
    EXPECT_TRUE(PathFilter({"[]]"}).excluded("]"));
}

}  // namespace
}  // namespace obsync::sync
