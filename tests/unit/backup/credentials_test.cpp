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
