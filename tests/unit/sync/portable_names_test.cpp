#include "sync/portable_names.hpp"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace obsync::sync {
namespace {

// The issues as path -> reason, for lookups.
std::map<std::string, std::string> issues_of(const std::vector<std::string>& paths) {
    std::map<std::string, std::string> out;
    for (const auto& issue : portability_issues(paths)) {
        EXPECT_TRUE(out.emplace(issue.path, issue.reason).second) << "listed twice: " << issue.path;
    }
    return out;
}

TEST(PortableNames, OrdinaryVaultHasNoIssues) {
    EXPECT_TRUE(portability_issues({"Hello.md", "Daily/2024-01-01.md", ".obsidian/app.json",
                                    "Ünïcödé/日本語のノート.md", "emoji 🎉/😀.md", "a.b.c",
                                    "console.md", "CON1.md", "COM0.txt", "LPT10", "nullable.md",
                                    "wait... what.md", "..hidden", "Notes/aux-notes.md"})
                    .empty());
    EXPECT_TRUE(portability_issues({}).empty());
}

TEST(PortableNames, NamesThatDifferOnlyByCaseCollideOnWindowsAndMacos) {
    const auto issues = issues_of({"Notes/Readme.md", "Notes/README.md", "Notes/other.md"});
    ASSERT_EQ(issues.size(), 2U);
    EXPECT_EQ(issues.at("Notes/Readme.md"),
              "one name with \"Notes/README.md\" on Windows and macOS: they differ only in case");
    EXPECT_EQ(issues.at("Notes/README.md"),
              "one name with \"Notes/Readme.md\" on Windows and macOS: they differ only in case");
}

TEST(PortableNames, CaseIsFoldedTheUnicodeWay) {
    // ß folds to "ss", Σ and σ and ς to σ.
    EXPECT_EQ(issues_of({"Straße.md", "STRASSE.md"}).size(), 2U);
    EXPECT_EQ(issues_of({"ΣΟΦΙΑ.md", "σοφια.md"}).size(), 2U);
    EXPECT_EQ(issues_of({"Ünï.md", "üNÏ.md"}).size(), 2U);
}

TEST(PortableNames, NfcAndNfdFormsCollideOnMacos) {
    const std::string nfc = "caf\u00e9.md";
    const std::string nfd = "cafe\u0301.md";
    const auto issues = issues_of({nfc, nfd});
    ASSERT_EQ(issues.size(), 2U);
    EXPECT_EQ(issues.at(nfc), "one name with \"" + nfd +
                                  "\" on macOS: they differ only in Unicode normalisation "
                                  "(NFC/NFD)");
    EXPECT_EQ(issues_of({nfc, "CAFE\u0301.md"}).at(nfc),
              "one name with \"CAFE\u0301.md\" on macOS: they differ only in case and Unicode "
              "normalisation");
}

TEST(PortableNames, CollisionsAreBetweenWholePathsFoldersIncluded) {
    // Folders "Docs" and "docs" are implied by the files in them: one folder elsewhere.
    const auto issues = issues_of({"Docs/a.md", "docs/b.md"});
    ASSERT_EQ(issues.size(), 2U);
    EXPECT_NE(issues.at("Docs").find("\"docs\""), std::string::npos);
    EXPECT_NE(issues.at("docs").find("\"Docs\""), std::string::npos);
    // Same last name in different folders is fine.
    EXPECT_TRUE(issues_of({"A/readme.md", "B/README.md"}).empty());
    // A folder record and the same folder implied by its file are one name.
    EXPECT_TRUE(issues_of({"Docs", "Docs/a.md"}).empty());
}

TEST(PortableNames, ThreeWayCollisionNamesAnotherForEach) {
    const auto issues = issues_of({"a.md", "A.md", "\u0061.MD"});
    ASSERT_EQ(issues.size(), 3U);
    EXPECT_NE(issues.at("a.md").find("\"A.md\""), std::string::npos);
    EXPECT_NE(issues.at("A.md").find("\"a.md\""), std::string::npos);
    EXPECT_NE(issues.at("a.MD").find("\"a.md\""), std::string::npos);
}

TEST(PortableNames, WindowsForbiddenCharacters) {
    for (const std::string name :
         {"a\\b.md", "a:b.md", "star*.md", "what?.md", "say \"hi\".md", "<tag>.md", "pipe|.md"}) {
        const auto issues = issues_of({name});
        ASSERT_EQ(issues.size(), 1U) << name;
        EXPECT_EQ(issues.at(name).rfind("has characters Windows does not allow in a name: ", 0), 0U)
            << issues.at(name);
    }
    EXPECT_EQ(issues_of({"a<b>c:d.md"}).at("a<b>c:d.md"),
              "has characters Windows does not allow in a name: : < >");
}

TEST(PortableNames, ForbiddenCharacterInAFolderIsListedOnceAtTheFolder) {
    const auto issues = issues_of({"Q: what?/one.md", "Q: what?/two.md"});
    ASSERT_EQ(issues.size(), 1U);
    EXPECT_TRUE(issues.contains("Q: what?"));
}

TEST(PortableNames, TrailingDotOrSpace) {
    EXPECT_EQ(issues_of({"notes."}).at("notes."), "ends in a dot, which Windows drops");
    EXPECT_EQ(issues_of({"Folder /a.md"}).at("Folder "), "ends in a space, which Windows drops");
    EXPECT_TRUE(issues_of({"notes.md", " leading space.md", ".hidden"}).empty());
}

TEST(PortableNames, ReservedWindowsNamesAnyCaseWithOrWithoutExtension) {
    for (const std::string name : {"CON", "prn", "Aux", "nul", "NUL.txt", "nul.tar.gz", "COM1",
                                   "com9.md", "LPT1", "lpt5.log", "Folder/aux.md", "NUL .md"}) {
        const auto issues = issues_of({name});
        ASSERT_EQ(issues.size(), 1U) << name;
        EXPECT_EQ(issues.at(name), "is a reserved device name on Windows") << name;
    }
    EXPECT_TRUE(issues_of({"COM10", "LPT0.md", "CONS.md", "xnul.txt"}).empty());
}

TEST(PortableNames, SeveralReasonsAreJoined) {
    const auto issues = issues_of({"con.", "CON."});
    EXPECT_EQ(issues.at("con."),
              "one name with \"CON.\" on Windows and macOS: they differ only in case; ends in a "
              "dot, which Windows drops; is a reserved device name on Windows");
}

TEST(PortableNames, OrderFollowsThePathsFolderFirst) {
    const auto issues = portability_issues({"b:.md", "x?/a|.md", "nul"});
    ASSERT_EQ(issues.size(), 4U);
    EXPECT_EQ(issues[0].path, "b:.md");
    EXPECT_EQ(issues[1].path, "x?");
    EXPECT_EQ(issues[2].path, "x?/a|.md");
    EXPECT_EQ(issues[3].path, "nul");
}

TEST(PortableNames, InvalidUtf8NeverCrashesOrCollides) {
    const auto issues = issues_of({"a\xff.md", "A\xff.md", "ok.md"});
    EXPECT_TRUE(issues.empty());
}

}  // namespace
}  // namespace obsync::sync
