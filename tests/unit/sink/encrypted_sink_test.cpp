#include "sink/encrypted_sink.hpp"

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "crypto/sha256.hpp"
#include "sink/local_dir.hpp"
#include "support/fake_server_process.hpp"
#include "support/files.hpp"
#include "support/run_coro.hpp"
#include "support/test_util.hpp"
#include "util/error.hpp"

namespace obsync::sink {
namespace {

namespace fs = std::filesystem;
using boost::asio::awaitable;

// Encoded paths as the server sends them: lowercase hex.
const std::string k_note = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const std::string k_folder = "ffeeddccbbaa99887766554433221100";

using test::list_tree;

class EncryptedLocal : public ::testing::Test {
protected:
    void SetUp() override {
        m_sink = make_encrypted_sink(open_local_dir(m_root), true);
        run(m_sink->prepare());
    }

    template <typename T>
    T run(awaitable<T> op) {
        return test::run_coro_value(m_io, std::move(op));
    }
    void run(awaitable<void> op) { test::run_coro(m_io, std::move(op)); }

    void put(const std::string& path, const std::string& blob, const std::string& hash) {
        sync::FileMeta meta;
        meta.mtime_ms = 1'700'000'000'000;
        meta.content_hash = hash;
        meta.size = blob.size();
        auto writer = run(m_sink->create_file(path, meta));
        run(writer->write(as_bytes(blob)));
        run(writer->commit());
    }

    std::string name(const std::string& encoded) {
        return "e/" + crypto::sha256_hex(as_bytes(encoded));
    }

    boost::asio::io_context m_io;
    test::TempDir m_dir;
    fs::path m_root = m_dir.path();
    std::unique_ptr<sync::Sink> m_sink;
};

TEST(EncryptedNames, DeriveFromTheEncodedPathOnly) {
    const std::string encoded = "00ff";
    EXPECT_EQ(encrypted_entry_name(encoded), "e/" + crypto::sha256_hex(as_bytes(encoded)));
    EXPECT_TRUE(is_encrypted_entry_name(encrypted_entry_name(encoded)));
    EXPECT_FALSE(is_encrypted_entry_name(encrypted_entry_name(encoded) + ".json"));
    EXPECT_FALSE(is_encrypted_entry_name("e/" + std::string(64, 'G')));
    EXPECT_FALSE(is_encrypted_entry_name("x/" + std::string(64, 'a')));
}

TEST(EncryptedNames, SidecarsRoundTripAndRejectWhatIsNotHex) {
    SidecarEntry entry{"abcd", "0123", 1'700'000'000'000, 44, false};
    const auto parsed = parse_sidecar(sidecar_document(entry));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->encoded_path, "abcd");
    EXPECT_EQ(parsed->encoded_hash, "0123");
    EXPECT_EQ(parsed->mtime_ms, 1'700'000'000'000);
    EXPECT_EQ(parsed->size, 44U);
    EXPECT_FALSE(parsed->folder);
    entry.folder = true;
    EXPECT_TRUE(parse_sidecar(sidecar_document(entry))->folder);
    EXPECT_FALSE(parse_sidecar(R"({"epath":"../x","hash":"","mtime":1,"size":0})"));
    EXPECT_FALSE(parse_sidecar(R"({"epath":"ab"})"));
    EXPECT_FALSE(parse_sidecar(R"({"epath":"abc","hash":"","mtime":1,"size":0})"));  // odd
    EXPECT_FALSE(parse_sidecar(R"({"epath":"ab","hash":")" + std::string(186, 'a') +
                               R"(","mtime":1,"size":0})"));  // no encoded hash is that long
    EXPECT_FALSE(parse_sidecar("not json"));
}

TEST_F(EncryptedLocal, StoresEachEntryFlatWithItsSidecar) {
    put(k_note, "iv-ciphertext-and-tag-bytes-here", "aa55");
    run(m_sink->create_folder(k_folder));
    std::vector<std::string> expected = {"e", name(k_folder), name(k_folder) + ".json",
                                         name(k_note), name(k_note) + ".json"};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(list_tree(m_root), expected);
    EXPECT_EQ(test::read_file(m_root / name(k_note)), "iv-ciphertext-and-tag-bytes-here");
    const auto note = parse_sidecar(test::read_file(m_root / (name(k_note) + ".json")));
    ASSERT_TRUE(note);
    EXPECT_EQ(note->encoded_path, k_note);
    EXPECT_EQ(note->encoded_hash, "aa55");
    EXPECT_EQ(note->size, 32U);
    EXPECT_FALSE(note->folder);
    EXPECT_TRUE(parse_sidecar(test::read_file(m_root / (name(k_folder) + ".json")))->folder);

    // The engine learns stored names, never sidecars, and removes by either name.
    const auto listed = run(m_sink->list_files());
    EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()),
              (std::set<std::string>{name(k_folder), name(k_note)}));
    EXPECT_EQ(m_sink->stored_name(k_note), name(k_note));
    run(m_sink->remove_file(name(k_note)));
    EXPECT_TRUE(run(m_sink->remove_folder_if_empty(k_folder)));
    EXPECT_EQ(list_tree(m_root), std::vector<std::string>{"e"});
}

TEST_F(EncryptedLocal, RefusesWhatIsNotAnEncodedPath) {
    for (const std::string& path :
         {std::string("Notes/plain.md"), std::string("abc"), std::string("ABCD"),
          std::string(k_max_encoded_path + 2, 'a')}) {
        EXPECT_EQ(test::error_kind_of([&] { put(path, "x", ""); }), ErrorKind::bad_input) << path;
    }
    EXPECT_TRUE(list_tree(m_root).empty());
}

}  // namespace
}  // namespace obsync::sink
