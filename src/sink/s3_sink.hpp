#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "aws/client.hpp"
#include "aws/s3.hpp"
#include "sync/sink.hpp"

namespace obsync::sink {

// S3's floor for every multipart part but the last.
inline constexpr std::size_t k_s3_min_part_size = std::size_t{5} << 20;
inline constexpr std::size_t k_s3_default_part_size = std::size_t{8} << 20;

struct S3SinkOptions {
    aws::S3Location location;
    std::string sse;             // "", "AES256" or "aws:kms"
    std::string sse_kms_key_id;  // only with sse == "aws:kms"; empty = the bucket's default key
    // Files larger than this go up as multipart uploads of parts this big; memory per open
    // writer stays at about one part.
    std::size_t part_size = k_s3_default_part_size;
    // TEST ONLY: accept a part_size below S3's 5 MiB minimum (real S3 refuses such parts at
    // CompleteMultipartUpload). Never set outside tests.
    bool allow_small_parts_for_tests = false;
    std::string sync_time;  // ISO-8601 UTC of the run, stored as x-amz-meta-sync-time
};

// An S3 prefix as the destination of a vault: the file at vault path P is the object
// "PREFIX/P", written in one PutObject or, past part_size, one multipart upload, with its
// content type, SHA-256, mtime and the run's time as metadata. A folder is a zero-byte marker
// object "PREFIX/P/" (content type application/x-directory), so empty folders survive a restore.
//
// Nothing appears before commit(); a writer dropped or failed mid-way aborts its upload in the
// background, on the executor create_file() ran on, and prepare() aborts whatever a killed run
// left. `client` must therefore outlive the sink, every writer and that executor's pending work.
//
// Throws Error{config} for bad options (unknown SSE mode, a KMS key without aws:kms, a part size
// outside 5 MiB..5 GiB).
std::unique_ptr<sync::Sink> open_s3_sink(aws::AwsClient& client, S3SinkOptions options);

// The Content-Type stored for a vault path, from its extension (case-insensitive);
// application/octet-stream when unknown.
std::string_view content_type_for(std::string_view path) noexcept;

}  // namespace obsync::sink
