// The REST side of the fake server (protocol §1, §2, §7 REST), without HTTP.
#include "rest_api.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>

#include "crypto/totp.hpp"
#include "crypto/vault_cipher.hpp"
#include "fake_server_fixture.hpp"

namespace obsync::fake::test {
namespace {

constexpr std::string_view k_host = "127.0.0.1:4242";
constexpr std::string_view k_secret = "JBSWY3DPEHPK3PXP";

class RestApiTest : public FakeServerTest {
protected:
    RestApiTest() : m_api(m_store, m_options, std::string(k_host)) {
        m_store.accounts().set_credentials("alice@example.com", "hunter2", "");
        m_store.accounts().set_credentials("bob@example.com", "pw", k_secret);
    }

    boost::json::object call(std::string_view path, const boost::json::object& body) {
        const RestReply reply = m_api.handle(path, boost::json::serialize(body));
        auto object = parse(reply.body);
        // §1.1: a success must not carry an `error` key at all; a failure must.
        EXPECT_EQ(object.contains("error"), !reply.error.empty()) << reply.body;
        return object;
    }

    std::string signin(std::string_view email, std::string_view password) {
        auto reply = call("/user/signin", {{"email", email}, {"password", password}, {"mfa", ""}});
        return std::string(reply.at("token").as_string());
    }

    static std::string error_of(const boost::json::object& reply) {
        return reply.contains("error") ? std::string(reply.at("error").as_string()) : "";
    }

