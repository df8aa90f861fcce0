#include "sync/path_policy.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace obsync::sync {
namespace {

TEST(PathPolicy, AcceptsOrdinaryVaultPaths) {
    for (const std::string path : {
             "note.md",
             "Daily/2024-01-01.md",
             ".obsidian/app.json",
             ".obsidian/plugins/dataview/main.js",
             "folder with spaces/file name with spaces.md",
             "Ünïcödé/日本語のノート.md",
             "emoji 🎉/😀.md",
             "wait... what.md",
             "...",
             "..hidden",
             "a..b/c.d",
             ".x",
             "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z.md",
             "a\\b.md",
             "tab-less ~!@#$%^&*()_+=[]{};',.md",
         }) {
        EXPECT_EQ(unsafe_path_reason(path), std::nullopt) << path;
    }
}

TEST(PathPolicy, AcceptsDeepPaths) {
    std::string path;
    for (int i = 0; i < 200; ++i) {
        path += "level" + std::to_string(i) + "/";
    }
    path += "leaf.md";
    EXPECT_EQ(unsafe_path_reason(path), std::nullopt);
}

TEST(PathPolicy, RejectsEmpty) {
    EXPECT_NE(unsafe_path_reason(""), std::nullopt);
}

TEST(PathPolicy, RejectsAbsolute) {
    EXPECT_NE(unsafe_path_reason("/etc/passwd"), std::nullopt);
    EXPECT_NE(unsafe_path_reason("/"), std::nullopt);
}

TEST(PathPolicy, RejectsDotDotSegments) {
    for (const std::string path : {"..", "../x", "a/..", "a/../b", "a/b/../../../etc/passwd"}) {
        EXPECT_NE(unsafe_path_reason(path), std::nullopt) << path;
    }
}

TEST(PathPolicy, RejectsDotSegments) {
    for (const std::string path : {".", "./x", "a/.", "a/./b"}) {
        EXPECT_NE(unsafe_path_reason(path), std::nullopt) << path;
    }
}

TEST(PathPolicy, RejectsEmptySegments) {
    for (const std::string path : {"a//b", "a/", "a/b/", "//a"}) {
        EXPECT_NE(unsafe_path_reason(path), std::nullopt) << path;
    }
}

TEST(PathPolicy, RejectsNul) {
    const std::string path("a\0b.md", 6);
    const auto reason = unsafe_path_reason(path);
    ASSERT_NE(reason, std::nullopt);
    EXPECT_NE(reason->find("NUL"), std::string::npos) << *reason;
    EXPECT_NE(unsafe_path_reason(std::string("\0", 1)), std::nullopt);
}

TEST(PathPolicy, RejectsControlCharacters) {
    for (const std::string path :
         {"a\nb", "a\rb", "tab\there", "bell\a", "esc\x1b[0m", "del\x7f"}) {
        EXPECT_NE(unsafe_path_reason(path), std::nullopt) << path;
    }
}

TEST(PathPolicy, RejectsInvalidUtf8) {
    for (const std::string& path : std::vector<std::string>{
             std::string("\xff.md"),
             std::string("a/\xc3"),             // truncated sequence
             std::string("\xc0\xaf"),           // overlong '/'
             std::string("\xed\xa0\x80.md"),    // UTF-16 surrogate
             std::string("\xf4\x90\x80\x80"),   // above U+10FFFF
             std::string("\x80 continuation"),  // lone continuation byte
         }) {
        EXPECT_NE(unsafe_path_reason(path), std::nullopt);
    }
}

TEST(PathPolicy, ExplainsWhy) {
    EXPECT_EQ(unsafe_path_reason("a/../b"), "the path has a '..' segment");
    EXPECT_EQ(unsafe_path_reason("/a"), "the path is absolute");
    EXPECT_EQ(unsafe_path_reason("\xff"), "the path is not valid UTF-8");
}

}  // namespace
}  // namespace obsync::sync
