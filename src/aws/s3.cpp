#include "aws/s3.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>
#include <utility>

#include "aws/xml.hpp"
#include "util/clock.hpp"
#include "util/display.hpp"
#include "util/error.hpp"

namespace obsync::aws {

namespace asio = boost::asio;

namespace {

constexpr std::string_view k_scheme = "s3://";
constexpr std::string_view k_meta_prefix = "x-amz-meta-";

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

std::string where_of(const std::string& bucket, const std::string& key) {
    std::string where = std::string(k_scheme) + bucket;
    if (!key.empty()) {
        where += "/" + key;
    }
    return where;
}

// What the headers of a HEAD or GET reply say about the object (its size aside).
ObjectInfo info_of(const net::HttpResponse& response) {
    ObjectInfo info;
    info.etag = std::string(response.header("etag").value_or(""));
    info.content_type = std::string(response.header("content-type").value_or(""));
    info.server_side_encryption =
        std::string(response.header("x-amz-server-side-encryption").value_or(""));
    for (const auto& [name, value] : response.headers) {
        std::string lowered = lower(name);
        if (lowered.rfind(k_meta_prefix, 0) == 0) {
            info.metadata.emplace(lowered.substr(k_meta_prefix.size()), value);
        }
    }
    return info;
}

std::uint64_t parse_size(std::string_view text, std::string_view what) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        throw Error(ErrorKind::protocol, "S3 sent an invalid " + std::string(what));
    }
    return value;
}

bool url_encoded_reply(std::string_view body) {
    return xml_text(body, "EncodingType").value_or("") == "url";
}

// ETags are hex digits in quotes (or a provider's opaque token): nothing that needs escaping, and
// the quotes go in verbatim because some S3 look-alikes compare the text as sent.
void check_etag(const std::string& etag) {
    if (etag.find_first_of("<>&") != std::string::npos) {
        throw Error(ErrorKind::protocol, "S3 sent an ETag with markup characters");
    }
}

}  // namespace

S3Address s3_address(const AwsEnvironment& environment, const std::string& bucket,
                     const std::string& key) {
    S3Address address;
    if (environment.s3_path_style() || bucket.find('.') != std::string::npos) {
        address.path = "/" + bucket;
        if (!key.empty()) {
            address.path += "/" + key;
        }
        return address;
    }
    // https://bucket.s3.region.amazonaws.com, or the custom endpoint with "bucket." in front.
    address.endpoint = environment.endpoint(Service::s3);
    const std::size_t host = address.endpoint.find("://");
    address.endpoint.insert(host == std::string::npos ? 0 : host + 3, bucket + ".");
    address.path = "/" + key;
    return address;
}

AwsRequest S3Client::request(const std::string& bucket, const std::string& key, std::string method,
                             std::string operation) const {
    AwsRequest request;
    request.service = Service::s3;
    request.method = std::move(method);
    request.operation = std::move(operation);
    request.bucket = bucket;
    S3Address address = s3_address(m_client->environment(), bucket, key);
    request.endpoint = std::move(address.endpoint);
    request.path = std::move(address.path);
    return request;
}

asio::awaitable<net::HttpResponse> S3Client::send(AwsRequest request, std::string where) {
    std::optional<AwsError> aws_failure;
    std::optional<Error> failure;
    try {
        net::HttpResponse response = co_await m_client->send(std::move(request));
        co_return response;
    } catch (const AwsError& error) {
        aws_failure.emplace(error.failure(), error.code(), error.status(),
                            where + ": " + error.what());
    } catch (const Error& error) {
        failure.emplace(error.kind(), where + ": " + error.what());
    }
    if (aws_failure) {
        throw *aws_failure;
    }
    throw *failure;
}

asio::awaitable<void> S3Client::head_bucket(const std::string& bucket) {
    const std::string no_key;
    AwsRequest req = request(bucket, no_key, "HEAD", "HeadBucket");
    std::string where = where_of(bucket, no_key);
    std::optional<AwsError> missing;
    try {
        co_await send(std::move(req), where);
    } catch (const AwsError& error) {
        // HEAD replies carry no error body, so S3's "NoSuchBucket" arrives as a bare 404.
        if (error.status() != 404) {
            throw;
        }
        missing.emplace(
            AwsFailure::no_such_bucket, "NoSuchBucket", 404U,
            where + ": NoSuchBucket (HTTP 404): bucket \"" + bucket + "\" does not exist");
    }
    if (missing) {
        throw *missing;
    }
}

