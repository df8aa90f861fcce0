// An encrypted-at-rest backup read back (issue #15), on a local folder laid out as the encrypted
// sink writes it: bodies under e/<sha256 of the encoded path>, sidecars beside them. S3 and the
// command line are tested end to end in tests/integration/aws/encrypted_restore_test.cpp.
#include "archive/encrypted_reader.hpp"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "archive/readers.hpp"
#include "archive/restore.hpp"
#include "crypto/sha256.hpp"
#include "sink/encrypted_sink.hpp"
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

std::string text_of(const Bytes& bytes) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

class EncryptedReaderTest : public ::testing::Test {
protected:
    // One scrypt run for the whole suite: it takes a tenth of a second.
    static const crypto::VaultCipher& cipher() {
        static const crypto::VaultCipher c = crypto::VaultCipher::from_password(
            "correct horse", "some salt", crypto::EncryptionVersion::v3);
        return c;
    }

    test::TempDir dir;
    fs::path backup = dir.path() / "backup";
    fs::path out = dir.path() / "out";
    boost::asio::io_context io;

    fs::path body_of(const std::string& path) const {
        return backup / sink::encrypted_entry_name(cipher().encode(path));
    }

    // One entry as the encrypted sink stores it in a folder: the server's blob and its sidecar.
    void put(const std::string& path, const std::string& content, std::int64_t mtime_ms,
             bool folder = false) {
        const std::string encoded = cipher().encode(path);
        const std::string blob =
            folder || content.empty()
                ? std::string()
                : text_of(cipher().encrypt_content(as_bytes(std::string_view(content))));
        sink::SidecarEntry sidecar;
        sidecar.encoded_path = encoded;
        sidecar.encoded_hash = folder ? "" : cipher().encode(hash(content));
        sidecar.mtime_ms = mtime_ms;
        sidecar.size = blob.size();
        sidecar.folder = folder;
        write_file(body_of(path), blob);
        write_file(body_of(path).string() + ".json", sink::sidecar_document(sidecar));
    }

    std::unique_ptr<BackupReader> reader(bool keyed) {
        return open_encrypted_reader(open_local_reader(backup, {}), keyed ? &cipher() : nullptr,
                                     EncryptedMetadata::sidecars);
    }

    std::vector<ArchivedEntry> list(BackupReader& r) { return test::run_coro_value(io, r.list()); }

    void make_vault() {
        put("Notes", "", 1'700'000'000'000, true);
        put("Notes/a.md", "alpha, a longer note", 1'700'000'001'000);
        put("b.md", "beta", 1'700'000'002'000);
        put("empty.md", "", 1'700'000'003'000);
        write_file(backup / ".obsync/backup.json", R"({"format":2,"layout":"encrypted"})");
    }
};

TEST_F(EncryptedReaderTest, WithTheKeyPresentsTheVaultAndReadsItsPlaintext) {
    make_vault();
    const auto r = reader(true);
    const std::vector<ArchivedEntry> entries = list(*r);
    std::vector<std::string> paths;
    for (const ArchivedEntry& e : entries) {
        paths.push_back(e.path + (e.folder ? "/" : ""));
    }
    EXPECT_EQ(paths, (std::vector<std::string>{"Notes/", "Notes/a.md", "b.md", "empty.md"}));
    EXPECT_TRUE(r->skipped().empty());
    EXPECT_TRUE(r->unreadable().empty());
    const ArchivedEntry& a = entries[1];
    EXPECT_EQ(a.size, std::string("alpha, a longer note").size());
    EXPECT_EQ(a.recorded.content_hash, hash("alpha, a longer note"));
    EXPECT_EQ(a.recorded.mtime_ms, 1'700'000'001'000);
    EXPECT_EQ(entries[3].size, 0U);

    const HashedRead read = test::run_coro_value(io, read_hashed(*r, a));
    EXPECT_EQ(read.hash, hash("alpha, a longer note"));
    EXPECT_EQ(read.recorded.content_hash, read.hash);
    EXPECT_EQ(read.recorded.mtime_ms, 1'700'000'001'000);
    EXPECT_EQ(test::run_coro_value(io, read_hashed(*r, entries[3])).hash, hash(""));
    EXPECT_NE(test::run_coro_value(io, r->marker()), std::nullopt);
}

TEST_F(EncryptedReaderTest, WithoutTheKeyEntriesKeepTheirEncodedPathsSizesAndHashes) {
    make_vault();
    const auto r = reader(false);
    const std::vector<ArchivedEntry> entries = list(*r);
    ASSERT_EQ(entries.size(), 4U);
    const std::string encoded = cipher().encode("b.md");
    const auto b = std::find_if(entries.begin(), entries.end(),
                                [&](const ArchivedEntry& e) { return e.path == encoded; });
    ASSERT_NE(b, entries.end());
    EXPECT_EQ(b->size, fs::file_size(body_of("b.md")));
    EXPECT_EQ(b->size, 4U + 28U);
    EXPECT_EQ(b->recorded.content_hash, cipher().encode(hash("beta")));

    // The blob as stored; read_decrypted decrypts and hashes it with the key.
    const HashedRead raw = test::run_coro_value(io, read_hashed(*r, *b));
    EXPECT_EQ(raw.bytes, b->size);
    const HashedRead plain = test::run_coro_value(io, read_decrypted(*r, *b, cipher()));
    EXPECT_EQ(plain.hash, hash("beta"));
    EXPECT_EQ(plain.bytes, 4U);
    EXPECT_EQ(plain.recorded.content_hash, cipher().encode(hash("beta")));
}

