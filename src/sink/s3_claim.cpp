#include "sink/s3_claim.hpp"

#include <charconv>
#include <optional>
#include <utility>

#include <boost/json.hpp>

#include "crypto/sha256.hpp"
#include "sink/backup_marker.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace obsync::sink {
namespace {

namespace asio = boost::asio;
namespace bj = boost::json;

std::int64_t parse_ms(const std::map<std::string, std::string>& metadata) {
    const auto it = metadata.find("expires-ms");
    std::int64_t value = 0;
    if (it != metadata.end()) {
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
    }
    return value;
}

// A conditional write that lost: PreconditionFailed (412), ConditionalRequestConflict (409) when
// two conditional writes to one key race, or NoSuchKey (404) for If-Match on a lock deleted since.
bool lost_condition(const aws::AwsError& error) {
    return error.failure() == aws::AwsFailure::conditional_check_failed ||
           error.failure() == aws::AwsFailure::resource_not_found || error.status() == 409;
}

std::string metadata_value(const std::optional<aws::ObjectInfo>& info, const char* name) {
    if (!info) {
        return "";
    }
    const auto it = info->metadata.find(name);
    return it == info->metadata.end() ? "" : it->second;
}

// The outcome of a conditional write of the lock: its new ETag, or the lock as it is now (absent
// when it was deleted meanwhile).
struct LockWrite {
    std::optional<std::string> etag;
    std::optional<aws::ObjectInfo> held;
};

// Writes the lock conditionally. The client retries a request that failed on the network or
// with a 5xx, and S3 may have applied the first attempt: the retry then loses the condition to
// our own write. So a lost condition is checked against the lock as it is: if it holds exactly
// what we sent (owner and expiry), the write succeeded.
asio::awaitable<LockWrite> put_lock(aws::S3Client s3, const std::string& bucket,
                                    const std::string& key, const std::string& owner,
                                    std::chrono::seconds ttl, const char* condition,
                                    const std::string& value) {
    const std::int64_t expires =
        epoch_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
    net::Headers headers;
    headers.emplace_back("content-type", "application/json");
    headers.emplace_back("x-amz-meta-owner", owner);
    headers.emplace_back("x-amz-meta-expires-ms", std::to_string(expires));
    headers.emplace_back(condition, value);
    const std::string body =
        bj::serialize(bj::object{{"owner", owner}, {"expires_ms", expires}}) + "\n";
    LockWrite write;
    try {
        write.etag = co_await s3.put_object(bucket, key, body, headers);
        co_return write;
    } catch (const aws::AwsError& error) {
        if (!lost_condition(error)) {
            throw;
        }
    }
    write.held = co_await s3.head_object(bucket, key);
    if (write.held && metadata_value(write.held, "owner") == owner &&
        parse_ms(write.held->metadata) == expires) {
        write.etag = write.held->etag;
    }
    co_return write;
}

class S3Lock final : public sync::DestinationLock {
public:
    S3Lock(aws::S3Client s3, std::string bucket, std::string key, std::string where,
           std::string owner, std::string etag)
        : m_s3(s3),
          m_bucket(std::move(bucket)),
          m_key(std::move(key)),
          m_where(std::move(where)),
          m_owner(std::move(owner)),
          m_etag(std::move(etag)) {}

    asio::awaitable<void> renew(std::chrono::seconds ttl) override {
        const LockWrite write =
            co_await put_lock(m_s3, m_bucket, m_key, m_owner, ttl, "if-match", m_etag);
        if (!write.etag) {
            throw Error(ErrorKind::busy,
                        m_where + ": the destination lock was taken over by another run");
        }
        m_etag = *write.etag;
    }

    asio::awaitable<void> release() override {
        try {
            const net::Headers condition{{"if-match", m_etag}};
            co_await m_s3.delete_object(m_bucket, m_key, condition);
        } catch (const aws::AwsError& error) {
            // Taken over (412) or gone (404): not ours to release any more.
            if (!lost_condition(error) && error.failure() != aws::AwsFailure::resource_not_found) {
                throw;
            }
        }
    }

private:
    aws::S3Client m_s3;
    std::string m_bucket;
    std::string m_key;
    std::string m_where;
    std::string m_owner;
    std::string m_etag;
};

std::string location(const std::string& bucket, const std::string& prefix) {
    std::string text = "s3://" + bucket;
    if (!prefix.empty()) {
        text += "/" + prefix.substr(0, prefix.size() - 1);
    }
    return text;
}

std::string describe_vault(const std::optional<aws::ObjectInfo>& marker) {
    const std::string id = metadata_value(marker, "vault-id");
    return id.empty() ? std::string("another vault") : "vault " + id;
}

// A backup at an enclosing prefix: writing here would put objects into its tree.
asio::awaitable<void> refuse_inside_other_backup(aws::S3Client s3, const std::string& bucket,
                                                 const S3BackupKeys& keys,
                                                 const std::string& where) {
    std::string above;  // "", "a/", "a/b/", ... strictly above keys.prefix
    while (above.size() < keys.prefix.size()) {
        const std::string marker = S3BackupKeys(above).marker;
        std::optional<aws::ObjectInfo> found;
        try {
            found = co_await s3.head_object(bucket, marker);
        } catch (const aws::AwsError& error) {
            // A least-privilege role may read its own prefix only (docs/aws.md): what it cannot
            // see above it, it cannot write into either.
            if (error.failure() != aws::AwsFailure::access_denied) {
                throw;
            }
        }
        if (found) {
            throw Error(ErrorKind::config,
                        where + " lies inside the backup at " + location(bucket, above) + " (" +
                            describe_vault(found) + "): choose a prefix outside it");
        }
        above = keys.prefix.substr(0, keys.prefix.find('/', above.size()) + 1);
    }
}

// A backup at a prefix below: a --full run here would meet its objects.
asio::awaitable<void> refuse_around_other_backup(aws::S3Client s3, const std::string& bucket,
                                                 const S3BackupKeys& keys,
                                                 const std::string& where) {
    const std::string suffix =
        "/" + std::string(sync::k_backup_meta_dir) + "/" + k_backup_marker_name;
    for (const aws::ListedObject& object : co_await s3.list_objects_v2(bucket, keys.prefix)) {
        if (object.key != keys.marker && object.key.ends_with(suffix)) {
            const std::string inner = object.key.substr(0, object.key.size() - suffix.size() + 1);
            throw Error(ErrorKind::config, where + " contains another backup, at " +
                                               location(bucket, inner) +
                                               ": choose a prefix that does not hold it");
        }
    }
}

}  // namespace