asio::awaitable<void> S3Client::create_bucket(const std::string& bucket) {
    const std::string no_key;
    AwsRequest req = request(bucket, no_key, "PUT", "CreateBucket");
    const std::string& region = m_client->environment().region();
    // us-east-1 is the default location and refuses to be named as a constraint.
    if (region != "us-east-1") {
        req.headers.emplace_back("content-type", "application/xml");
        req.body = "<CreateBucketConfiguration><LocationConstraint>" + xml_escape(region) +
                   "</LocationConstraint></CreateBucketConfiguration>";
    }
    std::string where = where_of(bucket, no_key);
    co_await send(std::move(req), std::move(where));
}

asio::awaitable<std::string> S3Client::put_object(const std::string& bucket, const std::string& key,
                                                  std::string body, const net::Headers& headers) {
    AwsRequest req = request(bucket, key, "PUT", "PutObject");
    req.headers = headers;
    req.body = std::move(body);
    // Over TLS the body is protected in transit; hashing it would cost a pass over every byte.
    req.unsigned_payload = m_client->environment().endpoint(Service::s3).rfind("https://", 0) == 0;
    std::string where = where_of(bucket, key);
    const net::HttpResponse response = co_await send(std::move(req), std::move(where));
    co_return std::string(response.header("etag").value_or(""));
}

asio::awaitable<std::optional<ObjectInfo>> S3Client::head_object(const std::string& bucket,
                                                                 const std::string& key,
                                                                 const std::string& version_id) {
    AwsRequest req = version_request(bucket, key, version_id, "HEAD", "HeadObject");
    const std::optional<net::HttpResponse> response =
        co_await send_for_object(std::move(req), bucket, key);
    if (!response) {
        co_return std::nullopt;
    }
    ObjectInfo info = info_of(*response);
    info.size = parse_size(response->header("content-length").value_or("0"), "Content-Length");
    co_return info;
}

asio::awaitable<void> S3Client::delete_object(const std::string& bucket, const std::string& key,
                                              const net::Headers& headers) {
    AwsRequest req = request(bucket, key, "DELETE", "DeleteObject");
    req.headers = headers;
    std::string where = where_of(bucket, key);
    co_await send(std::move(req), std::move(where));
}

asio::awaitable<ListObjectsPage> S3Client::list_objects_page(const std::string& bucket,
                                                             const std::string& prefix,
                                                             const std::string& continuation,
                                                             int max_keys) {
    const std::string no_key;
    AwsRequest req = request(bucket, no_key, "GET", "ListObjectsV2");
    req.query = {{"list-type", "2"},
                 {"encoding-type", "url"},
                 {"max-keys", std::to_string(max_keys)},
                 {"prefix", prefix}};
    if (!continuation.empty()) {
        req.query.emplace_back("continuation-token", continuation);
    }
    std::string where = where_of(bucket, prefix);
    const net::HttpResponse response = co_await send(std::move(req), std::move(where));
    // A server that ignores encoding-type sends raw keys, and says so by omitting EncodingType.
    const bool encoded = url_encoded_reply(response.body);
    ListObjectsPage page;
    for (const std::string_view block : xml_blocks(response.body, "Contents")) {
        ListedObject object;
        const std::string key = xml_text(block, "Key").value_or("");
        object.key = encoded ? s3_url_decode(key) : key;
        object.size = parse_size(xml_text(block, "Size").value_or("0"), "object size");
        page.objects.push_back(std::move(object));
    }
    if (xml_text(response.body, "IsTruncated").value_or("false") == "true") {
        page.next_continuation_token =
            xml_text(response.body, "NextContinuationToken").value_or("");
        if (page.next_continuation_token.empty()) {
            throw Error(ErrorKind::protocol, "S3 sent a truncated listing without a continuation");
        }
    }
    co_return page;
}

