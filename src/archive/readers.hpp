#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "archive/reader.hpp"
#include "aws/client.hpp"
#include "aws/s3.hpp"

namespace obsync::archive {

// A local backup folder. `hashes` maps vault paths to the content hash the saved state recorded
// for them (the folder itself keeps none): entries without one have recorded.content_hash unset.
// recorded.mtime_ms is the file's own mtime. Symbolic links, fifos and the like are skipped, never
// followed. Throws Error{config} when `root` is not a folder.
std::unique_ptr<BackupReader> open_local_reader(const std::filesystem::path& root,
                                                std::map<std::string, std::string> hashes);

// An S3 prefix. Without `at_ms`, the current objects (ListObjectsV2). With it, the prefix as it
// was at that moment (ListObjectVersions; aws::versions_at): the bucket must have versioning.
// `client` must outlive the reader.
std::unique_ptr<BackupReader> open_s3_reader(aws::AwsClient& client, aws::S3Location location,
                                             std::optional<std::int64_t> at_ms);

}  // namespace obsync::archive
