// The local backup reader and the restore core, on folders (issue #14). S3 backups, --at and
// the command line are tested end to end in tests/integration/aws/cli_restore_test.cpp.
#include "archive/restore.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "archive/readers.hpp"
#include "crypto/sha256.hpp"
#include "sink/backup_marker.hpp"
#include "support/fake_server_process.hpp"
#include "support/files.hpp"
#include "support/run_coro.hpp"
#include "util/error.hpp"

namespace obsync::archive {
namespace {

namespace fs = std::filesystem;
using test::read_file;
using test::write_file;

std::string hash(const std::string& text) {
    return crypto::sha256_hex(as_bytes(text));
}

// "path" for a conflict --overwrite replaces, "path (blocked)" for one nothing replaces.
std::vector<std::string> conflicts_of(const RestoreResult& result) {
    std::vector<std::string> out;
    for (const RestoreConflict& c : result.conflicts) {
        out.push_back(c.path + (c.blocked ? " (blocked)" : ""));
    }
    return out;
}

class RestoreTest : public ::testing::Test {
protected:
    test::TempDir dir;
    fs::path backup = dir.path() / "backup";
    fs::path out = dir.path() / "out";
    boost::asio::io_context io;

    std::vector<ArchivedEntry> list(BackupReader& reader) {
        return test::run_coro_value(io, reader.list());
    }

    RestoreResult restore(const std::map<std::string, std::string>& hashes,
                          RestoreOptions options = {}) {
        const auto reader = open_local_reader(backup, hashes);
        return test::run_coro_value(io, archive::restore(*reader, out, options, nullptr));
    }
};

TEST_F(RestoreTest, ReaderListsFilesAndFoldersButNotObsyncsOwnNorLinks) {
    write_file(backup / "a.md", "alpha");
    write_file(backup / "Sub/b.md", "beta");
    fs::create_directories(backup / "Empty");
    write_file(backup / ".obsync/backup.json", R"({"format":1,"vault_id":"v1"})");
    write_file(backup / "Sub/.b.md.obsync-tmp-0123456789abcdef", "half");
    fs::create_symlink("/etc/passwd", backup / "link.md");
    const auto reader = open_local_reader(backup, {{"a.md", hash("alpha")}});
    const std::vector<ArchivedEntry> entries = list(*reader);
    std::vector<std::string> paths;
    for (const ArchivedEntry& e : entries) {
        paths.push_back(e.path + (e.folder ? "/" : ""));
    }
    EXPECT_EQ(paths, (std::vector<std::string>{"Empty/", "Sub/", "Sub/b.md", "a.md"}));
    EXPECT_EQ(reader->skipped(), std::vector<std::string>{"link.md"});
    EXPECT_EQ(entries[3].recorded.content_hash, hash("alpha"));
    EXPECT_EQ(entries[3].size, 5U);
    EXPECT_FALSE(entries[2].recorded.content_hash.has_value());  // the state knows none
    const std::optional<std::string> marker = test::run_coro_value(io, reader->marker());
    ASSERT_TRUE(marker.has_value());
    EXPECT_EQ(sink::parse_backup_marker(*marker).vault_id, "v1");
}

TEST_F(RestoreTest, ReaderLeavesOutTheObsyncFoldersOfNestedBackupsOnly) {
    write_file(backup / "Work/a.md", "alpha");
    write_file(backup / "Work/.obsync/backup.json", R"({"format":1,"vault_id":"w"})");
    write_file(backup / "Work/.obsync/lock", "");
    write_file(backup / "Notes/.obsync/mine.md", "a vault's own folder of that name");
    const auto reader = open_local_reader(backup, {});
    std::vector<std::string> paths;
    for (const ArchivedEntry& e : list(*reader)) {
        paths.push_back(e.path);
    }
    EXPECT_EQ(paths, (std::vector<std::string>{"Notes", "Notes/.obsync", "Notes/.obsync/mine.md",
                                               "Work", "Work/a.md"}));
}

TEST_F(RestoreTest, ReaderRefusesAMissingFolderAsConfiguration) {
    const auto reader = open_local_reader(dir.path() / "nope", {});
    try {
        list(*reader);
        FAIL() << "listed a missing folder";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config);
    }
}

TEST_F(RestoreTest, WritesEveryFileCheckedAndLeavesIdenticalOnesAlone) {
    write_file(backup / "a.md", "alpha");
    write_file(backup / "Sub/b.md", "beta");
    fs::create_directories(backup / "Empty");
    const std::map<std::string, std::string> hashes = {{"a.md", hash("alpha")},
                                                       {"Sub/b.md", hash("beta")}};
    const RestoreResult first = restore(hashes);
    EXPECT_TRUE(first.ok());
    EXPECT_EQ(first.written, 2);
    EXPECT_EQ(first.folders, 2);
    EXPECT_EQ(first.unverified, 0);
    EXPECT_EQ(read_file(out / "Sub/b.md"), "beta");
    EXPECT_TRUE(fs::is_directory(out / "Empty"));
    const auto ms = [](const fs::path& p) {  // the backup records mtimes in milliseconds
        struct stat st {};
        EXPECT_EQ(::stat(p.c_str(), &st), 0);
        return std::int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1'000'000;
    };
    EXPECT_EQ(ms(out / "a.md"), ms(backup / "a.md"));

    const RestoreResult again = restore(hashes);
    EXPECT_EQ(again.written, 0);
    EXPECT_EQ(again.identical, 2);
}

TEST_F(RestoreTest, AFileThatFailsItsHashIsNotWrittenAndTheRestAre) {
    write_file(backup / "good.md", "good");
    write_file(backup / "bad.md", "tampered");
    const RestoreResult result = restore({{"good.md", hash("good")}, {"bad.md", hash("original")}});
    EXPECT_FALSE(result.ok());
    ASSERT_EQ(result.failures.size(), 1U);
    EXPECT_EQ(result.failures[0].path, "bad.md");
    EXPECT_NE(result.failures[0].message.find("do not match"), std::string::npos);
    EXPECT_FALSE(fs::exists(out / "bad.md"));
    EXPECT_EQ(read_file(out / "good.md"), "good");
    // No temp file is left behind either.
    EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator()), 1);
}

