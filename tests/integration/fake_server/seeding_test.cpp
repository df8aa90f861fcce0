// `seed`, `inject` and `corrupt`: vaults encrypted exactly as the official client uploads them.
#include "seeding.hpp"

#include <algorithm>
#include <fstream>

#include "crypto/sha256.hpp"
#include "crypto/vault_cipher.hpp"
#include "fake_server_fixture.hpp"
#include "sqlite.hpp"
#include "util/error.hpp"

namespace obsync::fake::test {
namespace {

class SeedingTest : public FakeServerTest {
protected:
    SeedingTest() {
        const auto src = m_dir / "src";
        write_file(src / "Hello.md", "# Hello\n");
        write_file(src / "empty.md", "");
        write_file(src / ".obsidian" / "app.json", "{}");
        write_file(src / "Folder" / "Sub" / "note.md", "deep");
        write_file(src / "cafe\xcc\x81.md", "nfd name");  // NFD on disk, NFC in the vault
        std::filesystem::create_directories(src / "Empty folder");
    }

    SeedOptions options(int version) const {
        SeedOptions seed;
        seed.owner_email = "alice@example.com";
        seed.vault_name = "V" + std::to_string(version);
        seed.password = "pw";
        seed.encryption_version = version;
        seed.source_dir = m_dir / "src";
        return seed;
    }

