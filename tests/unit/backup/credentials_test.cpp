#include "backup/credentials.hpp"

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "support/test_util.hpp"

namespace obsync::backup {
namespace {

EnvLookup lookup_in(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        if (it == vars.end()) {
            return std::nullopt;
        }
        return it->second;
    };
}

const char* const k_secret_doc =
    R"({"email":"s@example.com","password":"secret-pw","totp_secret":"JBSWY3DPEHPK3PXP",)"
    R"("vaults":{"Notes":{"password":"notes-pw"},"v-2":{"password":"v2-pw"}}})";

TEST(CredentialsTest, TheSecretGivesAccountAndVaultPasswords) {
    const Credentials c = credentials_from_environment(
        lookup_in({{"OBSYNC_SECRET_ID", "obsync/creds"}}), [](const std::string& id) {
            EXPECT_EQ(id, "obsync/creds");
            return std::string(k_secret_doc);
        });
    EXPECT_EQ(c.email, "s@example.com");
    EXPECT_EQ(c.password, "secret-pw");
    EXPECT_EQ(c.totp_secret, "JBSWY3DPEHPK3PXP");
    EXPECT_EQ(c.password_for_vault("v-1", "Notes"), "notes-pw");
    EXPECT_EQ(c.password_for_vault("v-2", "Other"), "v2-pw");
    EXPECT_FALSE(c.password_for_vault("v-3", "Third").has_value());
}

TEST(CredentialsTest, VariablesOverrideTheSecretAndFlagsOverrideBoth) {
    Credentials flags;
    flags.password = "flag-pw";
    const Credentials c = credentials_from_environment(
        lookup_in({{"OBSYNC_SECRET_ID", "x"},
                   {"OBSIDIAN_EMAIL", "env@example.com"},
                   {"OBSIDIAN_PASSWORD", "env-pw"},
                   {"OBSIDIAN_VAULT_PASSWORD", "one-for-all"}}),
        [](const std::string&) { return std::string(k_secret_doc); }, flags);
    EXPECT_EQ(c.email, "env@example.com");
    EXPECT_EQ(c.password, "flag-pw");
    EXPECT_EQ(c.password_for_vault("v-1", "Notes"), "one-for-all");
}

// A secret that CloudFormation built from parameters holds "" for each one left unset (the
// template's secret has every field): an empty field must not become, say, an empty TOTP secret
// that every sign-in then fails on, nor an empty variable override a field of the secret.
TEST(CredentialsTest, EmptyFieldsAndVariablesAreAbsent) {
    const Credentials c = credentials_from_environment(
        lookup_in({{"OBSYNC_SECRET_ID", "obsync/creds"}, {"OBSIDIAN_PASSWORD", ""}}),
        [](const std::string&) {
            return std::string(R"({"email":"s@example.com","password":"pw","totp_secret":"",)"
                               R"("vaults":{"Notes":{"password":""}}})");
        });
    EXPECT_EQ(c.email, "s@example.com");
    EXPECT_EQ(c.password, "pw");
    EXPECT_FALSE(c.totp_secret.has_value());
    EXPECT_FALSE(c.password_for_vault("v-1", "Notes").has_value());
    EXPECT_TRUE(c.can_sign_in());
}

TEST(CredentialsTest, AFileAndASecretTogetherAreAConfigError) {
    EXPECT_EQ(test::error_kind_of([] {
                  (void)credentials_from_environment(
                      lookup_in({{"OBSYNC_SECRET_ID", "x"}, {"OBSYNC_CREDENTIALS", "/nope"}}),
                      [](const std::string&) { return std::string("{}"); });
              }),
              ErrorKind::config);
}

TEST(CredentialsTest, AMalformedSecretNamesTheSecretButNoValue) {
    try {
        (void)Credentials::from_document(R"({"email": 5, "password": "pw-value"})",
                                         "credentials secret obsync/creds");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("obsync/creds"), std::string::npos);
        EXPECT_EQ(message.find("pw-value"), std::string::npos);
    }
}