asio::awaitable<std::vector<ListedObject>> S3Client::list_objects_v2(const std::string& bucket,
                                                                     const std::string& prefix) {
    std::vector<ListedObject> all;
    std::string token;
    do {
        ListObjectsPage page = co_await list_objects_page(bucket, prefix, token, 1000);
        for (auto& object : page.objects) {
            all.push_back(std::move(object));
        }
        token = std::move(page.next_continuation_token);
    } while (!token.empty());
    co_return all;
}

asio::awaitable<ListVersionsPage> S3Client::list_object_versions_page(
    const std::string& bucket, const std::string& prefix, const std::string& key_marker,
    const std::string& version_id_marker, int max_keys) {
    const std::string no_key;
    AwsRequest req = request(bucket, no_key, "GET", "ListObjectVersions");
    req.query = {{"versions", ""},
                 {"encoding-type", "url"},
                 {"max-keys", std::to_string(max_keys)},
                 {"prefix", prefix}};
    if (!key_marker.empty()) {
        req.query.emplace_back("key-marker", key_marker);
    }
    if (!version_id_marker.empty()) {
        req.query.emplace_back("version-id-marker", version_id_marker);
    }
    std::string where = where_of(bucket, prefix);
    const net::HttpResponse response = co_await send(std::move(req), where);
    const bool encoded = url_encoded_reply(response.body);
    // S3 interleaves <Version> and <DeleteMarker>, each key's newest first; within one second
    // (LastModified has no finer grain) that order is the only one, so the two kinds are merged
    // back by where they stand in the document.
    std::vector<std::pair<std::string_view, bool>> blocks;
    for (const std::string_view block : xml_blocks(response.body, "Version")) {
        blocks.emplace_back(block, false);
    }
    for (const std::string_view block : xml_blocks(response.body, "DeleteMarker")) {
        blocks.emplace_back(block, true);
    }
    std::sort(blocks.begin(), blocks.end(),
              [](const auto& a, const auto& b) { return a.first.data() < b.first.data(); });
    ListVersionsPage page;
    for (const auto& [block, marker] : blocks) {
        if (block.empty()) {
            continue;  // <Version/>: nothing to say
        }
        ObjectVersion version;
        const std::string key = xml_text(block, "Key").value_or("");
        version.key = encoded ? s3_url_decode(key) : key;
        version.version_id = xml_text(block, "VersionId").value_or("null");
        version.delete_marker = marker;
        version.is_latest = xml_text(block, "IsLatest").value_or("false") == "true";
        const std::string modified = xml_text(block, "LastModified").value_or("");
        const auto ms = parse_iso8601_utc(modified);
        if (!ms) {
            throw Error(ErrorKind::protocol, where + ": a version with LastModified \"" +
                                                 obsync::display_name(modified) + "\"");
        }
        version.last_modified_ms = *ms;
        if (!marker) {
            version.size = parse_size(xml_text(block, "Size").value_or("0"), "object size");
            version.etag = xml_text(block, "ETag").value_or("");
        }
        page.versions.push_back(std::move(version));
    }
    if (xml_text(response.body, "IsTruncated").value_or("false") == "true") {
        const std::string next = xml_text(response.body, "NextKeyMarker").value_or("");
        page.next_key_marker = encoded ? s3_url_decode(next) : next;
        page.next_version_id_marker = xml_text(response.body, "NextVersionIdMarker").value_or("");
        if (page.next_key_marker.empty()) {
            throw Error(ErrorKind::protocol,
                        where + ": S3 sent a truncated version listing without a key marker");
        }
    }
    co_return page;
}

asio::awaitable<std::vector<ObjectVersion>> S3Client::list_object_versions(
    const std::string& bucket, const std::string& prefix) {
    std::vector<ObjectVersion> all;
    std::string key_marker;
    std::string version_marker;
    do {
        ListVersionsPage page =
            co_await list_object_versions_page(bucket, prefix, key_marker, version_marker, 1000);
        for (auto& version : page.versions) {
            all.push_back(std::move(version));
        }
        key_marker = std::move(page.next_key_marker);
        version_marker = std::move(page.next_version_id_marker);
    } while (!key_marker.empty());
    co_return all;
}

