// AWS settings from the environment, error classification and the XML helpers: no network.

#include "aws/environment.hpp"

#include <map>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "aws/client.hpp"
#include "aws/xml.hpp"
#include "util/error.hpp"

namespace obsync::aws {
namespace {

AwsEnvironment::Lookup lookup_in(const std::map<std::string, std::string>& values) {
    return [values](const char* name) -> std::optional<std::string> {
        const auto it = values.find(name);
        return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
}

const std::map<std::string, std::string> k_keys = {{"AWS_ACCESS_KEY_ID", "AKID"},
                                                   {"AWS_SECRET_ACCESS_KEY", "s3cr3t-value"}};

TEST(AwsEnvironmentTest, ReadsKeysTokenAndRegionWithTheDefaultRegionAsFallback) {
    auto values = k_keys;
    values["AWS_SESSION_TOKEN"] = "token";
    values["AWS_DEFAULT_REGION"] = "eu-central-1";
    const auto env = AwsEnvironment::from_lookup(lookup_in(values));
    EXPECT_EQ(env.credentials().access_key_id, "AKID");
    EXPECT_EQ(env.credentials().session_token, "token");
    EXPECT_EQ(env.region(), "eu-central-1");
    values["AWS_REGION"] = "us-west-2";
    EXPECT_EQ(AwsEnvironment::from_lookup(lookup_in(values)).region(), "us-west-2");
}

TEST(AwsEnvironmentTest, MissingSettingsNameTheVariableButNeverAValue) {
    try {
        AwsEnvironment::from_lookup(lookup_in({{"AWS_SECRET_ACCESS_KEY", "s3cr3t-value"}}));
        FAIL() << "no access key id";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::config);
        EXPECT_NE(std::string(e.what()).find("AWS_ACCESS_KEY_ID"), std::string::npos);
        EXPECT_EQ(std::string(e.what()).find("s3cr3t-value"), std::string::npos);
    }
    EXPECT_THROW(AwsEnvironment::from_lookup(lookup_in(k_keys)), Error);  // no region
}

TEST(AwsEnvironmentTest, ServiceEndpointsWinOverTheGeneralOneWhichWinsOverAws) {
    auto values = k_keys;
    values["AWS_REGION"] = "eu-west-1";
    const auto plain = AwsEnvironment::from_lookup(lookup_in(values));
    EXPECT_EQ(plain.endpoint(Service::dynamodb), "https://dynamodb.eu-west-1.amazonaws.com");
    EXPECT_EQ(plain.endpoint(Service::secrets_manager),
              "https://secretsmanager.eu-west-1.amazonaws.com");
    EXPECT_EQ(plain.endpoint(Service::sqs), "https://sqs.eu-west-1.amazonaws.com");
    EXPECT_FALSE(plain.custom_endpoint(Service::s3));
    EXPECT_FALSE(plain.custom_endpoint(Service::sqs));
    EXPECT_FALSE(plain.s3_path_style());

    values["AWS_ENDPOINT_URL"] = "http://127.0.0.1:4566/";
    values["AWS_ENDPOINT_URL_DYNAMODB"] = "http://localhost:8000";
    const auto custom = AwsEnvironment::from_lookup(lookup_in(values));
    EXPECT_EQ(custom.endpoint(Service::s3), "http://127.0.0.1:4566");
    EXPECT_EQ(custom.endpoint(Service::dynamodb), "http://localhost:8000");
    EXPECT_EQ(custom.endpoint(Service::secrets_manager), "http://127.0.0.1:4566");
    EXPECT_EQ(custom.endpoint(Service::sqs), "http://127.0.0.1:4566");
    EXPECT_TRUE(custom.custom_endpoint(Service::sqs));
    EXPECT_TRUE(custom.s3_path_style());

    values["AWS_ENDPOINT_URL_SQS"] = "http://localhost:9324";
    EXPECT_EQ(AwsEnvironment::from_lookup(lookup_in(values)).endpoint(Service::sqs),
              "http://localhost:9324");
}

TEST(AwsEnvironmentTest, PlainHttpBeyondThisMachineAndPathsAreRefused) {
    auto values = k_keys;
    values["AWS_REGION"] = "eu-west-1";
    values["AWS_ENDPOINT_URL_S3"] = "http://minio.lan:9000";
    EXPECT_THROW(AwsEnvironment::from_lookup(lookup_in(values)), Error);
    values["AWS_ENDPOINT_URL_S3"] = "https://minio.lan:9000/some/path";
    EXPECT_THROW(AwsEnvironment::from_lookup(lookup_in(values)), Error);
}

TEST(AwsClassifyTest, CodesDecideAndStatusOnlyFillsIn) {
    EXPECT_EQ(classify("SlowDown", 503), AwsFailure::throttled);
    EXPECT_EQ(classify("ProvisionedThroughputExceededException", 400), AwsFailure::throttled);
    EXPECT_EQ(classify("RequestLimitExceeded", 400), AwsFailure::throttled);
    EXPECT_EQ(classify("ThrottlingException", 400), AwsFailure::throttled);
    EXPECT_EQ(classify("AccessDenied", 403), AwsFailure::access_denied);
    EXPECT_EQ(classify("SignatureDoesNotMatch", 403), AwsFailure::access_denied);
    EXPECT_EQ(classify("NoSuchBucket", 404), AwsFailure::no_such_bucket);
    EXPECT_EQ(classify("ResourceNotFoundException", 400), AwsFailure::resource_not_found);
    EXPECT_EQ(classify("ConditionalCheckFailedException", 400),
              AwsFailure::conditional_check_failed);
    EXPECT_EQ(classify("InternalError", 500), AwsFailure::unavailable);
    EXPECT_EQ(classify("Whatever", 502), AwsFailure::unavailable);
    EXPECT_EQ(classify("Whatever", 429), AwsFailure::throttled);
    EXPECT_EQ(classify("ValidationException", 400), AwsFailure::other);
    EXPECT_EQ(AwsError(AwsFailure::throttled, "SlowDown", 503, "m").kind(), ErrorKind::throttled);
    EXPECT_TRUE(AwsError(AwsFailure::unavailable, "InternalError", 500, "m").retryable());
    EXPECT_FALSE(AwsError(AwsFailure::access_denied, "AccessDenied", 403, "m").retryable());
    // A key S3 cannot hold: that file is refused for good, not retried and not a storage outage.
    EXPECT_EQ(classify("KeyTooLongError", 400), AwsFailure::invalid_key);
    EXPECT_EQ(AwsError(AwsFailure::invalid_key, "KeyTooLongError", 400, "m").kind(),
              ErrorKind::bad_input);
}

TEST(AwsClassifyTest, EveryRefusalByIamKmsOrKeysIsDeniedNotAnAccountAuthFailure) {
    for (const char* code :
         {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException",
          "InvalidSignatureException", "SignatureDoesNotMatch", "InvalidAccessKeyId",
          "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
          "KMS.AccessDeniedException", "KMSAccessDeniedException"}) {
        EXPECT_EQ(classify(code, 400), AwsFailure::access_denied) << code;
        EXPECT_EQ(AwsError(classify(code, 400), code, 400, "m").kind(), ErrorKind::denied) << code;
    }
    // Whatever AWS calls a 403, it is a refusal (the clock skew excepted: that one goes away).
    EXPECT_EQ(classify("AccountProblem", 403), AwsFailure::access_denied);
    EXPECT_EQ(classify("RequestTimeTooSkewed", 403), AwsFailure::unavailable);
    EXPECT_FALSE(AwsError(AwsFailure::access_denied, "AccessDenied", 403, "m").retryable());
}

TEST(AwsClassifyTest, AConflictWithATransactionIsThrottling) {
    EXPECT_EQ(classify("TransactionConflictException", 400), AwsFailure::throttled);
    EXPECT_EQ(classify("TransactionCanceledException", 400), AwsFailure::other);
}

TEST(AwsXmlTest, FindsElementsByNameAndDecodesEntities) {
    const std::string xml =
        "<ListBucketResult><Name>b</Name><Contents><Key>a &amp; b &#233;&#x1F600;.md</Key>"
        "</Contents><Contents><Key>c&lt;d</Key></Contents><KeyCount>2</KeyCount><Empty/>"
        "</ListBucketResult>";
    const auto contents = xml_blocks(xml, "Contents");
    ASSERT_EQ(contents.size(), 2U);
    EXPECT_EQ(xml_text(contents[0], "Key").value(), "a & b é😀.md");
    EXPECT_EQ(xml_text(contents[1], "Key").value(), "c<d");
    EXPECT_EQ(xml_text(xml, "KeyCount").value(), "2");  // not confused with <Key>
    EXPECT_EQ(xml_text(xml, "Empty").value(), "");
    EXPECT_FALSE(xml_text(xml, "Missing").has_value());
    EXPECT_THROW(xml_unescape("&bogus;"), Error);
    EXPECT_EQ(xml_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
}

}  // namespace
}  // namespace obsync::aws
