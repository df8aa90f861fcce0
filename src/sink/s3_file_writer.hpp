#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "aws/s3.hpp"
#include "net/http_client.hpp"
#include "sink/s3_claim.hpp"
#include "sync/sink.hpp"

namespace obsync::sink {

// Internal to the S3 sink. One object written through S3: buffered up to `part_size`, then
// a multipart upload whose parts go up one at a time as they fill; one PutObject if the whole
// file fits in a part. `headers` (content type, metadata, SSE) go on PutObject or
// CreateMultipartUpload. A writer dropped before commit() aborts its upload detached on
// `executor`, so the AwsClient behind `s3` must outlive that work. While a multipart upload is
// open, an empty object keys.upload_record(id) says it is this backup's, so that the next run's
// prepare() aborts it if this one dies, and nobody else's.
std::unique_ptr<sync::FileWriter> make_s3_file_writer(aws::S3Client s3,
                                                      boost::asio::any_io_executor executor,
                                                      std::string bucket, std::string key,
                                                      net::Headers headers, std::size_t part_size,
                                                      S3BackupKeys keys);

}  // namespace obsync::sink