asio::awaitable<std::optional<ObjectData>> S3Client::get_object(const std::string& bucket,
                                                                const std::string& key,
                                                                const std::string& version_id) {
    AwsRequest req = version_request(bucket, key, version_id, "GET", "GetObject");
    std::optional<net::HttpResponse> response =
        co_await send_for_object(std::move(req), bucket, key);
    if (!response) {
        co_return std::nullopt;
    }
    ObjectData data;
    data.info = info_of(*response);
    data.info.size = response->body.size();
    data.body = std::move(response->body);
    co_return data;
}

asio::awaitable<std::optional<ObjectData>> S3Client::get_object_range(
    const std::string& bucket, const std::string& key, const std::string& version_id,
    std::uint64_t first, std::uint64_t last, const std::string& if_match) {
    AwsRequest req = version_request(bucket, key, version_id, "GET", "GetObject");
    req.headers.emplace_back("range",
                             "bytes=" + std::to_string(first) + "-" + std::to_string(last));
    if (!if_match.empty()) {
        req.headers.emplace_back("if-match", if_match);
    }
    std::optional<net::HttpResponse> response =
        co_await send_for_object(std::move(req), bucket, key);
    if (!response) {
        co_return std::nullopt;
    }
    ObjectData data;
    data.info = info_of(*response);
    // "bytes FIRST-LAST/TOTAL": the object's whole size.
    const std::string_view range = response->header("content-range").value_or("");
    const std::size_t slash = range.rfind('/');
    if (response->status != 206 || slash == std::string_view::npos) {
        throw Error(ErrorKind::protocol,
                    where_of(bucket, key) + ": GetObject ignored the byte range it was asked for");
    }
    data.info.size = parse_size(range.substr(slash + 1), "Content-Range");
    data.body = std::move(response->body);
    co_return data;
}

AwsRequest S3Client::version_request(const std::string& bucket, const std::string& key,
                                     const std::string& version_id, std::string method,
                                     std::string operation) const {
    AwsRequest req = request(bucket, key, std::move(method), std::move(operation));
    if (!version_id.empty()) {
        req.query = {{"versionId", version_id}};
    }
    return req;
}

asio::awaitable<std::optional<net::HttpResponse>> S3Client::send_for_object(
    AwsRequest req, const std::string& bucket, const std::string& key) {
    std::string where = where_of(bucket, key);
    try {
        co_return co_await send(std::move(req), std::move(where));
    } catch (const AwsError& error) {
        // 404 for a missing key or a delete marker as the current version; 405 for a version id
        // that names a delete marker.
        if ((error.status() != 404 && error.status() != 405) ||
            error.failure() == AwsFailure::no_such_bucket) {
            throw;
        }
    }
    co_return std::nullopt;
}

asio::awaitable<std::string> S3Client::bucket_versioning(const std::string& bucket) {
    const std::string no_key;
    AwsRequest req = request(bucket, no_key, "GET", "GetBucketVersioning");
    req.query = {{"versioning", ""}};
    std::string where = where_of(bucket, no_key);
    const net::HttpResponse response = co_await send(std::move(req), std::move(where));
    co_return xml_text(response.body, "Status").value_or("");
}

asio::awaitable<std::string> S3Client::create_multipart_upload(const std::string& bucket,
                                                               const std::string& key,
                                                               const net::Headers& headers) {
    AwsRequest req = request(bucket, key, "POST", "CreateMultipartUpload");
    req.query = {{"uploads", ""}};
    req.headers = headers;
    std::string where = where_of(bucket, key);
    const net::HttpResponse response = co_await send(std::move(req), where);
    std::string upload_id = xml_text(response.body, "UploadId").value_or("");
    if (upload_id.empty()) {
        throw Error(ErrorKind::protocol, where + ": CreateMultipartUpload returned no UploadId");
    }
    co_return upload_id;
}

