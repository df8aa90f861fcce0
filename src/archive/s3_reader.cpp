// An S3 backup prefix read back, now or at a moment (archive/readers.hpp).
#include <algorithm>
#include <charconv>
#include <functional>
#include <utility>

#include "archive/readers.hpp"
#include "aws/s3_versions.hpp"
#include "sink/s3_claim.hpp"
#include "sync/path_policy.hpp"
#include "sync/sink.hpp"
#include "util/clock.hpp"
#include "util/display.hpp"
#include "util/error.hpp"
#include "util/parallel.hpp"

namespace obsync::archive {
namespace {

namespace asio = boost::asio;

// Objects up to this size come in one GET; larger ones in ranged GETs of this size, so memory
// stays bounded whatever the file (and under the HTTP client's response limit).
constexpr std::uint64_t k_range_size = std::uint64_t{16} << 20;

Recorded recorded_of(const aws::ObjectInfo& info) {
    Recorded recorded;
    recorded.attributes = info.metadata;
    if (const auto hash = info.metadata.find("content-hash"); hash != info.metadata.end()) {
        recorded.content_hash = hash->second;
    }
    if (const auto mtime = info.metadata.find("mtime"); mtime != info.metadata.end()) {
        std::int64_t ms = 0;
        const char* end = mtime->second.data() + mtime->second.size();
        const auto [stop, ec] = std::from_chars(mtime->second.data(), end, ms);
        if (ec == std::errc{} && stop == end) {
            recorded.mtime_ms = ms;
        }
    }
    return recorded;
}

class S3Reader final : public BackupReader {
public:
    S3Reader(aws::AwsClient& client, aws::S3Location location, std::optional<std::int64_t> at_ms)
        : m_s3(client),
          m_location(std::move(location)),
          m_prefix(m_location.prefix.empty() ? std::string() : m_location.prefix + "/"),
          m_keys(m_prefix),
          m_at_ms(at_ms) {}

    std::string describe() const override {
        std::string text = "s3://" + m_location.bucket;
        if (!m_location.prefix.empty()) {
            text += "/" + m_location.prefix;
        }
        return text;
    }

    asio::awaitable<std::optional<std::string>> marker() override {
        const std::string current;
        std::optional<aws::ObjectData> marker =
            co_await m_s3.get_object(m_location.bucket, m_keys.marker, current);
        if (!marker) {
            co_return std::nullopt;
        }
        co_return std::move(marker->body);
    }

    asio::awaitable<std::vector<ArchivedEntry>> list() override {
        m_skipped.clear();
        co_await m_s3.head_bucket(m_location.bucket);
        std::vector<ArchivedEntry> entries;
        if (!m_at_ms) {
            const std::vector<aws::ListedObject> objects =
                co_await m_s3.list_objects_v2(m_location.bucket, m_prefix);
            for (const aws::ListedObject& object : objects) {
                add(object.key, object.size, {}, 0, entries);
            }
        } else {
            const std::string status = co_await m_s3.bucket_versioning(m_location.bucket);
            if (status.empty()) {
                throw Error(ErrorKind::config,
                            "s3://" + m_location.bucket +
                                " has no versioning, so it keeps no earlier versions to restore "
                                "--at a moment from: restore without --at (the current files), "
                                "and enable versioning on the bucket for the next time");
            }
            const std::vector<aws::ObjectVersion> versions =
                co_await m_s3.list_object_versions(m_location.bucket, m_prefix);
            for (const auto& [key, version] : aws::versions_at(versions, m_at_ms)) {
                add(key, version.size, version.version_id, version.last_modified_ms, entries);
            }
        }
        finish_listing(entries);
        co_return entries;
    }

    std::vector<std::string> skipped() const override { return m_skipped; }

    using BackupReader::read;

    asio::awaitable<void> describe(ArchivedEntry& entry) override {
        if (entry.folder) {
            entry.described = true;
            co_return;
        }
        const std::string key = m_prefix + entry.path;
        const std::optional<aws::ObjectInfo> info =
            co_await m_s3.head_object(m_location.bucket, key, entry.version_id);
        if (!info) {
            throw Error(ErrorKind::not_found,
                        describe() + "/" + display_name(entry.path) + ": gone since the listing");
        }
        entry.size = info->size;
        entry.recorded = recorded_of(*info);
        entry.described = true;
    }

