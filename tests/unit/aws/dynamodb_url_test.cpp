#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "state/dynamodb_store.hpp"
#include "support/test_util.hpp"
#include "util/error.hpp"

namespace obsync::state {
namespace {

TEST(DynamoDbUrl, NamesTheTable) {
    EXPECT_EQ(parse_dynamodb_url("dynamodb://obsync-state"), "obsync-state");
    EXPECT_EQ(parse_dynamodb_url("dynamodb://a_b.C-9"), "a_b.C-9");
    EXPECT_EQ(parse_dynamodb_url("dynamodb://abc"), "abc");
    const std::string longest(255, 'x');
    EXPECT_EQ(parse_dynamodb_url("dynamodb://" + longest), longest);
}

TEST(DynamoDbUrl, RefusesAnythingElseWithTheExpectedForm) {
    const std::vector<std::string> refused = {"",
                                              "dynamodb://",
                                              "dynamodb://ab",
                                              "dynamodb://" + std::string(256, 'x'),
                                              "dynamodb://table/extra",
                                              "dynamodb://tab le",
                                              "dynamodb://tablé",
                                              "dynamodb://t:able",
                                              "DynamoDB://table",
                                              "dynamodb:/table",
                                              "s3://bucket",
                                              "table",
                                              "dynamodb://table?x=1"};
    for (const std::string& bad : refused) {
        try {
            parse_dynamodb_url(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::config) << bad;
            EXPECT_NE(std::string(e.what()).find("dynamodb://TABLE"), std::string::npos)
                << e.what();
        }
    }
}

}  // namespace
}  // namespace obsync::state
