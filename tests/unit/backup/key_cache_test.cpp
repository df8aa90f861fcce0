#include "backup/key_cache.hpp"

#include <gtest/gtest.h>

namespace obsync::backup {
namespace {

obsidian::VaultInfo vault(const std::string& id, const std::string& salt) {
    obsidian::VaultInfo v;
    v.id = id;
    v.name = "Vault " + id;
    v.salt = salt;
    v.encryption_version = 3;
    return v;
}

TEST(KeyCacheTest, AVaultsKeyIsDerivedOnce) {
    KeyCache keys;
    const auto& first = keys.cipher(vault("v1", "salt-1"), "pw");
    const auto& again = keys.cipher(vault("v1", "salt-1"), "pw");
    EXPECT_EQ(&first, &again);
    EXPECT_EQ(keys.derivations(), 1);
    EXPECT_EQ(first.keyhash(),
              crypto::VaultCipher::from_password("pw", "salt-1", crypto::EncryptionVersion::v3)
                  .keyhash());
}

TEST(KeyCacheTest, AnotherPasswordSaltOrVaultDerivesAnew) {
    KeyCache keys;
    const std::string h1 = keys.cipher(vault("v1", "salt-1"), "pw").keyhash();
    const std::string h2 = keys.cipher(vault("v1", "salt-1"), "other").keyhash();
    const std::string h3 = keys.cipher(vault("v1", "salt-2"), "pw").keyhash();
    (void)keys.cipher(vault("v2", "salt-1"), "pw");
    EXPECT_EQ(keys.derivations(), 4);
    EXPECT_NE(h1, h2);
    EXPECT_NE(h1, h3);
}

TEST(KeyCacheTest, AKeyhashCipherIsKeptAndDerivesNothing) {
    KeyCache keys;
    const std::string keyhash(64, 'c');
    const auto& first = keys.keyhash_cipher(vault("v1", "salt-1"), keyhash);
    const auto& again = keys.keyhash_cipher(vault("v1", "salt-1"), keyhash);
    EXPECT_EQ(&first, &again);
    EXPECT_EQ(keys.derivations(), 0);
    EXPECT_FALSE(first.has_key());
    EXPECT_EQ(first.keyhash(), keyhash);
    EXPECT_EQ(first.version(), crypto::EncryptionVersion::v3);
    EXPECT_NE(&keys.keyhash_cipher(vault("v1", "salt-1"), std::string(64, 'd')), &first);
    EXPECT_NE(&keys.keyhash_cipher(vault("v2", "salt-1"), keyhash), &first);
}

// unlock_vault makes the keyhash cipher of a key it just derived, and keeps using the derived
// one's keyhash while it does: a full cache of keyhash ciphers must not drop the derived ones.
TEST(KeyCacheTest, KeyhashCiphersNeverEvictADerivedCipher) {
    KeyCache keys;
    const auto& derived = keys.cipher(vault("v1", "salt-1"), "pw");
    for (int i = 0; i < 200; ++i) {
        (void)keys.keyhash_cipher(vault("v" + std::to_string(i), "salt-1"), derived.keyhash());
    }
    EXPECT_EQ(&keys.cipher(vault("v1", "salt-1"), "pw"), &derived);
    EXPECT_EQ(keys.derivations(), 1);
}

}  // namespace
}  // namespace obsync::backup
