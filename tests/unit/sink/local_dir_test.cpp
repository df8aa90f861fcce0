#include "sink/local_dir.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/files.hpp"
#include "support/run_coro.hpp"
#include "support/test_util.hpp"
#include "util/bytes.hpp"
#include "util/error.hpp"

namespace obsync::sink {
namespace {

namespace fs = std::filesystem;
using boost::asio::awaitable;

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_plain(const fs::path& p, const std::string& content) {
    std::ofstream out(p, std::ios::binary);
    out << content;
}

using test::list_tree;

class LocalDir : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "obsync-sink-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        m_base = pattern;
        m_root = m_base / "root";
        m_outside = m_base / "outside";
        fs::create_directory(m_outside);
        m_sink = open_local_dir(m_root);
    }

    void TearDown() override {
        std::error_code ec;
        fs::remove_all(m_base, ec);
    }

    template <typename T>
    T run(awaitable<T> op) {
        return test::run_coro_value(m_io, std::move(op));
    }

    void run(awaitable<void> op) { test::run_coro(m_io, std::move(op)); }

    void put(std::string_view path, const std::string& content, std::int64_t mtime_ms = 0) {
        sync::FileMeta meta;
        meta.mtime_ms = mtime_ms;
        meta.size = content.size();
        auto writer = run(m_sink->create_file(path, meta));
        run(writer->write(as_bytes(content)));
        run(writer->commit());
    }

    ErrorKind put_error(std::string_view path) {
        return test::error_kind_of([&] { put(path, "x"); });
    }

    boost::asio::io_context m_io;
    fs::path m_base;
    fs::path m_root;
    fs::path m_outside;
    std::unique_ptr<sync::Sink> m_sink;
};

TEST_F(LocalDir, DescribesTheAbsoluteNormalisedRoot) {
    EXPECT_EQ(m_sink->describe(), m_root.string());
    EXPECT_EQ(open_local_dir(m_root.string() + "/")->describe(), m_root.string());
    EXPECT_EQ(open_local_dir(m_base / "x" / ".." / "root" / ".")->describe(), m_root.string());
    EXPECT_EQ(open_local_dir("rel/./a/../b")->describe(), (fs::current_path() / "rel/b").string());
    EXPECT_EQ(open_local_dir("/")->describe(), "/");
    EXPECT_EQ(test::error_kind_of([] { open_local_dir(""); }), ErrorKind::config);
}