TEST_F(RestoreTest, WithoutRecordedHashesFilesAreWrittenAndCountedUnverified) {
    write_file(backup / "a.md", "alpha");
    const RestoreResult result = restore({});
    EXPECT_TRUE(result.ok());
    EXPECT_EQ(result.unverified, 1);
    EXPECT_EQ(read_file(out / "a.md"), "alpha");
}

TEST_F(RestoreTest, ADifferentFileInTheWayStopsEverythingUnlessOverwriting) {
    write_file(backup / "a.md", "alpha");
    write_file(backup / "b.md", "beta");
    write_file(out / "a.md", "mine!");  // same size, other bytes
    const std::map<std::string, std::string> hashes = {{"a.md", hash("alpha")},
                                                       {"b.md", hash("beta")}};
    const RestoreResult refused = restore(hashes);
    EXPECT_EQ(conflicts_of(refused), std::vector<std::string>{"a.md"});
    EXPECT_EQ(refused.written, 0);
    EXPECT_FALSE(fs::exists(out / "b.md"));
    EXPECT_EQ(read_file(out / "a.md"), "mine!");

    RestoreOptions overwrite;
    overwrite.overwrite = true;
    const RestoreResult replaced = restore(hashes, overwrite);
    EXPECT_TRUE(replaced.ok());
    EXPECT_EQ(replaced.replaced, 1);
    EXPECT_EQ(read_file(out / "a.md"), "alpha");
}

TEST_F(RestoreTest, AFolderAndAFileNeverReplaceEachOtherAndStopEverything) {
    write_file(backup / "a.md", "alpha");
    write_file(backup / "b.md", "beta");
    write_file(backup / "Notes/n.md", "below a folder the target has as a file");
    write_file(out / "a.md/inside.txt", "a whole tree");
    write_file(out / "Notes", "a file where the backup has a folder");
    RestoreOptions overwrite;
    overwrite.overwrite = true;
    const RestoreResult result =
        restore({{"a.md", hash("alpha")}, {"b.md", hash("beta")}}, overwrite);
    EXPECT_EQ(
        conflicts_of(result),
        (std::vector<std::string>{"Notes (blocked)", "Notes/n.md (blocked)", "a.md (blocked)"}));
    EXPECT_TRUE(result.stopped_by_conflicts(true));
    EXPECT_EQ(read_file(out / "a.md/inside.txt"), "a whole tree");
    EXPECT_EQ(read_file(out / "Notes"), "a file where the backup has a folder");
    EXPECT_FALSE(fs::exists(out / "b.md")) << "a restore never half-mixes two trees";
}

