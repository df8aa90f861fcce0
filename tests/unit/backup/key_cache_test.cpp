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

}  // namespace
}  // namespace obsync::backup
