#include "sink/s3_sink.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/this_coro.hpp>

#include "sink/s3_claim.hpp"
#include "sink/s3_file_writer.hpp"
#include "sync/path_policy.hpp"
#include "util/display.hpp"
#include "util/error.hpp"

namespace obsync::sink {
namespace {

namespace asio = boost::asio;

constexpr std::size_t k_s3_max_part_size = std::size_t{5} << 30;
constexpr std::string_view k_folder_content_type = "application/x-directory";

struct ContentType {
    std::string_view extension;
    std::string_view type;
};

constexpr std::array<ContentType, 24> k_content_types = {{
    {"md", "text/markdown; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"},
    {"canvas", "application/json"},
    {"json", "application/json"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"svg", "image/svg+xml"},
    {"bmp", "image/bmp"},
    {"avif", "image/avif"},
    {"pdf", "application/pdf"},
    {"mp3", "audio/mpeg"},
    {"wav", "audio/wav"},
    {"m4a", "audio/mp4"},
    {"ogg", "audio/ogg"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mov", "video/quicktime"},
    {"css", "text/css"},
    {"html", "text/html"},
    {"js", "text/javascript"},
    {"", "application/octet-stream"},
}};

// Defence in depth: the engine validates paths already, but a key with ".." or "//" would be
// written verbatim by S3 and then restored outside the vault by a careless tool.
void check_path(std::string_view path) {
    if (const auto reason = sync::unsafe_path_reason(path)) {
        throw Error(ErrorKind::bad_input, "unsafe path \"" + shorten(path) + "\": " + *reason);
    }
}

class S3Sink final : public sync::Sink {
public:
    S3Sink(aws::AwsClient& client, S3SinkOptions options)
        : m_s3(client),
          m_options(std::move(options)),
          m_bucket(m_options.location.bucket),
          m_keys(list_prefix()) {}

    std::string describe() const override {
        std::string text = "s3://" + m_bucket;
        if (!m_options.location.prefix.empty()) {
            text += "/" + m_options.location.prefix;
        }
        return text;
    }

    asio::awaitable<std::unique_ptr<sync::DestinationLock>> claim(
        const sync::BackupIdentity& backup, std::chrono::seconds ttl) override {
        co_await m_s3.head_bucket(m_bucket);
        m_vault_id = backup.vault_id;
        co_return co_await claim_s3_prefix(m_s3, m_bucket, m_keys, describe(), backup, ttl);
    }

    // Aborts only the multipart uploads this backup recorded as its own (s3_file_writer): under
    // an empty prefix the listing covers the whole bucket, and other programs' uploads are not
    // ours to touch. Runs under the destination lock, so no live run of this backup has any.
    // Usually no upload is open at all, and this is one request.
    asio::awaitable<void> prepare() override {
        if (m_vault_id.empty()) {
            co_await m_s3.head_bucket(m_bucket);  // claim() checked it already
        }
        const std::vector<aws::MultipartUploadRef> uploads =
            co_await m_s3.list_multipart_uploads(m_bucket, m_keys.prefix);
        for (const aws::MultipartUploadRef& upload : uploads) {
            const std::string record = m_keys.upload_record(upload.upload_id);
            if (!co_await m_s3.head_object(m_bucket, record)) {
                continue;  // not this backup's
            }
            try {
                co_await m_s3.abort_multipart_upload(m_bucket, upload.key, upload.upload_id);
            } catch (const aws::AwsError& error) {
                // Completed or aborted since the listing: gone either way.
                if (error.failure() != aws::AwsFailure::resource_not_found) {
                    throw;
                }
            }
            co_await m_s3.delete_object(m_bucket, record);
        }
    }

    asio::awaitable<std::unique_ptr<sync::FileWriter>> create_file(std::string_view path,
                                                                   sync::FileMeta meta) override {
        std::string key = key_of(path);
        net::Headers headers = content_headers(content_type_for(path));
        headers.emplace_back("x-amz-meta-content-hash", meta.content_hash);
        headers.emplace_back("x-amz-meta-mtime", std::to_string(meta.mtime_ms));
        headers.emplace_back("x-amz-meta-file-mode", "0644");
        if (!m_vault_id.empty()) {
            headers.emplace_back("x-amz-meta-vault-id", m_vault_id);
        }
        if (!m_options.sync_time.empty()) {
            headers.emplace_back("x-amz-meta-sync-time", m_options.sync_time);
        }
        for (const auto& [name, value] : meta.attributes) {
            headers.emplace_back("x-amz-meta-" + name, value);
        }
        asio::any_io_executor executor = co_await asio::this_coro::executor;
        co_return make_s3_file_writer(m_s3, std::move(executor), m_bucket, std::move(key),
                                      std::move(headers), m_options.part_size, m_keys);
    }

    asio::awaitable<void> create_folder(std::string_view path) override {
        const std::string marker = key_of(path) + "/";
        const net::Headers headers = content_headers(k_folder_content_type);
        std::string empty;
        co_await m_s3.put_object(m_bucket, marker, std::move(empty), headers);
    }

    asio::awaitable<void> remove_file(std::string_view path) override {
        const std::string key = key_of(path);
        co_await m_s3.delete_object(m_bucket, key);
    }

    asio::awaitable<bool> remove_folder_if_empty(std::string_view path) override {
        const std::string marker = key_of(path) + "/";
        const std::string first_page;
        // Two keys are enough to tell "only the marker" from "something else inside".
        const aws::ListObjectsPage page =
            co_await m_s3.list_objects_page(m_bucket, marker, first_page, 2);
        for (const aws::ListedObject& object : page.objects) {
            if (object.key != marker) {
                co_return false;
            }
        }
        co_await m_s3.delete_object(m_bucket, marker);
        co_return true;
    }

    asio::awaitable<std::optional<sync::EntryInfo>> stat(std::string_view path) override {
        const std::string key = key_of(path);
        const std::optional<aws::ObjectInfo> file = co_await m_s3.head_object(m_bucket, key);
        if (file) {
            sync::EntryInfo info;
            info.size = file->size;
            if (const auto hash = file->metadata.find("content-hash");
                hash != file->metadata.end()) {
                info.content_hash = hash->second;
            }
            co_return info;
        }
        const std::string marker = key + "/";
        const std::optional<aws::ObjectInfo> folder = co_await m_s3.head_object(m_bucket, marker);
        if (folder) {
            sync::EntryInfo info;
            info.folder = true;
            co_return info;
        }
        co_return std::nullopt;
    }

    asio::awaitable<std::vector<std::string>> list_files() override {
        const std::string prefix = list_prefix();
        const std::vector<aws::ListedObject> objects =
            co_await m_s3.list_objects_v2(m_bucket, prefix);
        std::vector<std::string> files;
        for (const aws::ListedObject& object : objects) {
            if (object.key.size() <= prefix.size() || object.key.back() == '/') {
                continue;  // a folder marker
            }
            if (object.key.starts_with(m_keys.meta)) {
                continue;  // the lock, the marker, upload records
            }
            std::string path = object.key.substr(prefix.size());
            // Objects someone else put under the prefix with keys we would refuse ("a//b",
            // "../x") are not ours: reporting them would only make the clean-up fail on them.
            if (!sync::unsafe_path_reason(path)) {
                files.push_back(std::move(path));
            }
        }
        co_return files;
    }

    asio::awaitable<bool> written_by_backup(std::string_view path) override {
        const auto info = co_await m_s3.head_object(m_bucket, key_of(path));
        if (!info || m_vault_id.empty()) {
            co_return false;
        }
        const auto vault = info->metadata.find("vault-id");
        co_return vault != info->metadata.end() && vault->second == m_vault_id;
    }

    // Nothing to do: S3 answers 200 to PutObject and CompleteMultipartUpload only once the object
    // is stored durably, so every committed file is already safe.
    asio::awaitable<void> flush() override { co_return; }

private:
    std::string list_prefix() const {
        return m_options.location.prefix.empty() ? std::string() : m_options.location.prefix + "/";
    }

    std::string key_of(std::string_view path) const {
        check_path(path);
        return list_prefix() + std::string(path);
    }

    // SSE goes on PutObject and CreateMultipartUpload only: UploadPart refuses it unless the
    // encryption uses customer-provided keys.
    net::Headers content_headers(std::string_view content_type) const {
        net::Headers headers;
        headers.emplace_back("content-type", std::string(content_type));
        if (!m_options.sse.empty()) {
            headers.emplace_back("x-amz-server-side-encryption", m_options.sse);
            if (!m_options.sse_kms_key_id.empty()) {
                headers.emplace_back("x-amz-server-side-encryption-aws-kms-key-id",
                                     m_options.sse_kms_key_id);
            }
        }
        return headers;
    }

    aws::S3Client m_s3;
    S3SinkOptions m_options;
    const std::string m_bucket;
    const S3BackupKeys m_keys;
    std::string m_vault_id;  // from claim(): stored as x-amz-meta-vault-id on every file
};

void check_options(const S3SinkOptions& options) {
    if (!aws::is_valid_bucket_name(options.location.bucket)) {
        throw Error(ErrorKind::config, "invalid S3 bucket name \"" + options.location.bucket +
                                           "\" (expected s3://BUCKET/PREFIX)");
    }
    if (!options.sse.empty() && options.sse != "AES256" && options.sse != "aws:kms") {
        throw Error(ErrorKind::config, "S3 server-side encryption must be AES256 or aws:kms");
    }
    if (!options.sse_kms_key_id.empty() && options.sse != "aws:kms") {
        throw Error(ErrorKind::config, "a KMS key id needs server-side encryption aws:kms");
    }
    const std::size_t floor = options.allow_small_parts_for_tests ? 1 : k_s3_min_part_size;
    if (options.part_size < floor || options.part_size > k_s3_max_part_size) {
        throw Error(ErrorKind::config, "S3 part size must be between 5 MiB and 5 GiB");
    }
}

}  // namespace

std::string_view content_type_for(std::string_view path) noexcept {
    const std::size_t slash = path.rfind('/');
    const std::string_view leaf = slash == std::string_view::npos ? path : path.substr(slash + 1);
    const std::size_t dot = leaf.rfind('.');
    const std::string_view extension =
        dot == std::string_view::npos ? std::string_view() : leaf.substr(dot + 1);
    const auto same = [extension](std::string_view known) {
        return known.size() == extension.size() &&
               std::equal(known.begin(), known.end(), extension.begin(), [](char a, char b) {
                   return a == std::tolower(static_cast<unsigned char>(b));
               });
    };
    for (const ContentType& entry : k_content_types) {
        if (!entry.extension.empty() && same(entry.extension)) {
            return entry.type;
        }
    }
    return k_content_types.back().type;
}

std::unique_ptr<sync::Sink> open_s3_sink(aws::AwsClient& client, S3SinkOptions options) {
    check_options(options);
    return std::make_unique<S3Sink>(client, std::move(options));
}

}  // namespace obsync::sink
