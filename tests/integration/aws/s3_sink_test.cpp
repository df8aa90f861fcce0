// The S3 sink (and the S3 client under it) through the Sink interface, against moto_server.

#include "sink/s3_sink.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "aws/client.hpp"
#include "aws/s3.hpp"
#include "sink/s3_claim.hpp"
#include "support/moto_fixture.hpp"
#include "support/run_coro.hpp"
#include "util/bytes.hpp"
#include "util/error.hpp"

namespace obsync::sink {
namespace {

namespace asio = boost::asio;
using test::run_coro;
using test::run_coro_value;

constexpr std::string_view k_bucket = "backups";
constexpr std::string_view k_prefix = "vault";
constexpr std::string_view k_sync_time = "2024-05-01T12:00:00Z";
constexpr std::size_t k_mib = std::size_t{1} << 20;

sync::FileMeta meta_for(const std::string& data) {
    sync::FileMeta meta;
    meta.mtime_ms = 1700000000123;
    meta.content_hash = std::string(64, 'a');
    meta.size = data.size();
    return meta;
}

std::string pattern(std::size_t size) {
    std::string data(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        data[i] = static_cast<char>((i * 131 + i / 7919) & 0xff);
    }
    return data;
}

asio::awaitable<void> write_file(sync::Sink& sink, std::string path, sync::FileMeta meta,
                                 std::string data, std::size_t chunk) {
    std::unique_ptr<sync::FileWriter> writer = co_await sink.create_file(path, meta);
    const std::string_view all = data;
    for (std::size_t at = 0; at < all.size(); at += chunk) {
        const ByteView bytes = as_bytes(all.substr(at, chunk));
        co_await writer->write(bytes);
    }
    co_await writer->commit();
}

// Writes without committing, then drops the writer.
asio::awaitable<void> write_and_drop(sync::Sink& sink, std::string path, sync::FileMeta meta,
                                     std::string data) {
    std::unique_ptr<sync::FileWriter> writer = co_await sink.create_file(path, meta);
    const std::string_view all = data;
    for (std::size_t at = 0; at < all.size(); at += k_mib) {
        const ByteView bytes = as_bytes(all.substr(at, k_mib));
        co_await writer->write(bytes);
    }
}

class S3SinkTest : public test::MotoTest {
protected:
    void SetUp() override {
        MotoTest::SetUp();
        m_client = std::make_unique<aws::AwsClient>(m_io.get_executor(),
                                                    aws::AwsEnvironment::from_environment());
        run_coro(m_io, s3().create_bucket(m_bucket));
    }

    aws::S3Client s3() { return aws::S3Client(*m_client); }

    std::unique_ptr<sync::Sink> open(std::string prefix = std::string(k_prefix),
                                     std::string sse = "") {
        S3SinkOptions options;
        options.location = {m_bucket, std::move(prefix)};
        options.sse = std::move(sse);
        options.sync_time = std::string(k_sync_time);
        return open_s3_sink(*m_client, std::move(options));
    }

    std::string get(const std::string& key) {
        aws::AwsRequest request;
        request.operation = "GetObject";
        request.path = "/" + m_bucket + "/" + key;
        return run_coro_value(m_io, m_client->send(std::move(request))).body;
    }

    std::optional<aws::ObjectInfo> head(const std::string& key) {
        return run_coro_value(m_io, s3().head_object(m_bucket, key));
    }

    std::vector<aws::MultipartUploadRef> uploads() {
        const std::string everything;
        return run_coro_value(m_io, s3().list_multipart_uploads(m_bucket, everything));
    }