    asio::awaitable<Recorded> read(const ArchivedEntry& entry, const RecordedHandler& on_recorded,
                                   const ByteHandler& on_bytes) override {
        const std::string key = m_prefix + entry.path;
        const std::string where = describe() + "/" + display_name(entry.path);
        if (entry.size <= k_range_size) {
            std::optional<aws::ObjectData> data =
                co_await m_s3.get_object(m_location.bucket, key, entry.version_id);
            if (!data) {
                throw Error(ErrorKind::not_found, where + ": gone since the listing");
            }
            const Recorded recorded = recorded_of(data->info);
            co_await on_recorded(recorded);
            co_await on_bytes(as_bytes(data->body));
            co_return recorded;
        }
        // Large: in ranges, each asking for the same object (its version, or its first ETag), so a
        // file replaced mid-read fails instead of mixing two files' bytes.
        std::string etag;
        Recorded recorded;
        std::uint64_t total = entry.size;
        for (std::uint64_t first = 0; first < total; first += k_range_size) {
            const std::uint64_t last = std::min(total, first + k_range_size) - 1;
            // A version never changes; the current object is held to its first ETag.
            const std::string if_match = entry.version_id.empty() ? etag : std::string();
            std::optional<aws::ObjectData> data = co_await m_s3.get_object_range(
                m_location.bucket, key, entry.version_id, first, last, if_match);
            if (!data) {
                throw Error(ErrorKind::not_found, where + ": gone since the listing");
            }
            if (first == 0) {
                etag = data->info.etag;
                recorded = recorded_of(data->info);
                total = data->info.size;
                co_await on_recorded(recorded);
            }
            co_await on_bytes(as_bytes(data->body));
        }
        co_return recorded;
    }

private:
    void add(const std::string& key, std::uint64_t size, std::string version_id,
             std::int64_t stored_ms, std::vector<ArchivedEntry>& out) {
        if (key.size() <= m_prefix.size() || !key.starts_with(m_prefix)) {
            return;  // the prefix's own folder marker
        }
        if (key.starts_with(m_keys.meta)) {
            return;  // the lock, the marker, upload records
        }
        std::string path = key.substr(m_prefix.size());
        ArchivedEntry entry;
        entry.folder = path.back() == '/';
        if (entry.folder) {
            path.pop_back();
            entry.described = true;
        }
        if (sync::unsafe_path_reason(path)) {
            m_skipped.push_back(key);
            return;
        }
        entry.path = std::move(path);
        entry.size = entry.folder ? 0 : size;
        entry.version_id = std::move(version_id);
        entry.stored_ms = stored_ms;
        out.push_back(std::move(entry));
    }

    aws::S3Client m_s3;
    aws::S3Location m_location;
    // The keys' prefix, "" or "PREFIX/". A member, never a temporary: every string handed to a
    // co_await'ed call must outlive it (g++ 12 destroys such a temporary twice).
    const std::string m_prefix;
    const sink::S3BackupKeys m_keys;  // where the sink keeps the lock and the marker
    std::optional<std::int64_t> m_at_ms;
    std::vector<std::string> m_skipped;
};

}  // namespace

std::unique_ptr<BackupReader> open_s3_reader(aws::AwsClient& client, aws::S3Location location,
                                             std::optional<std::int64_t> at_ms) {
    return std::make_unique<S3Reader>(client, std::move(location), at_ms);
}

asio::awaitable<std::vector<FileVersion>> list_file_versions(aws::AwsClient& client,
                                                             aws::S3Location location,
                                                             std::string path) {
    aws::S3Client s3(client);
    const std::string key = (location.prefix.empty() ? "" : location.prefix + "/") + path;
    std::vector<aws::ObjectVersion> listed = co_await s3.list_object_versions(location.bucket, key);
    // The prefix also matches longer keys ("a.md" → "a.md.bak"): keep this key's own.
    std::erase_if(listed, [&](const aws::ObjectVersion& v) { return v.key != key; });
    std::stable_sort(listed.begin(), listed.end(), aws::newer_version);
    std::vector<FileVersion> versions(listed.size());
    const std::function<asio::awaitable<void>(std::size_t)> job =
        [&](std::size_t i) -> asio::awaitable<void> {
        const aws::ObjectVersion& v = listed[i];
        FileVersion& out = versions[i];
        out.version_id = v.version_id;
        out.stored_ms = v.last_modified_ms;
        out.deleted = v.delete_marker;
        out.latest = v.is_latest;
        out.size = v.size;
        if (!v.delete_marker) {
            if (const auto info = co_await s3.head_object(location.bucket, key, v.version_id)) {
                out.recorded = recorded_of(*info);
            }
        }
    };
    co_await for_each_parallel(listed.size(), 16, job);
    co_return versions;
}

}  // namespace obsync::archive