TEST_F(LocalDir, CommittedFileIsVisibleWithContentAndMtime) {
    run(m_sink->prepare());
    const std::int64_t mtime_ms = 1'700'000'000'123;
    put("a/b/c.md", "hello world", mtime_ms);

    EXPECT_EQ(read(m_root / "a/b/c.md"), "hello world");
    struct stat st {};
    ASSERT_EQ(::stat((m_root / "a/b/c.md").c_str(), &st), 0);
    EXPECT_EQ(st.st_mtim.tv_sec, 1'700'000'000);
    EXPECT_EQ(st.st_mtim.tv_nsec / 1'000'000, 123);

    const auto info = run(m_sink->stat("a/b/c.md"));
    ASSERT_TRUE(info.has_value());
    EXPECT_FALSE(info->folder);
    EXPECT_EQ(info->size, 11U);
    EXPECT_EQ(run(m_sink->list_files()), std::vector<std::string>{"a/b/c.md"});
}

TEST_F(LocalDir, MtimeBeforeTheEpochKeepsMilliseconds) {
    put("old.md", "x", -1'500);
    struct stat st {};
    ASSERT_EQ(::stat((m_root / "old.md").c_str(), &st), 0);
    EXPECT_EQ(st.st_mtim.tv_sec, -2);
    EXPECT_EQ(st.st_mtim.tv_nsec, 500'000'000);
}

TEST_F(LocalDir, WritesInSeveralPiecesAndReplacesAnExistingFile) {
    put("n.md", "old content that is longer");
    sync::FileMeta meta;
    auto writer = run(m_sink->create_file("n.md", meta));
    const std::string one = "new ";
    const std::string two = "content";
    run(writer->write(as_bytes(one)));
    run(writer->write(as_bytes(two)));
    EXPECT_EQ(read(m_root / "n.md"), "old content that is longer");  // not before commit
    run(writer->commit());
    EXPECT_EQ(read(m_root / "n.md"), "new content");
    EXPECT_EQ(list_tree(m_root), std::vector<std::string>{"n.md"});
}

TEST_F(LocalDir, WithoutReplaceACommitKeepsWhatAppearedMeanwhile) {
    run(m_sink->prepare());
    sync::FileMeta meta;
    meta.replace = false;
    auto writer = run(m_sink->create_file("n.md", meta));
    run(writer->write(as_bytes("mine")));
    put("n.md", "another program's");  // appears between the plan and the commit
    EXPECT_EQ(test::error_kind_of([&] { run(writer->commit()); }), ErrorKind::storage);
    writer.reset();
    EXPECT_EQ(read(m_root / "n.md"), "another program's");
    EXPECT_EQ(list_tree(m_root), std::vector<std::string>{"n.md"});  // no temp file left

    auto fresh = run(m_sink->create_file("new.md", meta));
    run(fresh->write(as_bytes("fine")));
    run(fresh->commit());
    EXPECT_EQ(read(m_root / "new.md"), "fine");
}

TEST_F(LocalDir, NothingIsVisibleBeforeCommit) {
    sync::FileMeta meta;
    auto writer = run(m_sink->create_file("d/x.md", meta));
    const std::string content = "partial";
    run(writer->write(as_bytes(content)));
    EXPECT_FALSE(fs::exists(m_root / "d/x.md"));
    EXPECT_TRUE(run(m_sink->list_files()).empty());
    EXPECT_FALSE(run(m_sink->stat("d/x.md")).has_value());
    // The temp file sits next to its target, recognisably named.
    const auto entries = list_tree(m_root / "d");
    ASSERT_EQ(entries.size(), 1U);
    EXPECT_TRUE(is_local_dir_temp_name(entries[0])) << entries[0];
    EXPECT_EQ(entries[0].rfind(".x.md.obsync-tmp-", 0), 0U) << entries[0];
}

TEST_F(LocalDir, AbandonedWriterLeavesNoFile) {
    {
        sync::FileMeta meta;
        auto writer = run(m_sink->create_file("d/x.md", meta));
        const std::string content = "partial";
        run(writer->write(as_bytes(content)));
    }
    EXPECT_EQ(list_tree(m_root), std::vector<std::string>{"d"});  // the folder, no file
}

TEST_F(LocalDir, RefusesASymlinkedParentPointingOutside) {
    fs::create_directories(m_root / "a");
    fs::create_directory_symlink(m_outside, m_root / "evil");
    fs::create_directory_symlink(m_outside, m_root / "a" / "evil");
    write_plain(m_outside / "victim.md", "precious");

    EXPECT_EQ(put_error("evil/x.md"), ErrorKind::storage);
    EXPECT_EQ(put_error("a/evil/x.md"), ErrorKind::storage);
    EXPECT_EQ(put_error("evil/deeper/x.md"), ErrorKind::storage);
    EXPECT_EQ(put_error("evil/victim.md"), ErrorKind::storage);
    EXPECT_EQ(test::error_kind_of([&] { run(m_sink->create_folder("evil/sub")); }),
              ErrorKind::storage);
    EXPECT_EQ(test::error_kind_of([&] { run(m_sink->create_folder("evil")); }), ErrorKind::storage);
    EXPECT_EQ(test::error_kind_of([&] { run(m_sink->remove_file("evil/victim.md")); }),
              ErrorKind::storage);
    EXPECT_EQ(test::error_kind_of([&] { run(m_sink->remove_folder_if_empty("evil/sub")); }),
              ErrorKind::storage);
    EXPECT_EQ(test::error_kind_of([&] { run(m_sink->stat("evil/victim.md")); }),
              ErrorKind::storage);

    EXPECT_EQ(list_tree(m_outside), std::vector<std::string>{"victim.md"});
    EXPECT_EQ(read(m_outside / "victim.md"), "precious");
}

TEST_F(LocalDir, AnUnsafePathIsQuotedShortenedInTheMessage) {
    const std::string path = "../" + std::string(600, 'x') + ".md";
    try {
        put(path, "x");
        FAIL() << "accepted";
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_EQ(message.find(std::string(200, 'x')), std::string::npos) << message;
        EXPECT_EQ(message.rfind("unsafe path \"../xxx", 0), 0U) << message;
        EXPECT_NE(message.find("x\u2026x"), std::string::npos) << message;
    }
}

TEST_F(LocalDir, ReplacesASymlinkAtTheTargetWithoutFollowingIt) {
    fs::create_directories(m_root);
    write_plain(m_outside / "target.md", "outside");
    fs::create_symlink(m_outside / "target.md", m_root / "link.md");
    fs::create_directory_symlink(m_outside, m_root / "dirlink");

    put("link.md", "inside");
    put("dirlink", "a file now");

    EXPECT_FALSE(fs::is_symlink(m_root / "link.md"));
    EXPECT_EQ(read(m_root / "link.md"), "inside");
    EXPECT_FALSE(fs::is_symlink(m_root / "dirlink"));
    EXPECT_EQ(read(m_root / "dirlink"), "a file now");
    EXPECT_EQ(read(m_outside / "target.md"), "outside");
    EXPECT_EQ(list_tree(m_outside), std::vector<std::string>{"target.md"});
}

TEST_F(LocalDir, AFolderInTheWayOfAFileIsAStorageError) {
    run(m_sink->create_folder("f/sub"));
    EXPECT_EQ(put_error("f"), ErrorKind::storage);
    EXPECT_EQ(list_tree(m_root), (std::vector<std::string>{"f", "f/sub"}));  // no temp left behind
}

TEST_F(LocalDir, AFileInTheWayOfAFolderIsAStorageError) {
    put("f", "file");
    EXPECT_EQ(test::error_kind_of([&] { run(m_sink->create_folder("f")); }), ErrorKind::storage);
    EXPECT_EQ(test::error_kind_of([&] { run(m_sink->create_folder("f/sub")); }),
              ErrorKind::storage);
    EXPECT_EQ(put_error("f/x.md"), ErrorKind::storage);
    EXPECT_EQ(read(m_root / "f"), "file");
}

TEST_F(LocalDir, CreateFolderIsMkdirP) {
    run(m_sink->create_folder("x/y/z"));
    run(m_sink->create_folder("x/y/z"));
    run(m_sink->create_folder("x"));
    const auto info = run(m_sink->stat("x/y/z"));
    ASSERT_TRUE(info.has_value());
    EXPECT_TRUE(info->folder);
    EXPECT_TRUE(run(m_sink->list_files()).empty());
}

TEST_F(LocalDir, ListsRegularFilesOnly) {
    put("a.md", "1");
    put(".obsidian/app.json", "{}");
    put("deep/er/still/b.md", "2");
    run(m_sink->create_folder("empty"));
    write_plain(m_root / "deep" / ".b.md.obsync-tmp-0123456789abcdef", "leftover");
    write_plain(m_outside / "secret.md", "s");
    fs::create_directory_symlink(m_outside, m_root / "linked-dir");
    fs::create_symlink(m_outside / "secret.md", m_root / "linked-file.md");

    EXPECT_EQ(run(m_sink->list_files()),
              (std::vector<std::string>{".obsidian/app.json", "a.md", "deep/er/still/b.md"}));
}

TEST_F(LocalDir, ListsNothingWhenTheRootIsMissing) {
    EXPECT_TRUE(run(m_sink->list_files()).empty());
    EXPECT_FALSE(run(m_sink->stat("a.md")).has_value());
    run(m_sink->remove_file("a.md"));
    EXPECT_TRUE(run(m_sink->remove_folder_if_empty("a")));
    EXPECT_FALSE(fs::exists(m_root));
}

TEST_F(LocalDir, PrepareCreatesTheRootAndRemovesLeftovers) {
    run(m_sink->prepare());
    EXPECT_TRUE(fs::is_directory(m_root));

    put("keep.md", "k");
    fs::create_directories(m_root / "a" / "b");
    write_plain(m_root / ".keep.md.obsync-tmp-00112233445566ff", "x");
    write_plain(m_root / "a" / "b" / ".n.md.obsync-tmp-abcdefabcdef0123", "x");
    write_plain(m_root / ".obsync-tmp-notes.md", "not ours: no dot-name prefix and random");
    write_plain(m_root / ".x.obsync-tmp-ABCDEFABCDEF0123", "not ours: upper case");
    write_plain(m_root / "a" / ".hidden", "a dot file");
    // A writer still alive during prepare() stands for the temp file of a crashed run (a real
    // crash never runs the destructor); destroying it afterwards must cope with the file gone.
    const sync::FileMeta meta;
    auto abandoned = run(m_sink->create_file("a/crash.md", meta));

    run(m_sink->prepare());
    EXPECT_EQ(list_tree(m_root),
              (std::vector<std::string>{".obsync-tmp-notes.md", ".x.obsync-tmp-ABCDEFABCDEF0123",
                                        "a", "a/.hidden", "a/b", "keep.md"}));
    abandoned.reset();
    EXPECT_FALSE(fs::exists(m_root / "a" / "crash.md"));
}

TEST_F(LocalDir, FlushMakesCommittedFilesDurableAndFailsWithoutARoot) {
    put("a/flushed.md", "bytes");
    run(m_sink->flush());
    EXPECT_EQ(read(m_root / "a" / "flushed.md"), "bytes");
    auto missing = open_local_dir(m_base / "never-created");
    EXPECT_THROW(run(missing->flush()), Error);
}

TEST_F(LocalDir, PrepareCreatesMissingParents) {
    auto nested = open_local_dir(m_base / "x" / "y" / "z");
    run(nested->prepare());
    EXPECT_TRUE(fs::is_directory(m_base / "x" / "y" / "z"));
}

TEST_F(LocalDir, PrepareFailsWhenTheRootIsAFile) {
    write_plain(m_root, "file");
    EXPECT_EQ(test::error_kind_of([&] { run(m_sink->prepare()); }), ErrorKind::storage);
}

TEST_F(LocalDir, AcceptsARootThatIsASymlink) {
    fs::create_directory_symlink(m_outside, m_base / "root-link");
    auto linked = open_local_dir(m_base / "root-link");
    std::swap(linked, m_sink);
    put("a.md", "via link");
    EXPECT_EQ(read(m_outside / "a.md"), "via link");
}

TEST_F(LocalDir, HandlesUnicodeAndSpaces) {
    const std::vector<std::string> paths = {
        "Ünïcödé/日本語 ノート.md",
        "with space/a b c.md",
        "emoji 🎉/😀 smile.md",
        "wait... what.md",
    };
    for (const auto& p : paths) {
        put(p, "content of " + p);
    }
    for (const auto& p : paths) {
        EXPECT_EQ(read(m_root / p), "content of " + p);
    }
    std::vector<std::string> sorted = paths;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(run(m_sink->list_files()), sorted);
}

TEST_F(LocalDir, HandlesNamesNearTheLengthLimit) {
    std::string long_name;
    for (int i = 0; i < 125; ++i) {
        long_name += "é";  // 250 bytes
    }
    put(long_name, "long");
    EXPECT_EQ(read(m_root / long_name), "long");
    EXPECT_EQ(run(m_sink->list_files()), std::vector<std::string>{long_name});
}

TEST_F(LocalDir, RemoveFileSemantics) {
    put("d/a.md", "a");
    run(m_sink->remove_file("d/a.md"));
    EXPECT_FALSE(fs::exists(m_root / "d/a.md"));
    run(m_sink->remove_file("d/a.md"));        // already gone
    run(m_sink->remove_file("nowhere/a.md"));  // parent missing
    run(m_sink->remove_file("d/a.md/under"));  // parent is missing too
    put("file", "f");
    run(m_sink->remove_file("file/under"));  // a file where a parent would be: nothing to remove
    EXPECT_EQ(test::error_kind_of([&] { run(m_sink->remove_file("d")); }), ErrorKind::storage);

    // A symlink is removed itself, never its target.
    write_plain(m_outside / "t.md", "t");
    fs::create_symlink(m_outside / "t.md", m_root / "d" / "l.md");
    run(m_sink->remove_file("d/l.md"));
    EXPECT_FALSE(fs::exists(fs::symlink_status(m_root / "d" / "l.md")));
    EXPECT_EQ(read(m_outside / "t.md"), "t");
}

TEST_F(LocalDir, RemoveFolderIfEmptySemantics) {
    put("full/a.md", "a");
    run(m_sink->create_folder("empty/inner"));
    EXPECT_FALSE(run(m_sink->remove_folder_if_empty("full")));
    EXPECT_TRUE(fs::exists(m_root / "full/a.md"));
    EXPECT_FALSE(run(m_sink->remove_folder_if_empty("empty")));
    EXPECT_TRUE(run(m_sink->remove_folder_if_empty("empty/inner")));
    EXPECT_TRUE(run(m_sink->remove_folder_if_empty("empty")));
    EXPECT_FALSE(fs::exists(m_root / "empty"));
    EXPECT_TRUE(run(m_sink->remove_folder_if_empty("empty")));        // missing
    EXPECT_TRUE(run(m_sink->remove_folder_if_empty("no/such/dir")));  // parent missing
    EXPECT_EQ(test::error_kind_of([&] { run(m_sink->remove_folder_if_empty("full/a.md")); }),
              ErrorKind::storage);
}

// Folders stay open between calls (one lookup per file): a folder the sink removed must be
// opened afresh, and a file may then take its name.
TEST_F(LocalDir, AFolderRemovedAndRecreatedIsOpenedAgain) {
    put("a/b/x.md", "x");
    run(m_sink->remove_file("a/b/x.md"));
    EXPECT_TRUE(run(m_sink->remove_folder_if_empty("a/b")));
    EXPECT_TRUE(run(m_sink->remove_folder_if_empty("a")));
    put("a", "now a file");
    EXPECT_EQ(read(m_root / "a"), "now a file");
    run(m_sink->remove_file("a"));
    put("a/b/y.md", "y");
    EXPECT_EQ(read(m_root / "a" / "b" / "y.md"), "y");
    EXPECT_EQ(list_tree(m_root), (std::vector<std::string>{"a", "a/b", "a/b/y.md"}));
}

TEST_F(LocalDir, ManyFoldersInOneRunAllArrive) {
    // More folders than the sink keeps open at a time (128).
    for (int i = 0; i < 300; ++i) {
        put("f" + std::to_string(i % 150) + "/deep/n" + std::to_string(i) + ".md",
            std::to_string(i));
    }
    for (int i = 0; i < 300; ++i) {
        EXPECT_EQ(read(m_root / ("f" + std::to_string(i % 150)) / "deep" /
                       ("n" + std::to_string(i) + ".md")),
                  std::to_string(i));
    }
}

TEST_F(LocalDir, StatReportsFilesAndFoldersOnly) {
    put("f.md", "12345");
    run(m_sink->create_folder("dir"));
    write_plain(m_outside / "t.md", "t");
    fs::create_symlink(m_outside / "t.md", m_root / "link.md");

    EXPECT_FALSE(run(m_sink->stat("missing.md")).has_value());
    EXPECT_FALSE(run(m_sink->stat("missing/deeper.md")).has_value());
    EXPECT_FALSE(run(m_sink->stat("f.md/under")).has_value());
    EXPECT_FALSE(run(m_sink->stat("link.md")).has_value());
    const auto file = run(m_sink->stat("f.md"));
    ASSERT_TRUE(file.has_value());
    EXPECT_FALSE(file->folder);
    EXPECT_EQ(file->size, 5U);
    EXPECT_FALSE(file->content_hash.has_value());
    const auto dir = run(m_sink->stat("dir"));
    ASSERT_TRUE(dir.has_value());
    EXPECT_TRUE(dir->folder);
}

// A name the file system cannot hold is refused for good (bad_input), unlike a symbolic link in
// the way, which the destination's owner can remove (storage).
TEST_F(LocalDir, ANameTooLongForTheFileSystemIsBadInput) {
    run(m_sink->prepare());
    EXPECT_EQ(put_error(std::string(300, 'n') + ".md"), ErrorKind::bad_input);
    EXPECT_EQ(put_error("folder/" + std::string(300, 'n') + ".md"), ErrorKind::bad_input);
    EXPECT_EQ(test::error_kind_of([&] { run(m_sink->create_folder(std::string(300, 'd'))); }),
              ErrorKind::bad_input);
}

TEST_F(LocalDir, RefusesUnsafePaths) {
    run(m_sink->prepare());
    for (const std::string& path :
         std::vector<std::string>{"../escape.md", "/etc/passwd", "a//b", "a/./b", "a/", "",
                                  std::string("a\0b", 3), std::string("\xff")}) {
        EXPECT_EQ(put_error(path), ErrorKind::bad_input) << path;
        EXPECT_EQ(test::error_kind_of([&] { run(m_sink->create_folder(path)); }),
                  ErrorKind::bad_input);
        EXPECT_EQ(test::error_kind_of([&] { run(m_sink->remove_file(path)); }),
                  ErrorKind::bad_input);
        EXPECT_EQ(test::error_kind_of([&] { run(m_sink->remove_folder_if_empty(path)); }),
                  ErrorKind::bad_input);
        EXPECT_EQ(test::error_kind_of([&] { run(m_sink->stat(path)); }), ErrorKind::bad_input);
    }
    EXPECT_FALSE(fs::exists(m_base / "escape.md"));
    EXPECT_TRUE(list_tree(m_root).empty());
}

TEST_F(LocalDir, RefusesNamesReservedForTempFiles) {
    EXPECT_EQ(put_error(".a.md.obsync-tmp-0123456789abcdef"), ErrorKind::bad_input);
    EXPECT_TRUE(is_local_dir_temp_name(".a.md.obsync-tmp-0123456789abcdef"));
    EXPECT_FALSE(is_local_dir_temp_name("a.md.obsync-tmp-0123456789abcdef"));
    EXPECT_FALSE(is_local_dir_temp_name(".a.md.obsync-tmp-0123456789abcde"));
    EXPECT_FALSE(is_local_dir_temp_name(".a.md.obsync-tmp-0123456789abcdeg"));
    EXPECT_FALSE(is_local_dir_temp_name(".a.md"));
}

TEST_F(LocalDir, ErrorsNameThePath) {
    put("f", "file");
    try {
        run(m_sink->create_folder("f/sub"));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), (m_root / "f").string() + ": not a folder");
    }
}

}  // namespace
}  // namespace obsync::sink
