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

// One version of one file of an S3 backup (`obsync restore --list-versions`).
struct FileVersion {
    std::string version_id;
    std::int64_t stored_ms = 0;  // S3 LastModified: when the backup wrote it (whole seconds)
    bool deleted = false;        // a delete marker: the file was removed from the backup then
    bool latest = false;
    std::uint64_t size = 0;
    Recorded recorded;  // from HeadObject of the version
};

// Every version of the file at vault path `path` under `location`, newest first (the order
// aws::versions_at uses). Empty when there is none. The bucket should have versioning; without
// it the one current object is its only version.
boost::asio::awaitable<std::vector<FileVersion>> list_file_versions(aws::AwsClient& client,
                                                                    aws::S3Location location,
                                                                    std::string path);

}  // namespace obsync::archive