    ServerOptions m_options;
    RestApi m_api;
};

TEST_F(RestApiTest, SigninReturnsTokenNameAndEmail) {
    auto reply = call("/user/signin",
                      {{"email", "Alice@Example.com"}, {"password", "hunter2"}, {"mfa", ""}});
    EXPECT_EQ(reply.at("name").as_string(), "alice");
    EXPECT_EQ(reply.at("email").as_string(), "alice@example.com");
    EXPECT_EQ(reply.at("token").as_string().size(), 32u);
    auto info = call("/user/info", {{"token", reply.at("token")}});
    EXPECT_EQ(info.at("email").as_string(), "alice@example.com");
}

TEST_F(RestApiTest, WrongPasswordAndPasswordlessUsersFail) {
    m_store.accounts().ensure_user("seeded@example.com");  // as `seed` creates owners
    EXPECT_NE(error_of(call("/user/signin", {{"email", "alice@example.com"}, {"password", "x"}}))
                  .find("Login failed"),
              std::string::npos);
    EXPECT_FALSE(error_of(call("/user/signin", {{"email", "seeded@example.com"}, {"password", ""}}))
                     .empty());
}

TEST_F(RestApiTest, TwoFactorAccountsFollowTheClientsSubstrings) {
    // §1.3: the client prompts on "2FA code" unless the text says "2FA code is incorrect".
    const auto missing = error_of(
        call("/user/signin", {{"email", "bob@example.com"}, {"password", "pw"}, {"mfa", ""}}));
    EXPECT_NE(missing.find("2FA code"), std::string::npos);
    EXPECT_EQ(missing.find("2FA code is incorrect"), std::string::npos);
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const std::string good = crypto::totp_from_base32(k_secret, now);
    const std::string bad = good == "000000" ? "111111" : "000000";
    EXPECT_NE(error_of(call("/user/signin",
                            {{"email", "bob@example.com"}, {"password", "pw"}, {"mfa", bad}}))
                  .find("2FA code is incorrect"),
              std::string::npos);
    auto ok =
        call("/user/signin", {{"email", "bob@example.com"}, {"password", "pw"}, {"mfa", good}});
    EXPECT_TRUE(ok.contains("token"));
}

TEST_F(RestApiTest, BadRequestsGetAnErrorObject) {
    EXPECT_EQ(parse(m_api.handle("/nope", "{}").body).at("error").as_string(), "Not found");
    for (const char* body : {"", "not json", "[1,2]", "{\"token\":", "null"}) {
        EXPECT_TRUE(parse(m_api.handle("/vault/list", body).body).contains("error")) << body;
    }
    EXPECT_FALSE(error_of(call("/user/info", {{"token", "0123"}})).empty());
}

TEST_F(RestApiTest, FieldsOfTheWrongTypeAreCleanProtocolErrors) {
    // Named field, no "Internal error", and never the body (it may carry a password).
    EXPECT_EQ(error_of(call("/vault/list", {{"token", 42}})),
              "Invalid request: field 'token' is not a string");
    EXPECT_EQ(error_of(call("/user/signin", {{"email", "alice@example.com"},
                                             {"password", boost::json::array{"hunter2"}}})),
              "Invalid request: field 'password' is not a string");
    const std::string token = signin("alice@example.com", "hunter2");
    EXPECT_EQ(
        error_of(call(
            "/vault/create",
            {{"token", token}, {"name", "V"}, {"keyhash", nullptr}, {"encryption_version", "3"}})),
        "Invalid request: field 'encryption_version' is not an integer");
    EXPECT_EQ(error_of(call("/vault/create",
                            {{"token", token}, {"name", "V"}, {"keyhash", 7}, {"salt", "s"}})),
              "Invalid request: field 'keyhash' is not a string");
    EXPECT_EQ(error_of(call("/vault/create",
                            {{"token", token}, {"name", "V"}, {"keyhash", "xyz!"}, {"salt", "s"}})),
              "Invalid keyhash: it is not hex.");
    EXPECT_TRUE(
        m_store.owned_vaults(m_store.accounts().find_user("alice@example.com")->id).empty());
}

TEST_F(RestApiTest, CreateListAndAccessEndToEndAndManagedVaults) {
    const std::string token = signin("alice@example.com", "hunter2");
    const auto e2e = crypto::VaultCipher::from_password("correct horse", "c8bb2e693dda64f9",
                                                        crypto::EncryptionVersion::v3);
    auto created = call("/vault/create", {{"token", token},
                                          {"name", "E2E"},
                                          {"keyhash", e2e.keyhash()},
                                          {"salt", "c8bb2e693dda64f9"},
                                          {"region", "local"},
                                          {"encryption_version", 3}});
    EXPECT_EQ(created.at("region").as_string(), "local");
    auto managed = call("/vault/create", {{"token", token},
                                          {"name", "Std"},
                                          {"keyhash", nullptr},
                                          {"region", ""},
                                          {"encryption_version", 3}});
    EXPECT_FALSE(
        error_of(call("/vault/create",
                      {{"token", token}, {"name", "Std"}, {"keyhash", nullptr}, {"region", ""}}))
            .empty())
        << "duplicate names would make the client's lookup by name ambiguous";

    auto list = call("/vault/list", {{"token", token}, {"supported_encryption_version", 3}});
    const auto& vaults = list.at("vaults").as_array();
    ASSERT_EQ(vaults.size(), 2u);
    EXPECT_TRUE(list.at("shared").as_array().empty());
    for (const auto& value : vaults) {
        const auto& entry = value.as_object();
        EXPECT_EQ(entry.at("host").as_string(), k_host);
        EXPECT_EQ(entry.at("encryption_version").as_int64(), 3);
        const bool is_managed = entry.at("id") == managed.at("id");
        EXPECT_EQ(entry.contains("password"), is_managed);
        if (is_managed) {
            // The server must be able to check the keyhash the client derives (§2).
            const auto cipher = crypto::VaultCipher::from_password(entry.at("password").as_string(),
                                                                   entry.at("salt").as_string(),
                                                                   crypto::EncryptionVersion::v3);
            auto access = call("/vault/access", {{"token", token},
                                                 {"vault_uid", entry.at("id")},
                                                 {"keyhash", cipher.keyhash()},
                                                 {"host", k_host},
                                                 {"encryption_version", 3}});
            EXPECT_TRUE(access.empty());
        }
    }
    EXPECT_TRUE(
        call("/vault/access",
             {{"token", token}, {"vault_uid", created.at("id")}, {"keyhash", e2e.keyhash()}})
            .empty());
    // Keyhashes are hex in any case; anything that is not hex is simply a wrong key.
    std::string upper = e2e.keyhash();
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    EXPECT_TRUE(call("/vault/access",
                     {{"token", token}, {"vault_uid", created.at("id")}, {"keyhash", upper}})
                    .empty());
    for (const std::string& bad : std::vector<std::string>{"", "not hex", e2e.keyhash() + "0"}) {
        EXPECT_EQ(
            error_of(call("/vault/access",
                          {{"token", token}, {"vault_uid", created.at("id")}, {"keyhash", bad}})),
            "Invalid encryption key.")
            << bad;
    }
    EXPECT_FALSE(error_of(call("/vault/access", {{"token", token},
                                                 {"vault_uid", created.at("id")},
                                                 {"keyhash", std::string(64, '0')}}))
                     .empty());
    // Bob neither owns the vault nor has it shared with him. (He has 2FA: sign him in directly.)
    const std::string bob =
        m_store.accounts().create_token(m_store.accounts().find_user("bob@example.com")->id);
    EXPECT_NE(error_of(call("/vault/access", {{"token", bob},
                                              {"vault_uid", created.at("id")},
                                              {"keyhash", e2e.keyhash()}}))
                  .find("Vault not found"),
              std::string::npos);
}

TEST_F(RestApiTest, SharedVaultsAndRegions) {
    const Vault vault =
        make_vault(m_store.accounts().find_user("bob@example.com")->id, "Bob's", "k");
    m_store.share_vault(vault.id, m_store.accounts().find_user("alice@example.com")->id);
    const std::string token = signin("alice@example.com", "hunter2");
    auto list = call("/vault/list", {{"token", token}});
    ASSERT_EQ(list.at("shared").as_array().size(), 1u);
    EXPECT_EQ(list.at("shared").as_array()[0].as_object().at("id").as_string(), vault.id);
    auto regions = call("/vault/regions", {{"token", token}});
    EXPECT_EQ(regions.at("regions").as_array()[0].as_object().at("value").as_string(), "local");
    EXPECT_TRUE(call("/user/signout", {{"token", token}}).empty());
    EXPECT_FALSE(error_of(call("/vault/list", {{"token", token}})).empty());
}

TEST_F(RestApiTest, TokensExpireAfterTheirTtl) {
    m_options.token_ttl_seconds = 1;
    const std::string token = signin("alice@example.com", "hunter2");
    EXPECT_TRUE(error_of(call("/user/info", {{"token", token}})).empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    EXPECT_FALSE(error_of(call("/user/info", {{"token", token}})).empty());
}

}  // namespace
}  // namespace obsync::fake::test