    crypto::VaultCipher cipher(const Vault& vault, std::string_view password = "pw") const {
        return crypto::VaultCipher::from_password(
            password, vault.salt, crypto::encryption_version_from_int(vault.encryption_version));
    }
};

TEST_F(SeedingTest, SeedsEveryVersionLikeTheOfficialClient) {
    for (const int version : {0, 2, 3}) {
        const std::string id = seed_vault(m_store, options(version));
        const Vault vault = *m_store.find_vault(id);
        EXPECT_EQ(vault.id.size(), 32u);
        EXPECT_EQ(vault.salt.size(), 32u);
        EXPECT_EQ(vault.region, "local");
        EXPECT_FALSE(vault.password);
        const auto c = cipher(vault);
        EXPECT_EQ(c.keyhash(), vault.keyhash);

        std::vector<std::string> paths;
        for (const Record& record : m_store.all_records(id)) {
            const std::string path = c.decode(record.path);
            paths.push_back(path + (record.folder ? "/" : ""));
            EXPECT_EQ(record.device, "seed");
            if (record.folder) {
                EXPECT_EQ(record.hash, "");
                EXPECT_EQ(record.size, 0);
                continue;
            }
            const std::string blob = read_file(m_store.blob_path(id, record.uid));
            EXPECT_EQ(record.size, static_cast<std::int64_t>(blob.size()));
            const Bytes plain = c.decrypt_content(as_bytes(blob));
            EXPECT_EQ(c.decode(record.hash), crypto::sha256_hex(plain));
            EXPECT_EQ(record.mtime, record.ctime);
            EXPECT_GT(record.mtime, 0);
            if (path == "empty.md") {
                EXPECT_TRUE(blob.empty());  // §3.3: empty files are not encrypted
            }
            if (path == "caf\xc3\xa9.md") {
                EXPECT_EQ(to_string(plain), "nfd name");
            }
        }
        const std::vector<std::string> expected = {
            ".obsidian/",         ".obsidian/app.json", "Empty folder/",  "Folder/",  "Folder/Sub/",
            "Folder/Sub/note.md", "Hello.md",           "caf\xc3\xa9.md", "empty.md",
        };
        EXPECT_EQ(paths, expected) << "version " << version;
    }
}

TEST_F(SeedingTest, ManagedAndSharedVaults) {
    SeedOptions seed = options(3);
    seed.managed = true;
    seed.share_with = {"bob@example.com"};
    const Vault vault = *m_store.find_vault(seed_vault(m_store, seed));
    EXPECT_EQ(vault.password, "pw");
    const auto bob = m_store.accounts().find_user("bob@example.com");
    ASSERT_TRUE(bob);
    EXPECT_EQ(m_store.shared_vaults(bob->id).size(), 1u);
    EXPECT_FALSE(m_store.accounts().check_password(bob->id, ""));
    EXPECT_THROW(seed_vault(m_store, seed), Error);  // the name is taken
}

TEST_F(SeedingTest, AFailedSeedLeavesNothingBehind) {
    // A file that even root cannot read, sorted last so that records are written before it.
    const std::filesystem::path unreadable = "/proc/sys/vm/compact_memory";
    if (!std::filesystem::exists(unreadable) || std::ifstream(unreadable).is_open()) {
        GTEST_SKIP() << "needs " << unreadable << " to exist and refuse reading";
    }
    std::filesystem::create_symlink(unreadable, m_dir / "src" / "zz-unreadable");
    SeedOptions seed = options(3);
    seed.share_with = {"bob@example.com"};
    EXPECT_THROW(seed_vault(m_store, seed), Error);

    const User alice = *m_store.accounts().find_user("alice@example.com");
    EXPECT_TRUE(m_store.owned_vaults(alice.id).empty());
    EXPECT_TRUE(m_store.shared_vaults(m_store.accounts().find_user("bob@example.com")->id).empty());
    EXPECT_TRUE(std::filesystem::is_empty(m_dir / "data" / "blobs"));
    Database db(m_dir / "data" / "fake-server.db");
    for (const char* table : {"records", "shares", "vaults"}) {
        auto count = db.prepare(std::string("SELECT COUNT(*) FROM ") + table);
        ASSERT_TRUE(count.step());
        EXPECT_EQ(count.column_int(0), 0) << table;
    }

    // The name is still free.
    std::filesystem::remove(m_dir / "src" / "zz-unreadable");
    const std::string id = seed_vault(m_store, seed);
    EXPECT_EQ(m_store.find_vault_by_name("V3").id, id);
    EXPECT_EQ(m_store.all_records(id).size(), 9u);
}

TEST_F(SeedingTest, UnpublishedVaultsAreInvisible) {
    const User alice = m_store.accounts().ensure_user("alice@example.com");
    const std::string id = m_store.new_vault_id();
    Record folder;
    folder.path = "p";
    folder.folder = true;
    EXPECT_EQ(m_store.append_record(id, folder, std::nullopt), 1);
    EXPECT_FALSE(m_store.find_vault(id));
    EXPECT_TRUE(m_store.owned_vaults(alice.id).empty());

    Vault vault;
    vault.id = id;
    vault.owner_id = alice.id;
    vault.name = "V";
    vault.keyhash = "ab";
    const Vault published = m_store.publish_vault(vault);
    EXPECT_GT(published.created_ms, 0);
    ASSERT_EQ(m_store.owned_vaults(alice.id).size(), 1u);
    m_store.discard_unpublished_vault(id);  // published: a no-op
    EXPECT_EQ(m_store.max_uid(id), 1);

    vault.id = m_store.new_vault_id();
    EXPECT_THROW(m_store.publish_vault(vault), Error);  // the name was taken meanwhile
    m_store.discard_unpublished_vault(vault.id);
    EXPECT_FALSE(std::filesystem::exists(m_dir / "data" / "blobs" / vault.id));
}

TEST_F(SeedingTest, InjectKeepsHostilePathsByteForByte) {
    const std::string id = seed_vault(m_store, options(3));
    const auto c = cipher(*m_store.find_vault(id));
    InjectOptions inject;
    inject.vault = "V3";
    inject.password = "pw";
    for (const std::string raw : {"../evil.md", "/etc/passwd", "a//b", "a\\0b.md"}) {
        inject.raw_path = raw;
        const auto record = m_store.find_record(id, inject_record(m_store, inject));
        ASSERT_TRUE(record);
        EXPECT_EQ(c.decode(record->path), unescape_nul(raw));
    }
    EXPECT_EQ(unescape_nul("a\\0b"), std::string("a\0b", 3));
    inject.raw_path = "gone.md";
    inject.kind = InjectOptions::Kind::deleted;
    EXPECT_TRUE(m_store.find_record(id, inject_record(m_store, inject))->deleted);
    inject.password = "wrong";
    EXPECT_THROW(inject_record(m_store, inject), Error);
}

TEST_F(SeedingTest, CorruptBreaksTheLatestBlobOfAPath) {
    const std::string id = seed_vault(m_store, options(2));
    const auto c = cipher(*m_store.find_vault(id));
    const std::int64_t uid = corrupt_blob(m_store, "V2", "pw", "Hello.md");
    const std::string blob = read_file(m_store.blob_path(id, uid));
    EXPECT_THROW(c.decrypt_content(as_bytes(blob)), Error);
    EXPECT_THROW(corrupt_blob(m_store, "V2", "pw", "empty.md"), Error);  // nothing to flip
    EXPECT_THROW(corrupt_blob(m_store, "V2", "pw", "missing.md"), Error);
}

}  // namespace
}  // namespace obsync::fake::test
