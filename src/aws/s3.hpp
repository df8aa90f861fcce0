#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "aws/client.hpp"
#include "net/http_client.hpp"

namespace obsync::aws {

// Where a backup goes: "s3://BUCKET/PREFIX". The prefix has no leading or trailing '/' and may be
// empty (the whole bucket).
struct S3Location {
    std::string bucket;
    std::string prefix;
};

// Parses "s3://BUCKET[/PREFIX]". Throws Error{config}, naming the expected form, on another
// scheme, an empty or invalid bucket name (S3's rules: 3-63 of a-z 0-9 . -, starting and ending
// with a letter or digit), or a prefix with an empty, "." or ".." segment or a control character.
S3Location parse_s3_location(std::string_view text);

// Whether `name` follows S3's bucket naming rules.
bool is_valid_bucket_name(std::string_view name) noexcept;

// Decodes a key S3 returned under encoding-type=url: %XY escapes and '+' for a space (S3 writes a
// literal '+' as %2B). Throws Error{protocol} on a broken escape.
std::string s3_url_decode(std::string_view text);

// What HeadObject tells about an object.
struct ObjectInfo {
    std::uint64_t size = 0;
    std::string etag;  // as S3 sends it, quotes included
    std::string content_type;
    std::string server_side_encryption;  // "AES256", "aws:kms" or empty
    // x-amz-meta-* headers with the prefix stripped; names lowercase.
    std::map<std::string, std::string> metadata;
};

struct ListedObject {
    std::string key;
    std::uint64_t size = 0;
};

struct ListObjectsPage {
    std::vector<ListedObject> objects;
    std::string next_continuation_token;  // empty on the last page
};

// One version of a key in a versioned bucket (ListObjectVersions): an object, or a delete marker.
struct ObjectVersion {
    std::string key;
    std::string version_id;  // "null" for what was written while versioning was off
    bool delete_marker = false;
    bool is_latest = false;
    std::int64_t last_modified_ms = 0;  // S3 reports whole seconds
    std::uint64_t size = 0;             // 0 for a delete marker
    std::string etag;                   // quotes included; empty for a delete marker
};

struct ListVersionsPage {
    // As the server listed them: S3 sends keys ascending, each key's versions and delete markers
    // newest first (moto lists the delete markers after all the versions: versions_at() orders).
    std::vector<ObjectVersion> versions;
    std::string next_key_marker;  // both empty on the last page
    std::string next_version_id_marker;
};

// An object's bytes and what HeadObject would tell about it.
struct ObjectData {
    ObjectInfo info;
    std::string body;
};

struct MultipartUploadRef {
    std::string key;
    std::string upload_id;
};

struct CompletedPart {
    int part_number = 0;
    std::string etag;  // as UploadPart returned it, quotes included
};

// Where a request for `key` in `bucket` goes: the endpoint ("" = the environment's S3 endpoint)
// and the decoded path. Path-style ("/bucket/key") when the environment asks for it (a custom
// endpoint, by default) or when the bucket name has a dot (a dotted host would not match S3's
// TLS certificate); virtual-hosted ("https://bucket.s3.region.amazonaws.com" + "/key") otherwise.
struct S3Address {
    std::string endpoint;
    std::string path;
};
S3Address s3_address(const AwsEnvironment& environment, const std::string& bucket,
                     const std::string& key);

// The few S3 operations a backup needs, over AwsClient (which signs, retries and types errors).
// Keys are plain (decoded) strings. Failures are AwsError (or Error{network}) whose message starts
// with "s3://bucket/key: ". Sends no checksum headers: MinIO, R2 and B2 refuse some of them.
//
// A cheap value (a pointer to the client): copy it freely. Every argument passed by reference
// must stay alive until the returned awaitable completes (callers co_await it at once).
class S3Client {
public:
    explicit S3Client(AwsClient& client) noexcept : m_client(&client) {}

    AwsClient& aws() const noexcept { return *m_client; }

    // A missing bucket is AwsError{no_such_bucket} even though HEAD replies have no body.
    boost::asio::awaitable<void> head_bucket(const std::string& bucket);
    // For tests and benchmarks: creates the bucket in the environment's region.
    boost::asio::awaitable<void> create_bucket(const std::string& bucket);

