#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "aws/s3.hpp"
#include "sync/sink.hpp"

namespace obsync::sink {

// Where a backup's own objects live under an S3 prefix ("" or "PREFIX/"): the lock, the marker
// and the records of the multipart uploads it started.
struct S3BackupKeys {
    explicit S3BackupKeys(std::string list_prefix);

    std::string prefix;   // "" or "PREFIX/"
    std::string meta;     // PREFIX/.obsync/
    std::string lock;     // PREFIX/.obsync/lock
    std::string marker;   // PREFIX/.obsync/backup.json
    std::string uploads;  // PREFIX/.obsync/uploads/: one empty object per open multipart upload

    // The record of one multipart upload: named by a hash of its id (ids may hold any character).
    std::string upload_record(const std::string& upload_id) const;
};

// Sink::claim for an S3 prefix (docs/sync-engine.md, "One run per destination"). The lock is the
// object PREFIX/.obsync/lock, created with If-None-Match: * and carrying its owner and expiry as
// metadata; an expired lock is taken over with If-Match on its ETag, and renew() rewrites it with
// If-Match, so exactly one run holds it. `where` names the destination in messages.
boost::asio::awaitable<std::unique_ptr<sync::DestinationLock>> claim_s3_prefix(
    aws::S3Client s3, std::string bucket, S3BackupKeys keys, std::string where,
    sync::BackupIdentity backup, std::chrono::seconds ttl);

}  // namespace obsync::sink