TEST_F(RestoreTest, ALinkInTheWayIsAConflictAndOnlyOverwriteReplacesItNeverItsTarget) {
    write_file(backup / "a.md", "alpha");
    write_file(dir.path() / "elsewhere.md", "not to be touched");
    fs::create_directories(out);
    fs::create_symlink(dir.path() / "elsewhere.md", out / "a.md");
    const RestoreResult refused = restore({{"a.md", hash("alpha")}});
    EXPECT_EQ(conflicts_of(refused), std::vector<std::string>{"a.md"});
    EXPECT_TRUE(fs::is_symlink(out / "a.md"));

    RestoreOptions overwrite;
    overwrite.overwrite = true;
    const RestoreResult replaced = restore({{"a.md", hash("alpha")}}, overwrite);
    EXPECT_TRUE(replaced.ok());
    EXPECT_FALSE(fs::is_symlink(out / "a.md"));
    EXPECT_EQ(read_file(out / "a.md"), "alpha");
    EXPECT_EQ(read_file(dir.path() / "elsewhere.md"), "not to be touched");
}

TEST_F(RestoreTest, ALinkedFolderAtTheTargetIsNeverWrittenThrough) {
    write_file(backup / "Notes/n.md", "note");
    fs::create_directories(dir.path() / "elsewhere");
    fs::create_directories(out);
    fs::create_directory_symlink(dir.path() / "elsewhere", out / "Notes");
    RestoreOptions overwrite;
    overwrite.overwrite = true;
    const RestoreResult result = restore({}, overwrite);
    EXPECT_EQ(conflicts_of(result),
              (std::vector<std::string>{"Notes (blocked)", "Notes/n.md (blocked)"}));
    EXPECT_TRUE(fs::is_empty(dir.path() / "elsewhere"));
}

TEST_F(RestoreTest, PathsSelectFilesAndFoldersAndMustMatchSomething) {
    write_file(backup / "a.md", "alpha");
    write_file(backup / "Sub/b.md", "beta");
    write_file(backup / "Subway.md", "not under Sub");
    RestoreOptions options;
    options.paths = {"Sub"};
    const RestoreResult result = restore({}, options);
    EXPECT_EQ(result.written, 1);
    EXPECT_TRUE(fs::exists(out / "Sub/b.md"));
    EXPECT_FALSE(fs::exists(out / "Subway.md"));
    EXPECT_FALSE(fs::exists(out / "a.md"));

    options.paths = {"Nope"};
    try {
        restore({}, options);
        FAIL() << "restored a path the backup lacks";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::not_found);
    }
}

TEST_F(RestoreTest, DryRunPlansAndWritesNothing) {
    write_file(backup / "a.md", "alpha");
    fs::create_directories(backup / "Empty");
    RestoreOptions options;
    options.dry_run = true;
    const RestoreResult result = restore({}, options);
    ASSERT_EQ(result.plan.size(), 2U);
    EXPECT_EQ(result.plan[0].kind, RestoreStep::Kind::folder);
    EXPECT_EQ(result.plan[1].kind, RestoreStep::Kind::write);
    EXPECT_FALSE(fs::exists(out));
}

TEST_F(RestoreTest, IntoTheBackupOrAroundItIsRefused) {
    write_file(backup / "a.md", "alpha");
    const auto reader = open_local_reader(backup, {});
    for (const fs::path& to : {backup, backup / "Sub", dir.path()}) {
        try {
            test::run_coro_value(io, archive::restore(*reader, to, RestoreOptions{}, nullptr));
            FAIL() << "restored into " << to;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::config) << to;
        }
    }
}

TEST(NormalizeRestorePath, StripsSlashesAndRefusesWhatNoVaultPathCanBe) {
    EXPECT_EQ(normalize_restore_path("/Notes/"), "Notes");
    EXPECT_EQ(normalize_restore_path("a/b.md"), "a/b.md");
    for (const char* bad : {"", "/", "../x", "a//b", "a/../b", "."}) {
        EXPECT_THROW(normalize_restore_path(bad), Error) << bad;
    }
}

}  // namespace
}  // namespace obsync::archive