const std::string k_keyhash_a(64, 'a');
const std::string k_keyhash_b = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(CredentialsTest, AVaultEntryMayHoldAKeyhashInsteadOfOrBesidesAPassword) {
    const Credentials c = Credentials::from_document(
        R"({"vaults":{"Notes":{"keyhash":")" + k_keyhash_a +
            R"("},"v-2":{"password":"v2-pw","keyhash":")" + k_keyhash_b + R"("}}})",
        "credentials file f.json");
    EXPECT_EQ(c.keyhash_for_vault("v-1", "Notes"), k_keyhash_a);
    EXPECT_FALSE(c.password_for_vault("v-1", "Notes").has_value());
    EXPECT_EQ(c.keyhash_for_vault("v-2", "Other"), k_keyhash_b);
    EXPECT_EQ(c.password_for_vault("v-2", "Other"), "v2-pw");
    EXPECT_FALSE(c.keyhash_for_vault("v-3", "Third").has_value());
}

// Mirrors password_for_vault: the one for every vault, else the entry by id, else by name.
TEST(CredentialsTest, AKeyhashIsFoundByIdBeforeNameAndTheVariableWinsOverBoth) {
    Credentials c;
    c.vault_keyhashes["Notes"] = k_keyhash_a;
    c.vault_keyhashes["v-1"] = k_keyhash_b;
    EXPECT_EQ(c.keyhash_for_vault("v-1", "Notes"), k_keyhash_b);
    EXPECT_EQ(c.keyhash_for_vault("v-9", "Notes"), k_keyhash_a);

    const Credentials merged = credentials_from_environment(
        lookup_in({{"OBSYNC_SECRET_ID", "x"}, {"OBSIDIAN_VAULT_KEYHASH", k_keyhash_b}}),
        [](const std::string&) {
            return R"({"vaults":{"Notes":{"keyhash":")" + k_keyhash_a + R"("}}})";
        });
    EXPECT_EQ(merged.vault_keyhash, k_keyhash_b);
    EXPECT_EQ(merged.keyhash_for_vault("v-1", "Notes"), k_keyhash_b);
    EXPECT_EQ(merged.keyhash_for_vault("v-7", "Anything"), k_keyhash_b);
    EXPECT_EQ(merged.vault_keyhashes.at("Notes"), k_keyhash_a);  // kept, only outranked
}

TEST(CredentialsTest, OverrideWithMergesKeyhashes) {
    Credentials base;
    base.vault_keyhashes["Notes"] = k_keyhash_a;
    base.vault_keyhashes["Work"] = k_keyhash_a;
    Credentials other;
    other.vault_keyhashes["Work"] = k_keyhash_b;
    other.vault_keyhash = k_keyhash_b;
    base.override_with(other);
    EXPECT_EQ(base.vault_keyhashes.at("Notes"), k_keyhash_a);
    EXPECT_EQ(base.vault_keyhashes.at("Work"), k_keyhash_b);
    EXPECT_EQ(base.vault_keyhash, k_keyhash_b);
    // An override without keyhashes keeps them.
    base.override_with(Credentials{});
    EXPECT_EQ(base.vault_keyhash, k_keyhash_b);
}