    asio::io_context m_io;
    std::unique_ptr<aws::AwsClient> m_client;
    const std::string m_bucket{k_bucket};
};

TEST_F(S3SinkTest, DescribesItselfAsAnS3Url) {
    EXPECT_EQ(open()->describe(), "s3://backups/vault");
    EXPECT_EQ(open("")->describe(), "s3://backups");
}

TEST_F(S3SinkTest, ASmallFileIsOneObjectWithContentTypeAndMetadata) {
    auto sink = open();
    run_coro(m_io, sink->prepare());
    const std::string data = "# Title\n\nbody \x01\xff bytes";
    run_coro(m_io, write_file(*sink, "Notes/a.md", meta_for(data), data, 5));

    EXPECT_EQ(get("vault/Notes/a.md"), data);
    const auto info = head("vault/Notes/a.md");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->size, data.size());
    EXPECT_EQ(info->content_type, "text/markdown; charset=utf-8");
    EXPECT_EQ(info->metadata.at("content-hash"), std::string(64, 'a'));
    EXPECT_EQ(info->metadata.at("mtime"), "1700000000123");
    EXPECT_EQ(info->metadata.at("file-mode"), "0644");
    EXPECT_EQ(info->metadata.at("sync-time"), k_sync_time);
    EXPECT_EQ(info->etag.find('-'), std::string::npos) << "not multipart: " << info->etag;
}

TEST_F(S3SinkTest, UnicodeAndSpacesRoundTripThroughListAndStat) {
    auto sink = open();
    const std::string path = "Notes/Café déjà vu/my 日本語 note + 100%.md";
    const std::string data = "unicode";
    run_coro(m_io, write_file(*sink, path, meta_for(data), data, 1024));

    const auto files = run_coro_value(m_io, sink->list_files());
    ASSERT_EQ(files.size(), 1U);
    EXPECT_EQ(files[0], path);
    const auto entry = run_coro_value(m_io, sink->stat(path));
    ASSERT_TRUE(entry);
    EXPECT_FALSE(entry->folder);
    EXPECT_EQ(entry->size, data.size());
    EXPECT_EQ(entry->content_hash.value_or(""), std::string(64, 'a'));
    EXPECT_EQ(get("vault/" + path), data);
}

TEST_F(S3SinkTest, ALargeFileIsAMultipartUploadWithIdenticalBytes) {
    auto sink = open();
    const std::string data = pattern(20 * k_mib);
    run_coro(m_io, write_file(*sink, "big.bin", meta_for(data), data, k_mib),
             std::chrono::seconds(120));

    EXPECT_TRUE(get("vault/big.bin") == data) << "bytes differ";
    const auto info = head("vault/big.bin");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->size, data.size());
    // 8 + 8 + 4 MiB: S3 marks a multipart object's ETag with its part count.
    EXPECT_NE(info->etag.find("-3"), std::string::npos) << info->etag;
    EXPECT_EQ(info->content_type, "application/octet-stream");
    EXPECT_EQ(info->metadata.at("mtime"), "1700000000123");
    EXPECT_TRUE(uploads().empty());
}

TEST_F(S3SinkTest, AWriterDroppedWithoutCommitLeavesNoObjectAndNoUpload) {
    auto sink = open();
    const std::string data = pattern(9 * k_mib);  // past one 8 MiB part: an upload is open
    const std::uint64_t before = m_client->stats().requests;
    run_coro(m_io, write_and_drop(*sink, "dropped.bin", meta_for(data), data),
             std::chrono::seconds(60));
    EXPECT_GE(m_client->stats().requests - before, 2U) << "no multipart upload was started";
    // The abort runs detached on the io_context: give it a moment.
    std::vector<aws::MultipartUploadRef> left = uploads();
    for (int i = 0; i < 100 && !left.empty(); ++i) {
        m_io.restart();
        m_io.run_for(std::chrono::milliseconds(50));
        left = uploads();
    }
    EXPECT_TRUE(left.empty());
    EXPECT_FALSE(head("vault/dropped.bin"));
}

// Parts below S3's 5 MiB floor pass UploadPart and fail CompleteMultipartUpload: the failed
// commit must abort its own upload at once.
TEST_F(S3SinkTest, AFailedCommitAbortsItsUpload) {
    S3SinkOptions options;
    options.location = {m_bucket, std::string(k_prefix)};
    options.part_size = k_mib;
    options.allow_small_parts_for_tests = true;
    auto sink = open_s3_sink(*m_client, options);
    const std::string data = pattern(3 * k_mib);
    try {
        run_coro(m_io, write_file(*sink, "small-parts.bin", meta_for(data), data, k_mib));
        FAIL() << "moto accepted 1 MiB parts";
    } catch (const aws::AwsError& error) {
        EXPECT_EQ(error.code(), "EntityTooSmall");
        EXPECT_NE(std::string(error.what()).find("s3://backups/vault/small-parts.bin: "),
                  std::string::npos)
            << error.what();
    }
    EXPECT_TRUE(uploads().empty());
    EXPECT_FALSE(head("vault/small-parts.bin"));
}

// A killed run leaves its open multipart upload and the record saying it is this backup's (as
// s3_file_writer makes them). Another program's upload under the same prefix has no record: with
// an empty prefix, every upload in the bucket is "under the prefix".
TEST_F(S3SinkTest, PrepareAbortsOnlyTheUploadsThisBackupRecorded) {
    const std::string killed = "vault/killed.bin";
    const std::string foreign = "vault/other-program.bin";
    const std::string other = "elsewhere/keep.bin";
    const net::Headers no_headers;
    const std::string killed_id =
        run_coro_value(m_io, s3().create_multipart_upload(m_bucket, killed, no_headers));
    const std::string record = S3BackupKeys("vault/").upload_record(killed_id);
    run_coro_value(m_io, s3().put_object(m_bucket, record, std::string(), no_headers));
    run_coro_value(m_io, s3().create_multipart_upload(m_bucket, foreign, no_headers));
    run_coro_value(m_io, s3().create_multipart_upload(m_bucket, other, no_headers));
    ASSERT_EQ(uploads().size(), 3U);

    auto sink = open();
    run_coro(m_io, sink->prepare());
    std::vector<std::string> left;
    for (const auto& upload : uploads()) {
        left.push_back(upload.key);
    }
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{other, foreign}));
    EXPECT_FALSE(head(record)) << "the record goes with its upload";
}

