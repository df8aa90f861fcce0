#include "app/output.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "aws/client.hpp"

namespace obsync::app {
namespace {

// Boost.JSON's parser rejects invalid UTF-8, as strict readers do.
boost::json::value parse_strict(const std::string& text) {
    return boost::json::parse(text);
}

TEST(JsonText, InvalidUtf8BecomesReplacementCharactersAndTheDocumentParses) {
    const boost::json::object doc{{"path", "bad\xff\xfe.md"}, {"k\xc3", "v"}};
    const std::string text = json_text(doc);
    const auto parsed = parse_strict(text).as_object();
    EXPECT_EQ(parsed.at("path").as_string(), "bad\uFFFD\uFFFD.md");
    EXPECT_TRUE(parsed.contains("k\uFFFD"));
}

TEST(JsonText, ValidTextIsUnchangedAndControlsAreEscapedAsJson) {
    const boost::json::object doc{{"name", "caf\u00e9 \u65e5\u672c \x1b[31m\a\x7f\u0085\u202E"}};
    const std::string text = json_text(doc);
    for (const char c : text) {
        const auto b = static_cast<unsigned char>(c);
        EXPECT_TRUE(b >= 0x20 && b != 0x7f) << static_cast<int>(b);
    }
    EXPECT_EQ(text.find("\u202E"), std::string::npos);
    EXPECT_EQ(text.find("\u0085"), std::string::npos);
    EXPECT_NE(text.find("caf\u00e9 \u65e5\u672c"), std::string::npos);
    // The escapes decode to exactly the original string.
    EXPECT_EQ(parse_strict(text).as_object().at("name").as_string(),
              "caf\u00e9 \u65e5\u672c \x1b[31m\a\x7f\u0085\u202E");
}

TEST(JsonText, NestedArraysAndObjectsAreCleanedToo) {
    const boost::json::value doc = {{"vaults", {{{"errors", {{{"message", "x\xff"}}}}}}}};
    EXPECT_NO_THROW(parse_strict(json_text(doc)));
}

TEST(PutPath, AddsExactHexOnlyForInvalidUtf8) {
    boost::json::object ok;
    put_path(ok, "Notes/caf\u00e9.md");
    EXPECT_EQ(ok.at("path").as_string(), "Notes/caf\u00e9.md");
    EXPECT_FALSE(ok.contains("path_hex"));

    boost::json::object bad;
    put_path(bad, "a\xff");
    EXPECT_EQ(bad.at("path_hex").as_string(), "61ff");
    EXPECT_EQ(parse_strict(json_text(bad)).as_object().at("path").as_string(), "a\uFFFD");
}

std::vector<sync::PortabilityIssue> issues(std::size_t n) {
    std::vector<sync::PortabilityIssue> out;
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back({"n" + std::to_string(i) + ":", "has characters Windows does not allow"});
    }
    return out;
}

TEST(PortabilityText, NothingToSayIsEmpty) {
    EXPECT_EQ(portability_text({}), "");
}

TEST(PortabilityText, OneWarningWithEachPath) {
    EXPECT_EQ(portability_text({{"CON", "is a reserved device name on Windows"}}),
              "warning: 1 name may not restore on Windows or macOS:\n"
              "  CON: is a reserved device name on Windows\n");
    const std::string three = portability_text(issues(3));
    EXPECT_EQ(three.rfind("warning: 3 names may not restore on Windows or macOS:\n", 0), 0U);
    EXPECT_NE(three.find("  n2:: has characters"), std::string::npos);
}

TEST(PortabilityText, ListsTwentyThenHowManyMore) {
    const std::string text = portability_text(issues(25));
    EXPECT_EQ(text.rfind("warning: 25 names", 0), 0U);
    EXPECT_NE(text.find("  n19:"), std::string::npos);
    EXPECT_EQ(text.find("  n20:"), std::string::npos);
    EXPECT_NE(text.find("\n  and 5 more\n"), std::string::npos);
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 22);
}

TEST(PortabilityText, PathsAndReasonsAreEscapedAndShortened) {
    const std::string long_name = std::string(500, 'x') + ":";
    const std::string text = portability_text(
        {{"A\x1b[1m.md", "one name with \"a\x1b[1m.md\" on Windows and macOS"}, {long_name, "r"}});
    EXPECT_EQ(text.find('\x1b'), std::string::npos);
    EXPECT_NE(text.find(R"(  A\e[1m.md: one name with "a\e[1m.md")"), std::string::npos);
    EXPECT_EQ(text.find(long_name), std::string::npos);
    EXPECT_NE(text.find("\u2026"), std::string::npos);
}

TEST(ExitCode, AnAwsRefusalIsAConfigurationErrorNotALoginOne) {
    EXPECT_EQ(exit_code_for(Error(ErrorKind::denied, "S3 PutObject: AccessDenied (HTTP 403)")),
              k_exit_usage);
    EXPECT_EQ(exit_code_for(aws::AwsError(aws::AwsFailure::access_denied, "AccessDenied", 403,
                                          "S3 PutObject: AccessDenied (HTTP 403)")),
              k_exit_usage);
    EXPECT_EQ(exit_code_for(Error(ErrorKind::auth, "wrong password")), k_exit_login);
    EXPECT_EQ(exit_code_for(Error(ErrorKind::busy, "being synced")), k_exit_partial);
}

TEST(PortabilityJson, EveryIssueWithPathAndReason) {
    const auto json = portability_json({{"CON", "reserved"}, {"b\xff", "r"}});
    ASSERT_EQ(json.size(), 2U);
    EXPECT_EQ(json.at(0).as_object().at("path").as_string(), "CON");
    EXPECT_EQ(json.at(0).as_object().at("reason").as_string(), "reserved");
    EXPECT_EQ(json.at(1).as_object().at("path_hex").as_string(), "62ff");
    EXPECT_EQ(portability_json(issues(30)).size(), 30U);
}

TEST(ResultJson, CarriesPortabilityAndExactFailurePathsAndKinds) {
    sync::EngineResult result;
    result.failures.push_back(
        {"bad\xff.md", 7, "refused: the path is not valid UTF-8", ErrorKind::network});
    result.portability.push_back({"nul", "is a reserved device name on Windows"});
    obsidian::VaultInfo vault;
    vault.id = "v1";
    vault.name = "Vault";
    const auto parsed = parse_strict(json_text(result_json(vault, "/dest", result))).as_object();
    const auto& error = parsed.at("errors").as_array().at(0).as_object();
    EXPECT_EQ(error.at("path").as_string(), "bad\uFFFD.md");
    EXPECT_EQ(error.at("path_hex").as_string(), "626164ff2e6d64");
    EXPECT_EQ(error.at("kind").as_string(), "network");
    EXPECT_EQ(parsed.at("portability").as_array().at(0).as_object().at("path").as_string(), "nul");
}

}  // namespace
}  // namespace obsync::app
