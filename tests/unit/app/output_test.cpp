#include "app/output.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

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

TEST(ResultJson, CarriesExactFailurePaths) {
    sync::EngineResult result;
    result.failures.push_back({"bad\xff.md", 7, "refused: the path is not valid UTF-8"});
    obsidian::VaultInfo vault;
    vault.id = "v1";
    vault.name = "Vault";
    const auto parsed = parse_strict(json_text(result_json(vault, "/dest", result))).as_object();
    const auto& error = parsed.at("errors").as_array().at(0).as_object();
    EXPECT_EQ(error.at("path").as_string(), "bad\uFFFD.md");
    EXPECT_EQ(error.at("path_hex").as_string(), "626164ff2e6d64");
}

}  // namespace
}  // namespace obsync::app