S3BackupKeys::S3BackupKeys(std::string list_prefix)
    : prefix(std::move(list_prefix)),
      meta(prefix + std::string(sync::k_backup_meta_dir) + "/"),
      lock(meta + "lock"),
      marker(meta + k_backup_marker_name),
      uploads(meta + "uploads/") {}

std::string S3BackupKeys::upload_record(const std::string& upload_id) const {
    return uploads + crypto::sha256_hex(as_bytes(std::string_view(upload_id)));
}

asio::awaitable<std::unique_ptr<sync::DestinationLock>> claim_s3_prefix(
    aws::S3Client s3, std::string bucket, S3BackupKeys keys, std::string where,
    sync::BackupIdentity backup, std::chrono::seconds ttl) {
    // Before anything is written, so a refused run leaves nothing in the other backup.
    co_await refuse_inside_other_backup(s3, bucket, keys, where);

    std::optional<std::string> etag;
    for (int attempt = 0; attempt < 3 && !etag; ++attempt) {
        const LockWrite created =
            co_await put_lock(s3, bucket, keys.lock, backup.owner, ttl, "if-none-match", "*");
        etag = created.etag;
        const std::optional<aws::ObjectInfo>& held = created.held;
        if (etag || !held) {
            continue;  // ours now, or released in between: try again
        }
        const std::int64_t expires = parse_ms(held->metadata);
        const std::string owner = metadata_value(held, "owner");
        // Only an expired lock is taken over. Not one whose owner looks like a dead process of
        // this host: a bucket is shared by hosts, and another one (a Lambda container) may have
        // the same host name and pid, so a killed run's rerun waits for the expiry.
        if (expires > epoch_ms()) {
            throw Error(ErrorKind::busy, where + " is being written by another run" +
                                             (owner.empty() ? std::string() : " (" + owner + ")") +
                                             " until its lock expires within " +
                                             std::to_string((expires - epoch_ms()) / 1000 + 1) +
                                             " s; try again when it has finished");
        }
        // Expired: take it over, unless someone else is doing so right now.
        etag = (co_await put_lock(s3, bucket, keys.lock, backup.owner, ttl, "if-match", held->etag))
                   .etag;
        if (etag) {
            if (Logger* log = process_logger()) {
                log->warning("expired destination lock taken over",
                             {{"destination", where}, {"previous_owner", owner}});
            }
        }
    }
    if (!etag) {
        throw Error(ErrorKind::busy, where + " is being claimed by another run; try again later");
    }
    auto lock = std::make_unique<S3Lock>(s3, bucket, keys.lock, where, backup.owner, *etag);

    std::exception_ptr refused;
    try {
        const auto marker = co_await s3.head_object(bucket, keys.marker);
        if (marker) {
            // The metadata repeats what check_backup_marker needs: one HEAD, no GET.
            BackupMarker found;
            found.vault_id = metadata_value(marker, "vault-id");
            if (metadata_value(marker, "layout") == "encrypted") {
                found.encrypted.emplace().keyhash = metadata_value(marker, "keyhash");
            }
            check_backup_marker(found, backup, where);
        } else {
            co_await refuse_around_other_backup(s3, bucket, keys, where);
            net::Headers headers;
            headers.emplace_back("content-type", "application/json");
            headers.emplace_back("x-amz-meta-vault-id", backup.vault_id);
            if (backup.encrypted) {
                headers.emplace_back("x-amz-meta-layout", "encrypted");
                headers.emplace_back("x-amz-meta-keyhash", backup.encrypted->keyhash);
            }
            co_await s3.put_object(bucket, keys.marker, backup_marker_document(backup), headers);
        }
    } catch (...) {
        refused = std::current_exception();
    }
    if (refused) {
        try {
            co_await lock->release();
        } catch (const std::exception&) {
            // It expires on its own.
        }
        std::rethrow_exception(refused);
    }
    co_return lock;
}

}  // namespace obsync::sink
