// S3 helpers that need no network: s3:// locations, key decoding, content types.

#include "aws/s3.hpp"

#include <map>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "sink/s3_sink.hpp"
#include "util/error.hpp"

namespace obsync::aws {
namespace {

ErrorKind kind_of_parse(const std::string& text) {
    try {
        parse_s3_location(text);
    } catch (const Error& error) {
        return error.kind();
    }
    return ErrorKind::storage;  // "did not throw"
}

TEST(S3LocationTest, ParsesBucketAndPrefix) {
    const S3Location location = parse_s3_location("s3://my-backups/obsidian/work");
    EXPECT_EQ(location.bucket, "my-backups");
    EXPECT_EQ(location.prefix, "obsidian/work");
}

TEST(S3LocationTest, PrefixLosesLeadingAndTrailingSlashesAndMayBeEmpty) {
    EXPECT_EQ(parse_s3_location("s3://bucket.with.dots").prefix, "");
    EXPECT_EQ(parse_s3_location("s3://bucket-1/").prefix, "");
    EXPECT_EQ(parse_s3_location("s3://bucket-1//vault/").prefix, "vault");
    EXPECT_EQ(parse_s3_location("s3://abc/Café notes").prefix, "Café notes");
}

TEST(S3LocationTest, RejectsOtherSchemesAndBadBucketsWithTheExpectedForm) {
    for (const char* text : {"", "s3://", "s3:///prefix", "https://bucket/prefix", "bucket/prefix",
                             "s3://UpperCase/x", "s3://ab", "s3://-bucket", "s3://bucket-",
                             "s3://bad..dots", "s3://under_score", "s3://space bucket/x"}) {
        EXPECT_EQ(kind_of_parse(text), ErrorKind::config) << text;
    }
    try {
        parse_s3_location("s3:///x");
        FAIL();
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("s3://BUCKET/PREFIX"), std::string::npos);
    }
}

TEST(S3LocationTest, RejectsPrefixesWithDotOrEmptySegments) {
    for (const char* text : {"s3://bucket/a//b", "s3://bucket/a/../b", "s3://bucket/./a",
                             "s3://bucket/..", "s3://bucket/a\tb"}) {
        EXPECT_EQ(kind_of_parse(text), ErrorKind::config) << text;
    }
}

TEST(S3UrlDecodeTest, DecodesEscapesAndPlusAsSpace) {
    EXPECT_EQ(s3_url_decode("a+b%2Bc%20d"), "a b+c d");
    EXPECT_EQ(s3_url_decode("Caf%C3%A9/x.md"), "Café/x.md");
    EXPECT_THROW(s3_url_decode("bad%2"), Error);
    EXPECT_THROW(s3_url_decode("bad%zz"), Error);
}

TEST(ContentTypeTest, FollowsTheExtensionCaseInsensitively) {
    using sink::content_type_for;
    EXPECT_EQ(content_type_for("Notes/a.md"), "text/markdown; charset=utf-8");
    EXPECT_EQ(content_type_for("Notes/A.MD"), "text/markdown; charset=utf-8");
    EXPECT_EQ(content_type_for("x.txt"), "text/plain; charset=utf-8");
    EXPECT_EQ(content_type_for("board.canvas"), "application/json");
    EXPECT_EQ(content_type_for(".obsidian/app.json"), "application/json");
    EXPECT_EQ(content_type_for("img/p.PNG"), "image/png");
    EXPECT_EQ(content_type_for("img/p.jpg"), "image/jpeg");
    EXPECT_EQ(content_type_for("img/p.JPEG"), "image/jpeg");
    EXPECT_EQ(content_type_for("a.gif"), "image/gif");
    EXPECT_EQ(content_type_for("a.webp"), "image/webp");
    EXPECT_EQ(content_type_for("a.svg"), "image/svg+xml");
    EXPECT_EQ(content_type_for("a.bmp"), "image/bmp");
    EXPECT_EQ(content_type_for("a.avif"), "image/avif");
    EXPECT_EQ(content_type_for("doc.pdf"), "application/pdf");
    EXPECT_EQ(content_type_for("a.mp3"), "audio/mpeg");
    EXPECT_EQ(content_type_for("a.wav"), "audio/wav");
    EXPECT_EQ(content_type_for("a.m4a"), "audio/mp4");
    EXPECT_EQ(content_type_for("a.ogg"), "audio/ogg");
    EXPECT_EQ(content_type_for("a.mp4"), "video/mp4");
    EXPECT_EQ(content_type_for("a.webm"), "video/webm");
    EXPECT_EQ(content_type_for("a.mov"), "video/quicktime");
    EXPECT_EQ(content_type_for("snippets/a.css"), "text/css");
    EXPECT_EQ(content_type_for("a.html"), "text/html");
    EXPECT_EQ(content_type_for("plugins/main.js"), "text/javascript");
}

TEST(ContentTypeTest, UnknownOrMissingExtensionsAreOctetStream) {
    using sink::content_type_for;
    EXPECT_EQ(content_type_for("archive.zip"), "application/octet-stream");
    EXPECT_EQ(content_type_for("README"), "application/octet-stream");
    EXPECT_EQ(content_type_for("folder.md/file"), "application/octet-stream");
    EXPECT_EQ(content_type_for("trailing."), "application/octet-stream");
    EXPECT_EQ(content_type_for("a.mdx"), "application/octet-stream");
}

AwsEnvironment environment_with(std::map<std::string, std::string> values) {
    values.emplace("AWS_ACCESS_KEY_ID", "AKID");
    values.emplace("AWS_SECRET_ACCESS_KEY", "secret");
    values.emplace("AWS_REGION", "eu-west-1");
    return AwsEnvironment::from_lookup([&](const char* name) -> std::optional<std::string> {
        const auto it = values.find(name);
        return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
}

TEST(S3AddressTest, AwsItselfIsVirtualHosted) {
    const S3Address address = s3_address(environment_with({}), "my-backups", "a b/c.md");
    EXPECT_EQ(address.endpoint, "https://my-backups.s3.eu-west-1.amazonaws.com");
    EXPECT_EQ(address.path, "/a b/c.md");
}

TEST(S3AddressTest, ACustomEndpointIsPathStyleUnlessAskedOtherwise) {
    const auto minio = environment_with({{"AWS_ENDPOINT_URL_S3", "https://minio.example:9000"}});
    const S3Address path_style = s3_address(minio, "my-backups", "k");
    EXPECT_EQ(path_style.endpoint, "");
    EXPECT_EQ(path_style.path, "/my-backups/k");

    const auto r2 = environment_with(
        {{"AWS_ENDPOINT_URL", "https://acct.r2.example.com"}, {"OBSYNC_S3_ADDRESSING", "virtual"}});
    const S3Address virtual_hosted = s3_address(r2, "my-backups", "k");
    EXPECT_EQ(virtual_hosted.endpoint, "https://my-backups.acct.r2.example.com");
    EXPECT_EQ(virtual_hosted.path, "/k");
}

TEST(S3AddressTest, ADottedBucketStaysPathStyleSoTheCertificateMatches) {
    const S3Address address = s3_address(environment_with({}), "backups.example.com", "k");
    EXPECT_EQ(address.endpoint, "");
    EXPECT_EQ(address.path, "/backups.example.com/k");
}

TEST(S3AddressTest, AnUnknownAddressingStyleIsAConfigurationError) {
    EXPECT_THROW(environment_with({{"OBSYNC_S3_ADDRESSING", "sideways"}}), Error);
}

}  // namespace
}  // namespace obsync::aws