TEST_F(S3SinkTest, FoldersAreMarkersRemovedOnlyWhenEmpty) {
    auto sink = open();
    run_coro(m_io, sink->create_folder("Empty"));
    const auto marker = head("vault/Empty/");
    ASSERT_TRUE(marker);
    EXPECT_EQ(marker->content_type, "application/x-directory");
    const auto folder = run_coro_value(m_io, sink->stat("Empty"));
    ASSERT_TRUE(folder);
    EXPECT_TRUE(folder->folder);
    EXPECT_TRUE(run_coro_value(m_io, sink->remove_folder_if_empty("Empty")));
    EXPECT_FALSE(run_coro_value(m_io, sink->stat("Empty")));

    run_coro(m_io, sink->create_folder("Full"));
    const std::string data = "x";
    run_coro(m_io, write_file(*sink, "Full/a.md", meta_for(data), data, 1));
    EXPECT_FALSE(run_coro_value(m_io, sink->remove_folder_if_empty("Full")));
    EXPECT_TRUE(head("vault/Full/"));
    EXPECT_EQ(run_coro_value(m_io, sink->list_files()), std::vector<std::string>{"Full/a.md"});
}

TEST_F(S3SinkTest, RemovingFilesWorksAndAMissingOneIsFine) {
    auto sink = open();
    const std::string data = "gone soon";
    run_coro(m_io, write_file(*sink, "a.txt", meta_for(data), data, 100));
    run_coro(m_io, sink->remove_file("a.txt"));
    EXPECT_FALSE(head("vault/a.txt"));
    EXPECT_NO_THROW(run_coro(m_io, sink->remove_file("never-there.md")));
    EXPECT_FALSE(run_coro_value(m_io, sink->stat("never-there.md")));
}

TEST_F(S3SinkTest, AMissingBucketFailsPrepareNamingTheBucket) {
    S3SinkOptions options;
    options.location = {"no-such-bucket-here", "vault"};
    auto sink = open_s3_sink(*m_client, options);
    try {
        run_coro(m_io, sink->prepare());
        FAIL() << "expected NoSuchBucket";
    } catch (const aws::AwsError& error) {
        EXPECT_EQ(error.failure(), aws::AwsFailure::no_such_bucket);
        EXPECT_EQ(error.kind(), ErrorKind::not_found);
        EXPECT_NE(std::string(error.what()).find("no-such-bucket-here"), std::string::npos)
            << error.what();
    }
}

TEST_F(S3SinkTest, ServerSideEncryptionIsRequested) {
    auto sink = open(std::string(k_prefix), "AES256");
    const std::string data = "secret note";
    run_coro(m_io, write_file(*sink, "s.md", meta_for(data), data, 100));
    const auto info = head("vault/s.md");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->server_side_encryption, "AES256");
}

TEST_F(S3SinkTest, AnEmptyPrefixPutsFilesAtTheBucketRoot) {
    auto sink = open("");
    const std::string data = "root";
    run_coro(m_io, write_file(*sink, "top.md", meta_for(data), data, 100));
    EXPECT_EQ(get("top.md"), data);
    EXPECT_EQ(run_coro_value(m_io, sink->list_files()), std::vector<std::string>{"top.md"});
}

TEST_F(S3SinkTest, HostilePathsAreRefused) {
    auto sink = open();
    const sync::FileMeta meta;
    for (const std::string& path : {std::string("../x"), std::string("/abs"), std::string("a//b"),
                                    std::string("a/./b"), std::string("a\0b", 3), std::string()}) {
        const auto expect_bad = [&](auto&& action) {
            try {
                action();
                ADD_FAILURE() << "accepted \"" << path << "\"";
            } catch (const Error& error) {
                EXPECT_EQ(error.kind(), ErrorKind::bad_input) << error.what();
            }
        };
        expect_bad([&] { run_coro_value(m_io, sink->create_file(path, meta)); });
        expect_bad([&] { run_coro(m_io, sink->create_folder(path)); });
        expect_bad([&] { run_coro(m_io, sink->remove_file(path)); });
        expect_bad([&] { run_coro_value(m_io, sink->stat(path)); });
    }
    EXPECT_TRUE(run_coro_value(m_io, sink->list_files()).empty());
}

TEST_F(S3SinkTest, AnUnsafePathIsQuotedShortenedInTheMessage) {
    auto sink = open();
    const std::string path = "../" + std::string(600, 'x') + ".md";
    try {
        run_coro_value(m_io, sink->create_file(path, sync::FileMeta{}));
        ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_EQ(message.find(std::string(200, 'x')), std::string::npos) << message;
        EXPECT_NE(message.find("x\u2026x"), std::string::npos) << message;
    }
}

TEST_F(S3SinkTest, OptionsAreChecked) {
    S3SinkOptions options;
    options.location = {m_bucket, ""};
    options.part_size = k_mib;
    EXPECT_THROW(open_s3_sink(*m_client, options), Error);
    options.allow_small_parts_for_tests = true;
    EXPECT_NO_THROW(open_s3_sink(*m_client, options));
    options.sse = "rot13";
    EXPECT_THROW(open_s3_sink(*m_client, options), Error);
}

}  // namespace
}  // namespace obsync::sink