    // Returns the new object's ETag. `headers` may hold If-None-Match: * or If-Match: ETAG (a
    // conditional write: AwsError{conditional_check_failed} when the condition fails).
    boost::asio::awaitable<std::string> put_object(const std::string& bucket,
                                                   const std::string& key, std::string body,
                                                   const net::Headers& headers);
    // nullopt when the object does not exist (or `version_id` names a delete marker).
    boost::asio::awaitable<std::optional<ObjectInfo>> head_object(const std::string& bucket,
                                                                  const std::string& key,
                                                                  const std::string& version_id);
    boost::asio::awaitable<std::optional<ObjectInfo>> head_object(const std::string& bucket,
                                                                  const std::string& key) {
        static const std::string current;  // outlives the lazily started coroutine
        return head_object(bucket, key, current);
    }
    // Deleting a missing key succeeds (S3 answers 204 either way). `headers` may hold If-Match.
    boost::asio::awaitable<void> delete_object(const std::string& bucket, const std::string& key,
                                               const net::Headers& headers = {});

    // One page of keys under `prefix`, at most `max_keys` (S3 caps it at 1000). Pass the previous
    // page's next_continuation_token, empty for the first page.
    boost::asio::awaitable<ListObjectsPage> list_objects_page(const std::string& bucket,
                                                              const std::string& prefix,
                                                              const std::string& continuation,
                                                              int max_keys);
    // Every key under `prefix`, all pages.
    boost::asio::awaitable<std::vector<ListedObject>> list_objects_v2(const std::string& bucket,
                                                                      const std::string& prefix);

    // One page of ListObjectVersions under `prefix` (at most `max_keys`, S3 caps it at 1000):
    // pass the previous page's next markers, empty for the first page.
    boost::asio::awaitable<ListVersionsPage> list_object_versions_page(
        const std::string& bucket, const std::string& prefix, const std::string& key_marker,
        const std::string& version_id_marker, int max_keys);
    // Every version and delete marker under `prefix`, all pages, in S3's order.
    boost::asio::awaitable<std::vector<ObjectVersion>> list_object_versions(
        const std::string& bucket, const std::string& prefix);

    // GetObject of the current version, or of `version_id`; nullopt when there is none (a missing
    // key, or a current version that is a delete marker).
    boost::asio::awaitable<std::optional<ObjectData>> get_object(
        const std::string& bucket, const std::string& key, const std::string& version_id = {});
    // Bytes FIRST..LAST (inclusive) of the object or of `version_id`; info.size is the whole
    // object's size. With `if_match` (an ETag) a changed object fails with
    // AwsError{conditional_check_failed} instead of mixing two objects' bytes.
    boost::asio::awaitable<std::optional<ObjectData>> get_object_range(
        const std::string& bucket, const std::string& key, const std::string& version_id,
        std::uint64_t first, std::uint64_t last, const std::string& if_match);

    // The bucket's versioning status: "Enabled", "Suspended", or "" (never enabled).
    boost::asio::awaitable<std::string> bucket_versioning(const std::string& bucket);

    // Returns the upload id.
    boost::asio::awaitable<std::string> create_multipart_upload(const std::string& bucket,
                                                                const std::string& key,
                                                                const net::Headers& headers);
    // Returns the part's ETag. Parts number from 1; all but the last must be at least 5 MiB.
    boost::asio::awaitable<std::string> upload_part(const std::string& bucket,
                                                    const std::string& key,
                                                    const std::string& upload_id, int part_number,
                                                    std::string body);
    // Also fails when S3 answers 200 with an <Error> body (it may, after a long assembly).
    boost::asio::awaitable<void> complete_multipart_upload(const std::string& bucket,
                                                           const std::string& key,
                                                           const std::string& upload_id,
                                                           const std::vector<CompletedPart>& parts);
    boost::asio::awaitable<void> abort_multipart_upload(const std::string& bucket,
                                                        const std::string& key,
                                                        const std::string& upload_id);
    // Every incomplete multipart upload under `prefix`, all pages.
    boost::asio::awaitable<std::vector<MultipartUploadRef>> list_multipart_uploads(
        const std::string& bucket, const std::string& prefix);

private:
    AwsRequest request(const std::string& bucket, const std::string& key, std::string method,
                       std::string operation) const;
    boost::asio::awaitable<net::HttpResponse> send(AwsRequest request, std::string where);
    // A request for `key`, or for its version `version_id` when that is not empty.
    AwsRequest version_request(const std::string& bucket, const std::string& key,
                               const std::string& version_id, std::string method,
                               std::string operation) const;
    // A HEAD or GET of one object whose 404 or 405 (no such key, or a delete marker: as the
    // current version, or named by its version id) is nullopt; a missing bucket still throws.
    boost::asio::awaitable<std::optional<net::HttpResponse>> send_for_object(
        AwsRequest request, const std::string& bucket, const std::string& key);

    AwsClient* m_client;
};

}  // namespace obsync::aws