TEST_F(EncryptedReaderTest, ATamperedBlobFailsItsTagAndIsNotRestored) {
    make_vault();
    std::string blob = read_file(body_of("b.md"));
    blob[14] = static_cast<char>(blob[14] ^ 0x01);
    write_file(body_of("b.md"), blob);

    const auto r = reader(true);
    const std::vector<ArchivedEntry> entries = list(*r);
    try {
        test::run_coro_value(io, read_hashed(*r, entries[2]));
        FAIL() << "a tampered blob was read";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::crypto);
    }
    const auto keyless = reader(false);
    const std::vector<ArchivedEntry> encoded = list(*keyless);
    const auto b = std::find_if(encoded.begin(), encoded.end(), [&](const ArchivedEntry& e) {
        return e.path == cipher().encode("b.md");
    });
    ASSERT_NE(b, encoded.end());
    EXPECT_THROW(test::run_coro_value(io, read_decrypted(*keyless, *b, cipher())), Error);

    const RestoreResult result =
        test::run_coro_value(io, restore(*reader(true), out, RestoreOptions{}, nullptr));
    ASSERT_EQ(result.failures.size(), 1U);
    EXPECT_EQ(result.failures[0].path, "b.md");
    EXPECT_EQ(result.failures[0].kind, ErrorKind::crypto);
    EXPECT_FALSE(fs::exists(out / "b.md"));
    EXPECT_EQ(read_file(out / "Notes/a.md"), "alpha, a longer note");
    EXPECT_EQ(read_file(out / "empty.md"), "");
    struct stat st {};
    ASSERT_EQ(::stat((out / "Notes/a.md").c_str(), &st), 0);
    EXPECT_EQ(st.st_mtim.tv_sec, 1'700'000'001);  // the mtime the sidecar recorded
}

TEST_F(EncryptedReaderTest, BodiesWithoutASidecarAreSkippedAndMovedMetadataIsRefused) {
    make_vault();
    put("c.md", "gamma", 1'700'000'004'000);
    fs::remove(body_of("c.md").string() + ".json");  // a run killed between body and sidecar
    write_file(backup / "e/stray.txt", "not ours");
    // b.md's sidecar put beside a.md's body: a.md would come back with b.md's name.
    fs::copy_file(body_of("b.md").string() + ".json", body_of("Notes/a.md").string() + ".json",
                  fs::copy_options::overwrite_existing);
    // A sidecar whose encoded path does not decrypt (but names its body right).
    std::string forged = cipher().encode("d.md");
    forged[forged.size() - 2] = forged[forged.size() - 2] == '0' ? '1' : '0';
    sink::SidecarEntry sidecar;
    sidecar.encoded_path = forged;
    sidecar.encoded_hash = cipher().encode(hash("delta"));
    const fs::path forged_body = backup / sink::encrypted_entry_name(forged);
    write_file(forged_body, "whatever");
    write_file(forged_body.string() + ".json", sink::sidecar_document(sidecar));

    const auto r = reader(true);
    std::vector<std::string> paths;
    for (const ArchivedEntry& e : list(*r)) {
        paths.push_back(e.path);
    }
    EXPECT_EQ(paths, (std::vector<std::string>{"Notes", "b.md", "empty.md"}));
    const std::vector<std::string> skipped = r->skipped();
    EXPECT_EQ(skipped.size(), 2U);
    std::vector<std::string> unreadable;
    for (const UnreadableEntry& u : r->unreadable()) {
        unreadable.push_back(u.name);
        EXPECT_EQ(u.kind, ErrorKind::crypto);
    }
    std::sort(unreadable.begin(), unreadable.end());
    std::vector<std::string> expected = {sink::encrypted_entry_name(cipher().encode("Notes/a.md")),
                                         sink::encrypted_entry_name(forged)};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(unreadable, expected);

    // A restore writes what it can place and fails the rest.
    const RestoreResult result =
        test::run_coro_value(io, restore(*reader(true), out, RestoreOptions{}, nullptr));
    EXPECT_EQ(result.failures.size(), 2U);
    EXPECT_EQ(result.written, 2);
    EXPECT_EQ(read_file(out / "b.md"), "beta");
    EXPECT_FALSE(fs::exists(out / "Notes/a.md"));
}

TEST_F(EncryptedReaderTest, AKeyhashOnlyCipherIsRefused) {
    const crypto::VaultCipher keyhash_only =
        crypto::VaultCipher::keyhash_only(cipher().keyhash(), crypto::EncryptionVersion::v3);
    EXPECT_THROW(open_encrypted_reader(open_local_reader(backup, {}), &keyhash_only,
                                       EncryptedMetadata::sidecars),
                 Error);
}

}  // namespace
}  // namespace obsync::archive
