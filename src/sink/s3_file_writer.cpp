#include "sink/s3_file_writer.hpp"

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "util/error.hpp"

namespace obsync::sink {
namespace {

namespace asio = boost::asio;

constexpr int k_s3_max_parts = 10000;

// Runs detached, so nothing can be reported: a failure leaves the upload to the next prepare().
asio::awaitable<void> abort_in_background(aws::S3Client s3, std::string bucket, std::string key,
                                          std::string upload_id, std::string record) {
    try {
        co_await s3.abort_multipart_upload(bucket, key, upload_id);
        co_await s3.delete_object(bucket, record);
    } catch (const std::exception&) {
    }
}

class S3FileWriter final : public sync::FileWriter {
public:
    S3FileWriter(aws::S3Client s3, asio::any_io_executor executor, std::string bucket,
                 std::string key, net::Headers headers, std::size_t part_size, S3BackupKeys keys)
        : m_s3(s3),
          m_executor(std::move(executor)),
          m_bucket(std::move(bucket)),
          m_key(std::move(key)),
          m_headers(std::move(headers)),
          m_part_size(part_size),
          m_keys(std::move(keys)) {}

    S3FileWriter(const S3FileWriter&) = delete;
    S3FileWriter& operator=(const S3FileWriter&) = delete;

    // A destructor cannot co_await: the abort runs on its own, holding copies of what it needs
    // (the AwsClient is required to outlive the sink and that work).
    ~S3FileWriter() override {
        if (m_upload_id.empty()) {
            return;
        }
        try {
            asio::co_spawn(m_executor,
                           abort_in_background(m_s3, m_bucket, m_key, m_upload_id,
                                               m_keys.upload_record(m_upload_id)),
                           asio::detached);
        } catch (const std::exception&) {
            // Out of memory: prepare() of the next run aborts the upload instead.
        }
    }

    asio::awaitable<void> write(ByteView bytes) override {
        check_usable();
        while (!bytes.empty()) {
            // A full buffer goes up only once more bytes follow, so a file of exactly part_size
            // stays one PutObject and the last part of a multipart upload is never empty.
            if (m_buffer.size() >= m_part_size) {
                co_await upload_buffered_part();
            }
            const std::size_t take = std::min(bytes.size(), m_part_size - m_buffer.size());
            m_buffer.append(as_chars(bytes.first(take)));
            bytes = bytes.subspan(take);
        }
    }

    asio::awaitable<void> commit() override {
        check_usable();
        if (m_upload_id.empty()) {
            std::string body = std::move(m_buffer);
            m_buffer.clear();
            std::exception_ptr failure;
            try {
                co_await m_s3.put_object(m_bucket, m_key, std::move(body), m_headers);
            } catch (...) {
                failure = std::current_exception();
            }
            m_done = true;
            if (failure) {
                std::rethrow_exception(failure);
            }
            co_return;
        }
        if (!m_buffer.empty()) {
            co_await upload_buffered_part();
        }
        std::exception_ptr failure;
        try {
            co_await m_s3.complete_multipart_upload(m_bucket, m_key, m_upload_id, m_parts);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            co_await abandon();
            std::rethrow_exception(failure);
        }
        const std::string record = m_keys.upload_record(std::exchange(m_upload_id, std::string()));
        m_done = true;
        try {
            co_await m_s3.delete_object(m_bucket, record);
        } catch (const Error&) {
            // The file is stored; a record left behind only costs the next prepare() a lookup.
        }
    }

private:
    void check_usable() const {
        if (m_done) {
            throw Error(ErrorKind::storage,
                        "s3://" + m_bucket + "/" + m_key + ": writer used after commit or failure");
        }
    }

    // Awaiting each part is the backpressure: the writer holds about one part in memory.
    asio::awaitable<void> upload_buffered_part() {
        std::exception_ptr failure;
        try {
            if (m_parts.size() >= static_cast<std::size_t>(k_s3_max_parts)) {
                throw Error(ErrorKind::storage, "s3://" + m_bucket + "/" + m_key +
                                                    ": too large for " +
                                                    std::to_string(k_s3_max_parts) + " parts");
            }
            if (m_upload_id.empty()) {
                std::string upload_id =
                    co_await m_s3.create_multipart_upload(m_bucket, m_key, m_headers);
                m_upload_id = std::move(upload_id);
                // Recorded before any part goes up: an upload this backup may leave behind is
                // always one the next run can recognise as its own.
                co_await m_s3.put_object(m_bucket, m_keys.upload_record(m_upload_id), std::string(),
                                         {});
            }
            std::string body = std::move(m_buffer);
            m_buffer.clear();
            const int number = static_cast<int>(m_parts.size()) + 1;
            std::string etag =
                co_await m_s3.upload_part(m_bucket, m_key, m_upload_id, number, std::move(body));
            m_parts.push_back(aws::CompletedPart{number, std::move(etag)});
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            co_await abandon();
            std::rethrow_exception(failure);
        }
    }

    // After a failure: abort now rather than in the destructor, so a caller that retries the
    // file does not race its own leftovers. An abort that fails is left to the next prepare().
    asio::awaitable<void> abandon() {
        m_done = true;
        m_buffer.clear();
        m_buffer.shrink_to_fit();
        if (m_upload_id.empty()) {
            co_return;
        }
        const std::string upload_id = std::exchange(m_upload_id, std::string());
        try {
            co_await m_s3.abort_multipart_upload(m_bucket, m_key, upload_id);
            co_await m_s3.delete_object(m_bucket, m_keys.upload_record(upload_id));
        } catch (const std::exception&) {
        }
    }

    aws::S3Client m_s3;
    asio::any_io_executor m_executor;
    std::string m_bucket;
    std::string m_key;
    net::Headers m_headers;  // for PutObject or CreateMultipartUpload
    std::size_t m_part_size;
    S3BackupKeys m_keys;
    std::string m_buffer;
    std::string m_upload_id;  // non-empty while a multipart upload is open
    std::vector<aws::CompletedPart> m_parts;
    bool m_done = false;
};

}  // namespace

std::unique_ptr<sync::FileWriter> make_s3_file_writer(aws::S3Client s3,
                                                      boost::asio::any_io_executor executor,
                                                      std::string bucket, std::string key,
                                                      net::Headers headers, std::size_t part_size,
                                                      S3BackupKeys keys) {
    return std::make_unique<S3FileWriter>(s3, std::move(executor), std::move(bucket),
                                          std::move(key), std::move(headers), part_size,
                                          std::move(keys));
}

}  // namespace obsync::sink