asio::awaitable<std::string> S3Client::upload_part(const std::string& bucket,
                                                   const std::string& key,
                                                   const std::string& upload_id, int part_number,
                                                   std::string body) {
    AwsRequest req = request(bucket, key, "PUT", "UploadPart");
    req.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
    req.body = std::move(body);
    req.unsigned_payload = m_client->environment().endpoint(Service::s3).rfind("https://", 0) == 0;
    std::string where = where_of(bucket, key);
    const net::HttpResponse response = co_await send(std::move(req), where);
    std::string etag = std::string(response.header("etag").value_or(""));
    if (etag.empty()) {
        throw Error(ErrorKind::protocol, where + ": UploadPart returned no ETag");
    }
    co_return etag;
}

asio::awaitable<void> S3Client::complete_multipart_upload(const std::string& bucket,
                                                          const std::string& key,
                                                          const std::string& upload_id,
                                                          const std::vector<CompletedPart>& parts) {
    AwsRequest req = request(bucket, key, "POST", "CompleteMultipartUpload");
    req.query = {{"uploadId", upload_id}};
    req.headers.emplace_back("content-type", "application/xml");
    req.body = "<CompleteMultipartUpload>";
    for (const CompletedPart& part : parts) {
        check_etag(part.etag);
        req.body += "<Part><PartNumber>" + std::to_string(part.part_number) +
                    "</PartNumber><ETag>" + part.etag + "</ETag></Part>";
    }
    req.body += "</CompleteMultipartUpload>";
    std::string where = where_of(bucket, key);
    const net::HttpResponse response = co_await send(std::move(req), where);
    // S3 commits to 200 before assembling the object; a failure then comes as an <Error> body.
    const auto errors = xml_blocks(response.body, "Error");
    if (!errors.empty()) {
        const std::string code = xml_text(errors.front(), "Code").value_or("InternalError");
        const std::string message = xml_text(errors.front(), "Message").value_or("");
        throw AwsError(classify(code, response.status), code, response.status,
                       where + ": S3 CompleteMultipartUpload: " + code + " (HTTP " +
                           std::to_string(response.status) + ")" +
                           (message.empty() ? "" : ": " + message));
    }
}

asio::awaitable<void> S3Client::abort_multipart_upload(const std::string& bucket,
                                                       const std::string& key,
                                                       const std::string& upload_id) {
    AwsRequest req = request(bucket, key, "DELETE", "AbortMultipartUpload");
    req.query = {{"uploadId", upload_id}};
    std::string where = where_of(bucket, key);
    co_await send(std::move(req), std::move(where));
}

asio::awaitable<std::vector<MultipartUploadRef>> S3Client::list_multipart_uploads(
    const std::string& bucket, const std::string& prefix) {
    std::vector<MultipartUploadRef> all;
    std::string key_marker;
    std::string upload_id_marker;
    const std::string no_key;
    for (;;) {
        AwsRequest req = request(bucket, no_key, "GET", "ListMultipartUploads");
        req.query = {{"uploads", ""}, {"encoding-type", "url"}, {"prefix", prefix}};
        if (!key_marker.empty()) {
            req.query.emplace_back("key-marker", key_marker);
            req.query.emplace_back("upload-id-marker", upload_id_marker);
        }
        std::string where = where_of(bucket, prefix);
        const net::HttpResponse response = co_await send(std::move(req), std::move(where));
        const bool encoded = url_encoded_reply(response.body);
        const auto decode = [encoded](std::string text) {
            return encoded ? s3_url_decode(text) : text;
        };
        for (const std::string_view block : xml_blocks(response.body, "Upload")) {
            MultipartUploadRef upload;
            upload.key = decode(xml_text(block, "Key").value_or(""));
            upload.upload_id = xml_text(block, "UploadId").value_or("");
            if (!upload.upload_id.empty()) {
                all.push_back(std::move(upload));
            }
        }
        if (xml_text(response.body, "IsTruncated").value_or("false") != "true") {
            break;
        }
        key_marker = decode(xml_text(response.body, "NextKeyMarker").value_or(""));
        upload_id_marker = xml_text(response.body, "NextUploadIdMarker").value_or("");
        if (key_marker.empty()) {
            throw Error(ErrorKind::protocol, "S3 sent a truncated upload listing without a marker");
        }
    }
    co_return all;
}

}  // namespace obsync::aws
