// obsync verify of a local backup (issue #14): a 10,000-file folder listed, hashed and compared
// with the server's records, without the server (its snapshot is one init, docs/performance.md).
// Run with `make bench` (bench/run_verify_bench.sh).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "archive/drift.hpp"
#include "archive/hash_files.hpp"
#include "archive/readers.hpp"
#include "crypto/sha256.hpp"
#include "util/run_coro.hpp"

namespace obsync::archive {
namespace {

namespace fs = std::filesystem;

constexpr int k_files = 10'000;

// A vault-shaped backup: 100 folders of 99 notes (0.5-8 KiB) and one attachment (64-512 KiB)
// each, made once per process under $TMPDIR; with the records a snapshot would list for it.
struct Backup {
    fs::path root;
    std::vector<obsidian::RemoteRecord> server;
    std::vector<sync::FileState> state;
    std::map<std::string, std::string> hashes;
    std::uint64_t bytes = 0;

    Backup() {
        root = fs::temp_directory_path() / ("obsync-verify-bench-" + std::to_string(::getpid()));
        std::mt19937_64 rng(14);
        std::int64_t uid = 0;
        for (int i = 0; i < k_files; ++i) {
            const int folder = i / 100;
            const bool attachment = i % 100 == 99;
            const std::string dir = "Folder " + std::to_string(folder);
            const std::string path = dir + (attachment ? "/image " + std::to_string(i) + ".png"
                                                       : "/note " + std::to_string(i) + ".md");
            if (i % 100 == 0) {
                fs::create_directories(root / dir);
                obsidian::RemoteRecord record;
                record.uid = ++uid;
                record.path = dir;
                record.folder = true;
                server.push_back(record);
            }
            const std::size_t size =
                attachment ? (64 << 10) + rng() % (448 << 10) : 512 + rng() % (7 << 10);
            std::string content(size, '\0');
            for (char& c : content) {
                c = static_cast<char>('a' + rng() % 26);
            }
            std::ofstream(root / path, std::ios::binary) << content;
            const std::string hash = crypto::sha256_hex(as_bytes(content));
            obsidian::RemoteRecord record;
            record.uid = ++uid;
            record.path = path;
            record.hash = hash;
            server.push_back(record);
            state.push_back(
                sync::FileState{path, hash, uid, 0, static_cast<std::int64_t>(size), false});
            hashes.emplace(path, hash);
            bytes += size;
        }
    }
    ~Backup() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
};

Backup& backup() {
    static Backup b;
    return b;
}

// Hashing alone, on N threads (0: one per core, at most 8).
void BM_HashFiles(benchmark::State& state) {
    Backup& b = backup();
    std::vector<std::string> paths;
    for (const auto& record : b.server) {
        if (!record.folder) {
            paths.push_back(record.path);
        }
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(hash_files(b.root, paths, static_cast<unsigned>(state.range(0))));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * b.bytes));
    state.counters["files"] = static_cast<double>(paths.size());
}
BENCHMARK(BM_HashFiles)->Arg(1)->Arg(2)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

// What verify does with a local backup once it has the server's snapshot and the state: list the
// folder (the reader), hash every file, compare.
void BM_VerifyLocalBackup(benchmark::State& state) {
    Backup& b = backup();
    boost::asio::io_context io;
    const sync::PathFilter filter({});
    std::size_t drift = 0;
    for (auto _ : state) {
        auto reader = open_local_reader(b.root, b.hashes);
        std::vector<ArchivedEntry> listed;
        run_coro(io, [&]() -> boost::asio::awaitable<void> { listed = co_await reader->list(); }());
        std::vector<MeasuredEntry> entries;
        std::vector<std::string> paths;
        for (ArchivedEntry& entry : listed) {
            if (!entry.folder) {
                paths.push_back(entry.path);
            }
            entries.push_back({std::move(entry), std::nullopt, std::nullopt});
        }
        const std::vector<FileHash> hashed = hash_files(b.root, paths);
        for (std::size_t i = 0, k = 0; i < entries.size(); ++i) {
            if (!entries[i].entry.folder) {
                entries[i].actual_hash = hashed[k++].hash;
            }
        }
        DriftInput input;
        input.server = &b.server;
        input.backup = &entries;
        input.state = &b.state;
        input.filter = &filter;
        drift = compare(input).drift.size();
    }
    if (drift != 0) {
        state.SkipWithError("the bench backup drifted");
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * b.bytes));
    state.counters["files"] = k_files;
}
BENCHMARK(BM_VerifyLocalBackup)->Unit(benchmark::kMillisecond)->UseRealTime();

// The comparison alone (pure, no I/O).
void BM_CompareOnly(benchmark::State& state) {
    Backup& b = backup();
    std::vector<MeasuredEntry> entries;
    for (const auto& record : b.server) {
        MeasuredEntry m;
        m.entry.path = record.path;
        m.entry.folder = record.folder;
        m.entry.recorded.content_hash = record.folder ? std::nullopt : std::optional(record.hash);
        m.actual_hash = m.entry.recorded.content_hash;
        entries.push_back(std::move(m));
    }
    const sync::PathFilter filter({});
    for (auto _ : state) {
        DriftInput input;
        input.server = &b.server;
        input.backup = &entries;
        input.state = &b.state;
        input.filter = &filter;
        benchmark::DoNotOptimize(compare(input));
    }
}
BENCHMARK(BM_CompareOnly)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace obsync::archive

BENCHMARK_MAIN();