// A keyhash is checked when it is read: a wrong one is a configuration error that names where it
// is (the entry and the field, or the variable) and never shows the value.
TEST(CredentialsTest, AKeyhashThatIsNot64LowercaseHexIsAConfigErrorWithoutItsValue) {
    const std::string upper = "ABCDEF" + k_keyhash_b.substr(6);
    for (const std::string& bad :
         {upper, k_keyhash_a.substr(1), k_keyhash_a + "a", "g" + k_keyhash_a.substr(1),
          std::string("not-a-keyhash-value")}) {
        try {
            (void)Credentials::from_document(
                R"({"vaults":{"Notes":{"password":"pw","keyhash":")" + bad + R"("}}})",
                "credentials secret obsync/creds");
            ADD_FAILURE() << "accepted " << bad;
        } catch (const Error& e) {
            const std::string message = e.what();
            EXPECT_EQ(e.kind(), ErrorKind::config);
            EXPECT_NE(message.find("obsync/creds"), std::string::npos) << message;
            EXPECT_NE(message.find("\"Notes\""), std::string::npos) << message;
            EXPECT_NE(message.find("keyhash"), std::string::npos) << message;
            EXPECT_EQ(message.find(bad), std::string::npos) << message;
        }
        try {
            (void)Credentials::from_variables(lookup_in({{"OBSIDIAN_VAULT_KEYHASH", bad}}));
            ADD_FAILURE() << "accepted " << bad;
        } catch (const Error& e) {
            const std::string message = e.what();
            EXPECT_EQ(e.kind(), ErrorKind::config);
            EXPECT_NE(message.find("OBSIDIAN_VAULT_KEYHASH"), std::string::npos) << message;
            EXPECT_EQ(message.find(bad), std::string::npos) << message;
        }
    }
}

// As for every other field, "" is absent (a CloudFormation-built secret writes "" for unset
// parameters): not a malformed keyhash.
TEST(CredentialsTest, AnEmptyKeyhashIsAbsent) {
    const Credentials c = credentials_from_environment(
        lookup_in({{"OBSYNC_SECRET_ID", "x"}, {"OBSIDIAN_VAULT_KEYHASH", ""}}),
        [](const std::string&) {
            return std::string(R"({"vaults":{"Notes":{"password":"pw","keyhash":""}}})");
        });
    EXPECT_FALSE(c.vault_keyhash.has_value());
    EXPECT_FALSE(c.keyhash_for_vault("v-1", "Notes").has_value());
    EXPECT_EQ(c.password_for_vault("v-1", "Notes"), "pw");
}

TEST(CachedSecretCredentialsTest, ReadsTheSecretOnceWhileItIsFresh) {
    int reads = 0;
    CachedSecretCredentials source("id",
                                   [&](const std::string&) {
                                       ++reads;
                                       return std::string(k_secret_doc);
                                   },
                                   {});
    EXPECT_EQ(source.current().email, "s@example.com");
    EXPECT_EQ(source.current().email, "s@example.com");
    EXPECT_EQ(reads, 1);
    EXPECT_EQ(source.reads(), 1);
}

TEST(CachedSecretCredentialsTest, ReadsAgainWhenOldOrAskedTo) {
    int reads = 0;
    std::string doc = k_secret_doc;
    CachedSecretCredentials source(
        "id",
        [&](const std::string&) {
            ++reads;
            return doc;
        },
        {}, std::chrono::seconds(0));
    (void)source.current();
    (void)source.current();  // max age 0: every use reads again
    EXPECT_EQ(reads, 2);

    CachedSecretCredentials rotating("id",
                                     [&](const std::string&) {
                                         ++reads;
                                         return doc;
                                     },
                                     {});
    EXPECT_EQ(rotating.current().password, "secret-pw");
    doc = R"({"email":"s@example.com","password":"rotated-pw"})";
    EXPECT_EQ(rotating.current().password, "secret-pw");  // still fresh
    EXPECT_TRUE(rotating.refresh());
    EXPECT_EQ(rotating.current().password, "rotated-pw");
}

TEST(CachedSecretCredentialsTest, OverridesWinOverTheSecret) {
    Credentials overrides;
    overrides.email = "env@example.com";
    CachedSecretCredentials source(
        "id", [&](const std::string&) { return std::string(k_secret_doc); }, overrides);
    EXPECT_EQ(source.current().email, "env@example.com");
    EXPECT_EQ(source.current().password, "secret-pw");
}

}  // namespace
}  // namespace obsync::backup
