// Upload throughput of the S3 destination (src/sink/s3_sink) against an S3 endpoint named by the
// AWS_* environment (bench/run_s3_bench.sh points it at moto_server on loopback).
//
//   s3_upload_bench notes  --bucket B --count N --size-kb S --concurrency K
//   s3_upload_bench large  --bucket B --mb M
//
// Prints one JSON line: files, bytes, seconds, files/s, MB/s, requests, retries. Peak RSS is
// measured from outside (/usr/bin/time -v) so it includes everything.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <random>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "aws/client.hpp"
#include "aws/s3.hpp"
#include "crypto/sha256.hpp"
#include "sink/s3_sink.hpp"
#include "util/error.hpp"

namespace asio = boost::asio;
using namespace obsync;

namespace {

struct Totals {
    std::int64_t files = 0;
    std::int64_t bytes = 0;
};

std::string note_text(std::mt19937_64& rng, std::size_t size) {
    static const char* words[] = {"vault ", "note ", "sync ", "backup ", "# heading\n", "- item\n"};
    std::string text;
    text.reserve(size);
    while (text.size() < size) {
        text += words[rng() % 6];
    }
    text.resize(size);
    return text;
}

// One worker uploads every K-th note, as one engine session would.
asio::awaitable<void> upload_notes(sync::Sink& sink, int worker, int workers, int count,
                                   std::size_t size, Totals& totals) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(worker));
    for (int i = worker; i < count; i += workers) {
        const std::string text = note_text(rng, size);
        sync::FileMeta meta;
        meta.mtime_ms = 1700000000000;
        meta.content_hash = crypto::sha256_hex(as_bytes(text));
        meta.size = text.size();
        const std::string path =
            "Notes/" + std::to_string(i % 50) + "/note " + std::to_string(i) + ".md";
        auto writer = co_await sink.create_file(path, meta);
        co_await writer->write(as_bytes(text));
        co_await writer->commit();
        ++totals.files;
        totals.bytes += static_cast<std::int64_t>(text.size());
    }
}

// A large attachment arriving in 64 KiB pieces, as the protocol delivers it.
asio::awaitable<void> upload_large(sync::Sink& sink, std::int64_t megabytes, Totals& totals) {
    const std::size_t total = static_cast<std::size_t>(megabytes) << 20;
    std::mt19937_64 rng(7);
    Bytes piece(64 << 10);
    sync::FileMeta meta;
    meta.mtime_ms = 1700000000000;
    meta.content_hash = std::string(64, '0');  // not checked by the sink
    meta.size = total;
    auto writer = co_await sink.create_file("Attachments/large.bin", meta);
    for (auto& b : piece) {
        b = static_cast<std::uint8_t>(rng());
    }
    for (std::size_t done = 0; done < total; done += piece.size()) {
        // Cheap variation, so the benchmark measures the upload path and not the generator.
        const std::uint64_t tag = rng();
        std::memcpy(piece.data(), &tag, sizeof tag);
        co_await writer->write(ByteView(piece).first(std::min(piece.size(), total - done)));
    }
    co_await writer->commit();
    totals.files = 1;
    totals.bytes = static_cast<std::int64_t>(total);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("S3 upload benchmark");
    std::string bucket = "obsync-bench";
    int count = 1000;
    int size_kb = 4;
    int concurrency = 4;
    std::int64_t megabytes = 200;
    app.require_subcommand(1);
    auto* notes = app.add_subcommand("notes", "Many small notes, K at a time");
    notes->add_option("--bucket", bucket);
    notes->add_option("--count", count);
    notes->add_option("--size-kb", size_kb);
    notes->add_option("--concurrency", concurrency)->check(CLI::Range(1, 64));
    auto* large = app.add_subcommand("large", "One large file (multipart)");
    large->add_option("--bucket", bucket);
    large->add_option("--mb", megabytes)->check(CLI::Range(1, 100000));
    CLI11_PARSE(app, argc, argv);

    try {
        asio::io_context io;
        aws::AwsClient client(io.get_executor(), aws::AwsEnvironment::from_environment());
        sink::S3SinkOptions options;
        options.location = aws::parse_s3_location("s3://" + bucket + "/bench");
        auto sink = sink::open_s3_sink(client, options);
        Totals totals;
        std::exception_ptr failure;
        auto done = [&](const std::exception_ptr& e) {
            if (e && !failure) {
                failure = e;
            }
        };
        aws::S3Client s3(client);
        // A fresh moto has no bucket; an existing one (a second run) is fine.
        auto setup = [&]() -> asio::awaitable<void> {
            try {
                co_await s3.create_bucket(bucket);
            } catch (const aws::AwsError&) {
            }
            co_await sink->prepare();
        };
        asio::co_spawn(io, setup(), done);
        io.run();
        const auto started = std::chrono::steady_clock::now();
        io.restart();
        if (notes->parsed()) {
            for (int w = 0; w < concurrency; ++w) {
                asio::co_spawn(io,
                               upload_notes(*sink, w, concurrency, count,
                                            static_cast<std::size_t>(size_kb) << 10, totals),
                               done);
            }
        } else {
            asio::co_spawn(io, upload_large(*sink, megabytes, totals), done);
        }
        io.run();
        if (failure) {
            std::rethrow_exception(failure);
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        boost::json::object out{
            {"mode", notes->parsed() ? "notes" : "large"},
            {"concurrency", notes->parsed() ? concurrency : 1},
            {"files", totals.files},
            {"bytes", totals.bytes},
            {"seconds", seconds},
            {"files_per_s", static_cast<double>(totals.files) / seconds},
            {"mb_per_s", static_cast<double>(totals.bytes) / 1e6 / seconds},
            {"requests", client.stats().requests},
            {"retries", client.stats().retries},
        };
        std::cout << boost::json::serialize(out) << std::endl;
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "s3_upload_bench: " << e.what() << std::endl;
        return 1;
    }
}
